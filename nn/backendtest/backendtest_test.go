package backendtest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"gan/nn"
	"gan/nn/ref"
)

// extendedBackend is nn.Backend with one more method, as if an op had been
// added to the interface without a case.
type extendedBackend interface {
	nn.Backend
	Frobnicate(y, x nn.Mat)
}

// TestCoverageCheckFailsOnAMissingCase checks the reflection check itself:
// every nn.Backend method is covered today, a method added to the
// interface is reported, and so is an op whose cases are all removed.
func TestCoverageCheckFailsOnAMissingCase(t *testing.T) {
	cs := cases()
	if missing := uncovered(cs); len(missing) != 0 {
		t.Errorf("nn.Backend methods without cases: %v", missing)
	}
	if got := uncoveredIn(reflect.TypeFor[extendedBackend](), cs); !slices.Equal(got, []string{"Frobnicate"}) {
		t.Errorf("with a Frobnicate method added: uncovered = %v, want [Frobnicate]", got)
	}
	noMatMul := slices.DeleteFunc(slices.Clone(cs), func(c *testCase) bool { return c.op == "MatMul" })
	if got := uncovered(noMatMul); !slices.Equal(got, []string{"MatMul"}) {
		t.Errorf("without MatMul's cases: uncovered = %v, want [MatMul]", got)
	}
}

// broken is the reference backend with one op made wrong, to check that
// the suite notices.
type broken struct {
	*ref.Backend
	activate func(b *ref.Backend, y, x nn.Mat, act nn.Act)
	matMul   func(b *ref.Backend, c, a, bm nn.Mat, transA, transB bool, beta float32)
	fill     func(b *ref.Backend, dst nn.Mat, v float32)
	col2Im   func(b *ref.Backend, img, cols nn.Mat, g nn.ConvGeom, beta float32)
}

func (b *broken) Col2Im(img, cols nn.Mat, g nn.ConvGeom, beta float32) {
	if b.col2Im != nil {
		b.col2Im(b.Backend, img, cols, g, beta)
		return
	}
	b.Backend.Col2Im(img, cols, g, beta)
}

func (b *broken) Activate(y, x nn.Mat, act nn.Act) {
	if b.activate != nil {
		b.activate(b.Backend, y, x, act)
		return
	}
	b.Backend.Activate(y, x, act)
}

func (b *broken) MatMul(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	if b.matMul != nil {
		b.matMul(b.Backend, c, a, bm, transA, transB, beta)
		return
	}
	b.Backend.MatMul(c, a, bm, transA, transB, beta)
}

func (b *broken) Fill(dst nn.Mat, v float32) {
	if b.fill != nil {
		b.fill(b.Backend, dst, v)
		return
	}
	b.Backend.Fill(dst, v)
}

// failures runs the cases of op whose names contain name on b against the
// reference and returns the errors (each case on a fresh reference backend
// under b, in case the last one recorded an error).
func failures(op, name string, b *broken) []string {
	var errs []string
	for _, c := range cases() {
		if c.op != op || !strings.Contains(c.name, name) {
			continue
		}
		b.Backend = ref.New()
		if _, err := runCase(c, b, ref.New(), false); err != nil {
			errs = append(errs, err.Error())
		}
	}
	return errs
}

// TestSuiteCatchesWrongOps gives the suite backends that are wrong in small
// ways and requires it to say so: a LeakyReLU that flushes −0 to +0 (the
// bit-exact tolerance), a MatMul that ignores beta, a 7×7×7 product off by
// a relative 1e-5 (about 170 float32 ulps: within PyTorch's rtol 1e-3,
// outside the rounding bound of (7+2)·2⁻²⁴ of Σ|a·b|), and a Fill that
// writes the whole buffer, margins and all, and a Col2Im off by a relative
// 1e-6 or ignoring beta. The unbroken reference passes.
func TestSuiteCatchesWrongOps(t *testing.T) {
	if errs := failures("Activate", "", &broken{Backend: ref.New()}); len(errs) != 0 {
		t.Fatalf("the reference fails its own cases: %v", errs[0])
	}
	flush := &broken{Backend: ref.New(), activate: func(b *ref.Backend, y, x nn.Mat, act nn.Act) {
		b.Activate(y, x, act)
		if act.Kind == nn.ActLeakyReLU {
			b.Map(y, y, nn.MapAddConst, 0) // −0 + 0 = +0
		}
	}}
	if errs := failures("Activate", "", flush); len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "leaky_relu") {
		t.Errorf("a LeakyReLU that loses the sign of zero passes: %v", errs)
	}
	noBeta := &broken{Backend: ref.New(), matMul: func(b *ref.Backend, c, a, bm nn.Mat, ta, tb bool, beta float32) {
		b.MatMul(c, a, bm, ta, tb, 0)
	}}
	if errs := failures("MatMul", "awkward/7x7x7/", noBeta); len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "beta=0.5") {
		t.Errorf("a MatMul that ignores beta passes: %d failures", len(errs))
	}
	sloppy := &broken{Backend: ref.New(), matMul: func(b *ref.Backend, c, a, bm nn.Mat, ta, tb bool, beta float32) {
		b.MatMul(c, a, bm, ta, tb, beta)
		b.Map(c, c, nn.MapScale, 1+1e-5)
	}}
	if errs := failures("MatMul", "awkward/7x7x7/", sloppy); len(errs) == 0 {
		t.Error("a MatMul off by a relative 1e-5 passes")
	}
	spill := &broken{Backend: ref.New(), fill: func(b *ref.Backend, dst nn.Mat, v float32) {
		b.Fill(nn.Mat{Rows: 1, Cols: dst.Buf.Len(), Buf: dst.Buf}, v)
	}}
	if errs := failures("Fill", "", spill); len(errs) == 0 || !strings.Contains(errs[0], "outside the") {
		t.Errorf("a Fill that writes outside its view passes: %v", errs)
	}
	// A Col2Im off by a relative 1e-6 (17 units of 2⁻²⁴, above the bound
	// of 3 units of a single-entry sum with a 1×1 kernel) and one that
	// ignores beta.
	col2imSloppy := &broken{Backend: ref.New(), col2Im: func(b *ref.Backend, img, cols nn.Mat, g nn.ConvGeom, beta float32) {
		b.Col2Im(img, cols, g, beta)
		b.Map(img, img, nn.MapScale, 1+1e-6)
	}}
	if errs := failures("Col2Im", "k1x1 s1x1 p0x0/beta=0", col2imSloppy); len(errs) == 0 {
		t.Error("a Col2Im off by a relative 1e-6 passes")
	}
	col2imNoBeta := &broken{Backend: ref.New(), col2Im: func(b *ref.Backend, img, cols nn.Mat, g nn.ConvGeom, beta float32) {
		b.Col2Im(img, cols, g, 0)
	}}
	if errs := failures("Col2Im", "beta=0.5", col2imNoBeta); len(errs) == 0 {
		t.Error("a Col2Im that ignores beta passes")
	}
}
