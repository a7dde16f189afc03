package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specialOrNormal returns one of the special values one time in eight,
// else a normal draw of deviation 3.
func specialOrNormal(r *rand.Rand) float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -3e-39, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32}
	if r.IntN(8) == 0 {
		return special[r.IntN(len(special))]
	}
	return float32(r.NormFloat64() * 3)
}

// TestAxpbySlice checks axpbySlice (the AVX kernels where the machine has
// them) against the Go loop bit for bit: every length up to 70 and a long
// one, several alpha and beta, beta = 0 without b, in place on a and on b,
// with NaN, infinities, signed zeros and subnormals among the operands.
func TestAxpbySlice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	val := func() float32 { return specialOrNormal(r) }
	for _, n := range append(seq(71), 1000) {
		for _, ab := range [][2]float32{{1, 1}, {1, -1}, {0.3, -1.7}, {-2, 0}, {1e30, 1e30}} {
			for _, mode := range []string{"out", "y=a", "y=b", "nob"} {
				a, b := make([]float32, n), make([]float32, n)
				for i := range a {
					a[i], b[i] = val(), val()
				}
				want := make([]float32, n)
				bb := b
				if mode == "nob" {
					bb = nil
				}
				axpbyGo(want, a, bb, ab[0], ab[1])
				var got []float32
				switch mode {
				case "y=a":
					got = a
				case "y=b":
					got = b
				default:
					got = make([]float32, n)
				}
				axpbySlice(got, a, bb, ab[0], ab[1])
				for i := range want {
					if !same32(got[i], want[i]) {
						t.Fatalf("n %d alpha %v beta %v %s: y[%d] = %v, want %v", n, ab[0], ab[1], mode, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestMulSlice: mulSlice is the float32 product element by element, for
// every length to 70 and beyond, in place on either operand, specials
// included.
func TestMulSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	val := func() float32 { return specialOrNormal(r) }
	for _, n := range append(seq(71), 1000) {
		for _, mode := range []string{"out", "z=x", "z=y"} {
			x, y := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], y[i] = val(), val()
			}
			want := make([]float32, n)
			for i := range want {
				want[i] = x[i] * y[i]
			}
			got := make([]float32, n)
			switch mode {
			case "z=x":
				got = x
			case "z=y":
				got = y
			}
			mulSlice(got, x, y)
			for i := range want {
				if !same32(got[i], want[i]) {
					t.Fatalf("n %d %s: z[%d] = %v, want %v", n, mode, i, got[i], want[i])
				}
			}
		}
	}
}
