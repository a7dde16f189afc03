/* matmul.cu: C = op(A)·op(B) + beta·C for row-major float32 matrices.

   op(A) is M×K, op(B) is K×N and C is M×N; op(X) is X, or Xᵀ when the
   kernel's name says t. Storage: A is M×K (lda ≥ K) or, transposed, K×M
   (lda ≥ M); B is K×N (ldb ≥ N) or, transposed, N×K (ldb ≥ K); C has row
   stride ldc. With beta = 0, C is never read, so NaNs in it do not
   propagate.

   Three kernel families:
   - sgemm_{s,m,l}_{nn,nt,tn,tt}: the tiled kernel, shared-memory tiles of
     op(A) and op(B) and a register micro-tile per thread, in three tile
     sizes (the host picks the largest that still gives every SM a block).
   - sgemm_naive_{nn,nt,tn,tt}: one thread per output, the in-file reference
     and benchmark baseline.
   - gemv_rows / gemv_cols: the matrix-vector products of a C with one row or
     one column (the discriminator's 256→1 layer and its gradients), where a
     tile would leave 31 of 32 rows idle. They accumulate in float64.

   Summation runs over k in order within a tile, with fused multiply-adds;
   results are deterministic but not bit-identical to the CPU, and are
   compared with a float64 reference, within the bound of docs/tolerances.md's
   tolerance table (llm.c/ggml/PyTorch practice) widened for short sums:
   error ≤ (0.1·K + 3·√(K+2))·2⁻²⁴·(|op(A)|·|op(B)| + |beta·C|)ij per
   element (gpu/matmul_test.go), which an indexing bug exceeds by orders of
   magnitude. */
#include "common.cuh"

// ---- CUDA kernels

/* load4 returns elements (r, c … c+3) of the rows×cols row-major matrix p
   (leading dimension ld), with zeros outside the matrix. When vec is set, p
   is 16-byte aligned, ld and c are multiples of 4, and a quad that lies
   wholly inside is read as one float4. */
__device__ __forceinline__ float4 load4(const float *__restrict__ p, int r, int c, int rows, int cols, int ld,
                                        bool vec)
{
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r >= rows || c >= cols) {
        return v;
    }
    const float *q = p + (size_t)r * ld + c;
    if (vec && c + 3 < cols) {
        GAN_CHECK_ALIGN16(q);
        return *reinterpret_cast<const float4 *>(q);
    }
    v.x = q[0];
    if (c + 1 < cols) v.y = q[1];
    if (c + 2 < cols) v.z = q[2];
    if (c + 3 < cols) v.w = q[3];
    return v;
}

/* sgemm_tile: the tiled SGEMM body.

   Block tile BM×BN of C, K consumed BK at a time; (BM/TM)·(BN/TN) threads
   in a 1-D block, each computing a TM×TN micro-tile made of (TM/4)×(TN/4)
   4×4 pieces spread BM/(TM/4) rows and BN/(TN/4) columns apart, so that the
   float4 reads from shared memory of a warp hit consecutive banks.
   Shared tiles: As[BK][BM] holds op(A) transposed (k-major), Bs[BK][BN]
   holds op(B); both are filled with quads of 4 elements that are contiguous
   in global memory (coalesced, float4 where vec allows), zero-padded at the
   matrix edges so the inner loop needs no bounds checks.
   Grid: (⌈N/BN⌉, ⌈M/BM⌉). vec bits: 1 = A, 2 = B, 4 = C may use float4. */
template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__device__ __forceinline__ void sgemm_tile(int M, int N, int K, const float *__restrict__ A, int lda,
                                           const float *__restrict__ B, int ldb, float beta, float *__restrict__ C,
                                           int ldc, int vec)
{
    constexpr int TX = BN / TN;  // threads along n
    constexpr int TY = BM / TM;  // threads along m
    constexpr int NT = TX * TY;  // threads per block
    constexpr int GM = TM / 4;   // 4-row pieces per thread
    constexpr int GN = TN / 4;   // 4-column pieces per thread
    constexpr int SM = BM / GM;  // row distance between pieces
    constexpr int SN = BN / GN;  // column distance between pieces
    static_assert(TM % 4 == 0 && TN % 4 == 0 && BK % 4 == 0, "quads");
    static_assert(SM == TY * 4 && SN == TX * 4, "piece layout");

    __shared__ __align__(16) float As[BK][BM];
    __shared__ __align__(16) float Bs[BK][BN];

    const int tid = threadIdx.x;
    const int tx = tid % TX, ty = tid / TX;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const bool va = (vec & 1) != 0, vb = (vec & 2) != 0, vc = (vec & 4) != 0;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++) {
#pragma unroll
        for (int j = 0; j < TN; j++) {
            acc[i][j] = 0.0f;
        }
    }

    for (int k0 = 0; k0 < K; k0 += BK) {
        if (!TA) {
            // A is M×K: quads run along k, BK/4 per row of the tile.
            for (int q = tid; q < BM * BK / 4; q += NT) {
                const int r = q / (BK / 4), kq = (q % (BK / 4)) * 4;
                const float4 v = load4(A, m0 + r, k0 + kq, M, K, lda, va);
                As[kq + 0][r] = v.x;
                As[kq + 1][r] = v.y;
                As[kq + 2][r] = v.z;
                As[kq + 3][r] = v.w;
            }
        } else {
            // A is stored K×M: quads run along m.
            for (int q = tid; q < BM * BK / 4; q += NT) {
                const int kk = q / (BM / 4), iq = (q % (BM / 4)) * 4;
                GAN_CHECK_ALIGN16(&As[kk][iq]);
                *reinterpret_cast<float4 *>(&As[kk][iq]) = load4(A, k0 + kk, m0 + iq, K, M, lda, va);
            }
        }
        if (!TB) {
            // B is K×N: quads run along n.
            for (int q = tid; q < BN * BK / 4; q += NT) {
                const int kk = q / (BN / 4), jq = (q % (BN / 4)) * 4;
                GAN_CHECK_ALIGN16(&Bs[kk][jq]);
                *reinterpret_cast<float4 *>(&Bs[kk][jq]) = load4(B, k0 + kk, n0 + jq, K, N, ldb, vb);
            }
        } else {
            // B is stored N×K: quads run along k.
            for (int q = tid; q < BN * BK / 4; q += NT) {
                const int j = q / (BK / 4), kq = (q % (BK / 4)) * 4;
                const float4 v = load4(B, n0 + j, k0 + kq, N, K, ldb, vb);
                Bs[kq + 0][j] = v.x;
                Bs[kq + 1][j] = v.y;
                Bs[kq + 2][j] = v.z;
                Bs[kq + 3][j] = v.w;
            }
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
            for (int i = 0; i < TM; i++) {
#pragma unroll
                for (int j = 0; j < TN; j++) {
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
                }
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int gi = 0; gi < GM; gi++) {
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int i = m0 + gi * SM + ty * 4 + u;
            if (i >= M) {
                continue;
            }
#pragma unroll
            for (int gj = 0; gj < GN; gj++) {
                const int j = n0 + gj * SN + tx * 4;
                if (j >= N) {
                    continue;
                }
                float *c = C + (size_t)i * ldc + j;
                const float *r = &acc[gi * 4 + u][gj * 4];
                if (vc && j + 3 < N) {
                    GAN_CHECK_ALIGN16(c);
                    float4 out = make_float4(r[0], r[1], r[2], r[3]);
                    if (beta != 0.0f) {
                        const float4 old = *reinterpret_cast<const float4 *>(c);
                        out.x = fmaf(beta, old.x, out.x);
                        out.y = fmaf(beta, old.y, out.y);
                        out.z = fmaf(beta, old.z, out.z);
                        out.w = fmaf(beta, old.w, out.w);
                    }
                    *reinterpret_cast<float4 *>(c) = out;
                } else {
#pragma unroll
                    for (int v = 0; v < 4; v++) {
                        if (j + v < N) {
                            c[v] = beta != 0.0f ? fmaf(beta, c[v], r[v]) : r[v];
                        }
                    }
                }
            }
        }
    }
}

/* sgemm_{s,m,l}_{nn,nt,tn,tt}: C (M×N) = op(A)·op(B) + beta·C, the tiled
   kernels, one per tile size and transpose pair: s = 32×32 tiles (64
   threads, 4×4 each), m = 64×64 (256 threads, 4×4), l = 128×128 (256
   threads, 8×8), all with the arguments of sgemm_tile.
   Launch: a 1-D block of (BM/TM)·(BN/TN) threads, grid (⌈N/BN⌉, ⌈M/BM⌉);
   the host splits M into slices of at most 65535·BM rows (gridDim.y). */
#define GAN_SGEMM(name, BM, BN, BK, TM, TN, TA, TB)                                                           \
    extern "C" __global__ void __launch_bounds__((BM / TM) * (BN / TN))                                      \
        name(int M, int N, int K, const float *__restrict__ A, int lda, const float *__restrict__ B, int ldb, \
             float beta, float *__restrict__ C, int ldc, int vec)                                             \
    {                                                                                                         \
        sgemm_tile<BM, BN, BK, TM, TN, TA, TB>(M, N, K, A, lda, B, ldb, beta, C, ldc, vec);                  \
    }

GAN_SGEMM(sgemm_s_nn, 32, 32, 16, 4, 4, false, false)
GAN_SGEMM(sgemm_s_nt, 32, 32, 16, 4, 4, false, true)
GAN_SGEMM(sgemm_s_tn, 32, 32, 16, 4, 4, true, false)
GAN_SGEMM(sgemm_s_tt, 32, 32, 16, 4, 4, true, true)
GAN_SGEMM(sgemm_m_nn, 64, 64, 16, 4, 4, false, false)
GAN_SGEMM(sgemm_m_nt, 64, 64, 16, 4, 4, false, true)
GAN_SGEMM(sgemm_m_tn, 64, 64, 16, 4, 4, true, false)
GAN_SGEMM(sgemm_m_tt, 64, 64, 16, 4, 4, true, true)
GAN_SGEMM(sgemm_l_nn, 128, 128, 8, 8, 8, false, false)
GAN_SGEMM(sgemm_l_nt, 128, 128, 8, 8, 8, false, true)
GAN_SGEMM(sgemm_l_tn, 128, 128, 8, 8, 8, true, false)
GAN_SGEMM(sgemm_l_tt, 128, 128, 8, 8, 8, true, true)

/* sgemm_naive: one thread per element of C, summing over k in order with
   fmaf. Same arguments as the tiled kernels (vec is ignored).
   Launch: block (16, 16), grid (⌈N/16⌉, ⌈M/16⌉). */
template <bool TA, bool TB>
__device__ __forceinline__ void sgemm_naive(int M, int N, int K, const float *__restrict__ A, int lda,
                                            const float *__restrict__ B, int ldb, float beta, float *__restrict__ C,
                                            int ldc)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= M || j >= N) {
        return;
    }
    float s = 0.0f;
    for (int k = 0; k < K; k++) {
        const float a = TA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        const float b = TB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        s = fmaf(a, b, s);
    }
    float *c = C + (size_t)i * ldc + j;
    *c = beta != 0.0f ? fmaf(beta, *c, s) : s;
}

#define GAN_SGEMM_NAIVE(name, TA, TB)                                                                         \
    extern "C" __global__ void __launch_bounds__(256)                                                         \
        name(int M, int N, int K, const float *__restrict__ A, int lda, const float *__restrict__ B, int ldb, \
             float beta, float *__restrict__ C, int ldc, int vec)                                             \
    {                                                                                                         \
        (void)vec;                                                                                            \
        sgemm_naive<TA, TB>(M, N, K, A, lda, B, ldb, beta, C, ldc);                                           \
    }

GAN_SGEMM_NAIVE(sgemm_naive_nn, false, false)
GAN_SGEMM_NAIVE(sgemm_naive_nt, false, true)
GAN_SGEMM_NAIVE(sgemm_naive_tn, true, false)
GAN_SGEMM_NAIVE(sgemm_naive_tt, true, true)

/* gemv_rows: y[r·incy] = Σ_k Mat[r·ldm + k]·x[k·incx] (+ beta·y[r·incy]) for
   r < R: one warp per row, lanes striding over k, products summed in
   float64 and reduced with a butterfly. Mat's rows are contiguous: the
   matrix of op(A)·x when A is not transposed, or of a·op(B) when B is. x
   and y are vectors with element strides incx, incy ≥ 1 (a column of a
   matrix, or a column block of a wider one).
   Launch: 256 threads (8 rows) per block, grid ⌈R/8⌉. */
extern "C" __global__ void __launch_bounds__(256)
    gemv_rows(int R, int K, const float *__restrict__ Mat, int ldm, const float *__restrict__ x, int incx, float beta,
              float *__restrict__ y, int incy)
{
    const int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (r >= R) {
        return; // the whole warp leaves together
    }
    const float *row = Mat + (size_t)r * ldm;
    double s = 0.0;
    for (int k = lane; k < K; k += 32) {
        s += (double)row[k] * (double)x[(size_t)k * incx];
    }
    s = warp_sum(s);
    if (lane == 0) {
        float *yr = y + (size_t)r * incy;
        *yr = beta != 0.0f ? fmaf(beta, *yr, (float)s) : (float)s;
    }
}

/* gemv_cols: y[c·incy] = Σ_k Mat[k·ldm + c]·x[k·incx] (+ beta·y[c·incy]) for
   c < Ncols: one thread per column (coalesced along the rows of Mat),
   summed in float64. Mat's columns are strided: the matrix of op(A)·x when
   A is transposed, or of a·op(B) when B is not. x and y as in gemv_rows.
   Launch: 256 threads per block, grid ⌈Ncols/256⌉. */
extern "C" __global__ void __launch_bounds__(256)
    gemv_cols(int Ncols, int K, const float *__restrict__ Mat, int ldm, const float *__restrict__ x, int incx,
              float beta, float *__restrict__ y, int incy)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= Ncols) {
        return;
    }
    double s = 0.0;
    for (int k = 0; k < K; k++) {
        s += (double)Mat[(size_t)k * ldm + c] * (double)x[(size_t)k * incx];
    }
    float *yc = y + (size_t)c * incy;
    *yc = beta != 0.0f ? fmaf(beta, *yc, (float)s) : (float)s;
}
