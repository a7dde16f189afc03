package backendtest

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gan/nn"
)

// The contract every backend keeps besides its numbers: errors name the op
// and leave the operands alone, the first error sticks, matrices of other
// backends and bad views are refused, Free refuses views, and ops allocate
// nothing once warmed up.

// exempt are the nn.Backend methods without cases: they have no behaviour
// that the suite could check on every backend.
var exempt = []string{"Name", "Close"}

// lifecycle are the methods the contract tests cover rather than the
// numeric cases.
var lifecycle = []string{"Alloc", "Free", "Upload", "Download", "Sync"}

// stridedOps take strided matrices (see nn.Mat); every other op must refuse
// them.
var stridedOps = []string{"MatMul", "BatchMatMul", "Copy", "Axpby", "Mul", "ScaleRows", "Map"}

// uncovered returns the nn.Backend methods that neither a numeric case nor
// a contract test covers, nor exempt lists.
func uncovered(cs []*testCase) []string { return uncoveredIn(reflect.TypeFor[nn.Backend](), cs) }

// uncoveredIn returns the methods of the interface type bt that neither a
// case of cs nor a contract test covers, nor exempt lists.
func uncoveredIn(bt reflect.Type, cs []*testCase) []string {
	have := map[string]bool{}
	for _, c := range cs {
		have[c.op] = true
	}
	for _, m := range slices.Concat(lifecycle, exempt) {
		have[m] = true
	}
	var missing []string
	for i := 0; i < bt.NumMethod(); i++ {
		if name := bt.Method(i).Name; !have[name] {
			missing = append(missing, name)
		}
	}
	return missing
}

// runContract runs the contract tests on b.
func runContract(t *testing.T, b nn.Backend, cfg *config, cs []*testCase) {
	t.Run("Coverage", func(t *testing.T) {
		if missing := uncovered(cs); len(missing) > 0 {
			t.Errorf("nn.Backend methods without a case in the conformance suite: %s", strings.Join(missing, ", "))
		}
	})
	t.Run("AllocUploadDownload", func(t *testing.T) { testTransfers(t, b) })
	t.Run("NoAllocations", func(t *testing.T) { testNoAllocations(t, b, cs) })
	t.Run("FreeView", func(t *testing.T) {
		if needClear(t, cfg) {
			testFreeView(t, b, cfg.clearErr)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		if needClear(t, cfg) {
			testErrors(t, b, cfg.clearErr, cs)
		}
	})
	t.Run("StickyError", func(t *testing.T) { testSticky(t, b, cfg.clearErr) })
	t.Run("Fused", func(t *testing.T) { testFused(t, b) })
}

// needClear fails t unless the suite may clear b's recorded error.
func needClear(t *testing.T, cfg *config) bool {
	if cfg.clearErr == nil {
		t.Error("this test records errors on purpose and needs backendtest.ClearError(f), " +
			"f forgetting the backend's recorded error, to go on after each")
		return false
	}
	return true
}

// mustAlloc allocates rows×cols on b or fails t.
func mustAlloc(t *testing.T, b nn.Backend, rows, cols int) nn.Mat {
	t.Helper()
	m, err := b.Alloc(rows, cols)
	if err != nil {
		t.Fatalf("%s: Alloc(%d, %d): %v", b.Name(), rows, cols, err)
	}
	return m
}

// mustDownload returns m's values or fails t.
func mustDownload(t *testing.T, b nn.Backend, m nn.Mat) []float32 {
	t.Helper()
	v := make([]float32, m.Len())
	if err := b.Download(v, m); err != nil {
		t.Fatalf("%s: Download: %v", b.Name(), err)
	}
	return v
}

// sameBits reports whether two float32 slices hold the same values (equal
// bits, or both NaN).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// wantErr fails t unless err names op of b ("cpu: MatMul: …") and, when
// also is not empty, contains it.
func wantErr(t *testing.T, b nn.Backend, err error, op, also string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error, want one from %s", op, b.Name())
	case !strings.Contains(err.Error(), b.Name()+": "+op+":"):
		t.Errorf("%s: error %q does not name the op as %q", op, err, b.Name()+": "+op+":")
	case also != "" && !strings.Contains(err.Error(), also):
		t.Errorf("%s: error %q does not say %q", op, err, also)
	}
}

// testTransfers checks Alloc, Upload and Download.
func testTransfers(t *testing.T, b nn.Backend) {
	m := mustAlloc(t, b, 3, 4)
	defer b.Free(m)
	if m.Rows != 3 || m.Cols != 4 || m.Off != 0 || m.Stride != 0 || m.Buf == nil || m.Buf.Len() != 12 {
		t.Errorf("Alloc(3, 4) = %+v, want a 3x4 matrix of a 12-element buffer", m)
	}
	if got := mustDownload(t, b, m); !sameBits(got, make([]float32, 12)) {
		t.Errorf("Alloc(3, 4) holds %v, want zeros", got)
	}
	for _, s := range [][2]int{{0, 5}, {5, 0}, {0, 0}} {
		z, err := b.Alloc(s[0], s[1])
		if err != nil || z.Len() != 0 {
			t.Errorf("Alloc(%d, %d) = %v, %v: want an empty matrix", s[0], s[1], z, err)
		}
		b.Free(z)
	}
	for _, s := range [][2]int{{-1, 3}, {3, -1}, {1 << 40, 1 << 40}} {
		if _, err := b.Alloc(s[0], s[1]); err == nil || !strings.Contains(err.Error(), "Alloc") {
			t.Errorf("Alloc(%d, %d): error %v, want one naming Alloc", s[0], s[1], err)
		}
	}

	// Every special value survives the round trip, through a view at an
	// offset too.
	vals := []float32{0, negZero, subMin, -subMax, maxF32, -maxF32, inf, -inf, nan, 1e-30, -20, 3.5}
	if err := b.Upload(m, vals); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if got := mustDownload(t, b, m); !sameBits(got, vals) {
		t.Errorf("round trip gave %v, want %v", got, vals)
	}
	if got := mustDownload(t, b, m.RowView(1, 2)); !sameBits(got, vals[4:]) {
		t.Errorf("Download of rows 1–2 gave %v, want %v", got, vals[4:])
	}
	if err := b.Upload(m.RowView(2, 1), []float32{9, 8, 7, 6}); err != nil {
		t.Fatalf("Upload of row 2: %v", err)
	}
	if got := mustDownload(t, b, m); !sameBits(got, append(vals[:8:8], 9, 8, 7, 6)) {
		t.Errorf("after an Upload of row 2, the matrix holds %v", got)
	}

	// Wrong lengths, strided views and foreign matrices are errors that
	// the call returns and does not record.
	for _, e := range []struct {
		what string
		err  error
		op   string
	}{
		{"Upload of 5 values into 12", b.Upload(m, vals[:5]), "Upload"},
		{"Download of 12 values into 13", b.Download(make([]float32, 13), m), "Download"},
		{"Upload into a strided view", b.Upload(m.ColView(1, 2), make([]float32, 6)), "Upload"},
		{"Download of a strided view", b.Download(make([]float32, 6), m.ColView(1, 2)), "Download"},
		{"Upload into a foreign matrix", b.Upload(nn.Mat{Rows: 2, Cols: 2, Buf: foreignBuffer{n: 4}}, make([]float32, 4)), "Upload"},
		{"Download of a foreign matrix", b.Download(make([]float32, 4), nn.Mat{Rows: 2, Cols: 2, Buf: foreignBuffer{n: 4}}), "Download"},
	} {
		if e.err == nil || !strings.Contains(e.err.Error(), e.op) {
			t.Errorf("%s: error %v, want one naming %s", e.what, e.err, e.op)
		}
	}
	if err := b.Sync(); err != nil {
		t.Errorf("Upload and Download errors were recorded: Sync returns %v", err)
	}
}

// testNoAllocations checks that, for every op, a call in the steady state
// allocates nothing: the op's largest case (on the parallel paths of a
// multi-threaded backend), after one warm-up call.
func testNoAllocations(t *testing.T, b nn.Backend, cs []*testCase) {
	largest := map[string]*testCase{}
	var ops []string
	for _, c := range cs {
		if l, ok := largest[c.op]; !ok || size(c) > size(l) {
			if !ok {
				ops = append(ops, c.op)
			}
			largest[c.op] = c
		}
	}
	for _, op := range ops {
		c := largest[op]
		in, err := newInstance(b, c, c.values())
		if err != nil {
			t.Fatalf("%s: %v", c.title(), err)
		}
		call := func() { c.call(b, in.views) }
		call() // the first call may grow scratch space
		allocs := testing.AllocsPerRun(3, call)
		if err := b.Sync(); err != nil {
			t.Errorf("%s: %v", c.title(), err)
		} else if allocs != 0 {
			t.Errorf("%s allocates %v times per call after the first", c.title(), allocs)
		}
		in.free()
	}
}

// size is the number of elements a case's operands hold.
func size(c *testCase) int {
	n := 0
	for _, a := range c.args {
		n += a.rows * a.cols
	}
	return n
}

// testFreeView checks that Free refuses views and releases whole matrices.
func testFreeView(t *testing.T, b nn.Backend, clearErr func(nn.Backend)) {
	m := mustAlloc(t, b, 4, 6)
	vals := make([]float32, 24)
	for i := range vals {
		vals[i] = float32(i)
	}
	if err := b.Upload(m, vals); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	for _, v := range []struct {
		what string
		m    nn.Mat
	}{
		{"rows 1–2", m.RowView(1, 2)},
		{"rows 0–2 (offset 0, fewer elements)", m.RowView(0, 3)},
		{"columns 1–3 (strided)", m.ColView(1, 3)},
		{"a slice at offset 6", m.Slice(6, 3, 6)},
	} {
		b.Free(v.m)
		wantErr(t, b, b.Sync(), "Free", "view")
		clearErr(b)
		// The buffer is still there.
		if got := mustDownload(t, b, m); !sameBits(got, vals) {
			t.Errorf("after freeing a view (%s), the matrix holds %v", v.what, got)
		}
	}
	b.Free(nn.Mat{Rows: 2, Cols: 2, Buf: foreignBuffer{n: 4}})
	wantErr(t, b, b.Sync(), "Free", "")
	clearErr(b)

	// A reshape of the whole matrix is the matrix; afterwards ops refuse
	// it and a second Free does nothing.
	b.Free(nn.Mat{})
	b.Free(m.Reshape(6, 4))
	if err := b.Sync(); err != nil {
		t.Errorf("Free of a reshape of the whole matrix: %v", err)
	}
	b.Free(m)
	if err := b.Sync(); err != nil {
		t.Errorf("a second Free: %v", err)
	}
	b.Fill(m, 1)
	wantErr(t, b, b.Sync(), "Fill", "")
	clearErr(b)
	if err := b.Download(make([]float32, 24), m); err == nil {
		t.Error("Download of a freed matrix succeeded")
	}
}

// testSticky checks that the first error sticks: later ops do nothing, and
// Sync, Upload and Download return it again. With clearErr it then looks
// behind the error; without, it leaves b unusable.
func testSticky(t *testing.T, b nn.Backend, clearErr func(nn.Backend)) {
	a := mustAlloc(t, b, 2, 3)
	c := mustAlloc(t, b, 2, 2)
	vals := []float32{1, 2, 3, 4, 5, 6}
	if err := b.Upload(a, vals); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	b.MatMul(c, a, a, false, false, 0) // 2×3 · 2×3
	err := b.Sync()
	wantErr(t, b, err, "MatMul", "")
	b.Fill(a, 9) // does nothing
	b.GatherRows(a, a, []int32{5, 0})
	b.Activate(a, c, nn.Act{Kind: 99})
	for _, e := range []struct {
		what string
		err  error
	}{
		{"Sync", b.Sync()}, {"Sync again", b.Sync()},
		{"Upload", b.Upload(a, vals)}, {"Download", b.Download(make([]float32, 6), a)},
	} {
		if e.err != err {
			t.Errorf("%s after the error returned %v, want the first error %v", e.what, e.err, err)
		}
	}
	if clearErr == nil {
		return
	}
	clearErr(b)
	if got := mustDownload(t, b, a); !sameBits(got, vals) {
		t.Errorf("an op after the error changed the matrix: %v, want %v", got, vals)
	}
	b.Free(a)
	b.Free(c)
}

// errCase is an op call that must fail.
type errCase struct {
	op   string
	what string
	args []arg
	call func(b nn.Backend, m []nn.Mat)
}

// small is an input operand of an error case.
func small(rows, cols int) arg { return in("m", rows, cols, constant(0.5)) }

// ms lists operands.
func ms(as ...arg) []arg { return as }

// with returns as with operand k replaced by a.
func with(as []arg, k int, a arg) []arg {
	as = slices.Clone(as)
	as[k] = a
	return as
}

// errorCases are the hand-written argument errors of every op: shapes that
// do not fit, bad parameters, indices out of range.
func errorCases() []errCase {
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	key := nn.RandKey{Seed: 1}
	step := nn.AdamStep{LR: 1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	call := func(f func(b nn.Backend, x []nn.Mat)) func(b nn.Backend, x []nn.Mat) { return f }
	return []errCase{
		{"MatMul", "inner sizes differ", ms(small(2, 2), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.MatMul(x[0], x[1], x[2], false, false, 0) })},
		{"MatMul", "C has the wrong shape", ms(small(2, 2), small(2, 3), small(3, 3)), call(func(b nn.Backend, x []nn.Mat) { b.MatMul(x[0], x[1], x[2], false, false, 1) })},
		{"MatMul", "transposes", ms(small(3, 3), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.MatMul(x[0], x[1], x[2], false, true, 0) })},
		{"AddBias", "bias too short", ms(small(2, 3), small(1, 2)), call(func(b nn.Backend, x []nn.Mat) { b.AddBias(x[0], x[1]) })},
		{"AddBias", "no bias", ms(small(2, 3), absent("b")), call(func(b nn.Backend, x []nn.Mat) { b.AddBias(x[0], x[1]) })},
		{"BiasAct", "bias with two rows", ms(small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.BiasAct(x[0], x[1], leaky) })},
		{"BiasAct", "negative slope", ms(small(2, 3), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.BiasAct(x[0], x[1], nn.Act{Kind: nn.ActLeakyReLU, Slope: -1})
		})},
		{"BiasAct", "unknown activation", ms(small(2, 3), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) { b.BiasAct(x[0], x[1], nn.Act{Kind: 99}) })},
		{"ColSum", "db too short", ms(small(1, 2), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.ColSum(x[0], x[1], 0) })},
		{"RowSumSq", "dst too long", ms(small(3, 1), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.RowSumSq(x[0], x[1]) })},
		{"RowSumSq", "dst a row", ms(small(1, 2), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.RowSumSq(x[0], x[1]) })},
		{"Activate", "shapes differ", ms(small(2, 3), small(3, 2)), call(func(b nn.Backend, x []nn.Mat) { b.Activate(x[0], x[1], leaky) })},
		{"Activate", "NaN slope", ms(small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.Activate(x[0], x[1], nn.Act{Kind: nn.ActLeakyReLU, Slope: nan})
		})},
		{"ActBackward", "shapes differ", ms(small(2, 3), small(2, 3), small(2, 2)), call(func(b nn.Backend, x []nn.Mat) { b.ActBackward(x[0], x[1], x[2], leaky) })},
		{"ActBackward", "unknown activation", ms(small(2, 3), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.ActBackward(x[0], x[1], x[2], nn.Act{Kind: 99})
		})},
		{"Dropout", "mask shape", ms(small(2, 3), small(2, 2), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Dropout(x[0], x[1], x[2], 0.3, key) })},
		{"Dropout", "p > 1", ms(small(2, 3), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Dropout(x[0], x[1], x[2], 1.5, key) })},
		{"Dropout", "p NaN", ms(small(2, 3), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Dropout(x[0], x[1], x[2], nan, key) })},
		{"DropoutBackward", "shapes differ", ms(small(2, 3), small(3, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.DropoutBackward(x[0], x[1], x[2]) })},
		{"SigmoidBCE", "targets shape", ms(small(4, 1), small(1, 2), small(4, 1), small(3, 1)), call(func(b nn.Backend, x []nn.Mat) { b.SigmoidBCE(x[0], x[1], x[2], x[3], 1) })},
		{"SigmoidBCE", "stats 1x3", ms(small(4, 1), small(1, 3), small(4, 1), small(4, 1)), call(func(b nn.Backend, x []nn.Mat) { b.SigmoidBCE(x[0], x[1], x[2], x[3], 1) })},
		{"Softmax", "shapes differ", ms(small(2, 3), small(2, 4)), call(func(b nn.Backend, x []nn.Mat) { b.Softmax(x[0], x[1]) })},
		{"SoftmaxCE", "targets shape", ms(small(2, 3), small(1, 2), small(2, 3), small(2, 4)), call(func(b nn.Backend, x []nn.Mat) { b.SoftmaxCE(x[0], x[1], x[2], x[3], 1) })},
		{"SoftmaxCE", "stats 2x2", ms(small(2, 3), small(2, 2), small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.SoftmaxCE(x[0], x[1], x[2], x[3], 1) })},
		{"SoftmaxCE", "no columns", ms(small(2, 0), small(1, 2), small(2, 0), small(2, 0)), call(func(b nn.Backend, x []nn.Mat) { b.SoftmaxCE(x[0], x[1], x[2], x[3], 1) })},
		{"Adam", "v shape", ms(small(1, 4), small(1, 4), small(1, 4), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Adam(x[0], x[1], x[2], x[3], step) })},
		{"Adam", "step 0", ms(small(1, 4), small(1, 4), small(1, 4), small(1, 4)), call(func(b nn.Backend, x []nn.Mat) {
			s := step
			s.Step = 0
			b.Adam(x[0], x[1], x[2], x[3], s)
		})},
		{"Copy", "element counts differ", ms(small(2, 3), small(2, 2)), call(func(b nn.Backend, x []nn.Mat) { b.Copy(x[0], x[1]) })},
		{"Copy", "strided, shapes differ", ms(small(2, 3).strided(), small(3, 2)), call(func(b nn.Backend, x []nn.Mat) { b.Copy(x[0], x[1]) })},
		{"Fill", "the zero Mat", ms(absent("dst")), call(func(b nn.Backend, x []nn.Mat) { b.Fill(x[0], 1) })},
		{"Fill", "a negative offset", ms(small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Off = -1
			b.Fill(v, 1)
		})},
		{"Fill", "an element count that overflows", ms(small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Rows = math.MaxInt / 2
			v.Cols = 4
			b.Fill(v, 1)
		})},
		{"RandUniform", "a freed matrix", ms(arg{name: "dst", rows: 2, cols: 3, layout: freed}), call(func(b nn.Backend, x []nn.Mat) {
			b.RandUniform(x[0], 0, 1, key)
		})},
		{"RandNormal", "past the end of its buffer", ms(small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Off += 5 // the operand sits one row into a 4×3 buffer
			b.RandNormal(v, 0, 1, key)
		})},
		{"RandNormal", "a negative size", ms(small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Rows = -1
			b.RandNormal(v, 0, 1, key)
		})},
		{"RandNormal", "a row stride below the width", ms(small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Stride = 2
			b.RandNormal(v, 0, 1, key)
		})},
		{"GatherRows", "index = src rows", ms(small(2, 3), small(5, 3)), call(func(b nn.Backend, x []nn.Mat) { b.GatherRows(x[0], x[1], []int32{1, 5}) })},
		{"GatherRows", "negative index", ms(small(2, 3), small(5, 3)), call(func(b nn.Backend, x []nn.Mat) { b.GatherRows(x[0], x[1], []int32{-1, 0}) })},
		{"GatherRows", "too few indices", ms(small(2, 3), small(5, 3)), call(func(b nn.Backend, x []nn.Mat) { b.GatherRows(x[0], x[1], []int32{1}) })},
		{"GatherRows", "widths differ", ms(small(2, 3), small(5, 4)), call(func(b nn.Backend, x []nn.Mat) { b.GatherRows(x[0], x[1], []int32{1, 2}) })},
		{"Axpby", "b shape", ms(small(2, 3), small(2, 3), small(3, 2)), call(func(b nn.Backend, x []nn.Mat) { b.Axpby(x[0], x[1], x[2], 1, 1) })},
		{"Axpby", "a shape", ms(small(2, 3), small(2, 2), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Axpby(x[0], x[1], x[2], 1, 0) })},
		{"Axpby", "no b with beta ≠ 0", ms(small(2, 3), small(2, 3), absent("b")), call(func(b nn.Backend, x []nn.Mat) { b.Axpby(x[0], x[1], x[2], 1, 2) })},
		{"Mul", "shapes differ", ms(small(2, 3), small(2, 3), small(2, 4)), call(func(b nn.Backend, x []nn.Mat) { b.Mul(x[0], x[1], x[2]) })},
		{"ScaleRows", "scales a row", ms(small(2, 3), small(2, 3), small(1, 2)), call(func(b nn.Backend, x []nn.Mat) { b.ScaleRows(x[0], x[1], x[2]) })},
		{"ScaleRows", "shapes differ", ms(small(2, 3), small(3, 3), small(3, 1)), call(func(b nn.Backend, x []nn.Mat) { b.ScaleRows(x[0], x[1], x[2]) })},
		{"Map", "unknown function", ms(small(2, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) { b.Map(x[0], x[1], nn.NumMapFns, 1) })},
		{"Map", "shapes differ", ms(small(2, 3), small(3, 2)), call(func(b nn.Backend, x []nn.Mat) { b.Map(x[0], x[1], nn.MapExp, 0) })},
		// The operand is columns 2–4 of a 4×8 parent (32 elements, row
		// stride 8). Moved to offset 7, its 12 elements would fit in the
		// 25 left, but it spans (4−1)·8 + 3 = 27: past the end.
		{"Map", "a strided view past the end of its buffer", ms(small(4, 3).strided()), call(func(b nn.Backend, x []nn.Mat) {
			v := x[0]
			v.Off += 5
			b.Map(v, v, nn.MapScale, 2)
		})},
		// The index check comes before beta scales dst.
		{"ScatterAddRows", "index = dst rows", ms(small(5, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.ScatterAddRows(x[0], x[1], []int32{1, 5}, 0.5)
		})},
		{"ScatterAddRows", "negative index", ms(small(5, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.ScatterAddRows(x[0], x[1], []int32{0, -1}, 0)
		})},
		{"ScatterAddRows", "too few indices", ms(small(5, 3), small(2, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.ScatterAddRows(x[0], x[1], []int32{1}, 1)
		})},
		{"ScatterAddRows", "widths differ", ms(small(5, 3), small(2, 4)), call(func(b nn.Backend, x []nn.Mat) {
			b.ScatterAddRows(x[0], x[1], []int32{1, 2}, 0)
		})},
		{"LayerNorm", "mean a row", ms(small(2, 3), small(1, 2), small(2, 1), small(2, 3), small(1, 3), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"LayerNorm", "gamma too long", ms(small(2, 3), small(2, 1), small(2, 1), small(2, 3), small(1, 4), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"LayerNorm", "eps 0", ms(small(2, 3), small(2, 1), small(2, 1), small(2, 3), absent("gamma"), absent("beta")), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNorm(x[0], x[1], x[2], x[3], x[4], x[5], 0)
		})},
		{"LayerNorm", "y shape", ms(small(3, 2), small(2, 1), small(2, 1), small(2, 3), absent("gamma"), absent("beta")), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"LayerNormBackward", "dy shape", ms(small(2, 3), small(1, 3), small(1, 3), small(2, 2), small(2, 3), small(2, 1), small(2, 1), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
		})},
		{"LayerNormBackward", "dgamma too short", ms(small(2, 3), small(1, 2), small(1, 3), small(2, 3), small(2, 3), small(2, 1), small(2, 1), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
		})},
		{"LayerNormBackward", "rstd too long", ms(small(2, 3), absent("dg"), absent("db"), small(2, 3), small(2, 3), small(2, 1), small(3, 1), absent("g")), call(func(b nn.Backend, x []nn.Mat) {
			b.LayerNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
		})},
		{"BatchNorm", "mean a column", ms(small(3, 2), small(3, 1), small(1, 2), small(3, 2), small(1, 2), small(1, 2)), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"BatchNorm", "beta too long", ms(small(3, 2), small(1, 2), small(1, 2), small(3, 2), small(1, 2), small(1, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"BatchNorm", "eps 0", ms(small(3, 2), small(1, 2), small(1, 2), small(3, 2), absent("gamma"), absent("beta")), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNorm(x[0], x[1], x[2], x[3], x[4], x[5], 0)
		})},
		{"BatchNorm", "y shape", ms(small(2, 3), small(1, 2), small(1, 2), small(3, 2), absent("gamma"), absent("beta")), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNorm(x[0], x[1], x[2], x[3], x[4], x[5], 1e-5)
		})},
		{"BatchNormBackward", "dy shape", ms(small(3, 2), small(1, 2), small(1, 2), small(2, 2), small(3, 2), small(1, 2), small(1, 2), small(1, 2)), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1e-5)
		})},
		{"BatchNormBackward", "dgamma too short", ms(small(3, 2), small(1, 1), small(1, 2), small(3, 2), small(3, 2), small(1, 2), small(1, 2), small(1, 2)), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1e-5)
		})},
		{"BatchNormBackward", "variance too long", ms(small(3, 2), absent("dg"), absent("db"), small(3, 2), small(3, 2), small(1, 2), small(1, 3), absent("g")), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1e-5)
		})},
		{"BatchNormBackward", "eps negative", ms(small(3, 2), absent("dg"), absent("db"), small(3, 2), small(3, 2), small(1, 2), small(1, 2), absent("g")), call(func(b nn.Backend, x []nn.Mat) {
			b.BatchNormBackward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], -1)
		})},
	}
}

// derivedErrorCases makes, from the numeric cases, the errors every op must
// report for any of its operands: a foreign matrix, and a strided one for
// the ops that take only contiguous matrices. Each op's smallest case that
// is not in place serves.
func derivedErrorCases(cs []*testCase) []errCase {
	smallest := map[string]*testCase{}
	var ops []string
	for _, c := range cs {
		if strings.Contains(c.name, "in place") {
			continue
		}
		if s, ok := smallest[c.op]; !ok || size(c) < size(s) || (size(c) == size(s) && minRows(c) > minRows(s)) {
			if !ok {
				ops = append(ops, c.op)
			}
			smallest[c.op] = c
		}
	}
	var out []errCase
	for _, op := range ops {
		c := smallest[op]
		for k, a := range c.args {
			if a.layout == zeroMat {
				continue
			}
			f := a
			f.layout = foreign
			out = append(out, errCase{op: op, what: fmt.Sprintf("%s: %s foreign", c.name, a.name), args: with(c.args, k, f), call: c.call})
		}
		if slices.Contains(stridedOps, op) {
			continue
		}
		// A strided operand needs two rows; take the op's first case that
		// has them for the operand.
		for k := range c.args {
			for _, d := range cs {
				if d.op != op || strings.Contains(d.name, "in place") || len(d.args) != len(c.args) ||
					d.args[k].layout == zeroMat || d.args[k].rows < 2 || size(d) > 20000 {
					continue
				}
				s := d.args[k]
				s.layout = strided
				out = append(out, errCase{op: op, what: fmt.Sprintf("%s: %s strided", d.name, s.name), args: with(d.args, k, s), call: d.call})
				break
			}
		}
	}
	return out
}

// minRows is the fewest rows of a case's operands.
func minRows(c *testCase) int {
	r := math.MaxInt
	for _, a := range c.args {
		if a.layout != zeroMat {
			r = min(r, a.rows)
		}
	}
	return r
}

// testErrors runs every error case on b: the op must record an error that
// names it and leave every operand, and the buffer around it, as it was.
func testErrors(t *testing.T, b nn.Backend, clearErr func(nn.Backend), cs []*testCase) {
	all := slices.Concat(errorCases(), convErrorCases(), attentionErrorCases(), derivedErrorCases(cs))
	covered := map[string]bool{}
	for _, e := range all {
		covered[e.op] = true
		c := &testCase{op: e.op, name: e.what, args: e.args, call: e.call}
		vals := c.values()
		in, err := newInstance(b, c, vals)
		if err != nil {
			t.Fatalf("%s: %v", c.title(), err)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %s panics: %v", c.title(), b.Name(), p)
				}
			}()
			c.call(b, in.views)
		}()
		err = b.Sync()
		if err == nil {
			t.Errorf("%s: no error", c.title())
			in.free()
			continue
		}
		if !strings.Contains(err.Error(), b.Name()+": "+e.op+":") {
			t.Errorf("%s: error %q does not name the op", c.title(), err)
		}
		clearErr(b)
		if b.Sync() != nil {
			t.Fatalf("ClearError did not clear %q", err)
		}
		for k := range c.args {
			if in.parents[k].Empty() {
				continue
			}
			got := mustDownload(t, b, in.parents[k])
			if !sameBits(got, in.host[k]) {
				t.Errorf("%s: %s wrote into %s despite the error %q", c.title(), b.Name(), c.args[k].name, err)
			}
		}
		in.free()
		if err := b.Sync(); err != nil {
			t.Fatalf("%s: freeing the operands: %v", c.title(), err)
		}
	}
	var missing []string
	for _, c := range cs {
		if !covered[c.op] && !slices.Contains(missing, c.op) {
			missing = append(missing, c.op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("ops without error cases: %s", strings.Join(missing, ", "))
	}
}
