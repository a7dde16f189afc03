package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gan/nn"
)

// TestColSumsMatchGo: colSums (16 columns at a time with AVX2 where the
// machine has it) gives colSumsGo's float64 sums bit for bit, since both
// add the rows in order, for widths around the 16-column blocks and
// strided rows.
func TestColSumsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, rows := range []int{0, 1, 2, 7, 300} {
		for _, w := range []int{1, 15, 16, 17, 33, 64} {
			stride, c0 := w+5, 3
			dy := make([]float32, max(rows, 1)*stride)
			for i := range dy {
				dy[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
			}
			got, want := make([]float64, w), make([]float64, w)
			for i := range got {
				got[i] = math.NaN() // colSums must overwrite
			}
			colSums(got, dy, rows, stride, c0)
			colSumsGo(want, dy, rows, stride, c0)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("rows %d, width %d, column %d: %v, want %v", rows, w, i, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkColSums sums the 512 columns of a 768×512 matrix (char-gpt's
// MLP bias gradient) with colSums and with colSumsGo.
func BenchmarkColSums(b *testing.B) {
	const rows, cols = 768, 512
	dy := make([]float32, rows*cols)
	for i := range dy {
		dy[i] = float32(i%97) - 48
	}
	s := make([]float64, 64)
	for _, bc := range []struct {
		name string
		f    func(s []float64, dy []float32, rows, stride, c0 int)
	}{{"colSums", colSums}, {"go", colSumsGo}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				for c0 := 0; c0 < cols; c0 += len(s) {
					bc.f(s, dy, rows, cols, c0)
				}
			}
		})
	}
}

// addTo is the scalar loop's float32 additions, whatever the length and
// alignment (the vector kernel takes multiples of 8, Go the rest).
func TestAddTo(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100} {
		for _, off := range []int{0, 1, 3} {
			dst, src := make([]float32, n+off), make([]float32, n+off+2)
			for i := range src {
				src[i] = nn.RandKey{Seed: 7}.Uniform(uint64(i))*200 - 100
			}
			for i := range dst {
				dst[i] = nn.RandKey{Seed: 8}.Uniform(uint64(i))*3e-3 - 1e-3
			}
			want := slices.Clone(dst)
			for i := off; i < len(want); i++ {
				want[i] += src[i]
			}
			addTo(dst[off:], src[off:])
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(dst[i]) {
					t.Fatalf("n %d offset %d: element %d is %g, want %g", n, off, i, dst[i], want[i])
				}
			}
		}
	}
}
