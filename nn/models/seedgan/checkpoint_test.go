package seedgan

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/mnist"
	"gan/nn/model"
)

// TestV1CheckpointLoads loads a checkpoint laid out exactly as the code
// before the graph engine wrote them (gan-checkpoint-v1): the tensor names,
// shapes and metadata in testdata/v1-checkpoint-header.json are the header
// of a checkpoint written by that code after 1,876 steps (its 35 MB of
// values are replaced by a pattern here). Every value must arrive in the
// right tensor, the step counters must be restored, D's last weight (saved
// as [256] by v1) must be saved back with PyTorch's shape [1 256], and
// training must continue from it.
func TestV1CheckpointLoads(t *testing.T) {
	raw, err := os.ReadFile("testdata/v1-checkpoint-header.json")
	require.NoError(t, err)
	var header map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &header))
	v1 := nn.NewTensors()
	require.NoError(t, json.Unmarshal(header["__metadata__"], &v1.Meta))
	require.Equal(t, "gan-checkpoint-v1", v1.Meta["format"])
	for name, info := range header {
		if name == "__metadata__" {
			continue
		}
		var ti struct{ Shape []int }
		require.NoError(t, json.Unmarshal(info, &ti))
		n := 1
		for _, d := range ti.Shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			// A pattern unique enough to catch swapped tensors, moments
			// kept non-negative (exp_avg_sq) and small.
			v[i] = float32((i*31+len(name)*7)%2003) * 1e-6
		}
		v1.Add(name, ti.Shape, v)
	}
	path := filepath.Join(t.TempDir(), "v1.safetensors")
	require.NoError(t, v1.WriteFile(path))

	b := cpu.New()
	defer b.Close()
	loaded, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer loaded.Free()
	m := loaded.(*GAN)
	assert.Equal(t, 1876, m.Step())
	assert.Equal(t, 1876, m.OptG.Step)
	assert.Equal(t, 1876, m.OptD.Step)

	v2, err := model.Checkpoint(m)
	require.NoError(t, err)
	assert.Equal(t, model.CheckpointFormat, v2.Meta["format"])
	require.ElementsMatch(t, v1.Names, v2.Names)
	for _, name := range v1.Names {
		require.Equal(t, v1.Data[name], v2.Data[name], name)
		if strings.HasSuffix(name, "model.8.weight") {
			assert.Equal(t, []int{1, 256}, v2.Shapes[name], name)
		} else {
			assert.Equal(t, v1.Shapes[name], v2.Shapes[name], name)
		}
	}

	// Training goes on from step 1876 (the second epoch's last batch).
	train, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i)
	}
	stats, err := m.TrainStep(&model.Batch{Data: data, Dev: dev, Idx: idx})
	require.NoError(t, err)
	assert.Equal(t, 1877, m.Step())
	for i, s := range stats {
		assert.False(t, math.IsNaN(s), m.Stats()[i].Name)
	}
}

// TestTrainStepDoesNotAllocate: after the first step (which compiles the
// program), a training step allocates nothing on the CPU backend, and the
// compiled step needs no buffer copies (every in-place op got its input's
// buffer, every gradient was computed where Adam reads it).
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	data := &model.Dataset{Name: "random", N: 256, C: 1, H: 28, W: 28, Pixels: make([]float32, 256*ImageDim)}
	for i := range data.Pixels {
		data.Pixels[i] = nn.RandKey{Seed: 3}.Uniform(uint64(i))*2 - 1
	}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	m, err := New(b, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(3 * i)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "allocations per training step")
	p := m.steps[64].prog
	t.Logf("step program: %d instructions, arena %d floats (planned peak %d), %d copies", p.Instrs, p.ArenaElems, p.PeakElems, p.Copies)
	assert.Zero(t, p.Copies)
}
