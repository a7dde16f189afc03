package chargpt

import (
	"fmt"
	"math"

	"gan/cpu/sgemm"
	"gan/nn"
)

// hostGPT is the model's weights on the host with a key/value cache: the
// sampler's forward pass of one new token costs O(Layers·(C² + t·C))
// instead of a whole window's.
//
// The weights stay in nanoGPT's Linear layout, [out, in] row-major, so
// that each output of a projection is one contiguous dot product: the
// projections of one token are [sgemm.Sgemm] calls with m = 1 and a
// transposed B, which take sgemm's SIMD matrix-vector path (dotRows).
// A run of tokens (the prompt, or the window after a restart) goes
// through the same code as full GEMMs of n rows. Every buffer is sized
// for T tokens when the sampler is made, so a token allocates nothing.
type hostGPT struct {
	m          *GPT
	w          map[string][]float32
	layers     []hostLayer
	wte, wpe   []float32
	lnfw, lnfb []float32
	head       []float32
	k, v       [][]float32 // per layer: [T, C] keys and values of the cached positions
	n          int         // cached positions
	// Activations of up to T tokens: x, h, y [T, C], qkv [T, 3C], f [T, 4C];
	// lg the V logits of the last token.
	x, h, qkv, y, f, lg []float32
	att                 []float64
	att32               []float32
}

// hostLayer is one block's weights.
type hostLayer struct {
	ln1w, ln1b, attnW, attnB, projW, projB, ln2w, ln2b, fcW, fcB, mlpW, mlpB []float32
}

func newHostGPT(m *GPT) (*hostGPT, error) {
	hg := &hostGPT{m: m, w: map[string][]float32{}}
	for _, p := range m.P.Params() {
		v := make([]float32, p.Len())
		if err := m.B.Download(v, p.Value); err != nil {
			return nil, fmt.Errorf("char-gpt sampler: reading %s: %w", p.Name, err)
		}
		hg.w[p.Name] = v
	}
	w := hg.w
	for l := range m.L {
		p := fmt.Sprintf("transformer.h.%d.", l)
		hg.layers = append(hg.layers, hostLayer{w[p+"ln_1.weight"], w[p+"ln_1.bias"], w[p+"attn.c_attn.weight"], w[p+"attn.c_attn.bias"],
			w[p+"attn.c_proj.weight"], w[p+"attn.c_proj.bias"], w[p+"ln_2.weight"], w[p+"ln_2.bias"],
			w[p+"mlp.c_fc.weight"], w[p+"mlp.c_fc.bias"], w[p+"mlp.c_proj.weight"], w[p+"mlp.c_proj.bias"]})
		hg.k = append(hg.k, make([]float32, m.T*m.C))
		hg.v = append(hg.v, make([]float32, m.T*m.C))
	}
	hg.wte, hg.wpe = w["transformer.wte.weight"], w["transformer.wpe.weight"]
	hg.lnfw, hg.lnfb, hg.head = w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], w["lm_head.weight"]
	c, t := m.C, m.T
	hg.x, hg.h, hg.qkv, hg.y, hg.f, hg.lg = make([]float32, t*c), make([]float32, t*c), make([]float32, t*3*c), make([]float32, t*c), make([]float32, t*4*c), make([]float32, m.V)
	hg.att, hg.att32 = make([]float64, t), make([]float32, t)
	return hg, nil
}

// layerNorm writes LN(x)·γ + β to out (float64 statistics, eps 1e-5).
func layerNorm(out, x, gamma, beta []float32) {
	mean := 0.0
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	vr := 0.0
	for _, v := range x {
		d := float64(v) - mean
		vr += d * d
	}
	rstd := 1 / math.Sqrt(vr/float64(len(x))+1e-5)
	gamma, beta = gamma[:len(x)], beta[:len(x)]
	for i, v := range x {
		out[i] = float32((float64(v)-mean)*rstd)*gamma[i] + beta[i]
	}
}

// linear writes x·Wᵀ + b to out for the n rows of x ([n, in]; W [out, in],
// nanoGPT's layout; b nil for none; out [n, out]).
func linear(out, x, w, b []float32, n, in, outs int) {
	sgemm.SgemmWorkers(1, false, true, n, outs, in, x, in, w, in, 0, out, outs)
	if b == nil {
		return
	}
	b = b[:outs]
	for r := range n {
		row := out[r*outs : (r+1)*outs]
		for i := range row {
			row[i] += b[i]
		}
	}
}

// gelu is GELU(x) = x·(1 + erf(x/√2))/2 with erf as the rational
// approximation of Eigen's fast float erf (odd degree-13 numerator over an
// even degree-8 denominator, argument clamped to [−4, 4]) evaluated in
// float64: within 1e-7 of math.Erf, so within 3e-7 plus half an ulp of
// the exact GELU for any x (TestGELUApproximation; the backends' float32
// GELU, cpu/gelu.go, is within 8 ulps of it).
func gelu(x float32) float32 {
	v := float64(x)
	z := min(v*(1/math.Sqrt2), 4)
	if z <= -4 {
		return 0 // |GELU(x)| < 5e-8 here
	}
	z2 := z * z
	p := z2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = z2*p - 2.10102402082508e-06
	p = z2*p - 5.69250639462346e-05
	p = z2*p - 7.34990630326855e-04
	p = z2*p - 2.95459980854025e-03
	p = z2*p - 1.60960333262415e-02
	q := z2*-1.45660718464996e-05 - 2.13374055278905e-04
	q = z2*q - 1.68282697438203e-03
	q = z2*q - 7.37332916720468e-03
	q = z2*q - 1.42647390514189e-02
	return float32(v * 0.5 * (1 + z*p/q))
}

// reset empties the cache.
func (hg *hostGPT) reset() { hg.n = 0 }

// push runs token id at the next position (hg.n < T) and returns the
// logits of the next character (valid until the next push).
func (hg *hostGPT) push(id int32) []float32 {
	return hg.pushAll([]int32{id})
}

// pushAll runs the ids at the next len(ids) positions (hg.n+len(ids) ≤ T)
// and returns the logits of the character after the last (valid until the
// next push).
func (hg *hostGPT) pushAll(ids []int32) []float32 {
	m, c := hg.m, hg.m.C
	p0, n := hg.n, len(ids)
	x, h, qkv, y, f := hg.x[:n*c], hg.h[:n*c], hg.qkv[:n*3*c], hg.y[:n*c], hg.f[:n*4*c]
	for r, id := range ids {
		pos := p0 + r
		xr, te, pe := x[r*c:(r+1)*c], hg.wte[int(id)*c:(int(id)+1)*c], hg.wpe[pos*c:(pos+1)*c]
		for i := range xr {
			xr[i] = te[i] + pe[i]
		}
	}
	d := c / m.H
	scale := 1 / math.Sqrt(float64(d))
	for l, ly := range hg.layers {
		for r := range n {
			layerNorm(h[r*c:(r+1)*c], x[r*c:(r+1)*c], ly.ln1w, ly.ln1b)
		}
		linear(qkv, h, ly.attnW, ly.attnB, n, c, 3*c)
		kc, vc := hg.k[l], hg.v[l]
		for r := range n {
			pos := p0 + r
			copy(kc[pos*c:(pos+1)*c], qkv[r*3*c+c:r*3*c+2*c])
			copy(vc[pos*c:(pos+1)*c], qkv[r*3*c+2*c:(r+1)*3*c])
		}
		for r := range n {
			t := p0 + r + 1 // positions this token attends to
			att, att32 := hg.att[:t], hg.att32[:t]
			for hd := range m.H {
				q := qkv[r*3*c+hd*d : r*3*c+(hd+1)*d]
				// Scores q·k_j for j < t: rows of K at stride C.
				sgemm.SgemmWorkers(1, false, true, 1, t, d, q, d, kc[hd*d:], c, 0, att32, t)
				mx := math.Inf(-1)
				for j, s := range att32 {
					att[j] = float64(s) * scale
					mx = max(mx, att[j])
				}
				sum := 0.0
				for j, s := range att {
					att[j] = math.Exp(s - mx)
					sum += att[j]
				}
				for j, a := range att {
					att32[j] = float32(a / sum)
				}
				// y = Σ_j a_j·v_j over rows of V at stride C.
				sgemm.SgemmWorkers(1, false, false, 1, d, t, att32, t, vc[hd*d:], c, 0, y[r*c+hd*d:r*c+(hd+1)*d], d)
			}
		}
		linear(h, y, ly.projW, ly.projB, n, c, c)
		for i, v := range h {
			x[i] += v
		}
		for r := range n {
			layerNorm(h[r*c:(r+1)*c], x[r*c:(r+1)*c], ly.ln2w, ly.ln2b)
		}
		linear(f, h, ly.fcW, ly.fcB, n, c, 4*c)
		for i, v := range f {
			f[i] = gelu(v)
		}
		linear(h, f, ly.mlpW, ly.mlpB, n, 4*c, c)
		for i, v := range h {
			x[i] += v
		}
	}
	last := x[(n-1)*c : n*c]
	layerNorm(h[:c], last, hg.lnfw, hg.lnfb)
	linear(hg.lg, h[:c], hg.head, nil, 1, c, m.V)
	hg.n += n
	return hg.lg
}

// SampleCached is [GPT.Sample] with a key/value cache on the host: each
// new character costs one token's forward pass. When the context fills
// the window of T positions, the cache restarts from the last T/2
// characters, run as one batch (nanoGPT crops to the last T and
// recomputes the window for every character; this keeps between T/2 and T
// characters of context at a fraction of the cost). It draws the same way
// as Sample (word i of key for character i), so the same key gives the
// same text; it can differ from Sample's text where float rounding of the
// two computations moves a draw across a boundary.
func (m *GPT) SampleCached(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error {
	if len(prompt) < 1 {
		return fmt.Errorf("char-gpt sample: an empty prompt")
	}
	if !(temperature > 0) || math.IsInf(float64(temperature), 0) {
		return fmt.Errorf("char-gpt sample: temperature %g must be positive", temperature)
	}
	for _, id := range prompt {
		if id < 0 || int(id) >= m.V {
			return fmt.Errorf("char-gpt sample: token id %d outside the vocabulary of %d", id, m.V)
		}
	}
	hg, err := newHostGPT(m)
	if err != nil {
		return err
	}
	if m.probs == nil {
		m.probs = make([]float64, m.V)
	}
	ctx := make([]int32, 0, m.T+1)
	ctx = append(ctx, prompt[max(0, len(prompt)-m.T):]...)
	logits := hg.pushAll(ctx)
	one := make([]int32, 1)
	for i := range n {
		id := Draw(logits, temperature, key.Uniform(uint64(i)), m.probs)
		if err := emit(id); err != nil {
			return err
		}
		ctx = append(ctx, id)
		if hg.n == m.T {
			keep := max(m.T/2, 1)
			ctx = append(ctx[:0], ctx[len(ctx)-keep:]...)
			hg.reset()
			logits = hg.pushAll(ctx)
			continue
		}
		one[0] = id
		logits = hg.pushAll(one)
	}
	return nil
}
