package pixelcnn

import (
	"testing"

	"gan/cpu"
	"gan/nn"
	"gan/nn/model"
)

// BenchmarkTrainStep is one training step of the default network (h 32,
// 5 blocks) at batch 64 on the CPU backend: "cropped" as the model runs
// (masked convolutions on their top K/2+1 kernel rows), "fullKernels"
// with every kernel row, for the difference; "gated" the gated stacks
// (h 32, 5 layers after the first).
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		name, arch string
		full       bool
	}{{"cropped", "", false}, {"fullKernels", "", true}, {"gated", ArchGated, false}} {
		b.Run(c.name, func(b *testing.B) {
			fullKernels = c.full
			defer func() { fullKernels = false }()
			benchTrainStep(b, c.arch)
		})
	}
}

func benchTrainStep(b *testing.B, arch string) {
	be := cpu.New()
	defer be.Close()
	data := &model.Dataset{Name: "random", N: 64, C: 1, H: Side, W: Side, Pixels: make([]float32, 64*D)}
	for i := range data.Pixels {
		data.Pixels[i] = float32(i%7)/3 - 1
	}
	dev, err := data.Upload(be)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Free(dev)
	cfg := DefaultConfig()
	cfg.Arch = arch
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Free()
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	if _, err := m.TrainStep(batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSample64 draws 64 digits with the default network on the CPU
// backend (the host sampler: 784 one-pixel steps of the whole network for
// a batch of 64); images/s is 64 over the time per op.
func BenchmarkSample64(b *testing.B) {
	be := cpu.New()
	defer be.Close()
	m, err := New(be, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Free()
	key := nn.RandKey{Seed: 1, Stream: nn.StreamID(nn.PurposeSample, 0)}
	z := make([]float32, 64*D)
	for i := range z {
		z[i] = key.Normal(uint64(i))
	}
	out := make([]float32, len(z))
	b.ResetTimer()
	for range b.N {
		if err := m.Generate(z, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
