/* attention.cu: the ops of attention and transformer MLPs (BatchMatMul,
   CausalSoftmax, CausalSoftmaxBackward, GELU and GELUBackward of
   nn.Backend).

   bgemm_{s,m}_{nn,nt,tn,tt}  C_i = op(A_i)·op(B_i) + beta·C_i for a batch
                              of blocks of three matrices
   causal_softmax             masked row softmax of scale·x in T×T blocks
   causal_softmax_backward    its gradient from y and dy
   gelu_forward               y = x·Φ(x)
   gelu_backward              dx = dy·(Φ(x) + x·φ(x))
   gelu_forward_grad          y = x·Φ(x) and d = Φ(x) + x·φ(x)

   Blocks of BatchMatMul: each operand X (leading dimension ldx) holds
   batch×heads blocks, block i = (s, h) = (i / heads, i % heads) starting
   at row s·(its block rows) and column h·(its block columns). The block
   shapes follow from M, N, K and the transposes: A's stored block is M×K
   (or K×M transposed), B's K×N (or N×K), C's M×N, so a block's offset is
   s·rows·ld + h·cols of its stored shape and needs no further arguments.
   Products sum over k in order with fmaf, as matmul.cu's tiled kernels:
   deterministic, compared with a tolerance.

   The softmax kernels follow the CPU backend's float64 formulas with
   explicitly rounded intrinsics (no fused multiply-adds); only the order
   of the float64 row sums (lanes, then a butterfly) and the math library
   (exp) differ, so results agree with the CPU to 1–2 float32 ulps
   (nn/backendtest). The GELU kernels do the CPU backend's float32
   operations in its order: the same bits. */
#include "common.cuh"

// ---- CUDA kernels

/* bgemm_tile: one BM×BN tile of C_i for one block i of a batched product.

   The block index and the tile come from the grid: blockIdx.x is the tile
   column (n0 = blockIdx.x·BN); blockIdx.y = (i − i0)·MT + the tile row,
   MT = ⌈M/BM⌉ tiles per block. K is consumed BK at a time through shared
   tiles As[BK][BM] (op(A), k-major) and Bs[BK][BN] (op(B)), loaded one
   element per thread per step along the direction that is contiguous in
   global memory (coalesced) and zero-padded at the edges. Each of the
   (BM/TM)·(BN/TN) threads computes a TM×TN micro-tile made of 4×4 pieces
   spread BM/(TM/4) rows and BN/(TN/4) columns apart, read from shared
   memory as float4 (as matmul.cu's sgemm_tile). */
template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__device__ __forceinline__ void bgemm_tile(int M, int N, int K, const float *__restrict__ A, int lda,
                                           const float *__restrict__ B, int ldb, float beta, float *__restrict__ C,
                                           int ldc, int heads, int i0)
{
    constexpr int TX = BN / TN;
    constexpr int TY = BM / TM;
    constexpr int NT = TX * TY;
    constexpr int GM = TM / 4;
    constexpr int GN = TN / 4;
    constexpr int SM = BM / GM;
    constexpr int SN = BN / GN;
    static_assert(TM % 4 == 0 && TN % 4 == 0, "quads");
    static_assert(SM == TY * 4 && SN == TX * 4, "piece layout");

    __shared__ __align__(16) float As[BK][BM];
    __shared__ __align__(16) float Bs[BK][BN];

    const int MT = (M + BM - 1) / BM;
    const int i = i0 + (int)blockIdx.y / MT;
    const int s = i / heads, h = i % heads;
    const int m0 = ((int)blockIdx.y % MT) * BM, n0 = blockIdx.x * BN;
    // The block's first elements: stored rows × ld per s, stored columns per h.
    A += TA ? (size_t)s * K * lda + (size_t)h * M : (size_t)s * M * lda + (size_t)h * K;
    B += TB ? (size_t)s * N * ldb + (size_t)h * K : (size_t)s * K * ldb + (size_t)h * N;
    C += (size_t)s * M * ldc + (size_t)h * N;

    const int tid = threadIdx.x;
    const int tx = tid % TX, ty = tid / TX;

    float acc[TM][TN];
#pragma unroll
    for (int a = 0; a < TM; a++) {
#pragma unroll
        for (int b = 0; b < TN; b++) {
            acc[a][b] = 0.0f;
        }
    }

    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int q = tid; q < BM * BK; q += NT) {
            int r, kk;
            float v = 0.0f;
            if (!TA) { // A is M×K: consecutive threads along k
                r = q / BK;
                kk = q % BK;
                if (m0 + r < M && k0 + kk < K) v = A[(size_t)(m0 + r) * lda + k0 + kk];
            } else { // A is stored K×M: along m
                kk = q / BM;
                r = q % BM;
                if (m0 + r < M && k0 + kk < K) v = A[(size_t)(k0 + kk) * lda + m0 + r];
            }
            As[kk][r] = v;
        }
        for (int q = tid; q < BN * BK; q += NT) {
            int c, kk;
            float v = 0.0f;
            if (!TB) { // B is K×N: along n
                kk = q / BN;
                c = q % BN;
                if (n0 + c < N && k0 + kk < K) v = B[(size_t)(k0 + kk) * ldb + n0 + c];
            } else { // B is stored N×K: along k
                c = q / BK;
                kk = q % BK;
                if (n0 + c < N && k0 + kk < K) v = B[(size_t)(n0 + c) * ldb + k0 + kk];
            }
            Bs[kk][c] = v;
        }
        __syncthreads();

#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
#pragma unroll
            for (int g = 0; g < GM; g++) {
                GAN_CHECK_ALIGN16(&As[kk][g * SM + ty * 4]);
                const float4 v = *reinterpret_cast<const float4 *>(&As[kk][g * SM + ty * 4]);
                a[g * 4 + 0] = v.x;
                a[g * 4 + 1] = v.y;
                a[g * 4 + 2] = v.z;
                a[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int g = 0; g < GN; g++) {
                GAN_CHECK_ALIGN16(&Bs[kk][g * SN + tx * 4]);
                const float4 v = *reinterpret_cast<const float4 *>(&Bs[kk][g * SN + tx * 4]);
                b[g * 4 + 0] = v.x;
                b[g * 4 + 1] = v.y;
                b[g * 4 + 2] = v.z;
                b[g * 4 + 3] = v.w;
            }
#pragma unroll
            for (int x = 0; x < TM; x++) {
#pragma unroll
                for (int y = 0; y < TN; y++) {
                    acc[x][y] = fmaf(a[x], b[y], acc[x][y]);
                }
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int gi = 0; gi < GM; gi++) {
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int r = m0 + gi * SM + ty * 4 + u;
            if (r >= M) {
                continue;
            }
#pragma unroll
            for (int gj = 0; gj < GN; gj++) {
#pragma unroll
                for (int v = 0; v < 4; v++) {
                    const int c = n0 + gj * SN + tx * 4 + v;
                    if (c < N) {
                        float *p = C + (size_t)r * ldc + c;
                        const float o = acc[gi * 4 + u][gj * 4 + v];
                        *p = beta != 0.0f ? fmaf(beta, *p, o) : o;
                    }
                }
            }
        }
    }
}

/* bgemm_{s,m}_{nn,nt,tn,tt}: the batched products, blocks i0, i0+1, … of
   BatchMatMul (see the top of the file), one kernel per tile size and
   transpose pair: s = 32×32 tiles (64 threads, 4×4 each, BK 16) for the
   small blocks of attention (T×T scores with head sizes 16–64), m = 64×64
   (256 threads, 4×4, BK 16). All take GAN_BGEMM_PARAMS.
   Launch: a 1-D block of (BM/TM)·(BN/TN) threads, grid (⌈N/BN⌉,
   count·⌈M/BM⌉) for count blocks from i0; the host splits the batch so
   that gridDim.y ≤ 65535. */
#define GAN_BGEMM_PARAMS                                                                                   \
    int M, int N, int K, const float *__restrict__ A, int lda, const float *__restrict__ B, int ldb, float beta, \
        float *__restrict__ C, int ldc, int heads, int i0
#define GAN_BGEMM_ARGS M, N, K, A, lda, B, ldb, beta, C, ldc, heads, i0

extern "C" __global__ void __launch_bounds__(64) bgemm_s_nn(GAN_BGEMM_PARAMS)
{
    bgemm_tile<32, 32, 16, 4, 4, false, false>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(64) bgemm_s_nt(GAN_BGEMM_PARAMS)
{
    bgemm_tile<32, 32, 16, 4, 4, false, true>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(64) bgemm_s_tn(GAN_BGEMM_PARAMS)
{
    bgemm_tile<32, 32, 16, 4, 4, true, false>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(64) bgemm_s_tt(GAN_BGEMM_PARAMS)
{
    bgemm_tile<32, 32, 16, 4, 4, true, true>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(256) bgemm_m_nn(GAN_BGEMM_PARAMS)
{
    bgemm_tile<64, 64, 16, 4, 4, false, false>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(256) bgemm_m_nt(GAN_BGEMM_PARAMS)
{
    bgemm_tile<64, 64, 16, 4, 4, false, true>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(256) bgemm_m_tn(GAN_BGEMM_PARAMS)
{
    bgemm_tile<64, 64, 16, 4, 4, true, false>(GAN_BGEMM_ARGS);
}
extern "C" __global__ void __launch_bounds__(256) bgemm_m_tt(GAN_BGEMM_PARAMS)
{
    bgemm_tile<64, 64, 16, 4, 4, true, true>(GAN_BGEMM_ARGS);
}

/* causal_softmax: x and y are R×C (y may be x), cut into T×T blocks; row
   r is row i = r mod T of its blocks, whose row segments (heads = C/T of
   them) keep columns j ≤ i. One warp per row segment: in float64, z_j =
   scale·x_j (exact), m = max z_j (warp_max), s = Σ exp(z_j − m) over
   lanes then a butterfly, y_j = float32(exp(z_j − m)/s); masked columns
   get 0 and x there is not read.
   Launch: 256 threads (8 segments) per block, grid ⌈R·(C/T)/8⌉. */
extern "C" __global__ void __launch_bounds__(256)
    causal_softmax(int R, int C, int T, float *y, const float *x, float scale)
{
    const int heads = C / T;
    const long long seg = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (seg >= (long long)R * heads) {
        return; // the whole warp leaves together
    }
    const int r = (int)(seg / heads), h = (int)(seg % heads), i = r % T;
    const float *xr = x + (size_t)r * C + (size_t)h * T;
    float *yr = y + (size_t)r * C + (size_t)h * T;
    const double sc = (double)scale;
    double m = GAN_NEG_INF;
    for (int j = lane; j <= i; j += 32) {
        m = fmax(m, __dmul_rn(sc, (double)xr[j]));
    }
    m = warp_max(m);
    double s = 0.0;
    for (int j = lane; j <= i; j += 32) {
        s = __dadd_rn(s, exp(__dsub_rn(__dmul_rn(sc, (double)xr[j]), m)));
    }
    s = warp_sum(s);
    for (int j = lane; j < T; j += 32) {
        yr[j] = j <= i ? (float)__ddiv_rn(exp(__dsub_rn(__dmul_rn(sc, (double)xr[j]), m)), s) : 0.0f;
    }
}

/* causal_softmax_backward: dx, dy and y are R×C in T×T blocks as in
   causal_softmax (dx may be dy). One warp per row segment: d = Σ_{k≤i}
   y_k·dy_k in float64 (exact products, lanes then a butterfly), then
   dx_j = float32(scale·y_j·(dy_j − d)) in float64 for j ≤ i, 0 for j > i.
   Every lane has read its dy before the butterfly, so dx may be dy.
   Launch: 256 threads (8 segments) per block, grid ⌈R·(C/T)/8⌉. */
extern "C" __global__ void __launch_bounds__(256)
    causal_softmax_backward(int R, int C, int T, float *dx, const float *dy, const float *__restrict__ y, float scale)
{
    const int heads = C / T;
    const long long seg = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (seg >= (long long)R * heads) {
        return;
    }
    const int r = (int)(seg / heads), h = (int)(seg % heads), i = r % T;
    const size_t o = (size_t)r * C + (size_t)h * T;
    double d = 0.0;
    for (int j = lane; j <= i; j += 32) {
        d = __dadd_rn(d, __dmul_rn((double)y[o + j], (double)dy[o + j]));
    }
    d = warp_sum(d);
    const double sc = (double)scale;
    for (int j = lane; j < T; j += 32) {
        dx[o + j] = j <= i ? (float)__dmul_rn(__dmul_rn(sc, (double)y[o + j]), __dsub_rn((double)dy[o + j], d)) : 0.0f;
    }
}

/* GELU in float32, operation by operation as the CPU backend's gelu32,
   geluGrad32 and geluTail (cpu/gelu.go, where the method and its accuracy
   are described): every multiply, add, subtract and divide is an
   explicitly rounded intrinsic (no fused multiply-adds), rintf rounds to
   the nearest even integer, so the results are the CPU's bits.

   gelu_tail: for 0 ≤ t < 14.5, p = E(r) and n with exp(−t²/2) = 2⁻ⁿ·p,
   and vh = v·H(v) with v = 3/(3 + t), so that the normal tail
   Q(t) = 2⁻ⁿ·p·vh. */
#define GELU_STEP(p, x, c) p = __fadd_rn(__fmul_rn(p, x), c)
__device__ __forceinline__ void gelu_tail(float t, float &p, float &vh, int &n)
{
    const float th = __uint_as_float(__float_as_uint(t) & 0xfffff000u);
    const float tl = __fsub_rn(t, th);
    const float a = __fmul_rn(__fmul_rn(th, th), 0.5f);
    const float b = __fmul_rn(__fmul_rn(tl, __fadd_rn(t, th)), 0.5f);
    const float nf = rintf(__fmul_rn(a, 1.4426950408889634f));
    float r = __fsub_rn(__fmul_rn(nf, 0.693359375f), a);
    r = __fadd_rn(r, __fmul_rn(nf, -2.12194440e-4f));
    r = __fsub_rn(r, b);
    p = 0.0014007725985720754f;
    GELU_STEP(p, r, 0.008391438983380795f);
    GELU_STEP(p, r, 0.04166454076766968f);
    GELU_STEP(p, r, 0.16666163504123688f);
    GELU_STEP(p, r, 0.5000001192092896f);
    GELU_STEP(p, r, 1.0000001192092896f);
    GELU_STEP(p, r, 1.0f);
    const float v = __fdiv_rn(3.0f, __fadd_rn(3.0f, t));
    float h = 0.018592700362205505f;
    GELU_STEP(h, v, -0.11536785960197449f);
    GELU_STEP(h, v, 0.2891004681587219f);
    GELU_STEP(h, v, -0.35292622447013855f);
    GELU_STEP(h, v, 0.2007340043783188f);
    GELU_STEP(h, v, -0.08527755737304688f);
    GELU_STEP(h, v, 0.07713259756565094f);
    GELU_STEP(h, v, 0.08321747928857803f);
    GELU_STEP(h, v, 0.11887931078672409f);
    GELU_STEP(h, v, 0.1329328417778015f);
    GELU_STEP(h, v, 0.13298223912715912f);
    vh = __fmul_rn(v, h);
    n = (int)nf;
}
#undef GELU_STEP

/* gelu_scale is v·2⁻ⁿ (0 ≤ n ≤ 152) as (v·2⁶⁴⁻ⁿ)·2⁻⁶⁴: the first product
   exact, the second rounded once (subnormal results too). */
__device__ __forceinline__ float gelu_scale(float v, int n)
{
    return __fmul_rn(__fmul_rn(v, __uint_as_float((unsigned)(127 + 64 - n) << 23)), 5.421010862427522e-20f);
}

/* gelu_value is GELU(v) = v·Φ(v): with Q = (p·vh)·2⁻ⁿ from gelu_tail(|v|),
   v·Q where v's sign bit is set (scaled last) and v·(1 − Q) otherwise; v
   for v ≥ 14.5 and NaN, −0 for v ≤ −14.5 (the CPU backend's gelu32). */
__device__ __forceinline__ float gelu_value(float v)
{
    const float t = fabsf(v);
    if (v != v) {
        return v;
    }
    if (t >= 14.5f) {
        return v > 0.0f ? v : -0.0f;
    }
    float p, vh;
    int e;
    gelu_tail(t, p, vh, e);
    const float q = __fmul_rn(p, vh);
    return signbit(v) ? gelu_scale(__fmul_rn(v, q), e) : __fmul_rn(v, __fsub_rn(1.0f, gelu_scale(q, e)));
}

/* gelu_deriv is GELU′(v) = Φ(v) + v·φ(v): with s = (p·(t·(1/√(2π)) −
   vh))·2⁻ⁿ from gelu_tail(t), t = |v|, it is −s where v's sign bit is set
   and 1 + s otherwise; 1 for v ≥ 14.5, 0 for v ≤ −14.5, v for NaN (the
   CPU backend's geluDeriv32). */
__device__ __forceinline__ float gelu_deriv(float v)
{
    const float t = fabsf(v);
    if (v != v) {
        return v;
    }
    if (t >= 14.5f) {
        return v > 0.0f ? 1.0f : 0.0f;
    }
    float p, vh;
    int e;
    gelu_tail(t, p, vh, e);
    const float w = __fsub_rn(__fmul_rn(t, 0.3989422804014327f), vh);
    const float s = gelu_scale(__fmul_rn(p, w), e);
    return signbit(v) ? -s : __fadd_rn(1.0f, s);
}

/* gelu_forward: y, x have n elements (y may be x); y = GELU(x).
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256) gelu_forward(int n, float *y, const float *x)
{
    GAN_FOR_EACH(i, n)
    {
        y[i] = gelu_value(x[i]);
    }
}

/* gelu_backward: dx, dy, x have n elements (dx may be dy);
   dx = dy·GELU′(x), one rounding of the product.
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256) gelu_backward(int n, float *dx, const float *dy, const float *__restrict__ x)
{
    GAN_FOR_EACH(i, n)
    {
        dx[i] = __fmul_rn(dy[i], gelu_deriv(x[i]));
    }
}

/* gelu_forward_grad: y, d, x have n elements (y or d may be x);
   y = GELU(x) and d = GELU′(x), each thread reading its x once.
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256) gelu_forward_grad(int n, float *y, float *d, const float *x)
{
    GAN_FOR_EACH(i, n)
    {
        const float v = x[i];
        d[i] = gelu_deriv(v);
        y[i] = gelu_value(v);
    }
}

