// Package made is MADE (Germain et al. 2015, "MADE: Masked Autoencoder
// for Distribution Estimation") on dynamically binarised MNIST: a one
// hidden layer MLP 784 → H → 784 whose weights are multiplied by binary
// masks so that output d (the Bernoulli logit of pixel d) depends only on
// the pixels before d in an ordering. Training maximises the exact
// likelihood (the summed binary cross-entropy of the 784 logits).
//
// With --orders K the family keeps K orderings with their connectivity
// (order 0 is the raster order, the others random permutations; each
// assigns every hidden unit a degree m(h) uniform in [1, 783]); training
// step s uses ordering s mod K, and the test likelihood is the ensemble's,
// log p(x) = log (1/K) Σ_k p_k(x), as in the paper.
//
// The masks are buffers of the network (net.0.mask [K H 784] and
// net.2.mask [K 784 H], with the orderings as positions in order [K 784]),
// saved with the checkpoint as PyTorch's masked-linear implementations
// do, and multiplied into the weights once per step in the graph (W ∘ M):
// masked weights get exactly zero gradient.
//
// Sampling is sequential (784 draws per image) but costs O(784·H) per
// image on the host: the hidden pre-activations are updated by one
// column of the masked input weights as each pixel is drawn, and each
// logit needs one row of the output weights.
package made

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/made/autoreg"
)

// Name is the family's --model name.
const Name = "made"

// D is the number of pixels.
const D = autoreg.Dim

// DefaultHidden is the hidden width of the paper's one-layer MADE on
// binarised MNIST.
const DefaultHidden = 500

// DefaultConfig is one ordering, 500 hidden units, Adam 1e-3, batch 100.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 50, Batch: 100, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Dataset: "mnist", Orders: 1, Hidden: DefaultHidden}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "MADE (Germain et al. 2015): masked MLP 784-H-784, Bernoulli logits on dynamically binarised MNIST, exact NLL (--hidden, --orders K: ensemble of orderings)",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

func validate(c model.Config) error {
	if (c.Channels != 0 && c.Channels != 1) || (c.Size != 0 && c.Size != autoreg.Side) {
		return fmt.Errorf("channels %d, size %d: MADE models 1×28×28 binarised images", c.Channels, c.Size)
	}
	if c.Orders < 0 || c.Orders > 64 {
		return fmt.Errorf("orders %d: must be between 1 and 64", c.Orders)
	}
	if c.Hidden < 0 || c.Hidden > 1<<15 {
		return fmt.Errorf("hidden %d: must be between 1 and 32768", c.Hidden)
	}
	if c.Loss != "" || c.DLR != 0 {
		return fmt.Errorf("loss %q, d-lr %g: MADE trains by maximum likelihood", c.Loss, c.DLR)
	}
	return nil
}

// MADE is the model on one backend.
type MADE struct {
	model.Base
	K, H   int
	P      *nn.ParamSet
	Opt    *nn.Adam
	L1, L2 *layer.LinearLayer
	// M1 [K H D], M2 [K D H]: the masks; Order [K D]: the position of each
	// pixel in ordering k.
	M1, M2, Order *nn.Param

	steps map[[2]int]*stepProgram
	evals map[[2]int]*evalProgram
	xDev  nn.Mat
	stats []float64
	lp    []float64
}

type stepProgram struct {
	prog  *graph.Program
	data  *graph.Node
	ix    *graph.Index
	bound nn.Mat
	loss  *graph.Node
}

type evalProgram struct {
	prog      *graph.Program
	x, logits *graph.Node
	host      []float32
}

// New builds a MADE on b with weights and masks drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*MADE, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	k, h := max(cfg.Orders, 1), cfg.Hidden
	if h == 0 {
		h = DefaultHidden
	}
	m := &MADE{Base: model.Base{Cfg: cfg, B: b}, K: k, H: h, steps: map[[2]int]*stepProgram{},
		evals: map[[2]int]*evalProgram{}, stats: make([]float64, 1)}
	m.P = nn.NewParamSetFrom(&nn.InitStreams{})
	m.L1 = layer.NewLinear(m.P, "net.0", D, h)
	m.M1 = m.P.AddBuffer("net.0.mask", k, h, D)
	m.L2 = layer.NewLinear(m.P, "net.2", h, D)
	m.M2 = m.P.AddBuffer("net.2.mask", k, D, h)
	m.Order = m.P.AddBuffer("order", k, D)
	if err := m.P.Alloc(b); err != nil {
		return nil, fmt.Errorf("MADE: %w", err)
	}
	var err error
	if m.Opt, err = nn.NewAdam(b, m.P, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	m.L1.Init(b, cfg.Seed)
	m.L2.Init(b, cfg.Seed)
	m1, m2, ord := Masks(k, h, m.Order.InitKey(cfg.Seed), m.M1.InitKey(cfg.Seed))
	for _, u := range []struct {
		p *nn.Param
		v []float32
	}{{m.M1, m1}, {m.M2, m2}, {m.Order, ord}} {
		if err := b.Upload(u.p.Value, u.v); err != nil {
			m.Free()
			return nil, fmt.Errorf("MADE masks: %w", err)
		}
	}
	return m, b.Sync()
}

// Masks returns the masks of k orderings for h hidden units: m1 [k h D]
// (hidden unit j sees pixel d when m(j) ≥ pos(d)), m2 [k D h] (pixel d's
// logit sees unit j when pos(d) > m(j)) and the positions pos [k D]
// (1-based). Ordering 0 is the raster order; ordering i > 0 is a
// permutation drawn from orderKey at index i; the degrees m(j) of
// ordering i are words i·h + j of degreeKey.
func Masks(k, h int, orderKey, degreeKey nn.RandKey) (m1, m2, pos []float32) {
	m1, m2, pos = make([]float32, k*h*D), make([]float32, k*D*h), make([]float32, k*D)
	perm := make([]int32, D)
	deg := make([]int, h)
	for o := range k {
		if o == 0 {
			for i := range perm {
				perm[i] = int32(i)
			}
		} else {
			nn.Permutation(perm, nn.RandKey{Seed: orderKey.Seed, Stream: orderKey.Stream + uint64(o)<<32})
		}
		// perm[t] is the pixel at position t.
		for t, d := range perm {
			pos[o*D+int(d)] = float32(t + 1)
		}
		for j := range deg {
			deg[j] = 1 + int(nn.Uniform32n(degreeKey.Uint32(uint64(o*h+j)), D-1))
		}
		for j := range h {
			for d := range D {
				p := int(pos[o*D+d])
				if deg[j] >= p {
					m1[(o*h+j)*D+d] = 1
				}
				if p > deg[j] {
					m2[(o*D+d)*h+j] = 1
				}
			}
		}
	}
	return m1, m2, pos
}

// Free releases everything allocated on the backend.
func (m *MADE) Free() {
	for _, s := range m.steps {
		s.prog.Free()
	}
	for _, e := range m.evals {
		e.prog.Free()
	}
	m.steps, m.evals = map[[2]int]*stepProgram{}, map[[2]int]*evalProgram{}
	if m.Opt != nil {
		m.Opt.Free()
		m.Opt = nil
	}
	m.P.Free(m.B)
	if !m.xDev.Empty() {
		m.B.Free(m.xDev)
		m.xDev = nn.Mat{}
	}
}

// Nets is the one network and its optimiser.
func (m *MADE) Nets() []model.Net { return []model.Net{{Name: "MADE", Params: m.P, Opt: m.Opt}} }

// Stats is the batch's negative log-likelihood in nats per image.
func (m *MADE) Stats() []model.Stat {
	return []model.Stat{{Name: "nll", Format: "%.3f", Loss: true}}
}

// RNG describes the random streams.
func (m *MADE) RNG() string {
	return "philox4x32-10; binarisation uniforms: stream step<<16|slot of PurposeRandom; init: one stream per tensor from 1<<32 (orderings and degrees from the mask tensors' streams); shuffle stream = epoch"
}

// logits adds the network's logits for the n×D binary x under ordering o.
func (m *MADE) logits(g *graph.Graph, x *graph.Node, o int) *graph.Node {
	w1 := g.Mul(g.Param(m.L1.W), g.Reshape(g.Rows(g.Param(m.M1), o, 1), graph.Shape{m.H, D}))
	w2 := g.Mul(g.Param(m.L2.W), g.Reshape(g.Rows(g.Param(m.M2), o, 1), graph.Shape{D, m.H}))
	h := g.BiasAct(g.MatMul(x, w1, false, true), g.Param(m.L1.B), nn.Act{Kind: nn.ActLeakyReLU})
	return g.BiasAct(g.MatMul(h, w2, false, true), g.Param(m.L2.B), nn.Act{})
}

func (m *MADE) buildStep(n, o int, data nn.Mat) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{}
	s.data = g.Input("training set", graph.Shape{data.Rows, D})
	s.ix = g.Indices("batch", n)
	x := autoreg.Dynamic(g, g.GatherRows(s.data, s.ix), &nn.StreamSlots{})
	bce, _ := g.SigmoidBCE(m.logits(g, x, o), x)
	s.loss = g.Scale(bce, D) // nats per image
	g.Backward(s.loss, m.P)
	g.Update(m.Opt)
	g.Fetch(s.loss)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("MADE training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one Adam step on the batch's negative log-likelihood
// under ordering Step mod K.
func (m *MADE) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 1 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d", n, m.Cfg.Batch)
	}
	if b.Dev.Cols != D {
		return nil, fmt.Errorf("train step: images of %d values, MADE models %d pixels", b.Dev.Cols, D)
	}
	key := [2]int{n, m.Step() % m.K}
	s := m.steps[key]
	if s == nil {
		var err error
		if s, err = m.buildStep(n, key[1], b.Dev); err != nil {
			return nil, err
		}
		m.steps[key] = s
	}
	if s.bound != b.Dev {
		if err := s.prog.Bind(s.data, b.Dev); err != nil {
			return nil, err
		}
		s.bound = b.Dev
	}
	if err := s.prog.SetIndices(s.ix, b.Idx); err != nil {
		return nil, err
	}
	err := s.prog.Run(m.Cfg.Seed, uint64(m.Step()))
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	m.stats[0] = float64(s.prog.Value(s.loss))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// evalChunk is the number of images per likelihood program run.
const evalChunk = 500

func (m *MADE) evalProgram(n, o int) (*evalProgram, error) {
	if e := m.evals[[2]int{n, o}]; e != nil {
		return e, nil
	}
	if m.xDev.Empty() {
		var err error
		if m.xDev, err = m.B.Alloc(evalChunk, D); err != nil {
			return nil, fmt.Errorf("MADE likelihood: %w", err)
		}
	}
	g := graph.New()
	e := &evalProgram{x: g.Input("x", graph.Shape{n, D}), host: make([]float32, n*D)}
	e.logits = m.logits(g, e.x, o)
	g.Output(e.logits)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("MADE likelihood: %w", err)
	}
	e.prog = prog
	m.evals[[2]int{n, o}] = e
	return e, nil
}

// Logits writes the logits of the binary images x (n×784) under ordering
// o to out.
func (m *MADE) Logits(x []float32, o int, out []float32) error {
	n := len(x) / D
	if n < 1 || len(x) != n*D || len(out) != len(x) || o < 0 || o >= m.K {
		return fmt.Errorf("MADE logits: %d values, %d outputs, ordering %d of %d", len(x), len(out), o, m.K)
	}
	for lo := 0; lo < n; lo += evalChunk {
		k := min(evalChunk, n-lo)
		e, err := m.evalProgram(k, o)
		if err != nil {
			return err
		}
		xk := m.xDev.RowView(0, k)
		if err := m.B.Upload(xk, x[lo*D:(lo+k)*D]); err != nil {
			return fmt.Errorf("MADE logits: %w", err)
		}
		if err := e.prog.Bind(e.x, xk); err != nil {
			return err
		}
		if err := e.prog.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("MADE logits: %w", err)
		}
		if err := m.B.Download(out[lo*D:(lo+k)*D], e.prog.Mat(e.logits)); err != nil {
			return fmt.Errorf("MADE logits: %w", err)
		}
	}
	return nil
}

// LogProb writes log p(x) in nats for each binary image of x (n×784) to
// out: the ensemble log (1/K) Σ_k p_k(x) over the K orderings, in
// float64.
func (m *MADE) LogProb(x []float32, out []float64) error {
	n := len(x) / D
	if n < 1 || len(x) != n*D || len(out) != n {
		return fmt.Errorf("MADE log-likelihood: %d values and %d outputs for %d-pixel images", len(x), len(out), D)
	}
	logits := make([]float32, len(x))
	per := make([]float64, n*m.K)
	for o := range m.K {
		if err := m.Logits(x, o, logits); err != nil {
			return err
		}
		autoreg.LogProbRows(x, logits, D, per[o*n:(o+1)*n])
	}
	for i := range n {
		hi := math.Inf(-1)
		for o := range m.K {
			hi = max(hi, per[o*n+i])
		}
		s := 0.0
		for o := range m.K {
			s += math.Exp(per[o*n+i] - hi)
		}
		out[i] = hi + math.Log(s/float64(m.K))
	}
	return nil
}

// LatentDim is one normal per pixel: the noise of the 784 sequential
// Bernoulli draws.
func (m *MADE) LatentDim() int { return D }

// ImageShape is 1×28×28.
func (m *MADE) ImageShape() (c, h, w int) { return 1, autoreg.Side, autoreg.Side }

// Generate draws n images pixel by pixel, image i under ordering i mod K,
// pixel d from the normal z[i·784+d]; out gets ±1.
func (m *MADE) Generate(z, out []float32) error {
	return m.sample(z, nil, 0, out)
}

// Complete keeps the first rows rows of each known image and draws the
// rest under ordering 0 (the raster order, so that the kept pixels are
// exactly the ones conditioned on).
func (m *MADE) Complete(z, known []float32, rows int, out []float32) error {
	if rows < 0 || rows > autoreg.Side || len(known) != len(z) {
		return fmt.Errorf("complete: %d known values for %d noise values, %d rows", len(known), len(z), rows)
	}
	return m.sample(z, known, rows, out)
}

// host holds the network's weights on the host for sampling.
type host struct {
	w1, b1, m1, w2, b2, m2, pos []float32
}

func (m *MADE) download() (*host, error) {
	h := &host{}
	for _, d := range []struct {
		dst *[]float32
		p   *nn.Param
	}{{&h.w1, m.L1.W}, {&h.b1, m.L1.B}, {&h.m1, m.M1}, {&h.w2, m.L2.W}, {&h.b2, m.L2.B}, {&h.m2, m.M2}, {&h.pos, m.Order}} {
		*d.dst = make([]float32, d.p.Len())
		if err := m.B.Download(*d.dst, d.p.Value); err != nil {
			return nil, fmt.Errorf("MADE weights: %w", err)
		}
	}
	return h, nil
}

func (m *MADE) sample(z, known []float32, rows int, out []float32) error {
	n := len(z) / D
	if len(z) != n*D || len(out) != n*D {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-pixel images", len(z), len(out), D)
	}
	w, err := m.download()
	if err != nil {
		return err
	}
	H := m.H
	// Masked weights of each ordering, input weights transposed (D×H) so
	// that a pixel's column is contiguous.
	w1t := make([][]float32, m.K)
	w2m := make([][]float32, m.K)
	order := make([][]int, m.K)
	for o := range m.K {
		if known != nil && o > 0 {
			break
		}
		w1t[o] = make([]float32, D*H)
		w2m[o] = make([]float32, D*H)
		for j := range H {
			for d := range D {
				w1t[o][d*H+j] = w.w1[j*D+d] * w.m1[(o*H+j)*D+d]
				w2m[o][d*H+j] = w.w2[d*H+j] * w.m2[(o*D+d)*H+j]
			}
		}
		order[o] = make([]int, D)
		for d := range D {
			order[o][int(w.pos[o*D+d])-1] = d
		}
	}
	a := make([]float32, H)
	x := make([]float32, D)
	for i := range n {
		o := i % m.K
		if known != nil {
			o = 0
		}
		copy(a, w.b1)
		for _, d := range order[o] {
			var v float32
			if known != nil && d < rows*autoreg.Side {
				v = known[i*D+d]
			} else {
				l := w.b2[d]
				row := w2m[o][d*H : (d+1)*H]
				for j, aj := range a {
					if aj > 0 {
						l += aj * row[j]
					}
				}
				v = autoreg.Draw(z[i*D+d], l)
			}
			x[d] = v
			if v != 0 {
				col := w1t[o][d*H : (d+1)*H]
				for j := range a {
					a[j] += col[j]
				}
			}
		}
		for d, v := range x {
			out[i*D+d] = 2*v - 1
		}
	}
	return nil
}
