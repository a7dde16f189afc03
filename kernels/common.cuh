/* common.cuh: helpers shared by the kernels of the gpu backend.

   Conventions of every kernel file:
   - Matrices are float32 and row-major; the host passes device pointers
     that already include the view's offset. Kernels whose ops take strided
     views (nn.Mat.Stride: MatMul, Copy, Axpby, Mul, ScaleRows, Map) take a
     leading dimension (ld, the distance between row starts) per operand;
     the others assume contiguous rows, which the host checks.
   - Element counts are int: the host refuses views of 2³¹ elements or more.
   - Elementwise kernels use grid-stride loops with 256-thread blocks; the
     host caps the grid (see gpu/backend.go), so indices never overflow.
   - Floating-point results that the CPU backend reproduces bit for bit use
     the explicitly rounded intrinsics (__fmul_rn, __fadd_rn, …), which nvcc
     never fuses into an FMA. Only the matrix products use fmaf freely; they
     are compared with a tolerance.
   - Every reduction adds in an order fixed by the launch configuration, so
     results are identical from run to run (no atomics). */
#ifndef GAN_COMMON_CUH
#define GAN_COMMON_CUH

#include "philox.cuh"

/* Activation kinds, as nn.ActKind numbers them. */
#define GAN_ACT_NONE 0
#define GAN_ACT_LEAKY 1
#define GAN_ACT_TANH 2
#define GAN_ACT_SIGMOID 3

#define GAN_FULL_MASK 0xffffffffu
#define GAN_NEG_INF (-__builtin_huge_val())

/* GAN_CHECK_ALIGN16(p) marks a float4 access: on a GPU a misaligned one is a
   fatal fault; the CPU emulator (gpu/emu.cpp) defines it to check. */
#ifndef GAN_CHECK_ALIGN16
#define GAN_CHECK_ALIGN16(p) ((void)0)
#endif

/* Grid-stride loop over [0, n) for a 1-D launch. */
#define GAN_FOR_EACH(i, n)                                                    \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned)(n); \
         i += blockDim.x * gridDim.x)

/* Grid-stride loop over the M×N elements of a matrix, row-major, for a 1-D
   launch: i runs over [0, M·N) as in GAN_FOR_EACH, and r and c are the row
   and column of element i (so that each operand is addressed with its own
   leading dimension, r·ld + c). */
#define GAN_FOR_EACH_RC(i, r, c, M, N)                                                       \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x, r = i / (unsigned)(N),          \
                  c = i - r * (unsigned)(N);                                                 \
         i < (unsigned)(M) * (unsigned)(N);                                                  \
         i += blockDim.x * gridDim.x, r = i / (unsigned)(N), c = i - r * (unsigned)(N))

/* sigmoid64 is σ(x) in float64 without overflow, as the CPU backend's
   sigmoid64: 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) for x < 0. */
__device__ __forceinline__ double sigmoid64(double x)
{
    if (x >= 0.0) {
        return __ddiv_rn(1.0, __dadd_rn(1.0, exp(-x)));
    }
    const double e = exp(x);
    return __ddiv_rn(e, __dadd_rn(1.0, e));
}

/* act_forward is nn's activation of one value, as the CPU backend computes
   it: LeakyReLU keeps x where x > 0 and rounds x·slope otherwise (so NaN and
   −0 pass through); tanh and sigmoid are computed in float64 and rounded
   once. */
__device__ __forceinline__ float act_forward(float x, int act, float slope)
{
    if (act == GAN_ACT_LEAKY) {
        return x > 0.0f ? x : __fmul_rn(x, slope);
    }
    if (act == GAN_ACT_TANH) {
        return (float)tanh((double)x);
    }
    if (act == GAN_ACT_SIGMOID) {
        return (float)sigmoid64((double)x);
    }
    return x;
}

/* act_backward is dy·act′ from the activation's output y: LeakyReLU
   dy where y > 0, else dy·slope; tanh dy·(1 − y·y); sigmoid
   dy·(y·(1 − y)); each operation rounded to float32 on its own. */
__device__ __forceinline__ float act_backward(float dy, float y, int act, float slope)
{
    if (act == GAN_ACT_LEAKY) {
        return y > 0.0f ? dy : __fmul_rn(dy, slope);
    }
    if (act == GAN_ACT_TANH) {
        return __fmul_rn(dy, __fsub_rn(1.0f, __fmul_rn(y, y)));
    }
    if (act == GAN_ACT_SIGMOID) {
        return __fmul_rn(dy, __fmul_rn(y, __fsub_rn(1.0f, y)));
    }
    return dy;
}

/* col_sum_store ends a block of col_sum's shape (block (32, 8), 32
   columns; bias.cu, fused.cu): thread (tx, ty) holds s, the float64 sum of
   rows ty, ty+8, … of column j; the 8 partial sums go through part (the
   kernel's __shared__ double[8][33]) and are added in order ty = 0…7, and
   thread (tx, 0) stores db[j] = float32 of the total, added to
   float32(beta·db[j]) when beta ≠ 0 (db is not read when beta = 0). Every
   thread of the block must call it. */
__device__ __forceinline__ void col_sum_store(double (*part)[33], double s, int j, int N, float beta, float *db)
{
    const int tx = threadIdx.x, ty = threadIdx.y;
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && j < N) {
        double t = part[0][tx];
        for (int r = 1; r < 8; r++) {
            t += part[r][tx];
        }
        const float v = (float)t;
        db[j] = beta != 0.0f ? __fadd_rn(__fmul_rn(beta, db[j]), v) : v;
    }
}

/* warp_sum returns the sum of v over the 32 lanes of the warp, in every
   lane (a butterfly, so the order is fixed). All 32 lanes must call it. */
template <typename T>
__device__ __forceinline__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(GAN_FULL_MASK, v, o);
    }
    return v;
}

/* warp_max returns the maximum of v over the warp, in every lane. */
__device__ __forceinline__ double warp_max(double v)
{
    for (int o = 16; o > 0; o >>= 1) {
        v = fmax(v, __shfl_xor_sync(GAN_FULL_MASK, v, o));
    }
    return v;
}

/* block_sum2 sums a and b over the block; the totals are valid in thread 0.
   blockDim.x must be a multiple of 32 (at most 1024), every thread of the
   block must call it, and it may be called once per kernel (its shared
   scratch is not guarded for reuse). */
__device__ __forceinline__ void block_sum2(double &a, double &b)
{
    __shared__ double sa[32], sb[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    a = warp_sum(a);
    b = warp_sum(b);
    if (lane == 0) {
        sa[w] = a;
        sb[w] = b;
    }
    __syncthreads();
    if (w == 0) {
        a = lane < nw ? sa[lane] : 0.0;
        b = lane < nw ? sb[lane] : 0.0;
        a = warp_sum(a);
        b = warp_sum(b);
    }
}

#endif /* GAN_COMMON_CUH */
