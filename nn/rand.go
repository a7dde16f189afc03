package nn

import "math"

// The shared random generator.
//
// Every random number that both backends need (weight init, noise z, dropout
// masks, the epoch shuffle) comes from Philox4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC 2011), a counter-based generator:
// the value is a pure function of a 64-bit key and a 128-bit counter, so any
// element can be computed independently, in any order, on any device. This
// file is the reference; kernels/philox.cuh is its bit-for-bit CUDA twin and
// cpu/gpu parity tests compare the two.
//
// Addressing. A draw is named by a [RandKey] {Seed, Stream} and an element
// index i:
//   - Philox key   = (lo32(Seed), hi32(Seed))
//   - Philox counter = (lo32(i/4), hi32(i/4), lo32(Stream), hi32(Stream))
//   - the block's four 32-bit words serve elements 4·(i/4) … 4·(i/4)+3.
//
// Uniform(key, i) = (word[i%4] >> 8) · 2⁻²⁴, in [0, 1) with 24 random bits.
//
// Normal(key, i) is Box–Muller on a pair of words: pair p = (i%4)/2 uses
// u1 = (word[2p] + 1)·2⁻³², in (0, 1], and u2 = word[2p+1]·2⁻³², and gives
// r·cos(2πu2) for even i, r·sin(2πu2) for odd i, with r = √(−2 ln u1). The
// logarithm and the sine/cosine are computed here in float64 from additions,
// multiplications and divisions only ([detLog], [detSinCos2Pi]), never from a
// math library, so that Go and CUDA (with its fused multiply-add disabled for
// these lines) round identically; the result is then rounded to float32.
//
// Streams keep the consumers apart: [StreamID] packs a purpose and an index;
// streams.go is the one table of purposes and of how each lays out its index.

// RandKey names one stream of random numbers of one seeded run.
type RandKey struct {
	Seed   uint64
	Stream uint64
}

// Philox4x32's constants (Random123): the round multipliers M0, M1 and
// the key steps W0, W1. The CPU backend's vector kernel and the CUDA
// kernels use the same values.
const (
	PhiloxM0 = 0xD2511F53
	PhiloxM1 = 0xCD9E8D57
	PhiloxW0 = 0x9E3779B9
	PhiloxW1 = 0xBB67AE85
)

// Philox4x32 computes ten rounds of Philox4x32 on counter ctr with key key.
func Philox4x32(key [2]uint32, ctr [4]uint32) [4]uint32 {
	k0, k1 := key[0], key[1]
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	for r := 0; r < 10; r++ {
		p0 := uint64(PhiloxM0) * uint64(c0)
		p1 := uint64(PhiloxM1) * uint64(c2)
		hi0, lo0 := uint32(p0>>32), uint32(p0)
		hi1, lo1 := uint32(p1>>32), uint32(p1)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
		k0 += PhiloxW0
		k1 += PhiloxW1
	}
	return [4]uint32{c0, c1, c2, c3}
}

// Block returns the four words of block b of stream key.
func (key RandKey) Block(b uint64) [4]uint32 {
	return Philox4x32(
		[2]uint32{uint32(key.Seed), uint32(key.Seed >> 32)},
		[4]uint32{uint32(b), uint32(b >> 32), uint32(key.Stream), uint32(key.Stream >> 32)})
}

// Uint32 returns the 32-bit word behind element i.
func (key RandKey) Uint32(i uint64) uint32 { return key.Block(i / 4)[i%4] }

// Uniform returns element i of the stream as a float32 in [0, 1).
func (key RandKey) Uniform(i uint64) float32 { return UniformFromWord(key.Uint32(i)) }

// UniformFromWord maps a 32-bit word to [0, 1) using its top 24 bits.
func UniformFromWord(w uint32) float32 { return float32(w>>8) * (1.0 / 16777216.0) }

// Normal returns element i of the stream as a standard normal float32.
func (key RandKey) Normal(i uint64) float32 {
	w := key.Block(i / 4)
	p := (i % 4) / 2
	return NormalFromWords(w[2*p], w[2*p+1], i%2 == 1)
}

// NormalFromWords is the Box–Muller transform of two words: the cosine
// branch, or the sine branch when sin is true.
func NormalFromWords(w0, w1 uint32, sin bool) float32 {
	c, s := NormalPairFromWords(w0, w1)
	if sin {
		return s
	}
	return c
}

// NormalPairFromWords is both branches of the Box–Muller transform of two
// words, NormalFromWords(w0, w1, false) and (w0, w1, true), for the cost of
// one: elements 2p and 2p+1 of a stream share their words.
func NormalPairFromWords(w0, w1 uint32) (cos, sin float32) {
	u1 := (float64(w0) + 1) * (1.0 / 4294967296.0)
	u2 := float64(w1) * (1.0 / 4294967296.0)
	r := math.Sqrt(-2 * detLog(u1)) // IEEE sqrt is correctly rounded everywhere
	s, c := detSinCos2Pi(u2)
	return float32(r * c), float32(r * s)
}

// Uniform32n returns a number in [0, n) from word w by multiply-shift
// (Lemire); the bias is below n/2³², far below anything a shuffle can show.
func Uniform32n(w uint32, n uint32) uint32 {
	return uint32(uint64(w) * uint64(n) >> 32)
}

// Permutation writes a uniformly shuffled 0…len(p)−1 into p: Fisher–Yates
// from the top, step j using word j of stream key.
func Permutation(p []int32, key RandKey) {
	for i := range p {
		p[i] = int32(i)
	}
	for i := len(p) - 1; i > 0; i-- {
		j := Uniform32n(key.Uint32(uint64(len(p)-1-i)), uint32(i+1))
		p[i], p[j] = p[j], p[i]
	}
}

// detLog is ln(x) for x in [2⁻³², 1] (normal numbers), from basic float64 operations only.
// x = m·2^e with m in [√½, √2); ln m = 2·atanh(s), s = (m−1)/(m+1), |s| < 0.172,
// summed as an odd series to s²³ (error below 1e-16 relative).
func detLog(x float64) float64 {
	m, e := math.Frexp(x) // exact: m in [0.5, 1)
	if m < 0.70710678118654752440 {
		m *= 2 // exact
		e--
	}
	s := (m - 1) / (m + 1)
	z := s * s
	// Horner on 1 + z/3 + z²/5 + … + z¹¹/23; each product is rounded on its
	// own (the float64 conversions forbid fusing).
	p := 1.0 / 23
	for _, c := range [...]float64{1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1} {
		p = float64(p*z) + c
	}
	return float64(float64(e)*0.69314718055994530942) + float64(2*s*p)
}

// detSinCos2Pi returns sin(2πu) and cos(2πu) for u in [0, 1), from basic
// float64 operations only: u is split into a quadrant and an angle a in
// [0, π/2), folded to [0, π/4], and Taylor series to x¹⁷/x¹⁶ are summed
// (error below 1e-15).
func detSinCos2Pi(u float64) (sin, cos float64) {
	q := int(u * 4) // quadrant 0..3 (u*4 is exact)
	r := u - float64(q)*0.25
	swap := r > 0.125
	if swap {
		r = 0.25 - r
	}
	x := r * 6.28318530717958647693
	z := x * x
	// sin x = x·(1 − z/3! + z²/5! − … + z⁸/17!), cos x = 1 − z/2! + … + z⁸/16!
	sp := 1.0 / 355687428096000 // 1/17!
	for _, c := range [...]float64{-1.0 / 1307674368000, 1.0 / 6227020800, -1.0 / 39916800, 1.0 / 362880, -1.0 / 5040, 1.0 / 120, -1.0 / 6, 1} {
		sp = float64(sp*z) + c
	}
	s := x * sp
	cp := 1.0 / 20922789888000 // 1/16!
	for _, c := range [...]float64{-1.0 / 87178291200, 1.0 / 479001600, -1.0 / 3628800, 1.0 / 40320, -1.0 / 720, 1.0 / 24, -0.5, 1} {
		cp = float64(cp*z) + c
	}
	c := cp
	if swap {
		s, c = c, s
	}
	switch q {
	case 0:
		return s, c
	case 1:
		return c, -s
	case 2:
		return -s, -c
	default:
		return -c, s
	}
}
