package dcgan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
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
