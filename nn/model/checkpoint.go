package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"gan/nn"
)

// A checkpoint is a safetensors file holding, for each network, every
// tensor under PyTorch's state_dict name with the network's prefix
// ("G.model.0.weight", shaped as PyTorch shapes it), then the optimiser's
// moments ("G.adam.exp_avg.model.0.weight", "G.adam.exp_avg_sq.…"). The
// metadata holds the format, the [Config] as JSON, the training step
// (which is also the position of every random stream and of the data), each
// optimiser's step count and a description of the random streams. Loading
// it back and training on gives bit for bit the run that was never
// interrupted.
const (
	// CheckpointFormat identifies this project's checkpoints.
	CheckpointFormat = "gan-checkpoint-v2"
	// checkpointFormatV1 is the format before parameters carried their
	// PyTorch shapes: a tensor of one row was written as a vector ([256]
	// for the [1 256] weight of a Linear(256, 1)). It still loads.
	checkpointFormatV1 = "gan-checkpoint-v1"
)

type tensorRef struct {
	name  string
	p     *nn.Param
	shape []int
	m     nn.Mat
}

// tensors lists every tensor a checkpoint of m holds, in file order; with
// params only, the optimisers' moments are left out.
func tensors(m Model, paramsOnly bool) []tensorRef {
	var refs []tensorRef
	for _, net := range m.Nets() {
		prefix := net.Name + "."
		for _, p := range net.Params.Params() {
			refs = append(refs, tensorRef{prefix + p.Name, p, p.Shape, p.Value})
		}
		if net.Opt == nil || paramsOnly {
			continue
		}
		for _, moment := range []struct {
			name string
			m    nn.Mat
		}{{"exp_avg", net.Opt.M}, {"exp_avg_sq", net.Opt.V}} {
			for _, p := range net.Params.Trainable() {
				refs = append(refs, tensorRef{prefix + "adam." + moment.name + "." + p.Name, p, p.Shape, p.Slice(moment.m)})
			}
		}
	}
	return refs
}

// Checkpoint copies the model's full training state to host memory.
func Checkpoint(m Model) (*nn.Tensors, error) {
	t := nn.NewTensors()
	b := m.Backend()
	for _, r := range tensors(m, false) {
		v := make([]float32, r.m.Len())
		if err := b.Download(v, r.m); err != nil {
			return nil, fmt.Errorf("checkpoint: reading %s: %w", r.name, err)
		}
		t.Add(r.name, slices.Clone(r.shape), v)
		if r.p.Int64 {
			t.Int64[r.name] = true
		}
	}
	cfg, err := json.Marshal(m.Config())
	if err != nil {
		return nil, err
	}
	t.Meta["format"] = CheckpointFormat
	t.Meta["config"] = string(cfg)
	t.Meta["step"] = strconv.Itoa(m.Step())
	for _, net := range m.Nets() {
		if net.Opt != nil {
			t.Meta["adam_step."+net.Name] = strconv.Itoa(net.Opt.Step)
		}
	}
	t.Meta["rng"] = m.RNG()
	return t, nil
}

// Save writes the model's checkpoint to path atomically (temp file, fsync,
// rename).
func Save(m Model, path string) error {
	t, err := Checkpoint(m)
	if err != nil {
		return err
	}
	return t.WriteFile(path)
}

// ConfigOf reads the config stored in a checkpoint's metadata and checks
// it against its family.
func ConfigOf(t *nn.Tensors) (Config, error) {
	if f := t.Meta["format"]; f != CheckpointFormat && f != checkpointFormatV1 {
		return Config{}, fmt.Errorf("not a gan checkpoint (format %q, want %q)", f, CheckpointFormat)
	}
	var c Config
	if err := json.Unmarshal([]byte(t.Meta["config"]), &c); err != nil {
		return Config{}, fmt.Errorf("config metadata: %w", err)
	}
	if err := ValidateConfig(c); err != nil {
		return Config{}, fmt.Errorf("config metadata: %w", err)
	}
	return c, nil
}

// IsCheckpoint reports whether t carries this program's checkpoint
// metadata (rather than being a bare state_dict).
func IsCheckpoint(t *nn.Tensors) bool { _, ok := t.Meta["format"]; return ok }

func metaInt(t *nn.Tensors, key string) (int, error) {
	v, err := strconv.Atoi(t.Meta[key])
	if err != nil || v < 0 {
		return 0, fmt.Errorf("metadata %s = %q: not a step count", key, t.Meta[key])
	}
	return v, nil
}

// shapeMatches reports whether a file's shape fits the tensor p: its own
// shape, or in a v1 checkpoint the vector a one-row tensor was written as.
func shapeMatches(got []int, p *nn.Param, v1 bool) bool {
	if slices.Equal(got, p.Shape) {
		return true
	}
	return v1 && p.Rows == 1 && slices.Equal(got, []int{p.Cols})
}

// load uploads the tensors refs from t, which must hold each with its
// shape and nothing else.
func load(m Model, t *nn.Tensors, refs []tensorRef, v1 bool) error {
	if len(t.Names) != len(refs) {
		want := map[string]bool{}
		for _, r := range refs {
			want[r.name] = true
		}
		for _, name := range t.Names {
			if !want[name] {
				return fmt.Errorf("unexpected tensor %s (the %s model has %d tensors, the file %d)", name, m.Config().Model, len(refs), len(t.Names))
			}
		}
	}
	for _, r := range refs {
		v, ok := t.Data[r.name]
		if !ok {
			return fmt.Errorf("missing tensor %s", r.name)
		}
		if !shapeMatches(t.Shapes[r.name], r.p, v1) {
			return fmt.Errorf("tensor %s has shape %v, the model needs %v", r.name, t.Shapes[r.name], r.shape)
		}
		if err := m.Backend().Upload(r.m, v); err != nil {
			return fmt.Errorf("restoring %s: %w", r.name, err)
		}
	}
	return nil
}

// Restore loads a checkpoint's state into m, whose config must match the
// checkpoint's model and batch size. Every tensor must be present with its
// exact shape, and no other tensor may be.
func Restore(m Model, t *nn.Tensors) error {
	c, err := ConfigOf(t)
	if err != nil {
		return err
	}
	cfg := m.Config()
	if c.Model != cfg.Model || c.Batch != cfg.Batch {
		return fmt.Errorf("checkpoint is for model %s with batch %d, not %s with batch %d", c.Model, c.Batch, cfg.Model, cfg.Batch)
	}
	if err := load(m, t, tensors(m, false), t.Meta["format"] == checkpointFormatV1); err != nil {
		return err
	}
	step, err := metaInt(t, "step")
	if err != nil {
		return err
	}
	m.SetStep(step)
	for _, net := range m.Nets() {
		if net.Opt == nil {
			continue
		}
		if net.Opt.Step, err = metaInt(t, "adam_step."+net.Name); err != nil {
			return err
		}
	}
	return m.Backend().Sync()
}

// RestoreStateDict loads a bare state_dict (the parameters of every network
// under their prefixed PyTorch names, as a PyTorch user would save them
// with safetensors) into m; the optimisers and the step start fresh.
func RestoreStateDict(m Model, t *nn.Tensors) error {
	if err := load(m, t, tensors(m, true), false); err != nil {
		return fmt.Errorf("state_dict for %s: %w", m.Config().Model, err)
	}
	return m.Backend().Sync()
}

// Load reads the file at path and rebuilds its model on b: a checkpoint of
// this program, or a bare state_dict of the family named by bare (whose
// default configuration is used, with fresh optimiser state). A bare
// state_dict with bare empty is an error.
func Load(b nn.Backend, path, bare string) (Model, error) {
	t, err := nn.ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint: %w", err)
	}
	return FromTensors(b, t, path, bare)
}

// FromTensors is [Load] on tensors already read from path.
func FromTensors(b nn.Backend, t *nn.Tensors, path, bare string) (Model, error) {
	if !IsCheckpoint(t) {
		if bare == "" {
			return nil, fmt.Errorf("loading checkpoint %s: no gan metadata (a bare state_dict needs --model to say what it is)", path)
		}
		f, err := Lookup(bare)
		if err != nil {
			return nil, fmt.Errorf("loading state_dict %s: %w", path, err)
		}
		m, err := New(b, f.Defaults())
		if err != nil {
			return nil, fmt.Errorf("loading state_dict %s: %w", path, err)
		}
		if err := RestoreStateDict(m, t); err != nil {
			m.Free()
			return nil, fmt.Errorf("loading state_dict %s: %w", path, err)
		}
		return m, nil
	}
	c, err := ConfigOf(t)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	m, err := New(b, c)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	if err := Restore(m, t); err != nil {
		m.Free()
		return nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	return m, nil
}
