package chargpt

import (
	"fmt"
	"math"

	"gan/nn"
)

// hostGPT is the model's weights on the host with a key/value cache: the
// sampler's forward pass of one new token costs O(Layers·(C² + t·C))
// instead of a whole window's.
type hostGPT struct {
	m                   *GPT
	w                   map[string][]float32
	layers              []hostLayer
	k, v                [][]float32 // per layer: [T, C] keys and values of the cached positions
	n                   int         // cached positions
	x, h, qkv, y, f, lg []float32
	att                 []float64
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
	for l := range m.L {
		p := fmt.Sprintf("transformer.h.%d.", l)
		w := hg.w
		hg.layers = append(hg.layers, hostLayer{w[p+"ln_1.weight"], w[p+"ln_1.bias"], w[p+"attn.c_attn.weight"], w[p+"attn.c_attn.bias"],
			w[p+"attn.c_proj.weight"], w[p+"attn.c_proj.bias"], w[p+"ln_2.weight"], w[p+"ln_2.bias"],
			w[p+"mlp.c_fc.weight"], w[p+"mlp.c_fc.bias"], w[p+"mlp.c_proj.weight"], w[p+"mlp.c_proj.bias"]})
		hg.k = append(hg.k, make([]float32, m.T*m.C))
		hg.v = append(hg.v, make([]float32, m.T*m.C))
	}
	c := m.C
	hg.x, hg.h, hg.qkv, hg.y, hg.f, hg.lg = make([]float32, c), make([]float32, c), make([]float32, 3*c), make([]float32, c), make([]float32, 4*c), make([]float32, m.V)
	hg.att = make([]float64, m.T)
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
	for i, v := range x {
		out[i] = float32((float64(v)-mean)*rstd)*gamma[i] + beta[i]
	}
}

// linear writes W·x + b to out (W [len(out) len(x)], b nil for none).
func linear(out, x, w, b []float32) {
	n := len(x)
	for o := range out {
		s := dot(w[o*n:(o+1)*n], x)
		if b != nil {
			s += b[o]
		}
		out[o] = s
	}
}

// dot is Σ a_i·b_i in four float32 partial sums.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// reset empties the cache.
func (hg *hostGPT) reset() { hg.n = 0 }

// push runs token id at the next position (hg.n < T) and returns the
// logits of the next character (valid until the next push).
func (hg *hostGPT) push(id int32) []float32 {
	m, c, w := hg.m, hg.m.C, hg.w
	pos := hg.n
	wte, wpe := w["transformer.wte.weight"], w["transformer.wpe.weight"]
	for i := range c {
		hg.x[i] = wte[int(id)*c+i] + wpe[pos*c+i]
	}
	d := c / m.H
	scale := 1 / math.Sqrt(float64(d))
	for l, ly := range hg.layers {
		layerNorm(hg.h, hg.x, ly.ln1w, ly.ln1b)
		linear(hg.qkv, hg.h, ly.attnW, ly.attnB)
		copy(hg.k[l][pos*c:(pos+1)*c], hg.qkv[c:2*c])
		copy(hg.v[l][pos*c:(pos+1)*c], hg.qkv[2*c:])
		for hd := range m.H {
			q := hg.qkv[hd*d : (hd+1)*d]
			mx := math.Inf(-1)
			for j := 0; j <= pos; j++ {
				kj := hg.k[l][j*c+hd*d : j*c+(hd+1)*d]
				s := 0.0
				for i, qv := range q {
					s += float64(qv) * float64(kj[i])
				}
				hg.att[j] = s * scale
				mx = max(mx, hg.att[j])
			}
			sum := 0.0
			for j := 0; j <= pos; j++ {
				hg.att[j] = math.Exp(hg.att[j] - mx)
				sum += hg.att[j]
			}
			y := hg.y[hd*d : (hd+1)*d]
			clear(y)
			for j := 0; j <= pos; j++ {
				a := float32(hg.att[j] / sum)
				vj := hg.v[l][j*c+hd*d : j*c+(hd+1)*d]
				for i := range y {
					y[i] += a * vj[i]
				}
			}
		}
		linear(hg.h, hg.y, ly.projW, ly.projB)
		for i := range c {
			hg.x[i] += hg.h[i]
		}
		layerNorm(hg.h, hg.x, ly.ln2w, ly.ln2b)
		linear(hg.f, hg.h, ly.fcW, ly.fcB)
		for i, v := range hg.f {
			hg.f[i] = float32(float64(v) * 0.5 * math.Erfc(-float64(v)/math.Sqrt2))
		}
		linear(hg.h, hg.f, ly.mlpW, ly.mlpB)
		for i := range c {
			hg.x[i] += hg.h[i]
		}
	}
	layerNorm(hg.h, hg.x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"])
	linear(hg.lg, hg.h, w["lm_head.weight"], nil)
	hg.n++
	return hg.lg
}

// SampleCached is [GPT.Sample] with a key/value cache on the host: each
// new character costs one token's forward pass. When the context fills
// the window of T positions, the cache restarts from the last T/2
// characters (nanoGPT crops to the last T and recomputes the window for
// every character; this keeps between T/2 and T characters of context at
// a fraction of the cost). It draws the same way as Sample (word i of key
// for character i), so the same key gives the same text; it can differ
// from Sample's text where float rounding of the two computations moves
// a draw across a boundary.
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
	ctx := append([]int32(nil), prompt[max(0, len(prompt)-m.T):]...)
	var logits []float32
	for _, id := range ctx {
		logits = hg.push(id)
	}
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
			for _, c := range ctx {
				logits = hg.push(c)
			}
			continue
		}
		logits = hg.push(id)
	}
	return nil
}
