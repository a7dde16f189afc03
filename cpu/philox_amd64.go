//go:build !purego

package cpu

import "gan/nn"

// uniformAVX2 computes 16·groups of RandUniform's values from block block
// of the stream on (see philox_amd64.s); it needs AVX2.
//
//go:noescape
func uniformAVX2(groups int, dst *float32, block uint64, k *philoxConsts)

// philoxConsts are uniformAVX2's inputs, each repeated in every lane of a
// vector, at the byte offsets the assembly uses.
type philoxConsts struct {
	m0, m1          [4]uint64  // 0, 32: the multipliers, one per 64-bit lane
	w0, w1          [8]uint32  // 64, 96: the key steps
	lanes           [4]uint64  // 128: 0, 1, 2, 3
	stream0         [8]uint32  // 160: the stream's low word
	stream1         [8]uint32  // 192: its high word
	k0, k1          [8]uint32  // 224, 256: the seed's words
	step            [4]uint64  // 288: 4
	scale, span, lo [8]float32 // 320, 352, 384
}

// set fills k for stream key and the map u ↦ lo + span·u.
func (k *philoxConsts) set(key nn.RandKey, lo, span float32) {
	for i := range 4 {
		k.m0[i], k.m1[i], k.lanes[i], k.step[i] = nn.PhiloxM0, nn.PhiloxM1, uint64(i), 4
	}
	for i := range 8 {
		k.w0[i], k.w1[i] = nn.PhiloxW0, nn.PhiloxW1
		k.stream0[i], k.stream1[i] = uint32(key.Stream), uint32(key.Stream>>32)
		k.k0[i], k.k1[i] = uint32(key.Seed), uint32(key.Seed>>32)
		k.scale[i], k.span[i], k.lo[i] = 1.0/16777216.0, span, lo
	}
}

// uniformFast fills dst[lo:hi] where it can with uniformAVX2, returning the
// range [a, b) it filled (empty without AVX2): whole groups of 16 elements
// starting at a multiple of 4 (a block boundary).
func (j *randUniformJob) uniformFast(lo, hi int) (a, b int) {
	if !hasAVX2 {
		return lo, lo
	}
	a = (lo + 3) &^ 3
	groups := (hi - a) / 16
	if groups <= 0 {
		return lo, lo
	}
	var k philoxConsts
	k.set(j.key, j.lo, j.span)
	uniformAVX2(groups, &j.dst[a], uint64(a)/4, &k)
	return a, a + 16*groups
}
