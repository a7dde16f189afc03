package model_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/ref"
)

// tiny is a model family of the tests: one network with a weight, a bias
// and a non-trainable buffer (like BatchNorm's running mean), trained by a
// step that only counts.
type tiny struct {
	model.Base
	ps    *nn.ParamSet
	opt   *nn.Adam
	stats []float64
	seen  []int32 // the image indices of every step
}

const tinyName = "test-tiny"

func init() {
	model.Register(model.Family{
		Name:    tinyName,
		Summary: "a test family",
		Defaults: func() model.Config {
			return model.Config{Model: tinyName, Epochs: 2, Batch: 3, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Seed: 4}
		},
		New: newTiny,
	})
}

func newTiny(b nn.Backend, cfg model.Config) (model.Model, error) {
	m := &tiny{Base: model.Base{Cfg: cfg, B: b}, ps: nn.NewParamSetFrom(&nn.InitStreams{}), stats: make([]float64, 1)}
	w := m.ps.Add("net.0.weight", 2, 3)
	m.ps.Add("net.0.bias", 2)
	run := m.ps.AddBuffer("net.1.running_mean", 2)
	if err := m.ps.Alloc(b); err != nil {
		return nil, err
	}
	b.RandUniform(w.Value, -1, 1, w.InitKey(cfg.Seed))
	b.Fill(run.Value, 0.5)
	var err error
	m.opt, err = nn.NewAdam(b, m.ps, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps)
	return m, err
}

func (m *tiny) Nets() []model.Net { return []model.Net{{Name: "T", Params: m.ps, Opt: m.opt}} }
func (m *tiny) Stats() []model.Stat {
	return []model.Stat{{Name: "rows", Format: "%.0f"}}
}
func (m *tiny) TrainStep(b *model.Batch) ([]float64, error) {
	m.stats[0] = float64(len(b.Idx))
	m.seen = append(m.seen, b.Idx...)
	m.Advance()
	return m.stats, nil
}
func (m *tiny) RNG() string { return "none" }
func (m *tiny) Free()       { m.opt.Free(); m.ps.Free(m.B) }

// TestRegistry: families are listed, found by name, and an unknown name is
// an error that lists the known ones; a family registered twice panics.
func TestRegistry(t *testing.T) {
	f, err := model.Lookup(tinyName)
	require.NoError(t, err)
	assert.Equal(t, "a test family", f.Summary)
	_, err = model.Lookup("dcgan-typo")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown model "dcgan-typo"`)
	assert.Contains(t, err.Error(), tinyName)
	var names []string
	for _, f := range model.Families() {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, tinyName)
	assert.Panics(t, func() { model.Register(f) })

	bad := f.Defaults()
	bad.Batch = 0
	_, err = model.New(ref.New(), bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "batch 0")
}

// TestCheckpointRoundTripWithBuffers: parameters, buffers, optimiser
// moments, the step and the config survive Save and Load; a damaged or
// mismatched file is an error naming the tensor.
func TestCheckpointRoundTripWithBuffers(t *testing.T) {
	b := ref.New()
	f, _ := model.Lookup(tinyName)
	m, err := model.New(b, f.Defaults())
	require.NoError(t, err)
	defer m.Free()
	m.SetStep(17)
	path := filepath.Join(t.TempDir(), "c.safetensors")
	require.NoError(t, model.Save(m, path))

	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	assert.Equal(t, []float32{0.5, 0.5}, saved.Data["T.net.1.running_mean"], "the buffer is saved")
	assert.NotContains(t, saved.Names, "T.adam.exp_avg.net.1.running_mean", "a buffer has no moments")
	assert.Equal(t, []int{2, 3}, saved.Shapes["T.net.0.weight"])

	back, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer back.Free()
	assert.Equal(t, 17, back.Step())
	assert.Equal(t, *m.Config(), *back.Config())
	again, err := model.Checkpoint(back)
	require.NoError(t, err)
	assert.Equal(t, saved.Data, again.Data)

	// Damaged files: a tensor missing, one too many, a wrong shape.
	for _, tc := range []struct {
		name string
		edit func(t *nn.Tensors)
		want string
	}{
		{"missing", func(t *nn.Tensors) { drop(t, "T.net.1.running_mean") }, "missing tensor T.net.1.running_mean"},
		{"extra", func(t *nn.Tensors) { t.Add("T.net.9.weight", []int{1}, []float32{0}) }, "unexpected tensor T.net.9.weight"},
		{"shape", func(t *nn.Tensors) { t.Shapes["T.net.0.weight"] = []int{3, 2} }, "tensor T.net.0.weight has shape [3 2]"},
	} {
		c, err := nn.ReadTensorsFile(path)
		require.NoError(t, err)
		tc.edit(c)
		p := filepath.Join(t.TempDir(), tc.name+".safetensors")
		require.NoError(t, c.WriteFile(p))
		_, err = model.Load(b, p, "")
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), p, "the error names the file")
	}
}

func drop(t *nn.Tensors, name string) {
	for i, n := range t.Names {
		if n == name {
			t.Names = append(t.Names[:i], t.Names[i+1:]...)
		}
	}
	delete(t.Data, name)
	delete(t.Shapes, name)
}

// TestTrainVisitsEveryImageOncePerEpoch: the one training loop walks a
// fresh permutation each epoch, the last batch holding the remainder, and
// calls the hooks after every step and at each epoch's end; it stops when
// the context is cancelled.
func TestTrainVisitsEveryImageOncePerEpoch(t *testing.T) {
	b := ref.New()
	f, _ := model.Lookup(tinyName)
	m, err := model.New(b, f.Defaults())
	require.NoError(t, err)
	defer m.Free()
	data := &model.Dataset{N: 7, C: 1, H: 1, W: 2, Pixels: make([]float32, 14)}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	var epochs []int
	var rows []float64
	err = model.Train(context.Background(), m, data, dev, 0, model.Hooks{
		OnStep:  func(p model.Progress) error { rows = append(rows, p.Stats[0]); return nil },
		OnEpoch: func(p model.Progress) error { epochs = append(epochs, p.Epoch); return nil },
	})
	require.NoError(t, err)
	assert.Equal(t, []float64{3, 3, 1, 3, 3, 1}, rows, "⌈7/3⌉ batches per epoch, the last one short")
	assert.Equal(t, []int{0, 1}, epochs)
	assert.Equal(t, 6, m.Step())
	seen := m.(*tiny).seen
	require.Len(t, seen, 14)
	assert.ElementsMatch(t, []int32{0, 1, 2, 3, 4, 5, 6}, seen[:7], "epoch 1 visits each image once")
	assert.ElementsMatch(t, []int32{0, 1, 2, 3, 4, 5, 6}, seen[7:], "epoch 2 too")
	assert.NotEqual(t, seen[:7], seen[7:], "in a fresh order")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.SetStep(0)
	assert.ErrorIs(t, model.Train(ctx, m, data, dev, 0, model.Hooks{}), context.Canceled)
	assert.Zero(t, m.Step())
}

// TestDatasetPad: padding adds background (−1) on every side and keeps
// each image at the centre, with its label; cropping the centre back
// gives the original pixels.
func TestDatasetPad(t *testing.T) {
	d := &model.Dataset{Name: "tiny", N: 2, C: 1, H: 3, W: 2, Classes: 10, Labels: []uint8{4, 7},
		Pixels: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	p := d.Pad(1)
	assert.Equal(t, 5, p.H)
	assert.Equal(t, 4, p.W)
	assert.Equal(t, d.Labels, p.Labels)
	assert.Contains(t, p.Name, "padded to 5×4")
	want := []float32{
		-1, -1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1, 5, 6, -1, -1, -1, -1, -1,
		-1, -1, -1, -1, -1, 7, 8, -1, -1, 9, 10, -1, -1, 11, 12, -1, -1, -1, -1, -1,
	}
	assert.Equal(t, want, p.Pixels)
}
