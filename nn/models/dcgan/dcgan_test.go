package dcgan

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/mnist"
	"gan/nn/model"
)

// TestShortRun trains 30 steps on MNIST: every statistic is finite (Train
// stops otherwise) and D already separates real from fake.
func TestShortRun(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(set)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	cfg := DefaultConfig()
	cfg.Batch = 32
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	var last []float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 30, model.Hooks{OnStep: func(p model.Progress) error {
		last = append(last[:0], p.Stats...)
		return nil
	}}))
	assert.Greater(t, last[2], last[3], "D(x) > D(G(z))")
	p := m.steps[32].prog
	t.Logf("%d instructions, arena %d floats, %d copies", p.Instrs, p.ArenaElems, p.Copies)
}

// TestTrainStepDoesNotAllocate: after the first step (which compiles the
// program) a training step allocates nothing on the CPU backend.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	data := &model.Dataset{Name: "random", N: 64, C: 1, H: 28, W: 28, Pixels: make([]float32, 64*784)}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	cfg := DefaultConfig()
	cfg.Batch = 8
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	idx := []int32{0, 5, 9, 13, 20, 31, 40, 63}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(5, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}))
}

// TestResumeIsBitExact: 6 steps straight equal 3 steps, a checkpoint (with
// the batch norms' running statistics and counts), a load and 3 more, bit
// for bit.
func TestResumeIsBitExact(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Batch = 8
	run := func(steps int, from string) (*GAN, map[string][]float32) {
		b := cpu.New()
		t.Cleanup(func() { b.Close() })
		data := &model.Dataset{Name: "random", N: 20, C: 1, H: 28, W: 28, Pixels: make([]float32, 20*784)}
		for i := range data.Pixels {
			data.Pixels[i] = float32(i%17)/8 - 1
		}
		dev, err := data.Upload(b)
		require.NoError(t, err)
		var m *GAN
		if from == "" {
			m, err = New(b, cfg)
		} else {
			var mm model.Model
			mm, err = model.Load(b, from, "")
			if err == nil {
				m = mm.(*GAN)
			}
		}
		require.NoError(t, err)
		t.Cleanup(m.Free)
		require.NoError(t, model.Train(context.Background(), m, data, dev, steps, model.Hooks{}))
		ck, err := model.Checkpoint(m)
		require.NoError(t, err)
		return m, ck.Data
	}
	_, straight := run(6, "")
	first, _ := run(3, "")
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, model.Save(first, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	require.True(t, saved.Int64["G.main.1.num_batches_tracked"], "num_batches_tracked is int64")
	require.Equal(t, []float32{3}, saved.Data["G.main.1.num_batches_tracked"])
	require.Equal(t, []float32{9}, saved.Data["D.main.3.num_batches_tracked"], "three D passes per step")
	resumed, got := run(3, path)
	require.Equal(t, 6, resumed.Step())
	require.Equal(t, len(straight), len(got))
	for name, w := range straight {
		require.Equal(t, w, got[name], name)
	}
}

// TestArchIsChecked: an architecture preset the family does not have is an
// error, not silently ignored.
func TestArchIsChecked(t *testing.T) {
	c := DefaultConfig()
	c.Arch = "conv"
	_, err := New(cpu.New(), c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `arch "conv"`)
}
