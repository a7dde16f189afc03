package cpu

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// geluArgs are GELU's special and edge arguments.
var geluArgs = []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 1e-38, -1e-38, 1e-20, -1e-20,
	-0.7518, -0.75179154, 0.5, -0.5, 0.49999997, -0.49999997, 14.5, -14.5, 14.499999, -14.499999,
	8, -8, 9, -9, -13.5, -14, -20, 40, 1e30, -1e30,
	math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}

func same32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// BenchmarkGELU measures geluSlice, geluGradSlice and geluBothSlice, and
// the scalar functions they reproduce, on 4096 arguments ~ N(0, 2.25).
func BenchmarkGELU(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y, dy := make([]float32, 4096), make([]float32, 4096), make([]float32, 4096)
	for i := range x {
		x[i], dy[i] = float32(1.5*r.NormFloat64()), float32(r.NormFloat64())
	}
	perElement := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/element")
	}
	b.Run("slice", func(b *testing.B) {
		for range b.N {
			geluSlice(y, x)
		}
		perElement(b)
	})
	b.Run("grad-slice", func(b *testing.B) {
		for range b.N {
			geluGradSlice(y, dy, x)
		}
		perElement(b)
	})
	b.Run("both-slice", func(b *testing.B) {
		for range b.N {
			geluBothSlice(y, dy, x)
		}
		perElement(b)
	})
	b.Run("scalar", func(b *testing.B) {
		for range b.N {
			for i, v := range x {
				y[i] = gelu32(v)
			}
		}
		perElement(b)
	})
	b.Run("grad-scalar", func(b *testing.B) {
		for range b.N {
			for i, v := range x {
				y[i] = geluGrad32(dy[i], v)
			}
		}
		perElement(b)
	})
}

// TestGELUSliceExhaustive checks geluSlice, geluGradSlice and
// geluBothSlice (the vector kernels where the machine has them) against
// gelu32, geluGrad32 and geluDeriv32 on every float32 of magnitude 2⁻⁸ to
// 16 and every 61st below, with both
// signs, the special values and pseudo-random dy, in place and not, with
// tails of every length.
func TestGELUSliceExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: about 10 s of CPU")
	}
	lo, hi := math.Float32bits(0x1p-8), math.Float32bits(16)
	const chunk = 1 << 16
	type job struct{ a, b uint32 }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	bad := 0
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := make([]float32, 0, 2*chunk+len(geluArgs))
			y, dy, dx := make([]float32, 2*cap(x)), make([]float32, cap(x)), make([]float32, cap(x))
			n := 0
			for jb := range jobs {
				x = x[:0]
				for u := jb.a; u < jb.b; u++ {
					bits := u
					if u < lo {
						bits = u * 61
					}
					v := math.Float32frombits(bits)
					x = append(x, v, -v)
				}
				x = append(x, geluArgs...)
				m := len(x) - int(jb.a%4) // tails of every length
				x = x[:m]
				for i := range x {
					u := math.Float32bits(x[i]) * 2654435761
					dy[i] = math.Float32frombits(0x3f800000|u>>9) - 1.5 // [−½, ½)
				}
				geluSlice(y[:m], x)
				geluGradSlice(dx[:m], dy[:m], x)
				copy(y[m:2*m], dy[:m]) // in place: dx is dy
				geluGradSlice(y[m:2*m], y[m:2*m], x)
				for i, v := range x {
					if !same32(y[i], gelu32(v)) {
						n++
					}
					g := geluGrad32(dy[i], v)
					if !same32(dx[i], g) || !same32(y[m+i], g) {
						n++
					}
				}
				inPlace := append([]float32(nil), x...)
				geluSlice(inPlace, inPlace)
				for i := range x {
					if !same32(inPlace[i], y[i]) {
						n++
					}
				}
				// Both at once, and with d written over x.
				yb, db := y[m:2*m], append([]float32(nil), x...)
				geluBothSlice(yb, db, db)
				for i, v := range x {
					if !same32(yb[i], y[i]) || !same32(db[i], geluDeriv32(v)) {
						n++
					}
				}
			}
			mu.Lock()
			bad += n
			mu.Unlock()
		}()
	}
	for a := uint32(0); a < lo/61; a += chunk {
		jobs <- job{a, min(a+chunk, lo/61)}
	}
	for a := lo; a < hi; a += chunk {
		jobs <- job{a, min(a+chunk, hi)}
	}
	close(jobs)
	wg.Wait()
	if bad > 0 {
		t.Fatalf("%d results differ", bad)
	}
}
