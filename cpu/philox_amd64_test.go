//go:build !purego

package cpu

import (
	"math"
	"testing"

	"gan/nn"
)

// TestUniformAVX2MatchesTheStream checks uniformAVX2 against nn.RandKey's
// words and randUniformJob's arithmetic bit for bit: seeds and streams with
// both halves set, block counters that carry into the counter's high word,
// several ranges lo + span·u.
func TestUniformAVX2MatchesTheStream(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this CPU: uniformAVX2 does not run")
	}
	keys := []nn.RandKey{{Seed: 1}, {Seed: 0xdeadbeefcafef00d, Stream: 0x123456789abcdef0}, {Seed: 1 << 40, Stream: 7}}
	blocks := []uint64{0, 1, 5, 1<<32 - 3, 1<<33 + 17, math.MaxUint64 - 20}
	ranges := [][2]float32{{0, 1}, {-1, 1}, {-0.3, 2.7}}
	const groups = 3
	for _, key := range keys {
		for _, b := range blocks {
			for _, r := range ranges {
				var k philoxConsts
				lo, span := r[0], r[1]-r[0]
				k.set(key, lo, span)
				got := make([]float32, 16*groups)
				uniformAVX2(groups, &got[0], b, &k)
				for i, v := range got {
					w := key.Block(b + uint64(i/4))[i%4]
					want := lo + float32(span*nn.UniformFromWord(w))
					if math.Float32bits(v) != math.Float32bits(want) {
						t.Fatalf("key %+v block %d range %v element %d: %v, want %v", key, b, r, i, v, want)
					}
				}
			}
		}
	}
}

// TestRandUniformEveryRange checks randUniformJob (the vector kernel on
// whole groups, Go on the ends) against RandKey.Uniform for every start and
// end of a range within the first 70 elements.
func TestRandUniformEveryRange(t *testing.T) {
	key := nn.RandKey{Seed: 3, Stream: 9}
	const n = 70
	for lo := 0; lo <= n; lo++ {
		for hi := lo; hi <= n; hi++ {
			dst := make([]float32, n)
			j := randUniformJob{dst: dst, lo: -1, span: 2, key: key}
			j.run(lo, hi)
			for i, v := range dst {
				want := float32(0)
				if i >= lo && i < hi {
					want = -1 + float32(2*key.Uniform(uint64(i)))
				}
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("range [%d, %d) element %d: %v, want %v", lo, hi, i, v, want)
				}
			}
		}
	}
}
