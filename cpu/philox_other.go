//go:build !amd64 || purego

package cpu

// uniformFast fills nothing here: randUniformJob computes every element
// in Go.
func (j *randUniformJob) uniformFast(lo, hi int) (a, b int) { return lo, lo }
