package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gan/nn"
	"gan/nn/likelihood"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/vae"
	"gan/nn/report"
)

func init() {
	register(command{"anomaly", "anomaly detection with a VAE: train on some classes, score test images by −ELBO, AUROC per class (both protocols)", runAnomaly})
}

// testBinarizeSeed is the seed of the fixed binarisation of every test set
// a VAE is measured on (the literature binarises its test set once).
const testBinarizeSeed = 1

// likelihoodFlags are gan eval's flags for models with a likelihood.
type likelihoodFlags struct {
	k, n int
}

func (l *likelihoodFlags) register(fs *flag.FlagSet) {
	l.registerWith(fs, likelihood.DefaultK, 10000)
}

// registerWith defines the flags with defaults k and n (gan report's are
// smaller than gan eval's).
func (l *likelihoodFlags) registerWith(fs *flag.FlagSet, k, n int) {
	fs.IntVar(&l.k, "iw-eval", k, "VAE: importance samples per test image of the −log p(x) estimate (Burda et al.: 5000)")
	fs.IntVar(&l.n, "iw-n", n, "VAE: test images of the likelihood evaluation (the first N of the test set)")
}

func (l *likelihoodFlags) check() error {
	if l.k < 1 || l.k > 1_000_000 {
		return usagef("--iw-eval %d: must be between 1 and 1000000", l.k)
	}
	if l.n < 1 {
		return usagef("--iw-n %d: must be at least 1", l.n)
	}
	return nil
}

// vaeTargets returns the first n test images as a VAE of cfg is measured
// on them: binarised once with testBinarizeSeed for a model trained on
// binarised data, grey levels otherwise.
func vaeTargets(test *mnist.Set, cfg *model.Config, n int) []float32 {
	n = min(n, test.N)
	pix := test.Float32()[:n*test.Pixels()]
	if cfg.Binarize == vae.BinarizeDynamic {
		return likelihood.Binarize(pix, testBinarizeSeed)
	}
	return likelihood.Grey(pix)
}

// reportLikelihood measures a VAE m on its dataset's test set: the
// importance-weighted −log p(x) with lf.k samples and the −ELBO on the
// binarised test set (the likelihood literature's numbers), and for a
// model trained on grey levels also pytorch/examples' test loss (−ELBO of
// one sample per grey-level image). It prints to w and says nothing for
// other models.
func reportLikelihood(w, progress io.Writer, m model.Model, dataDir string, lf *likelihoodFlags) error {
	lm, ok := m.(likelihood.Model)
	if !ok {
		return nil
	}
	cfg := m.Config()
	test, err := mnist.Load(cfg.Dataset, dataDir, false)
	if err != nil {
		return fmt.Errorf("likelihood: %w", err)
	}
	n := min(lf.n, test.N)
	fmt.Fprintf(w, "likelihood of %s (%s) on %d test images of %s, in nats per image:\n", cfg.Model, vaeSummary(cfg), n, cfg.Dataset)
	if cfg.Binarize != vae.BinarizeDynamic {
		r, err := likelihood.Evaluate(lm, likelihood.Grey(test.Float32()[:n*test.Pixels()]), 1, 2, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  grey-level test loss (pytorch/examples' test_loss: BCE sum + KL, one sample): %.4f\n", r.NLL)
	}
	bin := likelihood.Binarize(test.Float32()[:n*test.Pixels()], testBinarizeSeed)
	last := time.Now()
	r, err := likelihood.Evaluate(lm, bin, lf.k, 1, func(done, total int) {
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(progress, "  likelihood: %d of %d images\n", done, total)
			last = time.Now()
		}
	})
	if err != nil {
		return err
	}
	what := "binarised test set (fixed seed)"
	if cfg.Binarize != vae.BinarizeDynamic {
		what += "; the model was trained on grey levels, so these are not its own likelihood's data"
	}
	fmt.Fprintf(w, "  %s: −log p(x) ≈ %.3f (importance-weighted, k = %d), −ELBO %.3f (reconstruction %.3f + KL %.3f); %.1f s\n",
		what, r.NLL, r.K, r.NegELBO, r.Rec, r.KL, r.Seconds)
	return nil
}

// The two protocols of one-class anomaly detection on a labelled set.
const (
	// protoOneClass trains on one class, the other nine are anomalies
	// (Ruff et al. 2018, Deep SVDD's table).
	protoOneClass = "one-class"
	// protoOneAnomalous trains on nine classes, the tenth is the anomaly
	// (Akçay et al. 2018, GANomaly's table).
	protoOneAnomalous = "one-anomalous"
)

type anomalyFlags struct {
	configFlags
	vae                          vaeFlags
	protocol, classes, out, data string
	report                       string
	score, device, checkpoint    string
	k, testN, steps              int
}

func runAnomaly(args []string, stdout, stderr io.Writer) error {
	var f anomalyFlags
	fs := newFlagSet("anomaly", stderr)
	f.configFlags.register(fs)
	f.vae.register(fs)
	fs.StringVar(&f.protocol, "protocol", "both", "one-class (train on the class, the other nine are anomalies: Deep SVDD's protocol), one-anomalous (train on the other nine, the class is the anomaly: GANomaly's), or both")
	fs.StringVar(&f.classes, "classes", "all", "the classes to run, e.g. 0,3,7, or all")
	fs.StringVar(&f.score, "score", "elbo", "anomaly score of a test image: elbo (−ELBO) or iw (the importance-weighted −log p(x) with --k samples)")
	fs.IntVar(&f.k, "k", 1, "samples per test image of the score")
	fs.IntVar(&f.testN, "test-n", 10000, "test images scored (the first N)")
	fs.IntVar(&f.steps, "steps", 0, "stop each training after this many steps (0: all --epochs)")
	fs.StringVar(&f.out, "out", "", "also write the AUROC table as CSV to this file, and every test image's score to FILE-scores.csv beside it (FILE: --out without .csv)")
	fs.StringVar(&f.report, "report", "", "also write an HTML page to this file: the table and, per protocol and class, the histograms of the normal and the anomalous test images' scores")
	fs.StringVar(&f.data, "data", "", "directory with the idx files (default: the dataset's built-in source)")
	fs.StringVar(&f.device, "device", "cpu", "cpu, cuda or auto")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "score with this VAE checkpoint instead of training (one class and one protocol; the checkpoint must have been trained on that protocol's normal classes)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: gan anomaly [flags]

For each class of --classes and each protocol, trains a VAE (--model vae or
conv-vae, with the training flags of gan train) on the normal training
images only, scores every test image by its −ELBO (or the
importance-weighted −log p(x)), and prints the AUROC of the anomalies
against the normal test images.

flags:`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if !set["model"] {
		f.model = vae.MLPName
	}
	cfg, err := f.config(set)
	if err != nil {
		return err
	}
	if !vae.IsVAE(cfg.Model) {
		return usagef("--model %s: gan anomaly scores images by a likelihood bound: --model %s or %s", cfg.Model, vae.MLPName, vae.ConvName)
	}
	if err := f.vae.apply(&cfg, set, false); err != nil {
		return err
	}
	if err := model.ValidateConfig(cfg); err != nil {
		return usagef("%v", err)
	}
	var protocols []string
	switch f.protocol {
	case "both":
		protocols = []string{protoOneClass, protoOneAnomalous}
	case protoOneClass, protoOneAnomalous:
		protocols = []string{f.protocol}
	default:
		return usagef("--protocol %q: must be one-class, one-anomalous or both", f.protocol)
	}
	if f.score != "elbo" && f.score != "iw" {
		return usagef("--score %q: must be elbo or iw", f.score)
	}
	if f.k < 1 || f.k > 100000 {
		return usagef("--k %d: must be between 1 and 100000", f.k)
	}
	if f.testN < 2 {
		return usagef("--test-n %d: must be at least 2", f.testN)
	}
	if f.steps < 0 {
		return usagef("--steps %d: must be 0 or more", f.steps)
	}
	if f.report != "" {
		if fi, err := os.Stat(filepath.Dir(f.report)); err != nil || !fi.IsDir() {
			return usagef("--report %s: the directory %s does not exist", f.report, filepath.Dir(f.report))
		}
	}
	train, err := mnist.Load(cfg.Dataset, f.data, true)
	if err != nil {
		return err
	}
	test, err := mnist.Load(cfg.Dataset, f.data, false)
	if err != nil {
		return err
	}
	classes, err := parseClasses(f.classes, train)
	if err != nil {
		return err
	}
	if f.checkpoint != "" && (len(classes) != 1 || len(protocols) != 1) {
		return usagef("--checkpoint: give one class (--classes) and one --protocol, those the checkpoint was trained for")
	}
	b, err := openDevice(f.device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()

	testN := min(f.testN, test.N)
	labels := test.Labels[:testN]
	targets := vaeTargets(test, &cfg, testN)
	complexity, err := targetComplexity(test, &cfg, targets)
	if err != nil {
		return err
	}
	var rows []anomalyRow
	fmt.Fprintf(stdout, "anomaly detection with %s (%s) on %s: score %s (k = %d), %d test images\n",
		cfg.Model, vaeSummary(&cfg), cfg.Dataset, f.score, f.k, testN)
	for _, proto := range protocols {
		for _, c := range classes {
			start := time.Now()
			var m model.Model
			var nTrain int
			if f.checkpoint != "" {
				if m, err = loadModel(b, "--checkpoint", f.checkpoint, cfg.Model, false); err != nil {
					return err
				}
				if !vae.IsVAE(m.Config().Model) {
					m.Free()
					return usagef("--checkpoint %s is a %s checkpoint, not a VAE", f.checkpoint, m.Config().Model)
				}
				targets = vaeTargets(test, m.Config(), testN)
				if complexity, err = targetComplexity(test, m.Config(), targets); err != nil {
					m.Free()
					return err
				}
			} else {
				sub := subsetOf(train, func(l uint8) bool { return (int(l) == c) == (proto == protoOneClass) })
				nTrain = sub.N
				if m, err = trainOn(b, cfg, sub, f.steps); err != nil {
					return fmt.Errorf("class %d, %s: %w", c, proto, err)
				}
			}
			row, err := scoreAnomalies(m, proto, c, targets, labels, complexity, f.score, f.k)
			m.Free()
			if err != nil {
				return fmt.Errorf("class %d, %s: %w", c, proto, err)
			}
			row.train, row.seconds, row.steps = nTrain, time.Since(start).Seconds(), m.Step()
			rows = append(rows, row)
			fmt.Fprintf(stdout, "  %-13s class %d: AUROC %.2f%%%s  (trained on %d images, %d steps; %.0f s)\n",
				proto, c, 100*row.auroc, icText(row.aurocIC), row.train, row.steps, row.seconds)
		}
		var sum, sumIC float64
		var k int
		for _, r := range rows {
			if r.protocol == proto {
				sum += r.auroc
				sumIC += r.aurocIC
				k++
			}
		}
		fmt.Fprintf(stdout, "  %-13s mean AUROC over %d classes: %.2f%%%s\n", proto, k, 100*sum/float64(k), icText(sumIC/float64(k)))
	}
	if f.out != "" {
		if err := writeAnomalyCSV(f.out, rows); err != nil {
			return err
		}
		path := scoresPath(f.out)
		if err := writeAnomalyScores(path, rows, labels); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", f.out, path)
	}
	if f.report != "" {
		what := fmt.Sprintf("%s (%s) on %s: score %s (k = %d), %d test images", cfg.Model, vaeSummary(&cfg), cfg.Dataset, f.score, f.k, testN)
		if err := nn.WriteFileAtomic(f.report, func(w io.Writer) error {
			return report.WriteAnomaly(w, anomalyReport(what, f.score, rows))
		}); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", f.report)
	}
	return nil
}

// icText is the line's note of the AUROC of the complexity-corrected score,
// empty where there is none (grey-level data).
func icText(a float64) string {
	if math.IsNaN(a) {
		return ""
	}
	return fmt.Sprintf(", %.2f%% by score − L(x)", 100*a)
}

// targetComplexity returns the input complexity L(x) (likelihood.Complexity,
// Serrà et al. 2020) of each binarised test target of a model of cfg, or nil
// for grey-level targets, which the bilevel coder does not measure.
func targetComplexity(test *mnist.Set, cfg *model.Config, targets []float32) ([]float64, error) {
	if cfg.Binarize != vae.BinarizeDynamic {
		return nil, nil
	}
	l, err := likelihood.Complexities(targets, test.Cols, test.Rows)
	if err != nil {
		return nil, fmt.Errorf("test images of %s: %w", test.Name, err)
	}
	return l, nil
}

// scoresPath is the file of the test images' scores beside the AUROC
// table out: out without its .csv, then "-scores.csv".
func scoresPath(out string) string {
	return strings.TrimSuffix(out, ".csv") + "-scores.csv"
}

// writeAnomalyScores writes every test image's score of every row, one
// line per row and image: protocol, class, image index, its label,
// whether it counts as an anomaly (1) or normal (0) in the row, score, and
// the image's complexity L(x) (empty for grey-level data).
func writeAnomalyScores(path string, rows []anomalyRow, labels []uint8) error {
	return nn.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("protocol,class,image,label,anomalous,score,complexity\n")
		for _, r := range rows {
			for i, s := range r.scores {
				a := 0
				if r.positive[i] {
					a = 1
				}
				fmt.Fprintf(bw, "%s,%d,%d,%d,%d,%.4f,", r.protocol, r.class, i, labels[i], a, s)
				if r.complexity != nil {
					fmt.Fprintf(bw, "%.4f", r.complexity[i])
				}
				bw.WriteByte('\n')
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("scores %s: %w", path, err)
		}
		return nil
	})
}

// anomalyReport lays out the page of gan anomaly --report: the table of
// rows and one histogram of scores per row. what describes the run.
func anomalyReport(what, score string, rows []anomalyRow) *report.Anomaly {
	xl := "−ELBO (nats)"
	if score == "iw" {
		xl = "importance-weighted −log p(x) (nats)"
	}
	a := &report.Anomaly{
		Title:    "Anomaly detection report",
		Subtitle: what,
		Header:   []string{"protocol", "class", "AUROC", "AUROC of score − L(x)", "train images", "steps", "seconds", "normal test", "anomalous test", "mean score normal", "mean score anomalous"},
	}
	for _, r := range rows {
		ic := "–"
		if !math.IsNaN(r.aurocIC) {
			ic = fmt.Sprintf("%.2f%%", 100*r.aurocIC)
		}
		a.Rows = append(a.Rows, []string{r.protocol, fmt.Sprint(r.class), fmt.Sprintf("%.2f%%", 100*r.auroc), ic, fmt.Sprint(r.train), fmt.Sprint(r.steps),
			fmt.Sprintf("%.1f", r.seconds), fmt.Sprint(r.normal), fmt.Sprint(r.anom), fmt.Sprintf("%.2f", r.meanN), fmt.Sprintf("%.2f", r.meanAn)})
		a.Histograms = append(a.Histograms, scoreHistogram(fmt.Sprintf("%s, class %d: AUROC %.2f%%", r.protocol, r.class, 100*r.auroc), xl, r.scores, r.positive))
		if r.complexity != nil {
			a.Histograms = append(a.Histograms, scoreHistogram(fmt.Sprintf("%s, class %d, corrected for complexity: AUROC %s", r.protocol, r.class, ic),
				xl+" − L(x)", r.corrected(), r.positive))
		}
	}
	return a
}

// scoreHistogram splits scores into the normal and the anomalous ones.
func scoreHistogram(title, xlabel string, scores []float64, positive []bool) report.ScoreHistogram {
	h := report.ScoreHistogram{Title: title, XLabel: xlabel}
	for i, s := range scores {
		if positive[i] {
			h.Anomalous = append(h.Anomalous, s)
		} else {
			h.Normal = append(h.Normal, s)
		}
	}
	return h
}

// anomalyRow is one class of one protocol.
type anomalyRow struct {
	protocol string
	class    int
	// auroc ranks the test images by their score; aurocIC by the score
	// minus their complexity L(x) (NaN without complexities).
	auroc, aurocIC float64
	train, steps   int
	seconds        float64
	normal, anom   int
	meanN, meanAn  float64 // mean scores of the normal and anomalous test images
	// scores are the test images' scores, positive whether each is an
	// anomaly in this row's protocol.
	scores   []float64
	positive []bool
	// complexity is each test image's L(x) in nats, nil for grey levels.
	complexity []float64
}

// corrected returns the scores minus the complexities: Serrà et al.'s
// S(x) = −log p(x) − L(x).
func (r *anomalyRow) corrected() []float64 {
	s := make([]float64, len(r.scores))
	for i, v := range r.scores {
		s[i] = v - r.complexity[i]
	}
	return s
}

// parseClasses reads --classes against the labels of set.
func parseClasses(s string, set *mnist.Set) ([]int, error) {
	var present [256]bool
	top := 0
	for _, l := range set.Labels {
		present[l] = true
		top = max(top, int(l))
	}
	if s == "all" {
		var out []int
		for c := range top + 1 {
			if present[c] {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, usagef("--classes %q: %q is not a class number", s, part)
		}
		if c < 0 || c > 255 || !present[c] {
			return nil, usagef("--classes %q: class %d is not among the labels of %s (0 to %d)", s, c, set.Name, top)
		}
		out = append(out, c)
	}
	return out, nil
}

// subsetOf returns the images of set whose label keep accepts, in [−1, 1].
func subsetOf(set *mnist.Set, keep func(uint8) bool) *model.Dataset {
	all := model.FromMNIST(set)
	d := &model.Dataset{Name: set.Name + " (subset)", C: all.C, H: all.H, W: all.W, Classes: all.Classes}
	dim := all.Dim()
	for i, l := range set.Labels {
		if keep(l) {
			d.Pixels = append(d.Pixels, all.Pixels[i*dim:(i+1)*dim]...)
			d.Labels = append(d.Labels, l)
			d.N++
		}
	}
	return d
}

// trainOn trains a fresh model of cfg on data for its epochs (or steps
// steps when above 0).
func trainOn(b nn.Backend, cfg model.Config, data *model.Dataset, steps int) (model.Model, error) {
	m, err := model.New(b, cfg)
	if err != nil {
		return nil, err
	}
	dev, err := data.Upload(b)
	if err != nil {
		m.Free()
		return nil, err
	}
	defer b.Free(dev)
	if err := model.Train(context.Background(), m, data, dev, steps, model.Hooks{}); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// scoreAnomalies scores the test targets with m and returns the AUROC of
// the protocol's anomalies against its normal images.
// With complexity (each target's L(x)), it also ranks by score − L(x).
func scoreAnomalies(m model.Model, proto string, class int, targets []float32, labels []uint8, complexity []float64, score string, k int) (anomalyRow, error) {
	lm, ok := m.(likelihood.Model)
	if !ok {
		return anomalyRow{}, fmt.Errorf("%s has no likelihood", m.Config().Model)
	}
	r, err := likelihood.Evaluate(lm, targets, k, 5, nil)
	if err != nil {
		return anomalyRow{}, err
	}
	scores := r.ImageNegELBO
	if score == "iw" {
		scores = r.ImageNLL
	}
	positive := make([]bool, len(labels))
	row := anomalyRow{protocol: proto, class: class, scores: scores, positive: positive, complexity: complexity, aurocIC: math.NaN()}
	for i, l := range labels {
		positive[i] = (int(l) == class) == (proto == protoOneAnomalous)
		if positive[i] {
			row.anom++
			row.meanAn += scores[i]
		} else {
			row.normal++
			row.meanN += scores[i]
		}
	}
	if row.anom > 0 {
		row.meanAn /= float64(row.anom)
	}
	if row.normal > 0 {
		row.meanN /= float64(row.normal)
	}
	if row.auroc, err = likelihood.AUROC(scores, positive); err != nil || complexity == nil {
		return row, err
	}
	row.aurocIC, err = likelihood.AUROC(row.corrected(), positive)
	return row, err
}

// writeAnomalyCSV writes the table.
func writeAnomalyCSV(path string, rows []anomalyRow) error {
	var sb strings.Builder
	sb.WriteString("protocol,class,auroc,auroc_complexity,train_images,steps,seconds,normal_test,anomalous_test,mean_score_normal,mean_score_anomalous\n")
	for _, r := range rows {
		ic := ""
		if !math.IsNaN(r.aurocIC) {
			ic = fmt.Sprintf("%.6f", r.aurocIC)
		}
		fmt.Fprintf(&sb, "%s,%d,%.6f,%s,%d,%d,%.1f,%d,%d,%.4f,%.4f\n", r.protocol, r.class, r.auroc, ic, r.train, r.steps, r.seconds, r.normal, r.anom, r.meanN, r.meanAn)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
