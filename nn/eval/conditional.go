package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// ClassMetrics are the measurements of the samples generated for one
// requested label, beside real data of that class.
type ClassMetrics struct {
	// Label is the requested class.
	Label int `json:"label"`
	// N is the number of samples generated for it.
	N int `json:"n"`
	// Recognised is the share of those samples that the classifier
	// assigns to Label (arg max of its probabilities).
	Recognised float64 `json:"recognised"`
	// FID is the Fréchet distance, in the classifier's feature space,
	// between those samples and the test images of the class (NaN with
	// fewer than 2 samples).
	FID float64 `json:"fid_classifier_features"`
	// RealRecognised is the classifier's accuracy on the test images of
	// the class.
	RealRecognised float64 `json:"real_recognised"`
	// RealFID is the same distance for as many training images of the
	// class (outside the nearest-neighbour reference) as there are
	// samples, at most all of them: the baseline of FID.
	RealFID float64 `json:"real_fid_classifier_features"`
	// RealN is the number of training images behind RealFID.
	RealN int `json:"real_n"`
}

// ConditionalMetrics are the measurements of a conditional generator's
// samples against the labels they were generated for.
type ConditionalMetrics struct {
	// Recognised is the share of all samples that the classifier assigns
	// to their requested label.
	Recognised float64 `json:"recognised"`
	// MinRecognised is the lowest per-class share.
	MinRecognised float64 `json:"min_class_recognised"`
	// RealRecognised is the classifier's accuracy on the whole test set.
	RealRecognised float64 `json:"real_recognised"`
	// MeanFID is the mean of the per-class FIDs (NaN when one is NaN).
	MeanFID float64 `json:"mean_class_fid"`
	// Classes holds the per-class figures, label by label.
	Classes []ClassMetrics `json:"classes"`
}

// Conditional measures images (n×784 host values in [−1, 1]) generated
// for labels (n labels in [0, NumClasses)): how often the classifier
// recognises the requested label, per class and overall, and the FID of
// each class against the test images of that class, with the same figures
// of real data as their baseline.
func (e *Evaluator) Conditional(images []float32, labels []int32) (*ConditionalMetrics, error) {
	n := len(labels)
	if n < 1 || len(images) != n*imageDim {
		return nil, fmt.Errorf("conditional evaluation: %d values for %d labels of %d-pixel images", len(images), n, imageDim)
	}
	for i, y := range labels {
		if y < 0 || y >= NumClasses {
			return nil, fmt.Errorf("conditional evaluation: label %d of image %d is outside 0–%d", y, i, NumClasses-1)
		}
	}
	for _, v := range images {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("conditional evaluation: the images hold a non-finite value")
		}
	}
	out, err := e.C.Run(images)
	if err != nil {
		return nil, err
	}
	// Features by class: of the samples (requested label), of the test set
	// (true label), of the training images outside the reference.
	sampleFeat := make([][]float32, NumClasses)
	hits := make([]int, NumClasses)
	counts := make([]int, NumClasses)
	total := 0
	for i, y := range labels {
		sampleFeat[y] = append(sampleFeat[y], out.Features[i*FeatureDim:(i+1)*FeatureDim]...)
		counts[y]++
		if argmax(out.Probs[i*NumClasses:(i+1)*NumClasses]) == int(y) {
			hits[y]++
			total++
		}
	}
	testFeat := make([][]float32, NumClasses)
	testHits, testCounts := make([]int, NumClasses), make([]int, NumClasses)
	allHits := 0
	for k, idx := range e.testOrder {
		y := int(e.test.Labels[idx])
		testFeat[y] = append(testFeat[y], e.Test.Features[k*FeatureDim:(k+1)*FeatureDim]...)
		testCounts[y]++
		if argmax(e.Test.Probs[k*NumClasses:(k+1)*NumClasses]) == y {
			testHits[y]++
			allHits++
		}
	}
	// Real baseline: as many training images of each class as samples.
	rest := e.trainOrder[e.NNRef:]
	if len(rest) < 2 {
		rest = e.trainOrder
	}
	var pick []int32
	taken := make([]int, NumClasses)
	for _, idx := range rest {
		y := e.train.Labels[idx]
		if taken[y] < counts[y] {
			pick = append(pick, idx)
			taken[y]++
		}
	}
	trainFeat := make([][]float32, NumClasses)
	if len(pick) > 0 {
		tout, err := e.C.Run(pixels(e.train, pick))
		if err != nil {
			return nil, err
		}
		for k, idx := range pick {
			y := e.train.Labels[idx]
			trainFeat[y] = append(trainFeat[y], tout.Features[k*FeatureDim:(k+1)*FeatureDim]...)
		}
	}
	c := &ConditionalMetrics{Recognised: float64(total) / float64(n), MinRecognised: math.NaN(),
		RealRecognised: float64(allHits) / float64(len(e.testOrder))}
	sumFID := 0.0
	for y := range NumClasses {
		m := ClassMetrics{Label: y, N: counts[y], Recognised: math.NaN(), FID: math.NaN(), RealFID: math.NaN(),
			RealRecognised: math.NaN(), RealN: taken[y]}
		if counts[y] > 0 {
			m.Recognised = float64(hits[y]) / float64(counts[y])
			if math.IsNaN(c.MinRecognised) || m.Recognised < c.MinRecognised {
				c.MinRecognised = m.Recognised
			}
		}
		if testCounts[y] > 0 {
			m.RealRecognised = float64(testHits[y]) / float64(testCounts[y])
		}
		if m.FID, err = classFID(sampleFeat[y], testFeat[y]); err != nil {
			return nil, fmt.Errorf("class %d: %w", y, err)
		}
		if m.RealFID, err = classFID(trainFeat[y], testFeat[y]); err != nil {
			return nil, fmt.Errorf("class %d, real baseline: %w", y, err)
		}
		sumFID += m.FID
		c.Classes = append(c.Classes, m)
	}
	c.MeanFID = sumFID / NumClasses
	return c, nil
}

// classFID is the Fréchet distance between the Gaussians of two feature
// sets, NaN when either holds fewer than 2 vectors.
func classFID(a, b []float32) (float64, error) {
	if len(a) < 2*FeatureDim || len(b) < 2*FeatureDim {
		return math.NaN(), nil
	}
	ga, err := FitGaussian(a, FeatureDim)
	if err != nil {
		return 0, err
	}
	gb, err := FitGaussian(b, FeatureDim)
	if err != nil {
		return 0, err
	}
	return FrechetDistance(ga, gb)
}

// argmax is the index of the largest value (the first of equals).
func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// writeText appends the conditional figures to b as the table gan eval
// prints after the unconditional one.
func (c *ConditionalMetrics) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "\nconditional: the classifier recognises the requested label in %s of the samples (lowest class %s; its accuracy on the test set: %s)\n",
		pctOrNone(c.Recognised), pctOrNone(c.MinRecognised), pctOrNone(c.RealRecognised))
	fmt.Fprintf(b, "  %-6s %8s %12s %12s %12s %12s\n", "label", "samples", "recognised", "real", "FID", "real FID")
	for _, m := range c.Classes {
		fmt.Fprintf(b, "  %-6d %8d %12s %12s %12s %12s\n", m.Label, m.N, pctOrNone(m.Recognised), pctOrNone(m.RealRecognised),
			f3OrNone(m.FID), f3OrNone(m.RealFID))
	}
	fmt.Fprintf(b, "  (recognised: the classifier's arg max is the requested label; real: the class's test images.\n"+
		"   FID: classifier features of the class's samples vs its test images; real FID: as many training images of the class)\n")
}

// MarshalJSON writes the figures with null for the ones not measured
// (JSON has no NaN).
func (m ClassMetrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Label          int      `json:"label"`
		N              int      `json:"n"`
		Recognised     *float64 `json:"recognised"`
		FID            *float64 `json:"fid_classifier_features"`
		RealRecognised *float64 `json:"real_recognised"`
		RealFID        *float64 `json:"real_fid_classifier_features"`
		RealN          int      `json:"real_n"`
	}{m.Label, m.N, orNull(m.Recognised), orNull(m.FID), orNull(m.RealRecognised), orNull(m.RealFID), m.RealN})
}

// MarshalJSON writes the figures with null for the ones not measured.
func (c ConditionalMetrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Recognised     *float64       `json:"recognised"`
		MinRecognised  *float64       `json:"min_class_recognised"`
		RealRecognised *float64       `json:"real_recognised"`
		MeanFID        *float64       `json:"mean_class_fid"`
		Classes        []ClassMetrics `json:"classes"`
	}{orNull(c.Recognised), orNull(c.MinRecognised), orNull(c.RealRecognised), orNull(c.MeanFID), c.Classes})
}

// orNull is v, or nil for NaN.
func orNull(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func pctOrNone(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

func f3OrNone(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
