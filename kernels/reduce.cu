/* reduce.cu: row reductions.

   row_sum_sq  dst[i] = Σ_j x[i][j]² (RowSumSq): squared L2 norms of rows. */
#include "common.cuh"

// ---- CUDA kernels

/* row_sum_sq: x is M×N, dst is M×1. Block i owns row i: thread t sums
   columns t, t+256, t+512, … of it in float64 (explicitly rounded steps, no
   FMA contraction), the 256 partial sums are added by a fixed tree in
   shared memory (halving strides 128, 64, …, 1), and the result is rounded
   to float32. Deterministic; the CPU backend sums in column order, so the
   two agree to 1 ulp.
   Launch: grid M (one block per row), 256 threads. */
extern "C" __global__ void __launch_bounds__(256)
    row_sum_sq(int M, int N, const float *__restrict__ x, float *__restrict__ dst)
{
    __shared__ double part[256];
    const int t = threadIdx.x;
    const int i = blockIdx.x;
    const float *row = x + (size_t)i * N;
    double s = 0.0;
    for (int j = t; j < N; j += 256) {
        const double v = (double)row[j];
        s = __dadd_rn(s, __dmul_rn(v, v));
    }
    part[t] = s;
    __syncthreads();
    for (int stride = 128; stride > 0; stride >>= 1) {
        if (t < stride) {
            part[t] = __dadd_rn(part[t], part[t + stride]);
        }
        __syncthreads();
    }
    if (t == 0) {
        dst[i] = (float)part[0];
    }
}
