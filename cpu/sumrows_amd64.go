//go:build !purego

package cpu

// sumRowsAVX sets dst[j] = Σ_{t<n} src[offs[t]+j] for j < c (c a multiple
// of 8), the rows added in t order to +0 (see sumrows_amd64.s).
//
//go:noescape
func sumRowsAVX(dst, src *float32, offs *int, n, c int)

// sumRows sets dst[j] = Σ_{t<len(offs)} src[offs[t]+j] for j < len(dst),
// adding the rows in order to +0 (each addition rounded), and reports
// whether it could: len(dst) a multiple of 8, AVX.
// The caller guarantees that every row lies in src.
func sumRows(dst, src []float32, offs []int) bool {
	if !hasAVX || len(dst) == 0 || len(dst)%8 != 0 {
		return false
	}
	var o *int
	if len(offs) > 0 {
		o = &offs[0]
	}
	sumRowsAVX(&dst[0], &src[0], o, len(offs), len(dst))
	return true
}

// sumRowsAvailable says whether sumRows takes widths that are multiples of 8.
func sumRowsAvailable() bool { return hasAVX }
