//go:build !purego

package cpu

// addToAVX adds src to dst element by element, n a multiple of 8 (see
// addto_amd64.s).
//
//go:noescape
func addToAVX(n int, dst, src *float32)

// addTo sets dst[i] += src[i] for i < len(dst) (src at least as long): the
// multiple of 8 with AVX, the rest in Go; the same float32 additions either
// way.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	done := 0
	if hasAVX && len(dst) >= 8 {
		done = len(dst) &^ 7
		addToAVX(done, &dst[0], &src[0])
	}
	for i := done; i < len(dst); i++ {
		dst[i] += src[i]
	}
}
