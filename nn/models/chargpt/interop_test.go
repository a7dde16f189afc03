package chargpt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/internal/torchtest"
	"gan/nn/model"
	"gan/nn/text"
)

// TestPyTorchTrainsAlike: our char-gpt and nanoGPT's model in PyTorch
// (bench/pytorch/bench_chargpt.py, the peer of the benchmark and of the
// validation-loss comparison), from the same weights (our checkpoint, loaded
// by testdata/torch_chargpt.py) and on the same batches, give the same
// training loss at every one of 30 Adam steps: the two are one model and
// one optimiser, not merely the same shapes.
//
// Tolerance: float32 sums in different orders (ours in float64 where the
// backend rounds once, PyTorch's blocked float32) differ by about 1e-6
// relative per op, and Adam's updates carry such differences from step to
// step; after 30 steps the losses agree to about 1e-5 relative. A real
// difference (an initialisation, a missing scale, a wrong gradient) moves
// them by far more than 1e-3 within a few steps.
func TestPyTorchTrainsAlike(t *testing.T) {
	torchtest.Require(t)
	b := cpu.New()
	defer b.Close()
	c, err := text.New("interop", strings.Repeat("It was the best of times, it was the worst of times; "+
		"it was the age of wisdom, it was the age of foolishness. 0123456789\n", 30))
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Vocab, cfg.Layers, cfg.Heads, cfg.Embd, cfg.Context, cfg.Batch = c.Vocab.String(), 2, 4, 64, 32, 6
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "chargpt.safetensors")
	require.NoError(t, model.Save(m, ckpt))

	const steps = 30
	type batches struct {
		Config map[string]any `json:"config"`
		Steps  [][][]int32    `json:"steps"`
	}
	bs := batches{Config: map[string]any{"vocab": m.V, "block": m.T, "n_layer": m.L, "n_head": m.H, "n_embd": m.C,
		"lr": cfg.LR, "beta1": cfg.Beta1, "beta2": cfg.Beta2, "eps": cfg.Eps}}
	var ours []float64
	tokens := make([]int32, cfg.Batch*(m.T+1))
	for s := range steps {
		require.NoError(t, text.Blocks(tokens, c.Train, cfg.Batch, m.T, nn.RandKey{Seed: 7, Stream: uint64(s)}))
		var seqs [][]int32
		for i := range cfg.Batch {
			seqs = append(seqs, append([]int32(nil), tokens[i*(m.T+1):(i+1)*(m.T+1)]...))
		}
		bs.Steps = append(bs.Steps, seqs)
		stats, err := m.TrainStep(&model.Batch{Tokens: tokens})
		require.NoError(t, err)
		ours = append(ours, stats[0])
	}
	js, err := json.Marshal(bs)
	require.NoError(t, err)
	batchFile := filepath.Join(dir, "batches.json")
	require.NoError(t, os.WriteFile(batchFile, js, 0o644))
	out := torchtest.Run(t, filepath.Join("testdata", "torch_chargpt.py"), ckpt, batchFile)
	lines := strings.Fields(string(out))
	require.Len(t, lines, steps, "%s", out)
	worst := 0.0
	for s, l := range lines {
		theirs, err := strconv.ParseFloat(l, 64)
		require.NoError(t, err)
		rel := math.Abs(ours[s]-theirs) / theirs
		worst = max(worst, rel)
		if rel > 1e-4 {
			t.Errorf("step %d: our loss %.7f, PyTorch's %.7f (relative difference %.2g)", s+1, ours[s], theirs, rel)
		}
	}
	t.Logf("losses %.5f → %.5f (ours) and %s → %s (PyTorch); largest relative difference %.2g", ours[0], ours[steps-1], lines[0], lines[steps-1], worst)
}
