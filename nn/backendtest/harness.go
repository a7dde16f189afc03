package backendtest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"gan/nn"
	"gan/nn/ref"
)

// layout says where an operand lives in its buffer.
type layout uint8

const (
	// dense: contiguous, rows [1, 1+Rows) of a (Rows+2)×Cols buffer, so
	// that the op must honour Off and must not touch the rows around it.
	dense layout = iota
	// strided: columns [2, 2+Cols) of a Rows×(Cols+5) buffer: a ColView
	// with row stride Cols+5 and margins on both sides of every row.
	strided
	// zeroMat: the zero Mat, for an absent optional operand.
	zeroMat
	// foreign: a matrix whose buffer belongs to no backend under test
	// (error cases only).
	foreign
	// freed: a matrix whose buffer was freed (error cases only).
	freed
)

// foreignBuffer is storage from some other backend.
type foreignBuffer struct{ n int }

// Len is the number of elements.
func (f foreignBuffer) Len() int { return f.n }

// gen makes the initial values of a rows×cols operand.
type gen func(r *rand.Rand, rows, cols int) []float32

// arg is one matrix operand of a case.
type arg struct {
	name       string
	rows, cols int
	layout     layout
	gen        gen  // initial values; nil for zeros
	out        *tol // the op writes it: compare it with this tolerance
}

// testCase is one call of one op, compared between two backends.
type testCase struct {
	op   string // the nn.Backend method
	name string // what varies: shape, layout, parameters
	args []arg
	call func(b nn.Backend, m []nn.Mat)
}

// title names the case in subtests and messages.
func (c *testCase) title() string { return c.op + "/" + c.name }

// poison is the value of every buffer element outside an operand's view: a
// finite value that spoils any result it leaks into, and whose bits must
// survive the op.
const poison = float32(-3.0e33)

// values returns the initial values of every operand (nil for zero Mats),
// drawn from a generator seeded by the case's title, so that both backends
// and every run get the same numbers.
func (c *testCase) values() [][]float32 {
	h := fnv.New64a()
	h.Write([]byte(c.title()))
	r := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
	vals := make([][]float32, len(c.args))
	for k, a := range c.args {
		switch {
		case a.layout == zeroMat:
		case a.gen == nil:
			vals[k] = make([]float32, a.rows*a.cols)
		default:
			vals[k] = a.gen(r, a.rows, a.cols)
			if len(vals[k]) != a.rows*a.cols {
				panic(fmt.Sprintf("%s: generator of %s gave %d values for %dx%d", c.title(), a.name, len(vals[k]), a.rows, a.cols))
			}
		}
	}
	return vals
}

// instance is a case's operands allocated on one backend.
type instance struct {
	b       nn.Backend
	parents []nn.Mat    // whole buffers (zero Mat for absent operands)
	views   []nn.Mat    // the operands the op sees
	host    [][]float32 // each parent's contents as uploaded
}

// parentShape returns the buffer that holds a's view.
func parentShape(a arg) (rows, cols int) {
	if a.layout == strided {
		return a.rows, a.cols + 5
	}
	return a.rows + 2, a.cols
}

// viewOf returns a's view of its parent p.
func viewOf(a arg, p nn.Mat) nn.Mat {
	if a.layout == strided {
		return p.ColView(2, a.cols)
	}
	return p.RowView(1, a.rows)
}

// newInstance allocates the operands of c on b and uploads vals into their
// views, poison around them.
func newInstance(b nn.Backend, c *testCase, vals [][]float32) (*instance, error) {
	in := &instance{b: b, parents: make([]nn.Mat, len(c.args)), views: make([]nn.Mat, len(c.args)),
		host: make([][]float32, len(c.args))}
	for k, a := range c.args {
		switch a.layout {
		case zeroMat:
			continue
		case foreign:
			in.views[k] = nn.Mat{Rows: a.rows, Cols: a.cols, Buf: foreignBuffer{n: a.rows * a.cols}}
			continue
		case freed:
			m, err := b.Alloc(a.rows, a.cols)
			if err != nil {
				in.free()
				return nil, fmt.Errorf("allocating %s: %w", a.name, err)
			}
			b.Free(m)
			in.views[k] = m
			continue
		}
		pr, pc := parentShape(a)
		p, err := b.Alloc(pr, pc)
		if err != nil {
			in.free()
			return nil, fmt.Errorf("allocating %s (%dx%d): %w", a.name, pr, pc, err)
		}
		in.parents[k] = p
		v := viewOf(a, p)
		in.views[k] = v
		h := make([]float32, pr*pc)
		for i := range h {
			h[i] = poison
		}
		scatterView(h, v, vals[k])
		in.host[k] = h
		if err := b.Upload(p, h); err != nil {
			in.free()
			return nil, fmt.Errorf("uploading %s: %w", a.name, err)
		}
	}
	return in, nil
}

// free releases the instance's buffers.
func (in *instance) free() {
	for _, p := range in.parents {
		if !p.Empty() {
			in.b.Free(p)
		}
	}
}

// scatterView writes the row-major values v of view m into its parent's
// host copy h (m.Off counts from the start of h).
func scatterView(h []float32, m nn.Mat, v []float32) {
	for i := 0; i < m.Rows; i++ {
		copy(h[m.Off+i*m.LD():m.Off+i*m.LD()+m.Cols], v[i*m.Cols:(i+1)*m.Cols])
	}
}

// gatherView is scatterView's inverse, for float64 host copies.
func gatherView[T float32 | float64](h []T, m nn.Mat) []T {
	out := make([]T, 0, m.Len())
	for i := 0; i < m.Rows; i++ {
		out = append(out, h[m.Off+i*m.LD():m.Off+i*m.LD()+m.Cols]...)
	}
	return out
}

// download returns the contents of parent k: float64 from the reference
// backend, widened float32 from any other.
func (in *instance) download(k int) ([]float64, []float32, error) {
	p := in.parents[k]
	if rb, ok := in.b.(*ref.Backend); ok {
		v := make([]float64, p.Len())
		if err := rb.Download64(v, p); err != nil {
			return nil, nil, err
		}
		return v, nil, nil
	}
	v := make([]float32, p.Len())
	if err := in.b.Download(v, p); err != nil {
		return nil, nil, err
	}
	return nil, v, nil
}

// checkMargins returns an error unless every element of parent k outside
// its view still holds what was uploaded.
func (in *instance) checkMargins(k int, h64 []float64, h32 []float32) error {
	v := in.views[k]
	inView := func(i int) bool {
		i -= v.Off
		return i >= 0 && i/v.LD() < v.Rows && i%v.LD() < v.Cols
	}
	for i, want := range in.host[k] {
		if inView(i) {
			continue
		}
		var got float32
		if h64 != nil {
			got = float32(h64[i])
		} else {
			got = h32[i]
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			return fmt.Errorf("element %d of the buffer, outside the %v view at offset %d, changed from %v to %v",
				i, v, v.Off, want, got)
		}
	}
	return nil
}

// runCase runs c on b and on want, both starting from the same values, and
// returns a description of every difference beyond the outputs' tolerances
// (pair selects the float32-against-float32 checks), or nil, and the
// largest error of any output as a fraction of its tolerance (see
// [check.compare]).
func runCase(c *testCase, b, want nn.Backend, pair bool) (float64, error) {
	vals := c.values()
	ib, err := newInstance(b, c, vals)
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", b.Name(), c.title(), err)
	}
	defer ib.free()
	iw, err := newInstance(want, c, vals)
	if err != nil {
		return 0, fmt.Errorf("%s: %s: %w", want.Name(), c.title(), err)
	}
	defer iw.free()
	c.call(b, ib.views)
	c.call(want, iw.views)
	if err := b.Sync(); err != nil {
		return 0, fmt.Errorf("%s: %s: %w", b.Name(), c.title(), err)
	}
	if err := want.Sync(); err != nil {
		return 0, fmt.Errorf("%s (the expected side): %s: %w", want.Name(), c.title(), err)
	}
	in64 := make([][]float64, len(vals))
	for k, v := range vals {
		in64[k] = widen(v)
	}
	var msg string
	worst := 0.0
	for k, a := range c.args {
		if a.out == nil {
			continue
		}
		g64, g32, err := ib.download(k)
		if err == nil {
			err = ib.checkMargins(k, g64, g32)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %s: %w", b.Name(), c.title(), a.name, err)
		}
		w64, w32, err := iw.download(k)
		if err == nil {
			err = iw.checkMargins(k, w64, w32)
		}
		if err != nil {
			return 0, fmt.Errorf("%s (the expected side): %s: %s: %w", want.Name(), c.title(), a.name, err)
		}
		var got []float32
		if g64 != nil {
			got = narrow(gatherView(g64, ib.views[k]))
		} else {
			got = gatherView(g32, ib.views[k])
		}
		var exp []float64
		if w64 != nil {
			exp = gatherView(w64, iw.views[k])
		} else {
			exp = widen(gatherView(w32, iw.views[k]))
		}
		ch := a.out.ref
		if pair {
			ch = a.out.pair
		}
		var units []float64
		if ch.kind == kindBound {
			units = ch.units(&env{in: in64, want: exp})
		}
		m, w := ch.compare(exp, got, units)
		if m != "" {
			msg += fmt.Sprintf("\n%s differs from %s:%s", a.name, want.Name(), m)
		}
		worst = max(worst, w)
	}
	if msg != "" {
		return worst, fmt.Errorf("%s: %s:%s", b.Name(), c.title(), msg)
	}
	return worst, nil
}

// widen converts float32 values to float64.
func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// narrow rounds float64 values to float32.
func narrow(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
