//go:build !amd64 || purego

package cpu

// addTo sets dst[i] += src[i] for i < len(dst) (src at least as long).
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
