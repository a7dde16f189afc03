//go:build !amd64 || purego

package cpu

// adamVector has no vector kernel on this platform (or with -tags purego):
// the Go loop does every element.
func (j *adamJob) adamVector(p, g, m, v []float32) int { return 0 }
