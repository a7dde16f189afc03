package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Result is a full evaluation: the metrics of the samples, the same metrics
// of real data as their baseline, and the problems they show.
type Result struct {
	// Source says what was evaluated (a checkpoint and its step, a file).
	Source string `json:"source"`
	// Dataset is the dataset of the classifier and of the reference data.
	Dataset string `json:"dataset"`
	// Classifier describes the reference classifier.
	Classifier ClassifierInfo `json:"classifier"`
	// NNRef is the number of training images of the nearest-neighbour search.
	NNRef int `json:"nn_reference_train_images"`
	// Samples are the metrics of the evaluated images.
	Samples *Metrics `json:"samples"`
	// Real are the metrics of real data (see [Evaluator.Real]).
	Real *Metrics `json:"real"`
	// Flags lists the problems the samples' metrics show, in words; empty
	// when none.
	Flags []string `json:"flags"`
	// Conditional holds the figures of a conditional generator's samples
	// against their requested labels (nil for an unconditional one; see
	// [Evaluator.Conditional]).
	Conditional *ConditionalMetrics `json:"conditional,omitempty"`
}

// ClassifierInfo describes the classifier whose feature space a [Result] uses.
type ClassifierInfo struct {
	Arch         string  `json:"arch"`
	Features     string  `json:"feature_space"`
	TestAccuracy float64 `json:"test_accuracy"`
}

// Thresholds of [Diagnose]. Each is relative to the real-data baseline
// where one exists, so that they hold for any sample count.
const (
	// FIDFactor: samples whose FID exceeds FIDFactor times the real-vs-real
	// baseline plus FIDSlack are flagged as far from the data.
	FIDFactor = 10
	// FIDSlack keeps the FID limit meaningful when the baseline is near 0.
	FIDSlack = 1
	// KLLimit is the class KL to uniform (nats) above which the class
	// balance is flagged; real MNIST is near 0.003, one class alone is
	// log 10 ≈ 2.30.
	KLLimit = 0.1
	// ConfidentFactor: a confident share below this fraction of the real
	// data's is flagged as unrecognisable samples.
	ConfidentFactor = 0.5
	// CopyFactor: a mean nearest-training-image distance below this
	// fraction of the test images' is flagged as possible memorisation.
	CopyFactor = 0.5
)

// Diagnose lists the problems that samples' metrics show against the real
// baseline: missing classes (mode collapse), an uneven class histogram, an
// FID far above the real-vs-real one, few confidently classified samples,
// and samples much closer to training images than test images are.
func Diagnose(samples, real *Metrics) []string {
	flags := []string{}
	if samples.Covered < real.Covered {
		flags = append(flags, fmt.Sprintf("mode collapse: only %d of %d classes hold at least %g%% of the samples (real data: %d)",
			samples.Covered, NumClasses, 100*CoverageShare, real.Covered))
	}
	if samples.ClassKL > KLLimit {
		flags = append(flags, fmt.Sprintf("uneven classes: class KL to uniform %.3f > %g (real data: %.3f)", samples.ClassKL, KLLimit, real.ClassKL))
	}
	if limit := FIDFactor*real.FID + FIDSlack; !(samples.FID <= limit) {
		flags = append(flags, fmt.Sprintf("far from the data: FID %.2f > %g × the real-vs-real %.2f + %g", samples.FID, float64(FIDFactor), real.FID, float64(FIDSlack)))
	}
	if samples.Confident < ConfidentFactor*real.Confident {
		flags = append(flags, fmt.Sprintf("unrecognisable: %.1f%% of samples classified with confidence > %g (real data: %.1f%%)",
			100*samples.Confident, ConfidenceThreshold, 100*real.Confident))
	}
	if samples.NNDist < CopyFactor*real.NNDist {
		flags = append(flags, fmt.Sprintf("possible memorisation: mean distance to the nearest training image %.2f < %g × the test images' %.2f",
			samples.NNDist, CopyFactor, real.NNDist))
	}
	return flags
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding the evaluation as JSON: %w", err)
	}
	return nil
}

// WriteText writes r as the text table of gan eval.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	s, re := r.Samples, r.Real
	fmt.Fprintf(&b, "evaluated: %s\n", r.Source)
	acc := "unknown"
	if !math.IsNaN(r.Classifier.TestAccuracy) {
		acc = fmt.Sprintf("%.2f%%", 100*r.Classifier.TestAccuracy)
	}
	fmt.Fprintf(&b, "classifier: %s (%s), test accuracy %s; features: %s\n\n", r.Classifier.Arch, r.Dataset, acc, r.Classifier.Features)
	row := func(name, sv, rv, note string) {
		fmt.Fprintf(&b, "%-44s %12s %12s  %s\n", name, sv, rv, note)
	}
	row("metric", "samples", "real", "")
	row("images", fmt.Sprint(s.N), fmt.Sprint(re.N), "(real: test images)")
	row("FID, classifier features (not Inception)", fmt.Sprintf("%.3f", s.FID), fmt.Sprintf("%.3f", re.FID),
		"(vs the test set; real: training images vs test)")
	row("Inception-style score, classifier", fmt.Sprintf("%.3f", s.InceptionScore), fmt.Sprintf("%.3f", re.InceptionScore), "(1 … 10)")
	row("class KL to uniform (nats)", fmt.Sprintf("%.4f", s.ClassKL), fmt.Sprintf("%.4f", re.ClassKL), "(0 = balanced, 2.303 = one class)")
	row(fmt.Sprintf("classes with >= %g%% of images", 100*CoverageShare), fmt.Sprint(s.Covered), fmt.Sprint(re.Covered), "(of 10)")
	row(fmt.Sprintf("confident share (top p > %g)", ConfidenceThreshold), pct(s.Confident), pct(re.Confident), "")
	row("mean distance to nearest train image", fmt.Sprintf("%.3f", s.NNDist), fmt.Sprintf("%.3f", re.NNDist),
		fmt.Sprintf("(L2, pixels in [-1,1], among %d train images)", r.NNRef))
	row("median distance to nearest train image", fmt.Sprintf("%.3f", s.NNDistMedian), fmt.Sprintf("%.3f", re.NNDistMedian), "")
	fmt.Fprintf(&b, "\nclass histogram (samples | real; one # per 0.5%%):\n")
	ss, rs := Shares(s.Histogram), Shares(re.Histogram)
	for c := range s.Histogram {
		fmt.Fprintf(&b, "  %d %6.2f%% %-41s | %6.2f%%\n", c, 100*ss[c], bar(ss[c]), 100*rs[c])
	}
	if len(r.Flags) == 0 {
		fmt.Fprintf(&b, "\nflags: none\n")
	} else {
		fmt.Fprintf(&b, "\nflags:\n")
		for _, f := range r.Flags {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	if r.Conditional != nil {
		r.Conditional.writeText(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// bar draws a share as one # per 0.5%, capped at 40 (20%) with a '>'.
func bar(share float64) string {
	n := int(math.Round(share * 200))
	if n > 40 {
		return strings.Repeat("#", 40) + ">"
	}
	return strings.Repeat("#", n)
}

// Run evaluates images with e and returns the full result, with the real
// baseline for the same number of images.
func (e *Evaluator) Run(source, dataset string, images []float32) (*Result, error) {
	s, err := e.Evaluate(images)
	if err != nil {
		return nil, err
	}
	real, err := e.Real(s.N)
	if err != nil {
		return nil, err
	}
	return &Result{
		Source:  source,
		Dataset: dataset,
		Classifier: ClassifierInfo{
			Arch:         ClassifierArch,
			Features:     fmt.Sprintf("%d-d penultimate layer (ReLU) of the classifier", FeatureDim),
			TestAccuracy: e.C.TestAccuracy(),
		},
		NNRef:   e.NNRef,
		Samples: s,
		Real:    real,
		Flags:   Diagnose(s, real),
	}, nil
}
