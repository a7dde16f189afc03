//go:build !amd64 || purego

package cpu

import "math"

// log1pSlice sets y[i] = math.Log1p(x[i]); y may be x.
func log1pSlice(y, x []float64) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = math.Log1p(v)
	}
}
