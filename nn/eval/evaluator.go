package eval

import (
	"fmt"
	"math"
	"slices"

	"gan/nn"
	"gan/nn/mnist"
)

// Options tune an [Evaluator].
type Options struct {
	// NNRef is the number of training images (the first ones of the set)
	// searched for each sample's nearest neighbour; 0 means DefaultNNRef.
	// Searching all 60000 costs six times as much.
	NNRef int
	// Chunk is the number of images per device batch; 0 means 500.
	Chunk int
}

// DefaultNNRef is the default size of the nearest-neighbour reference:
// 10000 training images. A brute-force search of all 60000 for 10000
// samples is 10000·60000·784 multiply-adds, too slow for two CPU cores.
const DefaultNNRef = 10000

// The data sets are ordered (MNIST's test set has its cleaner half first),
// so every subset the evaluator takes is a fixed pseudo-random one: a prefix
// of a permutation drawn from the shared generator with seed 0 and these
// stream ids (purpose 0x101, index 0 for the training set, 1 for the test set).
const purposeEvalSubset = nn.PurposeEvalSubset

// subsetOrder returns the evaluator's fixed permutation of n images.
func subsetOrder(n int, index uint64) []int32 {
	p := make([]int32, n)
	nn.Permutation(p, nn.RandKey{Seed: 0, Stream: nn.StreamID(purposeEvalSubset, index)})
	return p
}

// pixels returns the images idx of s as [−1, 1] values, scaled exactly as
// mnist.Set.Float32 does.
func pixels(s *mnist.Set, idx []int32) []float32 {
	var table [256]float32
	for p := range table {
		v := float32(p) / 255
		table[p] = (v - 0.5) / 0.5
	}
	out := make([]float32, len(idx)*imageDim)
	for k, i := range idx {
		for j, p := range s.Image(int(i)) {
			out[k*imageDim+j] = table[p]
		}
	}
	return out
}

// Metrics are the measurements of one set of images.
type Metrics struct {
	// N is the number of images measured.
	N int `json:"n"`
	// FID is the Fréchet distance between the Gaussians fitted to the
	// classifier's penultimate-layer features of these images and of the
	// test set. It is FID's formula in another feature space: not
	// comparable with the Inception FID of the literature.
	FID float64 `json:"fid_classifier_features"`
	// InceptionScore is exp(E KL(p(y|x) ‖ p(y))) with the classifier's
	// probabilities: 10 at best, 1 at worst.
	InceptionScore float64 `json:"inception_score_classifier"`
	// Histogram counts the images per predicted class.
	Histogram []int `json:"class_histogram"`
	// ClassKL is the KL divergence (nats) of the class shares to uniform.
	ClassKL float64 `json:"class_kl_to_uniform"`
	// Covered is the number of classes holding at least 2% of the images.
	Covered int `json:"classes_covered"`
	// Confident is the share of images whose top class probability exceeds 0.9.
	Confident float64 `json:"confident_share"`
	// NNDist and NNDistMedian are the mean and median Euclidean distance
	// (pixels in [−1, 1]) from each image to its nearest image among the
	// evaluator's NNRef reference training images.
	NNDist       float64 `json:"nn_train_distance_mean"`
	NNDistMedian float64 `json:"nn_train_distance_median"`
}

// Evaluator measures sets of images against a dataset's test set, with a
// classifier on one backend. It holds the test set's feature statistics and
// the nearest-neighbour reference on the device; build it once and call
// [Evaluator.Evaluate] as often as needed.
type Evaluator struct {
	// C is the classifier whose feature space the metrics use.
	C *Classifier
	// Test holds the classifier's outputs on the whole test set.
	Test *Outputs
	// TestStats is the Gaussian of the test set's features, the reference
	// of every FID.
	TestStats *Gaussian
	// NNRef is the number of training images of the nearest-neighbour search.
	NNRef int

	b          nn.Backend
	train      *mnist.Set
	test       *mnist.Set
	trainOrder []int32 // the first NNRef are the reference, the rest feed the FID baseline
	testOrder  []int32 // the real column's images are a prefix
	chunk      int
	ref        nn.Mat // NNRef×784 training images
	refNorm    []float64
	x          nn.Mat // chunk×784 query images
	dots       nn.Mat // chunk×NNRef products
	host       []float32
}

// NewEvaluator classifies the test set, fits its feature Gaussian and
// uploads the nearest-neighbour reference (NNRef training images of a fixed
// pseudo-random subset). The classifier stays owned by the caller.
func NewEvaluator(b nn.Backend, c *Classifier, train, test *mnist.Set, opt Options) (*Evaluator, error) {
	if opt.NNRef <= 0 {
		opt.NNRef = DefaultNNRef
	}
	if opt.Chunk <= 0 {
		opt.Chunk = 500
	}
	if train.Pixels() != imageDim || test.Pixels() != imageDim {
		return nil, fmt.Errorf("evaluator: images must be 28x28")
	}
	e := &Evaluator{C: c, b: b, train: train, test: test, chunk: opt.Chunk, NNRef: min(opt.NNRef, train.N)}
	e.trainOrder = subsetOrder(train.N, 0)
	e.testOrder = subsetOrder(test.N, 1)
	var err error
	if e.Test, err = c.Run(pixels(test, e.testOrder)); err != nil {
		return nil, fmt.Errorf("evaluator: classifying the test set: %w", err)
	}
	if e.TestStats, err = FitGaussian(e.Test.Features, FeatureDim); err != nil {
		return nil, fmt.Errorf("evaluator: test-set features: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			e.Free()
		}
	}()
	refPix := pixels(train, e.trainOrder[:e.NNRef])
	e.refNorm = rowNorms(refPix)
	for _, a := range []struct {
		m          *nn.Mat
		what       string
		rows, cols int
	}{{&e.ref, "nearest-neighbour reference", e.NNRef, imageDim}, {&e.x, "query images", e.chunk, imageDim}, {&e.dots, "distance products", e.chunk, e.NNRef}} {
		if *a.m, err = b.Alloc(a.rows, a.cols); err != nil {
			return nil, fmt.Errorf("evaluator: %s: %w", a.what, err)
		}
	}
	if err := b.Upload(e.ref, refPix); err != nil {
		return nil, fmt.Errorf("evaluator: %w", err)
	}
	e.host = make([]float32, e.chunk*e.NNRef)
	ok = true
	return e, nil
}

// Free releases the evaluator's device buffers (not the classifier).
func (e *Evaluator) Free() {
	for _, m := range []nn.Mat{e.ref, e.x, e.dots} {
		if !m.Empty() {
			e.b.Free(m)
		}
	}
	e.ref, e.x, e.dots = nn.Mat{}, nn.Mat{}, nn.Mat{}
}

// rowNorms returns ‖row‖² of each 784-pixel image, in float64.
func rowNorms(pix []float32) []float64 {
	n := len(pix) / imageDim
	out := make([]float64, n)
	for i := range out {
		var s float64
		for _, v := range pix[i*imageDim : (i+1)*imageDim] {
			s += float64(v) * float64(v)
		}
		out[i] = s
	}
	return out
}

// NearestTrainDistances returns, for each image (n×784 host values), the
// Euclidean distance to its nearest neighbour among the reference training
// images, from ‖a‖² + ‖b‖² − 2a·b with the products a·b computed by the
// backend's MatMul.
func (e *Evaluator) NearestTrainDistances(images []float32) ([]float64, error) {
	n := len(images) / imageDim
	norms := rowNorms(images)
	out := make([]float64, n)
	for lo := 0; lo < n; lo += e.chunk {
		m := min(e.chunk, n-lo)
		x := e.x.RowView(0, m)
		if err := e.b.Upload(x, images[lo*imageDim:(lo+m)*imageDim]); err != nil {
			return nil, fmt.Errorf("nearest neighbours: %w", err)
		}
		d := e.dots.RowView(0, m)
		e.b.MatMul(d, x, e.ref, false, true, 0)
		if err := e.b.Download(e.host[:m*e.NNRef], d); err != nil {
			return nil, fmt.Errorf("nearest neighbours: %w", err)
		}
		for i := 0; i < m; i++ {
			row := e.host[i*e.NNRef : (i+1)*e.NNRef]
			best := math.Inf(1)
			for j, dot := range row {
				best = math.Min(best, e.refNorm[j]-2*float64(dot))
			}
			out[lo+i] = math.Sqrt(math.Max(0, norms[lo+i]+best))
		}
	}
	return out, nil
}

// Evaluate measures images (n×784 host values in [−1, 1], n ≥ 2).
func (e *Evaluator) Evaluate(images []float32) (*Metrics, error) {
	if len(images)%imageDim != 0 || len(images) < 2*imageDim {
		return nil, fmt.Errorf("evaluate: %d values are not at least two whole images", len(images))
	}
	for _, v := range images {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("evaluate: the images hold a non-finite value")
		}
	}
	out, err := e.C.Run(images)
	if err != nil {
		return nil, err
	}
	dist, err := e.NearestTrainDistances(images)
	if err != nil {
		return nil, err
	}
	return e.metrics(out, dist, nil)
}

// metrics assembles the metrics of classifier outputs and distances; the
// features' Gaussian is fitted unless fidOf supplies other features.
func (e *Evaluator) metrics(out *Outputs, dist []float64, fidOf []float32) (*Metrics, error) {
	feat := out.Features
	if fidOf != nil {
		feat = fidOf
	}
	g, err := FitGaussian(feat, FeatureDim)
	if err != nil {
		return nil, err
	}
	fid, err := FrechetDistance(g, e.TestStats)
	if err != nil {
		return nil, err
	}
	hist := Histogram(out.Probs, NumClasses)
	shares := Shares(hist)
	m := &Metrics{
		N:              out.N,
		FID:            fid,
		InceptionScore: InceptionScore(out.Probs, NumClasses),
		Histogram:      hist,
		ClassKL:        KLToUniform(shares),
		Covered:        Covered(shares),
		Confident:      ConfidentShare(out.Probs, NumClasses),
	}
	m.NNDist, m.NNDistMedian = meanMedian(dist)
	return m, nil
}

// Real measures real data through the same code, as the baseline of n
// generated samples: n test images (a fixed pseudo-random subset; all of
// them for n ≥ 10000) for every metric but FID, and for FID the
// real-vs-real distance between n training images outside the
// nearest-neighbour reference and the whole test set (the test set against
// itself would give 0).
func (e *Evaluator) Real(n int) (*Metrics, error) {
	n = min(n, e.test.N)
	if n < 2 {
		return nil, fmt.Errorf("real baseline: %d images, need at least 2", n)
	}
	// e.Test holds the test set in testOrder: its prefix is the subset.
	sub := &Outputs{N: n, Features: e.Test.Features[:n*FeatureDim], Probs: e.Test.Probs[:n*NumClasses]}
	dist, err := e.NearestTrainDistances(pixels(e.test, e.testOrder[:n]))
	if err != nil {
		return nil, err
	}
	rest := e.trainOrder[e.NNRef:]
	if len(rest) < 2 { // the reference holds the whole training set
		rest = e.trainOrder
	}
	trainOut, err := e.C.Run(pixels(e.train, rest[:min(n, len(rest))]))
	if err != nil {
		return nil, err
	}
	return e.metrics(sub, dist, trainOut.Features)
}

// meanMedian returns the mean and median of v (NaN for an empty v).
func meanMedian(v []float64) (mean, median float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		median = s[len(s)/2]
	} else {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return mean, median
}
