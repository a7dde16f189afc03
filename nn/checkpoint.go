package nn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// CheckpointFormat identifies this project's checkpoint layout.
const CheckpointFormat = "gan-checkpoint-v1"

// A checkpoint is a safetensors file holding, for G and D, every parameter
// under PyTorch's state_dict name with a "G." or "D." prefix, and Adam's
// moments under "G.adam.exp_avg.<name>" and "G.adam.exp_avg_sq.<name>"
// (likewise for D). The metadata holds the format, the [Config] as JSON, the
// training step (which is also the position of every random stream and of
// the data) and each optimiser's step count. Loading it back and training on
// gives bit-for-bit the run that was never interrupted.

// shapeOf gives a parameter's PyTorch shape: biases are vectors.
func shapeOf(p *Param) []int {
	if p.Rows == 1 {
		return []int{p.Cols}
	}
	return []int{p.Rows, p.Cols}
}

type tensorRef struct {
	name  string
	shape []int
	m     Mat
}

// tensors lists every tensor a checkpoint holds, in file order.
func (g *GAN) tensors() []tensorRef {
	var refs []tensorRef
	for _, part := range []struct {
		prefix string
		s      *Sequential
		opt    *Adam
	}{{"G.", g.G, g.OptG}, {"D.", g.D, g.OptD}} {
		for _, p := range part.s.Params.Params() {
			refs = append(refs, tensorRef{part.prefix + p.Name, shapeOf(p), p.Value})
		}
		for _, moment := range []struct {
			name string
			m    Mat
		}{{"exp_avg", part.opt.M}, {"exp_avg_sq", part.opt.V}} {
			for _, p := range part.s.Params.Params() {
				refs = append(refs, tensorRef{part.prefix + "adam." + moment.name + "." + p.Name,
					shapeOf(p), moment.m.Slice(p.off, p.Rows, p.Cols)})
			}
		}
	}
	return refs
}

// Checkpoint copies the GAN's full training state to host memory.
func (g *GAN) Checkpoint() (*Tensors, error) {
	t := NewTensors()
	for _, r := range g.tensors() {
		v := make([]float32, r.m.Len())
		if err := g.B.Download(v, r.m); err != nil {
			return nil, fmt.Errorf("checkpoint: reading %s: %w", r.name, err)
		}
		t.Add(r.name, r.shape, v)
	}
	cfg, err := json.Marshal(g.Cfg)
	if err != nil {
		return nil, err
	}
	t.Meta["format"] = CheckpointFormat
	t.Meta["config"] = string(cfg)
	t.Meta["step"] = strconv.Itoa(g.Step)
	t.Meta["adam_step.G"] = strconv.Itoa(g.OptG.Step)
	t.Meta["adam_step.D"] = strconv.Itoa(g.OptD.Step)
	t.Meta["rng"] = "philox4x32-10; noise stream = step, dropout streams = 2*step+pass, shuffle stream = epoch"
	return t, nil
}

// Save writes the checkpoint to path atomically (temp file, fsync, rename).
func (g *GAN) Save(path string) error {
	t, err := g.Checkpoint()
	if err != nil {
		return err
	}
	return t.WriteFile(path)
}

// ConfigOf reads the config stored in a checkpoint's metadata.
func ConfigOf(t *Tensors) (Config, error) {
	if f := t.Meta["format"]; f != CheckpointFormat {
		return Config{}, fmt.Errorf("not a gan checkpoint (format %q, want %q)", f, CheckpointFormat)
	}
	var c Config
	if err := json.Unmarshal([]byte(t.Meta["config"]), &c); err != nil {
		return Config{}, fmt.Errorf("config metadata: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config metadata: %w", err)
	}
	return c, nil
}

func metaInt(t *Tensors, key string) (int, error) {
	v, err := strconv.Atoi(t.Meta[key])
	if err != nil || v < 0 {
		return 0, fmt.Errorf("metadata %s = %q: not a step count", key, t.Meta[key])
	}
	return v, nil
}

// Restore loads a checkpoint's state into g, whose config must match the
// checkpoint's model. Every tensor must be present with its exact shape,
// and no other tensor may be.
func (g *GAN) Restore(t *Tensors) error {
	c, err := ConfigOf(t)
	if err != nil {
		return err
	}
	if c.Model != g.Cfg.Model || c.Batch != g.Cfg.Batch {
		return fmt.Errorf("checkpoint is for model %s with batch %d, not %s with batch %d", c.Model, c.Batch, g.Cfg.Model, g.Cfg.Batch)
	}
	refs := g.tensors()
	if len(t.Names) != len(refs) {
		return fmt.Errorf("checkpoint has %d tensors, the %s model has %d", len(t.Names), g.Cfg.Model, len(refs))
	}
	for _, r := range refs {
		v, ok := t.Data[r.name]
		if !ok {
			return fmt.Errorf("checkpoint lacks tensor %s", r.name)
		}
		if !slices.Equal(t.Shapes[r.name], r.shape) {
			return fmt.Errorf("tensor %s has shape %v, the model needs %v", r.name, t.Shapes[r.name], r.shape)
		}
		if err := g.B.Upload(r.m, v); err != nil {
			return fmt.Errorf("restoring %s: %w", r.name, err)
		}
	}
	if g.Step, err = metaInt(t, "step"); err != nil {
		return err
	}
	if g.OptG.Step, err = metaInt(t, "adam_step.G"); err != nil {
		return err
	}
	if g.OptD.Step, err = metaInt(t, "adam_step.D"); err != nil {
		return err
	}
	return g.B.Sync()
}

// LoadGAN reads the checkpoint at path and rebuilds its GAN on b.
func LoadGAN(b Backend, path string) (*GAN, error) {
	t, err := ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint: %w", err)
	}
	c, err := ConfigOf(t)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	g, err := NewGAN(b, c)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	if err := g.Restore(t); err != nil {
		g.Free()
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	return g, nil
}
