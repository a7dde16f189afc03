package cpu

import (
	"math"
	"runtime"
	"sync"
	"testing"
)

// ulp32 is the spacing of float32 at |v| (2⁻¹⁴⁹ among subnormals).
func ulp32(v float64) float64 {
	f := float32(math.Abs(v))
	if f >= math.MaxFloat32 {
		return math.Inf(1)
	}
	return float64(math.Nextafter32(f, float32(math.Inf(1))) - f)
}

// geluRef and geluGradRef are GELU and GELU′ in float64.
func geluRef(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }
func geluGradRef(x float64) float64 {
	return 0.5*math.Erfc(-x/math.Sqrt2) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// geluErrors returns the largest errors of gelu32 (in ulps of the float64
// value) and of geluGrad32 with dy = 1 (in ulps, after geluGradAbs is taken
// off) over the float32 x with |x| from lo to hi, every stride-th.
func geluErrors(lo, hi float32, stride uint32) (fwd, bwd float64, worstF, worstB float32) {
	a, b := math.Float32bits(lo), math.Float32bits(hi)
	var mu sync.Mutex
	var wg sync.WaitGroup
	nw := runtime.GOMAXPROCS(0)
	for w := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f, g float64
			var wf, wb float32
			for u := a + uint32(w)*stride; u < b; u += uint32(nw) * stride {
				for _, x := range [2]float32{math.Float32frombits(u), -math.Float32frombits(u)} {
					v := float64(x)
					r := geluRef(v)
					if e := math.Abs(float64(gelu32(x))-r) / ulp32(r); e > f {
						f, wf = e, x
					}
					rg := geluGradRef(v)
					if e := (math.Abs(float64(geluGrad32(1, x))-rg) - geluGradAbs) / ulp32(rg); e > g {
						g, wb = e, x
					}
				}
			}
			mu.Lock()
			if f > fwd {
				fwd, worstF = f, wf
			}
			if g > bwd {
				bwd, worstB = g, wb
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return
}

// TestGELUAccuracy: gelu32 within geluULP ulps of the float64 formula and
// geluGrad32 within geluULP ulps plus geluGradAbs, on every 5th float32 of
// magnitude 2⁻⁸ … geluMax, on every float32 around 2⁻⁸ and geluMax and on
// a sample of the small arguments.
func TestGELUAccuracy(t *testing.T) {
	stride := uint32(5)
	if testing.Short() {
		stride = 101
	}
	check := func(lo, hi float32, stride uint32) {
		f, b, wf, wb := geluErrors(lo, hi, stride)
		t.Logf("|x| in [%g, %g) every %d: GELU %.2f ulps (at %g), GELU′ %.2f ulps (at %g)", lo, hi, stride, f, wf, b, wb)
		if f > geluULP || b > geluULP {
			t.Errorf("|x| in [%g, %g): errors %.2f and %.2f ulps, over %d", lo, hi, f, b, geluULP)
		}
	}
	check(0x1p-8, geluMax, stride)
	check(0x1p-126, 0x1p-8, 997)
	check(0x1p-149, 0x1p-126, 99991)
	for _, c := range []float32{0x1p-8, geluMax} {
		check(c*(1-0x1p-16), c*(1+0x1p-16), 1)
	}
}
