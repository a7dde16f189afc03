package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gan/nn"
)

// testFused checks the fused ops of a backend that implements [nn.Fused]:
// each must give the results of the op sequence it stands for on the same
// backend, bit for bit, for every activation, with and without a bias, in
// all four transpose cases, with the coefficients a residual sum, a
// difference and a scaling use, in place, on shapes from one element to
// ones large enough for the parallel paths.
func testFused(t *testing.T, b nn.Backend) {
	f, ok := b.(nn.Fused)
	if !ok {
		t.Skipf("%s implements no fused ops", b.Name())
	}
	r := rand.New(rand.NewPCG(11, 12))
	acts := []nn.Act{{}, {Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActLeakyReLU}, {Kind: nn.ActTanh}, {Kind: nn.ActSigmoid}}
	upload := func(rows, cols int, g gen) (nn.Mat, []float32) {
		m := mustAlloc(t, b, rows, cols)
		v := g(r, rows, cols)
		if err := b.Upload(m, v); err != nil {
			t.Fatal(err)
		}
		return m, v
	}
	download := func(m nn.Mat) []uint32 {
		v := make([]float32, m.Len())
		if err := b.Download(v, m); err != nil {
			t.Fatal(err)
		}
		bits := make([]uint32, len(v))
		for i, x := range v {
			bits[i] = math.Float32bits(x)
		}
		return bits
	}
	same := func(what string, got, want nn.Mat) {
		t.Helper()
		g, w := download(got), download(want)
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s: element %d is %v, the op sequence gives %v", what, i,
					math.Float32frombits(g[i]), math.Float32frombits(w[i]))
				return
			}
		}
	}
	vals := withSpecials(uniform(-2, 2), specials)
	for _, s := range [][3]int{{1, 1, 1}, {1, 7, 5}, {7, 1, 9}, {13, 17, 19}, {300, 45, 600}, {1000, 32, 192}} {
		m, n, k := s[0], s[1], s[2]
		for tr := range 4 {
			ta, tb := tr&1 != 0, tr&2 != 0
			ar, ac := m, k
			if ta {
				ar, ac = k, m
			}
			br, bc := k, n
			if tb {
				br, bc = n, k
			}
			a, _ := upload(ar, ac, uniform(-1, 1))
			bm, _ := upload(br, bc, uniform(-1, 1))
			bias, _ := upload(1, n, vals)
			for _, act := range acts {
				for _, withBias := range []bool{true, false} {
					bs := bias
					if !withBias {
						bs = nn.Mat{}
					}
					got, _ := upload(m, n, garbage)
					want, _ := upload(m, n, garbage)
					f.MatMulBiasAct(got, a, bm, ta, tb, bs, act)
					b.MatMul(want, a, bm, ta, tb, 0)
					b.BiasAct(want, bs, act)
					if err := b.Sync(); err != nil {
						t.Fatal(err)
					}
					same(fmt.Sprintf("MatMulBiasAct %dx%dx%d trans %v %v, %v, bias %v", m, n, k, ta, tb, act, withBias), got, want)
					b.Free(got)
					b.Free(want)
				}
			}
			for _, x := range []nn.Mat{a, bm, bias} {
				b.Free(x)
			}
		}
	}
	// Past 2048 rows the CPU sums column blocks of rows in parallel; rows
	// wider than its 4096-element chunks (3×5000) are split.
	for _, s := range [][2]int{{1, 1}, {5, 13}, {300, 45}, {1000, 64}, {2049, 16}, {5000, 37}, {3, 5000}} {
		rows, cols := s[0], s[1]
		for _, act := range acts {
			for _, ab := range [][2]float32{{1, 1}, {0.5, -2}, {1, 0}} {
				alpha, beta := ab[0], ab[1]
				a, av := upload(rows, cols, vals)
				bm, _ := upload(rows, cols, vals)
				ya, _ := upload(rows, cols, vals)
				what := fmt.Sprintf("%dx%d, %v, alpha %v, beta %v", rows, cols, act, alpha, beta)
				// AxpbyAct into fresh outputs, then in place (y = a, z = y).
				y, _ := upload(rows, cols, garbage)
				z, _ := upload(rows, cols, garbage)
				wantY, _ := upload(rows, cols, garbage)
				wantZ, _ := upload(rows, cols, garbage)
				f.AxpbyAct(y, a, bm, alpha, beta, z, act)
				b.Axpby(wantY, a, bm, alpha, beta)
				b.Activate(wantZ, wantY, act)
				same("AxpbyAct "+what+": y", y, wantY)
				same("AxpbyAct "+what+": z", z, wantZ)
				f.AxpbyAct(a, a, bm, alpha, beta, a, act)
				same("AxpbyAct in place "+what, a, wantZ)
				// AxpbyActBackward into a fresh output, then in place (y = a).
				if err := b.Upload(a, av); err != nil {
					t.Fatal(err)
				}
				d, _ := upload(rows, cols, garbage)
				b.ActBackward(d, bm, ya, act)
				b.Axpby(wantY, a, d, alpha, beta)
				f.AxpbyActBackward(y, a, alpha, beta, bm, ya, act, nn.Mat{})
				same("AxpbyActBackward "+what, y, wantY)
				db, _ := upload(1, cols, garbage)
				wantDb, _ := upload(1, cols, garbage)
				b.ColSum(wantDb, wantY, 0)
				f.AxpbyActBackward(a, a, alpha, beta, bm, ya, act, db)
				same("AxpbyActBackward with ColSum, in place "+what, a, wantY)
				same("AxpbyActBackward's ColSum "+what, db, wantDb)
				// ActBackwardColSum, then in place (dx = dy).
				dx, _ := upload(rows, cols, garbage)
				b.ActBackward(wantY, bm, ya, act)
				b.ColSum(wantDb, wantY, 0)
				f.ActBackwardColSum(dx, db, bm, ya, act)
				same("ActBackwardColSum "+what+": dx", dx, wantY)
				same("ActBackwardColSum "+what+": db", db, wantDb)
				f.ActBackwardColSum(bm, db, bm, ya, act)
				same("ActBackwardColSum in place "+what+": dx", bm, wantY)
				same("ActBackwardColSum in place "+what+": db", db, wantDb)
				if err := b.Sync(); err != nil {
					t.Fatal(err)
				}
				for _, x := range []nn.Mat{a, bm, ya, y, z, wantY, wantZ, d, db, wantDb, dx} {
					b.Free(x)
				}
			}
		}
	}
}
