package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/models/seedgan"
)

// BenchmarkNearestTrainDistances times the nearest-neighbour search of 500
// images among the default 10000 training images (500·10000·784
// multiply-adds in the backend's MatMul, then a host-side minimum) and
// reports images per second.
func BenchmarkNearestTrainDistances(b *testing.B) {
	train, test := loadSets(b)
	be := cpu.New()
	defer be.Close()
	c, err := LoadClassifier(be, "mnist", "", 500)
	require.NoError(b, err)
	defer c.Free()
	e, err := NewEvaluator(be, c, train, subset(test, 100), Options{})
	require.NoError(b, err)
	defer e.Free()
	q := test.Float32()[:500*784]
	for b.Loop() {
		if _, err := e.NearestTrainDistances(q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(500*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkClassifierRun times the classifier's forward pass on 1000 images
// (features and probabilities back on the host).
func BenchmarkClassifierRun(b *testing.B) {
	_, test := loadSets(b)
	be := cpu.New()
	defer be.Close()
	c, err := LoadClassifier(be, "mnist", "", 500)
	require.NoError(b, err)
	defer c.Free()
	x := test.Float32()[:1000*784]
	for b.Loop() {
		if _, err := c.Run(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkFrechet times fitting a 256-d Gaussian to 10000 feature vectors
// and the Fréchet distance to another (the float64 part of an FID).
func BenchmarkFrechet(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 10000*FeatureDim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	ref, err := FitGaussian(x[:5000*FeatureDim], FeatureDim)
	require.NoError(b, err)
	for b.Loop() {
		g, err := FitGaussian(x, FeatureDim)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := FrechetDistance(g, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGradNorms times the divergence watch's per-step measurement:
// the gradient norms of the seed GAN's G and D (2,946,577 values).
func BenchmarkGradNorms(b *testing.B) {
	be := cpu.New()
	defer be.Close()
	gp, dp := nn.NewParamSet(0), nn.NewParamSet(1000)
	seedgan.NewGenerator(gp)
	seedgan.NewDiscriminator(dp)
	require.NoError(b, gp.Alloc(be))
	defer gp.Free(be)
	require.NoError(b, dp.Alloc(be))
	defer dp.Free(be)
	be.RandNormal(gp.Grad, 0, 1, nn.RandKey{Seed: 1})
	be.RandNormal(dp.Grad, 0, 1, nn.RandKey{Seed: 2})
	gn, err := NewGradNorms(be, gp, dp)
	require.NoError(b, err)
	defer gn.Free()
	for b.Loop() {
		if _, err := gn.Compute(); err != nil {
			b.Fatal(err)
		}
	}
}
