/* batchnorm.cu: batch normalisation over the columns of a matrix, forward
   and backward (BatchNorm and BatchNormBackward of nn.Backend).

   batch_norm_col_sum     per chunk of rows: Σx of each column
   batch_norm_col_sqdev   per chunk of rows: Σ(x − μ)² of each column
   batch_norm_forward     μ̃, σ̃² stored; y = (x − μ̃)·r·γ + β
   batch_norm_grad_sums   per chunk of rows: Σg, Σg·x̂, Σdy·x̂, Σdy of each column
   batch_norm_backward    dγ, dβ stored; dx from dy and the forward pass's x, μ̃, σ̃², γ

   x, y, dx, dy are M×N (N channels of M values, channels-last) and
   contiguous; mean, variance, gamma, beta, dgamma, dbeta are 1×N rows,
   gamma, beta, dgamma and dbeta possibly null pointers (none). Per column,
   μ = Σx/M and σ² = Σ(x − μ)²/M (the biased variance, a second pass with
   the float64 μ) are computed in float64 and rounded to float32 once, to
   μ̃ and σ̃², which are stored; r = 1/√(σ̃² + eps) is computed in float64
   from the rounded σ̃² and rounded once (so the backward pass, given the
   same σ̃², finds the same r). Every per-element step after that is a
   float32 operation rounded on its own:
       x̂ = fl(fl(x − μ̃)·r),  y = fl(fl(x̂·γ) + β)
   as the CPU backend does. Backward, with g = fl(dy·γ) (dy without γ),
   a = Σg/M and c = Σg·x̂/M per column in float64:
       dx = float32(r·((g − a) − x̂·c))  in float64, rounded once.

   Layout of every kernel: block (32, 8), grid (⌈N/32⌉, P). A block owns 32
   columns (tx) and one chunk of `rows` consecutive rows (blockIdx.y; the
   host picks rows and P = ⌈M/rows⌉ from M and N alone, never from the
   device); its 8 rows of threads take rows ty, ty+8, … of the chunk. The
   column sums are two-level: each *_sums/col_* kernel writes one float64
   partial sum per (chunk, column) to the scratch `part` (the 8 row-strided
   sums of a thread column added in order ty = 0…7 from shared memory), and
   the kernel that needs a total adds the P partials of its column in a
   fixed order (bn_col_total), every block of the column the same way, so
   all of them find the same μ̃, r, a and c. The order differs from the CPU's
   (first row to last), so μ̃, σ̃², dγ and dβ agree with it to the rounding
   of float64 sums, i.e. to 1 float32 ulp; results are identical from run to
   run (no atomics).

   part holds Q·P·N doubles, quantity q of chunk p and column j at
   (q·P + p)·N + j: Q = 2 forward (Σx, Σ(x − μ)²), Q = 4 backward (Σg,
   Σg·x̂, Σdy·x̂, Σdy). */
#include "common.cuh"

// ---- helpers

/* bn_block_sum adds v over the 8 threads of column threadIdx.x, in order
   ty = 0…7 through the block's shared sh; every thread gets its column's
   total. Every thread of the block must call it (it holds two barriers). */
__device__ __forceinline__ double bn_block_sum(double v, double (*sh)[33])
{
    sh[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    double t = sh[0][threadIdx.x];
    for (int r = 1; r < 8; r++) {
        t = __dadd_rn(t, sh[r][threadIdx.x]);
    }
    __syncthreads(); // sh may be written again
    return t;
}

/* bn_col_total adds the gridDim.y per-chunk partial sums part[p·N + j] of
   column j: thread ty those of chunks ty, ty+8, … in order, then
   bn_block_sum; the same order in every block. Every thread of the block
   must call it; j ≥ N gives 0. */
__device__ __forceinline__ double bn_col_total(const double *part, int N, int j, double (*sh)[33])
{
    double s = 0.0;
    if (j < N) {
        for (int p = threadIdx.y; p < (int)gridDim.y; p += 8) {
            s = __dadd_rn(s, part[(size_t)p * N + j]);
        }
    }
    return bn_block_sum(s, sh);
}

/* bn_rstd is r = 1/√(σ̃² + eps) in float64 from the stored float32
   variance, rounded once. */
__device__ __forceinline__ float bn_rstd(float variance, float eps)
{
    return (float)__ddiv_rn(1.0, sqrt(__dadd_rn((double)variance, (double)eps)));
}

// ---- CUDA kernels

/* batch_norm_col_sum: x is M×N; part (P×N doubles) receives, for chunk p
   (rows [p·rows, min(M, (p+1)·rows))) and column j, Σx over the chunk.
   Launch: block (32, 8), grid (⌈N/32⌉, P) with P = ⌈M/rows⌉. */
extern "C" __global__ void __launch_bounds__(256)
    batch_norm_col_sum(int M, int N, int rows, const float *__restrict__ x, double *__restrict__ part)
{
    __shared__ double sh[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows, r1 = M - r0 < rows ? M : r0 + rows;
    double s = 0.0;
    if (j < N) {
        for (int i = r0 + ty; i < r1; i += 8) {
            s = __dadd_rn(s, (double)x[(size_t)i * N + j]);
        }
    }
    s = bn_block_sum(s, sh);
    if (ty == 0 && j < N) {
        part[(size_t)blockIdx.y * N + j] = s;
    }
}

/* batch_norm_col_sqdev: x is M×N; part holds batch_norm_col_sum's P×N
   partial sums, from which μ = Σx/M (float64) is found, followed by P×N
   doubles that receive Σ(x − μ)² per chunk and column.
   Launch: block (32, 8), grid (⌈N/32⌉, P), as batch_norm_col_sum. */
extern "C" __global__ void __launch_bounds__(256)
    batch_norm_col_sqdev(int M, int N, int rows, const float *__restrict__ x, double *__restrict__ part)
{
    __shared__ double sh[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows, r1 = M - r0 < rows ? M : r0 + rows;
    const double mu = __ddiv_rn(bn_col_total(part, N, j, sh), (double)M);
    double q = 0.0;
    if (j < N) {
        for (int i = r0 + ty; i < r1; i += 8) {
            const double d = __dsub_rn((double)x[(size_t)i * N + j], mu);
            q = __dadd_rn(q, __dmul_rn(d, d));
        }
    }
    q = bn_block_sum(q, sh);
    if (ty == 0 && j < N) {
        part[((size_t)gridDim.y + blockIdx.y) * N + j] = q;
    }
}

/* batch_norm_forward: x and y are M×N (y may be x: each thread reads its
   elements of x before writing them, and no block reads another's rows),
   mean and variance 1×N, gamma and beta 1×N or null; part holds the 2×P×N
   partial sums of batch_norm_col_sum and batch_norm_col_sqdev. Each block
   finds μ, σ² of its columns (bn_col_total), rounds them to μ̃, σ̃² (which
   the blocks of chunk 0 store), computes r from σ̃², and writes y for its
   rows. Launch: block (32, 8), grid (⌈N/32⌉, P), as batch_norm_col_sum. */
extern "C" __global__ void __launch_bounds__(256)
    batch_norm_forward(int M, int N, int rows, float *y, float *__restrict__ mean, float *__restrict__ variance,
                       const float *x, const float *__restrict__ gamma, const float *__restrict__ beta,
                       const double *__restrict__ part, float eps)
{
    __shared__ double sh[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows, r1 = M - r0 < rows ? M : r0 + rows;
    const double mu = __ddiv_rn(bn_col_total(part, N, j, sh), (double)M);
    const double var = __ddiv_rn(bn_col_total(part + (size_t)gridDim.y * N, N, j, sh), (double)M);
    if (j >= N) {
        return; // no barrier follows
    }
    const float mf = (float)mu, vf = (float)var, rf = bn_rstd(vf, eps);
    if (blockIdx.y == 0 && ty == 0) {
        mean[j] = mf;
        variance[j] = vf;
    }
    const float gj = gamma != nullptr ? gamma[j] : 0.0f;
    const float bj = beta != nullptr ? beta[j] : 0.0f;
    for (int i = r0 + ty; i < r1; i += 8) {
        const size_t k = (size_t)i * N + j;
        float v = __fmul_rn(__fsub_rn(x[k], mf), rf);
        if (gamma != nullptr) {
            v = __fmul_rn(v, gj);
        }
        if (beta != nullptr) {
            v = __fadd_rn(v, bj);
        }
        y[k] = v;
    }
}

/* batch_norm_grad_sums: dy and x are M×N, mean and variance 1×N (the
   forward pass's μ̃ and σ̃²), gamma 1×N or null. With r = bn_rstd(σ̃², eps),
   x̂ = fl(fl(x − μ̃)·r) and g = fl(dy·γ) (dy without γ), part (4×P×N
   doubles) receives per chunk and column Σg, Σg·x̂, Σdy·x̂ and Σdy, in
   that order of quantities. Launch: block (32, 8), grid (⌈N/32⌉, P), as
   batch_norm_col_sum. */
extern "C" __global__ void __launch_bounds__(256)
    batch_norm_grad_sums(int M, int N, int rows, const float *__restrict__ dy, const float *__restrict__ x,
                         const float *__restrict__ mean, const float *__restrict__ variance,
                         const float *__restrict__ gamma, float eps, double *__restrict__ part)
{
    __shared__ double sh[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows, r1 = M - r0 < rows ? M : r0 + rows;
    double sg = 0.0, sgx = 0.0, sdx = 0.0, sd = 0.0;
    if (j < N) {
        const float mf = mean[j], rf = bn_rstd(variance[j], eps);
        const float gj = gamma != nullptr ? gamma[j] : 1.0f;
        for (int i = r0 + ty; i < r1; i += 8) {
            const size_t k = (size_t)i * N + j;
            const float d = dy[k];
            const float xh = __fmul_rn(__fsub_rn(x[k], mf), rf);
            const float g = gamma != nullptr ? __fmul_rn(d, gj) : d;
            sg = __dadd_rn(sg, (double)g);
            sgx = __dadd_rn(sgx, __dmul_rn((double)g, (double)xh));
            sdx = __dadd_rn(sdx, __dmul_rn((double)d, (double)xh));
            sd = __dadd_rn(sd, (double)d);
        }
    }
    sg = bn_block_sum(sg, sh);
    sgx = bn_block_sum(sgx, sh);
    sdx = bn_block_sum(sdx, sh);
    sd = bn_block_sum(sd, sh);
    if (ty == 0 && j < N) {
        const size_t P = gridDim.y, p = blockIdx.y;
        part[p * N + j] = sg;
        part[(P + p) * N + j] = sgx;
        part[(2 * P + p) * N + j] = sdx;
        part[(3 * P + p) * N + j] = sd;
    }
}

/* batch_norm_backward: dx, dy and x are M×N (dx may be dy: every sum was
   taken by batch_norm_grad_sums before, and each thread reads its elements
   of dy before writing them), mean and variance 1×N, gamma 1×N or null,
   dgamma and dbeta 1×N or null (not computed); part holds
   batch_norm_grad_sums's 4×P×N partial sums. Each block finds a = Σg/M and
   c = Σg·x̂/M of its columns (bn_col_total), the blocks of chunk 0 store
   dγ = float32(Σdy·x̂) and dβ = float32(Σdy) (overwriting them), and every
   block writes dx = float32(r·((g − a) − x̂·c)) (float64) for its rows.
   Launch: block (32, 8), grid (⌈N/32⌉, P), as batch_norm_col_sum. */
extern "C" __global__ void __launch_bounds__(256)
    batch_norm_backward(int M, int N, int rows, float *dx, float *__restrict__ dgamma, float *__restrict__ dbeta,
                        const float *dy, const float *__restrict__ x, const float *__restrict__ mean,
                        const float *__restrict__ variance, const float *__restrict__ gamma, float eps,
                        const double *__restrict__ part)
{
    __shared__ double sh[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    const int r0 = blockIdx.y * rows, r1 = M - r0 < rows ? M : r0 + rows;
    const size_t PN = (size_t)gridDim.y * N;
    const double a = __ddiv_rn(bn_col_total(part, N, j, sh), (double)M);
    const double c = __ddiv_rn(bn_col_total(part + PN, N, j, sh), (double)M);
    // dgamma, dbeta and blockIdx.y are the same for the whole block, so
    // the barriers of bn_col_total are reached by all threads or none.
    if (blockIdx.y == 0 && dgamma != nullptr) {
        const double t = bn_col_total(part + 2 * PN, N, j, sh);
        if (ty == 0 && j < N) {
            dgamma[j] = (float)t;
        }
    }
    if (blockIdx.y == 0 && dbeta != nullptr) {
        const double t = bn_col_total(part + 3 * PN, N, j, sh);
        if (ty == 0 && j < N) {
            dbeta[j] = (float)t;
        }
    }
    if (j >= N) {
        return;
    }
    const float mf = mean[j], rf = bn_rstd(variance[j], eps);
    const float gj = gamma != nullptr ? gamma[j] : 1.0f;
    const double r = (double)rf;
    for (int i = r0 + ty; i < r1; i += 8) {
        const size_t k = (size_t)i * N + j;
        const float d = dy[k];
        const float xh = __fmul_rn(__fsub_rn(x[k], mf), rf);
        const float g = gamma != nullptr ? __fmul_rn(d, gj) : d;
        dx[k] = (float)__dmul_rn(r, __dsub_rn(__dsub_rn((double)g, a), __dmul_rn((double)xh, c)));
    }
}
