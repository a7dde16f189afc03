//go:build cgo

package kernels

/*
#cgo CFLAGS: -O2 -std=c11
#cgo LDFLAGS: -lm
// philox.cuh must be compiled without contraction of a*b+c into fused
// multiply-adds (cgo does not accept -ffp-contract=off as a flag).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "philox.cuh"

static void gan_px_block(uint64_t seed, uint64_t stream, uint64_t b, uint32_t out[4]) {
	px_u4 w = px_block(seed, stream, b);
	out[0] = w.x;
	out[1] = w.y;
	out[2] = w.z;
	out[3] = w.w;
}

static float gan_px_uniform(uint32_t w) { return px_uniform(w); }

static void gan_px_normal_pair(uint32_t w0, uint32_t w1, float out[2]) {
	px_normal_pair(w0, w1, &out[0], &out[1]);
}
*/
import "C"

// hostBlock is px_block of philox.cuh built for the host: the four words of
// block b of stream (seed, stream).
func hostBlock(seed, stream, b uint64) [4]uint32 {
	var out [4]C.uint32_t
	C.gan_px_block(C.uint64_t(seed), C.uint64_t(stream), C.uint64_t(b), &out[0])
	return [4]uint32{uint32(out[0]), uint32(out[1]), uint32(out[2]), uint32(out[3])}
}

// hostUniform is px_uniform of philox.cuh built for the host.
func hostUniform(w uint32) float32 { return float32(C.gan_px_uniform(C.uint32_t(w))) }

// hostNormalPair is px_normal_pair of philox.cuh built for the host: the
// cosine and the sine branch of Box–Muller on words w0, w1.
func hostNormalPair(w0, w1 uint32) (cos, sin float32) {
	var out [2]C.float
	C.gan_px_normal_pair(C.uint32_t(w0), C.uint32_t(w1), &out[0])
	return float32(out[0]), float32(out[1])
}

// hostAvailable reports whether the host build of philox.cuh is linked in.
const hostAvailable = true
