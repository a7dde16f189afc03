/* elementwise.cu: the elementwise arithmetic of nn.Backend on strided
   matrices, and the strided Copy.

   axpby         y = alpha·a + beta·b          (Axpby)
   mul           y = a ⊙ b                     (Mul)
   scale_rows    y[r][c] = x[r][c]·s[r]        (ScaleRows)
   map_fn        y = f(x) for an nn.MapFn f    (Map)
   copy_strided  dst = src                     (Copy of strided views)

   Every operand is an M×N view with its own leading dimension (ld ≥ N: the
   distance in elements between the starts of two rows), so column blocks
   of wider matrices (nn.Mat.ColView) work in place. y may be any of the
   inputs when both have the same layout (each element is read before it is
   written, by the same thread). Each float32 operation is rounded on its own
   with the _rn intrinsics (never an FMA), and exp and log are computed in
   float64 and rounded once, so the results are the CPU backend's, bit for
   bit (up to the last-bit differences of the two math libraries' float64
   exp and log, which survive the rounding to float32 about once in 2²⁸).
   Launch of every kernel here: 1-D grid-stride over the M·N elements, 256
   threads per block, the grid capped by the host (gpu/backend.go). */
#include "common.cuh"

/* Functions of map_fn, as nn.MapFn numbers them. */
#define GAN_MAP_SCALE 0
#define GAN_MAP_ADD_CONST 1
#define GAN_MAP_SQUARE 2
#define GAN_MAP_SQRT 3
#define GAN_MAP_RECIP 4
#define GAN_MAP_EXP 5
#define GAN_MAP_LOG 6

// ---- CUDA kernels

/* axpby: y, a, b are M×N (leading dimensions ldy, lda, ldb);
   y = fl(fl(alpha·a) + fl(beta·b)). With beta = 0, b is not read (it may
   be a null pointer) and y = fl(alpha·a).
   Launch: 1-D grid-stride over M·N, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    axpby(int M, int N, float *y, int ldy, const float *a, int lda, const float *b, int ldb, float alpha, float beta)
{
    GAN_FOR_EACH_RC(i, r, c, M, N)
    {
        float v = __fmul_rn(alpha, a[(size_t)r * lda + c]);
        if (beta != 0.0f) {
            v = __fadd_rn(v, __fmul_rn(beta, b[(size_t)r * ldb + c]));
        }
        y[(size_t)r * ldy + c] = v;
    }
}

/* mul: y, a, b are M×N (leading dimensions ldy, lda, ldb); y = fl(a·b).
   Launch: 1-D grid-stride over M·N, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    mul(int M, int N, float *y, int ldy, const float *a, int lda, const float *b, int ldb)
{
    GAN_FOR_EACH_RC(i, r, c, M, N)
    {
        y[(size_t)r * ldy + c] = __fmul_rn(a[(size_t)r * lda + c], b[(size_t)r * ldb + c]);
    }
}

/* scale_rows: y and x are M×N (leading dimensions ldy, ldx), s is the M×1
   column of per-row scales (element r at s[r·lds]); y[r][c] =
   fl(x[r][c]·s[r]). y may be x; s must not overlap y.
   Launch: 1-D grid-stride over M·N, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    scale_rows(int M, int N, float *y, int ldy, const float *x, int ldx, const float *__restrict__ s, int lds)
{
    GAN_FOR_EACH_RC(i, r, c, M, N)
    {
        y[(size_t)r * ldy + c] = __fmul_rn(x[(size_t)r * ldx + c], s[(size_t)r * lds]);
    }
}

/* map_fn: y and x are M×N (leading dimensions ldy, ldx); y = f(x) for the
   nn.MapFn fn (one of GAN_MAP_*; the host rejects others) with the
   constant cst: scale fl(cst·x), add_const fl(x + cst), square fl(x·x),
   sqrt and recip IEEE-rounded (__fsqrt_rn, __fdiv_rn), exp and log in
   float64 rounded once.
   Launch: 1-D grid-stride over M·N, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    map_fn(int M, int N, float *y, int ldy, const float *x, int ldx, int fn, float cst)
{
    GAN_FOR_EACH_RC(i, r, c, M, N)
    {
        const float v = x[(size_t)r * ldx + c];
        float out;
        switch (fn) {
        case GAN_MAP_SCALE:
            out = __fmul_rn(cst, v);
            break;
        case GAN_MAP_ADD_CONST:
            out = __fadd_rn(v, cst);
            break;
        case GAN_MAP_SQUARE:
            out = __fmul_rn(v, v);
            break;
        case GAN_MAP_SQRT:
            out = __fsqrt_rn(v);
            break;
        case GAN_MAP_RECIP:
            out = __fdiv_rn(1.0f, v);
            break;
        case GAN_MAP_EXP:
            out = (float)exp((double)v);
            break;
        default: // GAN_MAP_LOG
            out = (float)log((double)v);
            break;
        }
        y[(size_t)r * ldy + c] = out;
    }
}

/* copy_strided: dst and src are M×N (leading dimensions ldd, lds) and do
   not overlap; dst = src. Contiguous copies are driver copies instead.
   Launch: 1-D grid-stride over M·N, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    copy_strided(int M, int N, float *__restrict__ dst, int ldd, const float *__restrict__ src, int lds)
{
    GAN_FOR_EACH_RC(i, r, c, M, N)
    {
        dst[(size_t)r * ldd + c] = src[(size_t)r * lds + c];
    }
}
