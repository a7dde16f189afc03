//go:build !amd64 || purego

package cpu

import "math"

// exp64Slice sets y[i] = math.Exp(x[i]); y may be x.
func exp64Slice(y, x []float64) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = math.Exp(v)
	}
}
