package dcgan

import (
	"testing"

	"gan/cpu"
	"gan/nn"
	"gan/nn/model"
)

// BenchmarkTrainStep times one DCGAN training step at batch 64 on 28×28
// images on the CPU (random images uploaded once).
func BenchmarkTrainStep(b *testing.B) { benchStep(b, 28) }

// BenchmarkTrainStep32 is the step of the 32×32 networks (--size 32).
func BenchmarkTrainStep32(b *testing.B) { benchStep(b, 32) }

func benchStep(b *testing.B, size int) {
	be := cpu.New()
	defer be.Close()
	const n = 256
	data := &model.Dataset{Name: "random", N: n, C: 1, H: size, W: size, Pixels: make([]float32, n*size*size)}
	for i := range data.Pixels {
		data.Pixels[i] = nn.RandKey{Seed: 1}.Uniform(uint64(i))*2 - 1
	}
	dev, err := data.Upload(be)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Size = size
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Free()
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i * 3)
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
