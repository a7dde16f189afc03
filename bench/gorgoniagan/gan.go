// Package gorgoniagan builds the seed MNIST GAN in Gorgonia
// (gorgonia.org/gorgonia), independently of this project's own layers, for
// two purposes:
//
//   - a gradient oracle: [GANGrads] computes one training step's losses and
//     gradients with Gorgonia's symbolic differentiation, from weights,
//     data, noise and dropout masks given explicitly, so a test can feed our
//     implementation and Gorgonia exactly the same step;
//   - a speed baseline: [Trainer] runs whole seed-GAN training steps (D step,
//     Adam on D, G step through the updated D, Adam on G) on Gorgonia's
//     TapeMachine with Gorgonia's Adam solver; BenchmarkGorgoniaSeedStep
//     times it.
//
// The seed GAN is G: Linear(100,256) LeakyReLU(0.2) Linear(256,512) LeakyReLU
// Linear(512,1024) LeakyReLU Linear(1024,784) Tanh, and D: Linear(784,1024)
// LeakyReLU(0.2) Dropout(0.3) Linear(1024,512) LeakyReLU Dropout(0.3)
// Linear(512,256) LeakyReLU Linear(256,1) followed by sigmoid and BCE.
// [GANGrads] takes the layer widths from the weights it is given, so tests
// may use the same architecture with tiny widths.
//
// BCE is computed on D's logits in the stable form: BCE(σ(x), 1) =
// softplus(−x) and BCE(σ(x), 0) = softplus(x), with Gorgonia's Softplus op,
// which evaluates log1p(exp(x)) and returns x above 14 (float32) or 16
// (float64) and 0 below −103 (float32) or −708 (float64); its derivative is
// σ(x). The sigmoid of the logits is never formed inside the graph, so no
// log(0) can occur; D(x) and D(G(z)) are computed from the logits in float64.
package gorgoniagan

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Seed GAN layer widths: noise, generator hidden layers, image; and
// discriminator input, hidden layers, output.
var (
	// SeedGDims are the generator's layer widths, noise first.
	SeedGDims = []int{100, 256, 512, 1024, 784}
	// SeedDDims are the discriminator's layer widths, image first.
	SeedDDims = []int{784, 1024, 512, 256, 1}
)

// DropoutP is the seed discriminator's dropout probability; a kept element of
// a mask holds 1/(1−DropoutP).
const DropoutP = 0.3

// Weights holds one MLP's parameters in PyTorch layout: W[i] is Out[i]×In[i] row-major, B[i] has Out[i] values.
type Weights struct{ W, B [][]float32 }

// StepInput is everything one seed-GAN training step consumes.
type StepInput struct {
	Batch int
	Real  []float32 // Batch×784
	Z     []float32 // Batch×100
	// Dropout masks for the D step on the concatenated batch [real; fake] (2·Batch rows): MaskD1 is 2B×1024, MaskD2 is 2B×512;
	// and for the G step's pass of the fake batch through D (B rows): MaskG1 B×1024, MaskG2 B×512.
	// A nil mask means no dropout (all ones).
	MaskD1, MaskD2, MaskG1, MaskG2 []float32
}

// StepGrads are the losses and gradients of one step, before any optimiser update.
type StepGrads struct {
	DLoss, GLoss float64 // d_loss = BCE(D(real),1)+BCE(D(fake),0) (means over the batch); g_loss = BCE(D(fake),1)
	DX, DGZ      float64 // mean sigmoid output on real, on fake (D step)
	GradD        Weights // dd_loss/dθ_D (fake detached)
	GradG        Weights // dg_loss/dθ_G through D (D's weights as given: the SAME D weights as the D step, i.e. no optimiser update in between)
}

// GANGrads computes one step's losses and gradients with Gorgonia's symbolic autodiff.
//
// The graphs are built in float32. The D step runs D on the concatenated
// batch [real; G(z)] (2·Batch rows, masks MaskD1 and MaskD2), the G step runs
// D on G(z) again with masks MaskG1 and MaskG2 and the same D weights. The
// layer widths are read from g and d (4 layers each, G's output width equal
// to D's input width, D's output width 1), and every slice length is checked
// against them.
func GANGrads(g, d Weights, in StepInput) (*StepGrads, error) {
	return ganGradsWeights(tensor.Float32, g, d, in)
}

// GANGrads64 is [GANGrads] with the graphs evaluated in float64 instead of
// float32: the float32 inputs are widened exactly, and the gradients are
// rounded to float32 only when returned. It is the more accurate oracle.
func GANGrads64(g, d Weights, in StepInput) (*StepGrads, error) {
	return ganGradsWeights(tensor.Float64, g, d, in)
}

// mlp64 is an MLP's parameters in float64, PyTorch layout (see [Weights]).
type mlp64 struct{ W, B [][]float64 }

// input64 is a [StepInput] in float64; a nil mask means all ones.
type input64 struct {
	batch                          int
	real, z                        []float64
	maskD1, maskD2, maskG1, maskG2 []float64
}

// grads64 is a [StepGrads] in float64.
type grads64 struct {
	dLoss, gLoss, dx, dgz float64
	gradD, gradG          mlp64
}

func widen(x []float32) []float64 {
	if x == nil {
		return nil
	}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func narrow(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func widenMLP(w Weights) mlp64 {
	m := mlp64{W: make([][]float64, len(w.W)), B: make([][]float64, len(w.B))}
	for i := range w.W {
		m.W[i] = widen(w.W[i])
	}
	for i := range w.B {
		m.B[i] = widen(w.B[i])
	}
	return m
}

func narrowMLP(m mlp64) Weights {
	w := Weights{W: make([][]float32, len(m.W)), B: make([][]float32, len(m.B))}
	for i := range m.W {
		w.W[i] = narrow(m.W[i])
	}
	for i := range m.B {
		w.B[i] = narrow(m.B[i])
	}
	return w
}

func ganGradsWeights(dt tensor.Dtype, g, d Weights, in StepInput) (*StepGrads, error) {
	r, err := ganGrads(dt, widenMLP(g), widenMLP(d), input64{
		batch: in.Batch, real: widen(in.Real), z: widen(in.Z),
		maskD1: widen(in.MaskD1), maskD2: widen(in.MaskD2),
		maskG1: widen(in.MaskG1), maskG2: widen(in.MaskG2),
	})
	if err != nil {
		return nil, err
	}
	return &StepGrads{
		DLoss: r.dLoss, GLoss: r.gLoss, DX: r.dx, DGZ: r.dgz,
		GradD: narrowMLP(r.gradD), GradG: narrowMLP(r.gradG),
	}, nil
}

// mlpDims returns the layer widths of a 4-layer MLP from its parameters.
func mlpDims(name string, m mlp64) ([]int, error) {
	if len(m.W) != 4 || len(m.B) != 4 {
		return nil, fmt.Errorf("%s: want 4 layers, got %d weight and %d bias tensors", name, len(m.W), len(m.B))
	}
	dims := make([]int, 5)
	for l := range 4 {
		out := len(m.B[l])
		if out == 0 || len(m.W[l])%out != 0 {
			return nil, fmt.Errorf("%s: layer %d: weight has %d values, bias %d", name, l, len(m.W[l]), out)
		}
		in := len(m.W[l]) / out
		if l > 0 && in != dims[l] {
			return nil, fmt.Errorf("%s: layer %d: input width %d does not match the previous output width %d", name, l, in, dims[l])
		}
		if in == 0 {
			return nil, fmt.Errorf("%s: layer %d: zero input width", name, l)
		}
		dims[l], dims[l+1] = in, out
	}
	return dims, nil
}

// checkLen returns an error unless x has rows×cols values (or is nil and may be).
func checkLen(name string, x []float64, rows, cols int, mayBeNil bool) error {
	if x == nil && mayBeNil {
		return nil
	}
	if len(x) != rows*cols {
		return fmt.Errorf("%s: want %d×%d = %d values, got %d", name, rows, cols, rows*cols, len(x))
	}
	return nil
}

// ganGrads is [GANGrads] on float64 data with the graphs in element type dt.
func ganGrads(dt tensor.Dtype, g, d mlp64, in input64) (*grads64, error) {
	gDims, err := mlpDims("generator", g)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: %w", err)
	}
	dDims, err := mlpDims("discriminator", d)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: %w", err)
	}
	if gDims[4] != dDims[0] {
		return nil, fmt.Errorf("gorgoniagan: generator output width %d differs from discriminator input width %d", gDims[4], dDims[0])
	}
	if dDims[4] != 1 {
		return nil, fmt.Errorf("gorgoniagan: discriminator output width is %d, want 1", dDims[4])
	}
	b := in.batch
	if b < 2 {
		return nil, fmt.Errorf("gorgoniagan: batch %d, want at least 2", b)
	}
	for _, c := range []struct {
		name       string
		x          []float64
		rows, cols int
		mayBeNil   bool
	}{
		{"Real", in.real, b, dDims[0], false},
		{"Z", in.z, b, gDims[0], false},
		{"MaskD1", in.maskD1, 2 * b, dDims[1], true},
		{"MaskD2", in.maskD2, 2 * b, dDims[2], true},
		{"MaskG1", in.maskG1, b, dDims[1], true},
		{"MaskG2", in.maskG2, b, dDims[2], true},
	} {
		if err := checkLen(c.name, c.x, c.rows, c.cols, c.mayBeNil); err != nil {
			return nil, fmt.Errorf("gorgoniagan: %w", err)
		}
	}

	s, err := newStepGraphs(dt, b, gDims, dDims)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: building graphs: %w", err)
	}
	if err := s.setParams(s.gParams, g); err != nil {
		return nil, fmt.Errorf("gorgoniagan: generator weights: %w", err)
	}
	if err := s.setParams(s.dParams, d); err != nil {
		return nil, fmt.Errorf("gorgoniagan: discriminator weights: %w", err)
	}
	for _, c := range []struct {
		n *G.Node
		x []float64
	}{
		{s.z, in.z}, {s.maskD1, in.maskD1}, {s.maskD2, in.maskD2},
		{s.maskG1, in.maskG1}, {s.maskG2, in.maskG2},
	} {
		if err := setNode(c.n, c.x); err != nil {
			return nil, fmt.Errorf("gorgoniagan: %w", err)
		}
	}

	// The G step first: it also yields G(z), which becomes the fake half of
	// the D step's input. D's weights are the same tensors in both graphs and
	// nothing updates them in between.
	r := &grads64{}
	gm := G.NewTapeMachine(s.gg, G.BindDualValues(s.gParams...))
	defer gm.Close()
	if err := gm.RunAll(); err != nil {
		return nil, fmt.Errorf("gorgoniagan: G step: %w", err)
	}
	if r.gLoss, err = scalar(s.gLossV); err != nil {
		return nil, fmt.Errorf("gorgoniagan: G step: %w", err)
	}
	fake, err := getValue("fake", s.fakeV)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: G step: %w", err)
	}
	if r.gradG, err = s.getGrads(s.gParams); err != nil {
		return nil, fmt.Errorf("gorgoniagan: G step: %w", err)
	}

	x := make([]float64, 0, 2*b*dDims[0])
	x = append(append(x, in.real...), fake...)
	if err := setNode(s.x, x); err != nil {
		return nil, fmt.Errorf("gorgoniagan: %w", err)
	}
	dm := G.NewTapeMachine(s.dg, G.BindDualValues(s.dParams...))
	defer dm.Close()
	if err := dm.RunAll(); err != nil {
		return nil, fmt.Errorf("gorgoniagan: D step: %w", err)
	}
	if r.dLoss, err = scalar(s.dLossV); err != nil {
		return nil, fmt.Errorf("gorgoniagan: D step: %w", err)
	}
	logits, err := getValue("logits", s.dLogitsV)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: D step: %w", err)
	}
	r.dx, r.dgz = meanSigmoid(logits[:b]), meanSigmoid(logits[b:])
	if r.gradD, err = s.getGrads(s.dParams); err != nil {
		return nil, fmt.Errorf("gorgoniagan: D step: %w", err)
	}
	return r, nil
}

// meanSigmoid returns the mean of σ(x) over x, in float64.
func meanSigmoid(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += 1 / (1 + math.Exp(-v))
	}
	return s / float64(len(x))
}

// setParams stores m (PyTorch layout) into the parameter nodes ps
// (transposed layout).
func (s *stepGraphs) setParams(ps []*G.Node, m mlp64) error {
	for k, n := range ps {
		var src []float64
		if k%2 == 0 {
			r, c := n.Shape()[0], n.Shape()[1] // In×Out
			src = transpose(m.W[k/2], c, r)
		} else {
			src = m.B[k/2]
		}
		if err := setNode(n, src); err != nil {
			return err
		}
	}
	return nil
}

// getGrads returns the gradients bound to the parameter nodes ps, in
// PyTorch layout.
func (s *stepGraphs) getGrads(ps []*G.Node) (mlp64, error) { return readParams(ps, gradData) }

// getParams returns the values of the parameter nodes ps, in PyTorch layout.
func (s *stepGraphs) getParams(ps []*G.Node) (mlp64, error) { return readParams(ps, nodeData) }

// readParams reads one slice per parameter node with read and returns them
// in PyTorch layout.
func readParams(ps []*G.Node, read func(*G.Node) (any, error)) (mlp64, error) {
	m := mlp64{W: make([][]float64, len(ps)/2), B: make([][]float64, len(ps)/2)}
	for k, n := range ps {
		raw, err := read(n)
		if err != nil {
			return mlp64{}, err
		}
		v, err := toFloat64(n.Name(), raw)
		if err != nil {
			return mlp64{}, err
		}
		if k%2 == 0 {
			r, c := n.Shape()[0], n.Shape()[1]
			m.W[k/2] = transpose(v, r, c)
		} else {
			m.B[k/2] = v
		}
	}
	return m, nil
}

// transpose returns the c×r transpose of the r×c row-major matrix x.
func transpose(x []float64, r, c int) []float64 {
	y := make([]float64, len(x))
	for i := range r {
		for j := range c {
			y[j*r+i] = x[i*c+j]
		}
	}
	return y
}

// setNode copies src into the tensor bound to n, converting to its element
// type; a nil src sets every element to 1 (a mask without dropout).
func setNode(n *G.Node, src []float64) error {
	raw, err := nodeData(n)
	if err != nil {
		return err
	}
	switch dst := raw.(type) {
	case []float32:
		if src != nil && len(src) != len(dst) {
			return fmt.Errorf("node %s: %d values for %d elements", n.Name(), len(src), len(dst))
		}
		for i := range dst {
			dst[i] = 1
			if src != nil {
				dst[i] = float32(src[i])
			}
		}
	case []float64:
		if src != nil && len(src) != len(dst) {
			return fmt.Errorf("node %s: %d values for %d elements", n.Name(), len(src), len(dst))
		}
		for i := range dst {
			dst[i] = 1
			if src != nil {
				dst[i] = src[i]
			}
		}
	default:
		return fmt.Errorf("node %s: unsupported element type %T", n.Name(), raw)
	}
	return nil
}

// getValue returns a float64 copy of the tensor v.
func getValue(name string, v G.Value) ([]float64, error) {
	raw, err := valueData(name, v)
	if err != nil {
		return nil, err
	}
	return toFloat64(name, raw)
}

// toFloat64 returns a float64 copy of a float32 or float64 slice.
func toFloat64(name string, raw any) ([]float64, error) {
	switch v := raw.(type) {
	case []float32:
		return widen(v), nil
	case []float64:
		return append([]float64(nil), v...), nil
	}
	return nil, fmt.Errorf("node %s: unsupported element type %T", name, raw)
}

// scalar returns the scalar value v (a loss) as a float64.
func scalar(v G.Value) (float64, error) {
	if v == nil {
		return 0, errors.New("loss was not computed")
	}
	switch v := v.Data().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, errors.New("loss is not a float scalar")
}
