//go:build (cuda || cudaemu) && cgo

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// Tolerances, against the CPU backend:
//   - bit-exact: everything made of single float32 operations that both
//     backends round the same way (LeakyReLU and its derivative, tanh's
//     derivative, bias adds, dropout masks and products, random fills
//     whose Philox/Box–Muller code is shared bit for bit, Adam, copies);
//   - tanh: 2 ulp (each side rounds a float64 tanh that its own math
//     library computes to within 1 ulp of float64);
//   - ColSum, RowSumSq: 1 ulp (both sum in float64, in different orders);
//   - losses: rtol 1e-5, atol 1e-6 (STYLE.md; exp and log1p of the two math
//     libraries and the order of the float64 sums differ in the last bits).

// sizes are the element counts and shapes the elementwise ops run on:
// the awkward sizes 1, 7, 33, 127, 129, 1000 and the seed model's layers.
var sizes = [][2]int{{1, 1}, {1, 7}, {33, 1}, {127, 3}, {129, 5}, {1000, 1}, {64, 256}, {128, 1024}, {64, 784}}

func shapeName(s [2]int) string { return fmt.Sprintf("%dx%d", s[0], s[1]) }

var acts = []nn.Act{{Kind: nn.ActNone}, {Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActLeakyReLU, Slope: 0}, {Kind: nn.ActTanh}}

// requireActMatch compares an activation's outputs: tanh within 2 ulp,
// the rest bit for bit.
func requireActMatch(t testing.TB, act nn.Act, want, got []float32, what string) {
	t.Helper()
	if act.Kind == nn.ActTanh {
		requireULPs(t, want, got, 2, what)
		return
	}
	requireSameBits(t, want, got, what)
}

func TestBiasActParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sh := range sizes {
		for _, act := range acts {
			for _, withBias := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%v/bias=%v", shapeName(sh), act, withBias), func(t *testing.T) {
					rows, cols := sh[0], sh[1]
					y := withSpecials(rng, rows*cols, -3, 3)
					yg, yc := p.both(t, rows, cols, y)
					var bg, bc nn.Mat
					if withBias {
						bg, bc = p.both(t, 1, cols, withSpecials(rng, cols, -1, 1))
					}
					p.g.BiasAct(yg, bg, act)
					p.c.BiasAct(yc, bc, act)
					requireActMatch(t, act, download(t, p.c, yc), download(t, p.g, yg), "BiasAct")
					if withBias && act.Kind == nn.ActNone {
						// AddBias is BiasAct without activation.
						require.NoError(t, p.g.Upload(yg, y))
						p.g.AddBias(yg, bg)
						requireSameBits(t, download(t, p.c, yc), download(t, p.g, yg), "AddBias")
					}
				})
			}
		}
	}
}

func TestActivateParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range sizes {
		for _, act := range acts {
			t.Run(fmt.Sprintf("%s/%v", shapeName(sh), act), func(t *testing.T) {
				rows, cols := sh[0], sh[1]
				x := withSpecials(rng, rows*cols, -4, 4)
				xg, xc := p.both(t, rows, cols, x)
				yg, _ := p.g.Alloc(rows, cols)
				yc, _ := p.c.Alloc(rows, cols)
				p.g.Activate(yg, xg, act)
				p.c.Activate(yc, xc, act)
				yWant := download(t, p.c, yc)
				requireActMatch(t, act, yWant, download(t, p.g, yg), "Activate")

				// In place.
				p.g.Activate(xg, xg, act)
				requireActMatch(t, act, yWant, download(t, p.g, xg), "Activate in place")

				// ActBackward from the same output y (the CPU's), so that tanh's
				// derivative is compared bit for bit too.
				dy := withSpecials(rng, rows*cols, -2, 2)
				dyg, dyc := p.both(t, rows, cols, dy)
				ycOnG := upload(t, p.g, rows, cols, yWant)
				dxg, _ := p.g.Alloc(rows, cols)
				dxc, _ := p.c.Alloc(rows, cols)
				p.g.ActBackward(dxg, dyg, ycOnG, act)
				p.c.ActBackward(dxc, dyc, yc, act)
				dxWant := download(t, p.c, dxc)
				requireSameBits(t, dxWant, download(t, p.g, dxg), "ActBackward")
				p.g.ActBackward(dyg, dyg, ycOnG, act)
				requireSameBits(t, dxWant, download(t, p.g, dyg), "ActBackward in place")
			})
		}
	}
}

// TestLeakyReLUSpecials spells out what "bit-exact" means on the values
// PyTorch passes through: −0 stays −0, NaN stays NaN, subnormals scale.
func TestLeakyReLUSpecials(t *testing.T) {
	b := testBackend(t)
	negZero := float32(math.Copysign(0, -1))
	sub := math.Float32frombits(5) // 5 × the smallest subnormal
	x := []float32{negZero, 0, sub, -sub, float32(math.NaN()), float32(math.Inf(-1)), -10}
	m := upload(t, b, 1, len(x), x)
	b.Activate(m, m, nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2})
	y := download(t, b, m)
	assert.Equal(t, math.Float32bits(negZero*0.2), math.Float32bits(y[0]), "-0")
	assert.Equal(t, uint32(0), math.Float32bits(y[1]), "+0")
	assert.Equal(t, sub, y[2], "positive subnormal passes")
	assert.Equal(t, -sub*0.2, y[3], "negative subnormal is scaled, not flushed")
	assert.NotEqual(t, float32(0), y[3], "negative subnormal is not flushed to zero")
	assert.True(t, y[4] != y[4], "NaN")
	assert.Equal(t, float32(math.Inf(-1)), y[5])
	assert.Equal(t, float32(-10)*0.2, y[6])
}

func TestDropoutParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sh := range sizes {
		for _, prob := range []float32{0, 0.3, 0.5, 1} {
			t.Run(fmt.Sprintf("%s/p=%g", shapeName(sh), prob), func(t *testing.T) {
				rows, cols := sh[0], sh[1]
				key := nn.RandKey{Seed: 99, Stream: nn.StreamID(nn.PurposeDropout, uint64(rows*cols))}
				x := withSpecials(rng, rows*cols, -2, 2)
				xg, xc := p.both(t, rows, cols, x)
				yg, _ := p.g.Alloc(rows, cols)
				yc, _ := p.c.Alloc(rows, cols)
				mg, _ := p.g.Alloc(rows, cols)
				mc, _ := p.c.Alloc(rows, cols)
				p.g.Dropout(yg, mg, xg, prob, key)
				p.c.Dropout(yc, mc, xc, prob, key)
				maskWant := download(t, p.c, mc)
				requireSameBits(t, maskWant, download(t, p.g, mg), "mask")
				requireSameBits(t, download(t, p.c, yc), download(t, p.g, yg), "y")

				// The mask follows nn's generator directly: element i is kept
				// when Uniform(key, i) < 1 − p.
				for i, m := range maskWant {
					keep := key.Uniform(uint64(i)) < 1-prob
					require.Equal(t, keep, m != 0, "element %d", i)
				}

				dy := randVals(rng, rows*cols, -1, 1)
				dyg, dyc := p.both(t, rows, cols, dy)
				p.g.DropoutBackward(dyg, dyg, mg)
				p.c.DropoutBackward(dyc, dyc, mc)
				requireSameBits(t, download(t, p.c, dyc), download(t, p.g, dyg), "DropoutBackward")
			})
		}
	}
}

// TestDropoutView: the mask of a view is addressed by the element index
// within the view, as on the CPU.
func TestDropoutView(t *testing.T) {
	p := newPair(t)
	x := randVals(rand.New(rand.NewPCG(13, 14)), 10*33, -1, 1)
	xg, xc := p.both(t, 10, 33, x)
	yg, _ := p.g.Alloc(10, 33)
	yc, _ := p.c.Alloc(10, 33)
	mg, _ := p.g.Alloc(10, 33)
	mc, _ := p.c.Alloc(10, 33)
	key := nn.RandKey{Seed: 5, Stream: 77}
	p.g.Dropout(yg.RowView(3, 5), mg.RowView(3, 5), xg.RowView(3, 5), 0.3, key)
	p.c.Dropout(yc.RowView(3, 5), mc.RowView(3, 5), xc.RowView(3, 5), 0.3, key)
	requireSameBits(t, download(t, p.c, mc), download(t, p.g, mg), "mask")
	requireSameBits(t, download(t, p.c, yc), download(t, p.g, yg), "y")
}

func TestRandParity(t *testing.T) {
	p := newPair(t)
	for _, n := range []int{1, 2, 3, 5, 7, 33, 127, 129, 1000, 64 * 100, 256*100 + 3} {
		key := nn.RandKey{Seed: 0xDEADBEEF12345678, Stream: nn.StreamID(nn.PurposeInit, uint64(n))}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ug, _ := p.g.Alloc(1, n)
			uc, _ := p.c.Alloc(1, n)
			p.g.RandUniform(ug, -0.1, 0.1, key)
			p.c.RandUniform(uc, -0.1, 0.1, key)
			u := download(t, p.g, ug)
			requireSameBits(t, download(t, p.c, uc), u, "RandUniform")
			for i, v := range u {
				want := float32(-0.1) + float32(float32(0.2)*key.Uniform(uint64(i)))
				require.Equal(t, math.Float32bits(want), math.Float32bits(v), "uniform element %d", i)
			}

			ng, _ := p.g.Alloc(1, n)
			nc, _ := p.c.Alloc(1, n)
			p.g.RandNormal(ng, 0.5, 2, key)
			p.c.RandNormal(nc, 0.5, 2, key)
			z := download(t, p.g, ng)
			requireSameBits(t, download(t, p.c, nc), z, "RandNormal")
			for i, v := range z {
				want := float32(0.5) + float32(2*key.Normal(uint64(i)))
				require.Equal(t, math.Float32bits(want), math.Float32bits(v), "normal element %d", i)
			}
		})
	}
	// A view: element i of the view uses Normal(key, i).
	key := nn.RandKey{Seed: 1, Stream: nn.StreamID(nn.PurposeNoise, 3)}
	bg, _ := p.g.Alloc(9, 100)
	p.g.RandNormal(bg.RowView(2, 5), 0, 1, key)
	got := download(t, p.g, bg)
	for i := 0; i < 5*100; i++ {
		require.Equal(t, math.Float32bits(key.Normal(uint64(i))), math.Float32bits(got[200+i]), "view element %d", i)
	}
	require.Equal(t, make([]float32, 200), got[:200], "rows before the view")
	require.Equal(t, make([]float32, 200), got[700:], "rows after the view")
}

func TestRowSumSqParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sh := range append(sizes, [2]int{1460, 1024}, [2]int{3, 1000}) {
		t.Run(shapeName(sh), func(t *testing.T) {
			rows, cols := sh[0], sh[1]
			xg, xc := p.both(t, rows, cols, randVals(rng, rows*cols, -3, 3))
			dg, dc := p.both(t, rows, 1, make([]float32, rows))
			p.g.RowSumSq(dg, xg)
			p.c.RowSumSq(dc, xc)
			requireULPs(t, download(t, p.c, dc), download(t, p.g, dg), 1, "RowSumSq")
		})
	}
}

func TestColSumParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, sh := range append(sizes, [2]int{1000, 33}, [2]int{3, 1000}) {
		for _, beta := range []float32{0, 1, 0.5} {
			t.Run(fmt.Sprintf("%s/beta=%g", shapeName(sh), beta), func(t *testing.T) {
				rows, cols := sh[0], sh[1]
				dyg, dyc := p.both(t, rows, cols, randVals(rng, rows*cols, -1, 1))
				db0 := randVals(rng, cols, -1, 1)
				if beta == 0 {
					for i := range db0 {
						db0[i] = float32(math.NaN())
					}
				}
				dbg, dbc := p.both(t, 1, cols, db0)
				p.g.ColSum(dbg, dyg, beta)
				p.c.ColSum(dbc, dyc, beta)
				requireULPs(t, download(t, p.c, dbc), download(t, p.g, dbg), 1, "ColSum")
			})
		}
	}
}

func TestSigmoidBCEParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 7, 33, 64, 128, 129, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := randVals(rng, n, -100, 100)
			for i := 0; i < n && i < 8; i++ {
				x[i] = []float32{100, -100, 0, 20, -20, 1e-3, 40, -40}[i]
			}
			tv := make([]float32, n)
			for i := range tv {
				tv[i] = float32(rng.IntN(2))
			}
			if n > 3 {
				tv[3] = 0.25 // soft targets are allowed too
			}
			xg, xc := p.both(t, n, 1, x)
			tg, tc := p.both(t, n, 1, tv)
			gg, _ := p.g.Alloc(n, 1)
			gc, _ := p.c.Alloc(n, 1)
			sg, _ := p.g.Alloc(1, 2)
			sc, _ := p.c.Alloc(1, 2)
			scale := 1 / float32(n)
			p.g.SigmoidBCE(gg, sg, xg, tg, scale)
			p.c.SigmoidBCE(gc, sc, xc, tc, scale)
			requireClose(t, download(t, p.c, gc), download(t, p.g, gg), 1e-5, 1e-6, "grad")
			requireClose(t, download(t, p.c, sc), download(t, p.g, sg), 1e-5, 1e-6, "stats")

			// In place: grad may be x.
			p.g.SigmoidBCE(xg, sg, xg, tg, scale)
			requireClose(t, download(t, p.c, gc), download(t, p.g, xg), 1e-5, 1e-6, "grad in place")
		})
	}
}

func TestSoftmaxParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(19, 20))
	for _, sh := range [][2]int{{1, 1}, {1, 10}, {7, 33}, {64, 10}, {129, 127}, {3, 1000}, {1000, 7}} {
		t.Run(shapeName(sh), func(t *testing.T) {
			rows, cols := sh[0], sh[1]
			x := randVals(rng, rows*cols, -30, 30)
			xg, xc := p.both(t, rows, cols, x)
			yg, _ := p.g.Alloc(rows, cols)
			yc, _ := p.c.Alloc(rows, cols)
			p.g.Softmax(yg, xg)
			p.c.Softmax(yc, xc)
			want := download(t, p.c, yc)
			requireClose(t, want, download(t, p.g, yg), 1e-5, 1e-6, "Softmax")
			p.g.Softmax(xg, xg)
			requireClose(t, want, download(t, p.g, xg), 1e-5, 1e-6, "Softmax in place")

			// SoftmaxCE with one-hot targets, and soft ones in the first row.
			tv := make([]float32, rows*cols)
			for r := 0; r < rows; r++ {
				tv[r*cols+rng.IntN(cols)] = 1
			}
			if cols > 1 {
				clear(tv[:cols])
				tv[0], tv[cols-1] = 0.75, 0.25
			}
			// Ties in a row: the first index wins.
			if rows > 1 && cols > 2 {
				x[cols] = 50
				x[cols+2] = 50
			}
			require.NoError(t, p.g.Upload(xg, x))
			require.NoError(t, p.c.Upload(xc, x))
			tg, tc := p.both(t, rows, cols, tv)
			gg, _ := p.g.Alloc(rows, cols)
			gc, _ := p.c.Alloc(rows, cols)
			sg, _ := p.g.Alloc(1, 2)
			sc, _ := p.c.Alloc(1, 2)
			p.g.SoftmaxCE(gg, sg, xg, tg, 0.5)
			p.c.SoftmaxCE(gc, sc, xc, tc, 0.5)
			requireClose(t, download(t, p.c, gc), download(t, p.g, gg), 1e-5, 1e-6, "SoftmaxCE grad")
			sWant, sGot := download(t, p.c, sc), download(t, p.g, sg)
			requireClose(t, sWant[:1], sGot[:1], 1e-5, 1e-6, "SoftmaxCE loss")
			require.Equal(t, sWant[1], sGot[1], "accuracy")
		})
	}
}

func TestAdamParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(21, 22))
	const n = 100003
	pv := randVals(rng, n, -0.1, 0.1)
	pg, pc := p.both(t, 1, n, pv)
	mg, mc := p.both(t, 1, n, make([]float32, n))
	vg, vc := p.both(t, 1, n, make([]float32, n))
	for step := 1; step <= 12; step++ {
		g := randVals(rng, n, -1e-2, 1e-2)
		for i := 0; i < 10; i++ {
			g[i] = []float32{0, 1e-12, -1e-12, 1, -1, 1e-8, 3e-9, 100, -100, 1e-30}[i]
		}
		gg, gc := p.both(t, 1, n, g)
		s := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: step}
		if step == 12 {
			s.Step = 1000 // far along, where the bias corrections are near 1
		}
		p.g.Adam(pg, gg, mg, vg, s)
		p.c.Adam(pc, gc, mc, vc, s)
		// STYLE.md's tolerance; the kernel copies the CPU's float32
		// operations one for one, so the values are in fact identical.
		for _, m := range [][2]nn.Mat{{pc, pg}, {mc, mg}, {vc, vg}} {
			want, got := download(t, p.c, m[0]), download(t, p.g, m[1])
			requireClose(t, want, got, 1e-6, 1e-7, fmt.Sprintf("step %d", step))
			requireSameBits(t, want, got, fmt.Sprintf("step %d", step))
		}
		p.g.Free(gg)
	}
}

func TestCopyFillGather(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(23, 24))
	src := randVals(rng, 50*33, -1, 1)
	sg, sc := p.both(t, 50, 33, src)

	dg, _ := p.g.Alloc(7, 33)
	p.g.Copy(dg, sg.RowView(10, 7))
	require.Equal(t, src[330:330+7*33], download(t, p.g, dg))
	p.g.Copy(dg.Reshape(33, 7), sg.RowView(0, 7)) // same element count, other shape
	require.Equal(t, src[:7*33], download(t, p.g, dg))

	for _, v := range []float32{0, 1, -2.5, float32(math.Copysign(0, -1)), float32(math.Inf(1))} {
		p.g.Fill(dg.RowView(2, 3), v)
		got := download(t, p.g, dg)
		for i := 2 * 33; i < 5*33; i++ {
			require.Equal(t, math.Float32bits(v), math.Float32bits(got[i]))
		}
		require.Equal(t, src[:2*33], got[:2*33])
	}

	idx := []int32{49, 0, 7, 7, 23, 1, 48, 99} // the last is beyond dst's rows: ignored
	gg, _ := p.g.Alloc(7, 33)
	gc, _ := p.c.Alloc(7, 33)
	p.g.GatherRows(gg, sg, idx)
	p.c.GatherRows(gc, sc, idx)
	want := download(t, p.c, gc)
	require.Equal(t, want, download(t, p.g, gg))
	for i, r := range idx[:7] {
		require.Equal(t, src[int(r)*33:int(r+1)*33], want[i*33:(i+1)*33])
	}
	// Many gathers in a row reuse the staging buffer; a larger one grows it.
	for k := 0; k < 5; k++ {
		idx2 := []int32{int32(k), int32(k + 1), int32(k + 2)}
		p.g.GatherRows(gg.RowView(0, 3), sg, idx2)
	}
	big := make([]int32, 300)
	for i := range big {
		big[i] = int32(i % 50)
	}
	bg, _ := p.g.Alloc(300, 33)
	p.g.GatherRows(bg, sg, big)
	got := download(t, p.g, bg)
	for i := range big {
		require.Equal(t, src[(i%50)*33:(i%50+1)*33], got[i*33:(i+1)*33])
	}
	require.Equal(t, src[4*33:7*33], download(t, p.g, gg.RowView(0, 3)))
}

// TestStickyErrors: the first failure is kept with the op's name, later
// ops do nothing, and Sync keeps returning it.
func TestStickyErrors(t *testing.T) {
	b := testBackend(t)
	a := upload(t, b, 2, 3, []float32{1, 2, 3, 4, 5, 6})
	c, err := b.Alloc(2, 2)
	require.NoError(t, err)
	b.MatMul(c, a, a, false, false, 0) // 2×3 · 2×3: inner sizes differ
	err = b.Sync()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cuda: MatMul")
	b.Fill(a, 9) // ignored
	b.GatherRows(a, a, []int32{5, 0})
	require.Equal(t, err, b.Sync(), "the first error stays")
	require.Equal(t, err, b.Download(make([]float32, 6), a))

	b.err = nil // look behind the error: the Fill did not run
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, download(t, b, a))

	b.GatherRows(a, a, []int32{0, 2})
	require.ErrorContains(t, b.Sync(), "cuda: GatherRows: index 2 at position 1 outside [0, 2)")
	b.err = nil

	b.SigmoidBCE(a, c, a, a, 1)
	require.ErrorContains(t, b.Sync(), "cuda: SigmoidBCE: stats is 2x2, want 1x2")
	b.err = nil

	b.Activate(a, a, nn.Act{Kind: nn.ActLeakyReLU, Slope: -1})
	require.ErrorContains(t, b.Sync(), "cuda: Activate: leaky_relu slope -1 is negative")
	b.err = nil

	b.Dropout(a, a, a, 1.5, nn.RandKey{})
	require.ErrorContains(t, b.Sync(), "cuda: Dropout: probability 1.5 outside [0, 1]")
	b.err = nil

	b.Free(c)
	b.Fill(c, 1)
	require.ErrorContains(t, b.Sync(), "cuda: Fill: matrix 2x2 at offset 0: buffer was freed")
	b.err = nil

	other := testBackend(t)
	o, err := other.Alloc(2, 3)
	require.NoError(t, err)
	b.Copy(a, o)
	require.ErrorContains(t, b.Sync(), "cuda: Copy: matrix 2x3 is not from this cuda backend")
	b.err = nil

	require.ErrorContains(t, b.Upload(a, []float32{1}), "cuda: Upload: 1 values into a 2x3 matrix")
	require.ErrorContains(t, b.Download(make([]float32, 2), a), "cuda: Download: a 2x3 matrix into 2 values")
	require.NoError(t, b.Sync())
}

func TestAllocZeroedAndSizes(t *testing.T) {
	b := testBackend(t)
	m, err := b.Alloc(300, 7)
	require.NoError(t, err)
	require.Equal(t, make([]float32, 2100), download(t, b, m))
	e, err := b.Alloc(0, 5)
	require.NoError(t, err)
	require.Empty(t, download(t, b, e))
	b.Free(e)
	_, err = b.Alloc(1<<20, 1<<12)
	require.ErrorContains(t, err, "bad size")
	require.NoError(t, b.Sync())
}

// TestOpsDoNotAllocate: queuing the ops of a training step allocates
// nothing on the Go heap.
func TestOpsDoNotAllocate(t *testing.T) {
	b := testBackend(t)
	x, _ := b.Alloc(64, 100)
	w, _ := b.Alloc(256, 100)
	y, _ := b.Alloc(64, 256)
	bias, _ := b.Alloc(1, 256)
	mask, _ := b.Alloc(64, 256)
	stats, _ := b.Alloc(1, 2)
	logit, _ := b.Alloc(64, 1)
	data, _ := b.Alloc(100, 100)
	dy, _ := b.Alloc(64, 256)
	m, _ := b.Alloc(256, 100)
	v, _ := b.Alloc(256, 100)
	g, _ := b.Alloc(256, 100)
	idx := []int32{3, 1, 4, 1, 5}
	key := nn.RandKey{Seed: 1, Stream: 2}
	act := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	allocs := testing.AllocsPerRun(5, func() {
		b.GatherRows(x.RowView(0, 5), data, idx)
		b.RandNormal(x, 0, 1, key)
		b.MatMul(y, x, w, false, true, 0)
		b.BiasAct(y, bias, act)
		b.Dropout(y, mask, y, 0.3, key)
		b.ActBackward(dy, dy, y, act)
		b.DropoutBackward(dy, dy, mask)
		b.ColSum(bias, dy, 0)
		b.MatMul(g, dy, x, true, false, 0)
		b.SigmoidBCE(logit, stats, logit, logit, 1)
		b.Adam(w, g, m, v, nn.AdamStep{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1})
		b.Copy(mask, y)
		b.Fill(stats, 0)
	})
	require.NoError(t, b.Sync())
	require.Zero(t, allocs)
}
