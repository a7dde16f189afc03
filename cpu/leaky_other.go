//go:build !amd64 || purego

package cpu

// leakySlice sets y[i] = x[i]·leakyFactor(x[i]) for i < len(y) (y may be x).
func leakySlice(y, x []float32, slope float32) { leakySliceGo(y, x, slope) }

// leakyBackSlice sets dx[i] = dy[i]·leakyFactor(y[i]) for i < len(dx) (dx
// may be dy).
func leakyBackSlice(dx, dy, y []float32, slope float32) { leakyBackSliceGo(dx, dy, y, slope) }
