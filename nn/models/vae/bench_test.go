package vae

import (
	"testing"

	"gan/cpu"
	"gan/nn"
	"gan/nn/model"
)

// benchStep times one training step of cfg at batch 128 on the CPU (random
// images uploaded once).
func benchStep(b *testing.B, cfg model.Config) {
	be := cpu.New()
	defer be.Close()
	const n = 512
	data := &model.Dataset{Name: "random", N: n, C: 1, H: 28, W: 28, Pixels: make([]float32, n*784)}
	for i := range data.Pixels {
		data.Pixels[i] = nn.RandKey{Seed: 1}.Uniform(uint64(i))*2 - 1
	}
	dev, err := data.Upload(be)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Free()
	idx := make([]int32, cfg.Batch)
	for i := range idx {
		idx[i] = int32(i * 3 % n)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	if _, err := m.TrainStep(batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainStep is pytorch/examples' VAE step (batch 128, grey-level
// data); bench/pytorch/bench_vae.py times the same model in PyTorch.
func BenchmarkTrainStep(b *testing.B) { benchStep(b, DefaultConfig()) }

// BenchmarkTrainStepBinarized adds dynamic binarisation.
func BenchmarkTrainStepBinarized(b *testing.B) {
	c := DefaultConfig()
	c.Binarize = BinarizeDynamic
	benchStep(b, c)
}

// BenchmarkTrainStepIW5 is the IWAE bound with 5 samples per image.
func BenchmarkTrainStepIW5(b *testing.B) {
	c := DefaultConfig()
	c.Binarize, c.IW = BinarizeDynamic, 5
	benchStep(b, c)
}

// BenchmarkTrainStepConv is the convolutional VAE's step.
func BenchmarkTrainStepConv(b *testing.B) {
	c := DefaultConvConfig()
	c.Binarize = BinarizeDynamic
	benchStep(b, c)
}
