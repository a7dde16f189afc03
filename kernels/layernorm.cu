/* layernorm.cu: layer normalisation over the rows of a matrix, forward and
   backward (LayerNorm and LayerNormBackward of nn.Backend).

   layer_norm_forward     y = (x − μ)·r·γ + β per row, storing μ and r
   layer_norm_backward    dx from dy and the forward pass's x, μ, r, γ
   layer_norm_param_grad  dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy

   x, y, dx, dy are M×N and contiguous; mean and rstd are M×1; gamma, beta,
   dgamma, dbeta are 1×N rows or null pointers (none). Per row, μ = Σx/N
   and σ² = Σ(x − μ)²/N (the biased variance, two passes) are computed in
   float64, r = 1/√(σ² + eps) too, and μ and r are rounded to float32 once;
   every per-element step after that uses the rounded μ and r and is a
   float32 operation rounded on its own:
       x̂ = fl(fl(x − μ)·r),  y = fl(fl(x̂·γ) + β)
   as the CPU backend does, so y is bit-exact wherever μ and r are. The
   float64 row and column sums run in an order fixed by the launch
   configuration (lanes, then a butterfly; or eight row-strided partial sums
   added in order), not the CPU's column order: μ, r, dγ and dβ agree with
   the CPU to the rounding of float64 sums, i.e. to 1 float32 ulp, and are
   identical from run to run (no atomics). */
#include "common.cuh"

// ---- CUDA kernels

/* layer_norm_forward: x and y are M×N (y may be x), mean and rstd M×1,
   gamma and beta 1×N or null. One warp per row: lanes sum columns lane,
   lane+32, … in float64, warp_sum adds the 32 partial sums by a butterfly;
   a first pass gives μ, a second σ², a third writes y.
   Launch: 256 threads (8 rows) per block, grid ⌈M/8⌉. */
extern "C" __global__ void __launch_bounds__(256)
    layer_norm_forward(int M, int N, float *y, float *__restrict__ mean, float *__restrict__ rstd, const float *x,
                       const float *__restrict__ gamma, const float *__restrict__ beta, float eps)
{
    const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (row >= M) {
        return; // the whole warp leaves together
    }
    const float *xr = x + (size_t)row * N;
    float *yr = y + (size_t)row * N;
    double s = 0.0;
    for (int j = lane; j < N; j += 32) {
        s = __dadd_rn(s, (double)xr[j]);
    }
    const double mu = __ddiv_rn(warp_sum(s), (double)N);
    double q = 0.0;
    for (int j = lane; j < N; j += 32) {
        const double d = __dsub_rn((double)xr[j], mu);
        q = __dadd_rn(q, __dmul_rn(d, d));
    }
    const double var = __ddiv_rn(warp_sum(q), (double)N);
    const double r = __ddiv_rn(1.0, sqrt(__dadd_rn(var, (double)eps)));
    const float mf = (float)mu, rf = (float)r;
    if (lane == 0) {
        mean[row] = mf;
        rstd[row] = rf;
    }
    for (int j = lane; j < N; j += 32) {
        float v = __fmul_rn(__fsub_rn(xr[j], mf), rf);
        if (gamma != nullptr) {
            v = __fmul_rn(v, gamma[j]);
        }
        if (beta != nullptr) {
            v = __fadd_rn(v, beta[j]);
        }
        yr[j] = v;
    }
}

/* layer_norm_backward: dx, dy, x are M×N (dx may be dy: each lane reads
   its elements of dy before writing them), mean and rstd M×1, gamma 1×N or
   null. Per element g = fl(dy·γ) (dy without γ) and x̂ = fl(fl(x − μ)·r);
   per row a = Σg/N and b = Σ g·x̂/N in float64 (one warp per row, as in
   layer_norm_forward); then dx = float32(r·((g − a) − x̂·b)) in float64.
   Launch: 256 threads (8 rows) per block, grid ⌈M/8⌉. */
extern "C" __global__ void __launch_bounds__(256)
    layer_norm_backward(int M, int N, float *dx, const float *dy, const float *__restrict__ x,
                        const float *__restrict__ mean, const float *__restrict__ rstd,
                        const float *__restrict__ gamma)
{
    const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (row >= M) {
        return; // the whole warp leaves together
    }
    const float *xr = x + (size_t)row * N;
    const float *dyr = dy + (size_t)row * N;
    float *dxr = dx + (size_t)row * N;
    const float mf = mean[row], rf = rstd[row];
    double sg = 0.0, sgx = 0.0;
    for (int j = lane; j < N; j += 32) {
        const float xh = __fmul_rn(__fsub_rn(xr[j], mf), rf);
        const float g = gamma != nullptr ? __fmul_rn(dyr[j], gamma[j]) : dyr[j];
        sg = __dadd_rn(sg, (double)g);
        sgx = __dadd_rn(sgx, __dmul_rn((double)g, (double)xh));
    }
    const double a = __ddiv_rn(warp_sum(sg), (double)N);
    const double b = __ddiv_rn(warp_sum(sgx), (double)N);
    const double r = (double)rf;
    for (int j = lane; j < N; j += 32) {
        const float xh = __fmul_rn(__fsub_rn(xr[j], mf), rf);
        const float g = gamma != nullptr ? __fmul_rn(dyr[j], gamma[j]) : dyr[j];
        dxr[j] = (float)__dmul_rn(r, __dsub_rn(__dsub_rn((double)g, a), __dmul_rn((double)xh, b)));
    }
}

/* layer_norm_param_grad: dy and x are M×N, mean and rstd M×1; dgamma and
   dbeta are 1×N or null (not computed), and are overwritten. The host runs
   it before layer_norm_backward, which may overwrite dy. Each block
   owns 32 columns; its 8 rows of 32 threads sum rows ty, ty+8, ty+16, … of
   one column each in float64 (dy·x̂ with x̂ as in layer_norm_backward, and
   dy), the 8 partial sums are added in order ty = 0…7 from shared memory,
   and the results are rounded to float32 (col_sum's layout).
   Launch: block (32, 8), grid ⌈N/32⌉. */
extern "C" __global__ void __launch_bounds__(256)
    layer_norm_param_grad(int M, int N, const float *__restrict__ dy, const float *__restrict__ x,
                          const float *__restrict__ mean, const float *__restrict__ rstd, float *__restrict__ dgamma,
                          float *__restrict__ dbeta)
{
    __shared__ double pg[8][33], pb[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    double sg = 0.0, sb = 0.0;
    if (j < N) {
        for (int i = ty; i < M; i += 8) {
            const float d = dy[(size_t)i * N + j];
            const float xh = __fmul_rn(__fsub_rn(x[(size_t)i * N + j], mean[i]), rstd[i]);
            sg = __dadd_rn(sg, __dmul_rn((double)d, (double)xh));
            sb = __dadd_rn(sb, (double)d);
        }
    }
    pg[ty][tx] = sg;
    pb[ty][tx] = sb;
    __syncthreads();
    if (ty == 0 && j < N) {
        double tg = pg[0][tx], tb = pb[0][tx];
        for (int r = 1; r < 8; r++) {
            tg = __dadd_rn(tg, pg[r][tx]);
            tb = __dadd_rn(tb, pb[r][tx]);
        }
        if (dgamma != nullptr) {
            dgamma[j] = (float)tg;
        }
        if (dbeta != nullptr) {
            dbeta[j] = (float)tb;
        }
    }
}
