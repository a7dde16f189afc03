/* loss.cu: the fused losses of nn.Backend, with their statistics written to
   device memory (no host synchronisation).

   sigmoid_bce  sigmoid + binary cross-entropy on logits (SigmoidBCE)
   softmax      row softmax (Softmax)
   softmax_ce   row softmax + cross-entropy on logits (SoftmaxCE)

   Per element the formulas are the CPU backend's, in float64 where it uses
   float64; the sums are float64 but in a different (fixed) order, so the
   statistics agree with the CPU to float32 rounding, not bit for bit. */
#include "common.cuh"

// ---- CUDA kernels

/* sigmoid_bce: x (logits), t (targets) and grad have n elements; grad may
   be x. Per element, with s = sigmoid64(x) (common.cuh):
     grad = scale·(float32(s) − t)                   (float32 operations)
     loss = max(x, 0) − x·t + log1p(exp(−|x|))       (float64, NaN propagates)
   stats[0] = float32(Σ loss / n), stats[1] = float32(Σ s / n).
   Launch: one block of 512 threads (n is a batch of logits). */
extern "C" __global__ void __launch_bounds__(512)
    sigmoid_bce(int n, float *grad, float *__restrict__ stats, const float *x, const float *__restrict__ t,
                float scale)
{
    double ls = 0.0, ss = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float xv = x[i], tv = t[i];
        const double xd = (double)xv;
        const double s = sigmoid64(xd);
        const double mx = xd > 0.0 ? xd : (xd != xd ? xd : 0.0); // math.Max(x, 0)
        ls += __dadd_rn(__dsub_rn(mx, __dmul_rn(xd, (double)tv)), log1p(exp(-fabs(xd))));
        ss += s;
        grad[i] = __fmul_rn(scale, __fsub_rn((float)s, tv));
    }
    block_sum2(ls, ss);
    if (threadIdx.x == 0) {
        stats[0] = (float)(ls / (double)n);
        stats[1] = (float)(ss / (double)n);
    }
}

/* softmax: x and y are M×N; y may be x. One warp per row: the row maximum
   mx and Σ exp(x − mx) in float64, then y = float32(exp(x − mx)/Σ).
   Launch: 256 threads (8 rows) per block, grid ⌈M/8⌉. */
extern "C" __global__ void __launch_bounds__(256) softmax(int M, int N, float *y, const float *x)
{
    const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (row >= M) {
        return; // the whole warp leaves together
    }
    const float *xr = x + (size_t)row * N;
    float *yr = y + (size_t)row * N;
    double mx = GAN_NEG_INF;
    for (int j = lane; j < N; j += 32) {
        mx = fmax(mx, (double)xr[j]);
    }
    mx = warp_max(mx);
    double sum = 0.0;
    for (int j = lane; j < N; j += 32) {
        sum += exp((double)xr[j] - mx);
    }
    sum = warp_sum(sum);
    for (int j = lane; j < N; j += 32) {
        yr[j] = (float)__ddiv_rn(exp((double)xr[j] - mx), sum);
    }
}

/* argmax_merge keeps in (v, i) the larger of (v, i) and (ov, oi), the
   smaller index on ties; i = -1 means "nothing yet". */
__device__ __forceinline__ void argmax_merge(float &v, int &i, float ov, int oi)
{
    if (oi >= 0 && (i < 0 || ov > v || (ov == v && oi < i))) {
        v = ov;
        i = oi;
    }
}

/* warp_argmax returns, in every lane, the first index of the maximum of
   r[0…N) (NaNs are not ordered: rows with NaN give some index). */
__device__ __forceinline__ int warp_argmax(const float *r, int N, int lane, float *best)
{
    float v = 0.0f;
    int i = -1;
    for (int j = lane; j < N; j += 32) {
        argmax_merge(v, i, r[j], j);
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(GAN_FULL_MASK, v, o);
        const int oi = __shfl_xor_sync(GAN_FULL_MASK, i, o);
        argmax_merge(v, i, ov, oi);
    }
    *best = v;
    return i;
}

/* softmax_ce: x (logits), t (target rows summing to 1) and grad are M×N;
   grad may be x. Per row, in float64, with mx the row maximum and
   lse = mx + log Σ exp(x − mx):
     grad_j = scale·(float32(exp(x_j − mx)/Σ) − t_j)   (float32 operations)
     loss   = −Σ_{j: t_j ≠ 0} t_j·(x_j − lse)
   and the row is correct when argmax x = argmax t (first index wins).
   stats[0] = float32(Σ loss / M), stats[1] = float32(correct rows / M).
   Launch: one block of 1024 threads; warp w does rows w, w+32, … */
extern "C" __global__ void __launch_bounds__(1024)
    softmax_ce(int M, int N, float *grad, float *__restrict__ stats, const float *x, const float *__restrict__ t,
               float scale)
{
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    double loss = 0.0, correct = 0.0;
    for (int row = w; row < M; row += nw) {
        const float *xr = x + (size_t)row * N;
        const float *tr = t + (size_t)row * N;
        float *gr = grad + (size_t)row * N;
        float xmax, tmax;
        const int ix = warp_argmax(xr, N, lane, &xmax);
        const int it = warp_argmax(tr, N, lane, &tmax);
        (void)tmax;
        const double mx = (double)xmax;
        double sum = 0.0;
        for (int j = lane; j < N; j += 32) {
            sum += exp((double)xr[j] - mx);
        }
        sum = warp_sum(sum);
        const double lse = __dadd_rn(mx, log(sum));
        double rl = 0.0;
        for (int j = lane; j < N; j += 32) {
            const float xv = xr[j], tv = tr[j];
            if (tv != 0.0f) {
                rl = __dsub_rn(rl, __dmul_rn((double)tv, __dsub_rn((double)xv, lse)));
            }
            const double p = __ddiv_rn(exp((double)xv - mx), sum);
            gr[j] = __fmul_rn(scale, __fsub_rn((float)p, tv));
        }
        rl = warp_sum(rl);
        if (lane == 0) {
            loss += rl;
            correct += ix == it ? 1.0 : 0.0;
        }
    }
    block_sum2(loss, correct);
    if (threadIdx.x == 0) {
        stats[0] = (float)(loss / (double)M);
        stats[1] = (float)(correct / (double)M);
    }
}
