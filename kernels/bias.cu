/* bias.cu: the bias of a Linear layer, forward and backward.

   bias_act  y = act(y + b) in place (AddBias and BiasAct of nn.Backend).
   col_sum   db = beta·db + Σ_rows dy (the bias gradient, ColSum). */
#include "common.cuh"

// ---- CUDA kernels

/* bias_act: y is M×N, b is 1×N (ignored when has_bias is 0, so that −0
   survives an activation without bias). y + b is rounded to float32, then
   the activation is applied as act_forward does.
   Launch: 1-D grid-stride over M·N elements, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    bias_act(int M, int N, float *__restrict__ y, const float *__restrict__ b, int has_bias, int act, float slope)
{
    GAN_FOR_EACH(i, M * N)
    {
        float v = y[i];
        if (has_bias) {
            v = __fadd_rn(v, b[i % (unsigned)N]);
        }
        y[i] = act_forward(v, act, slope);
    }
}

/* col_sum: dy is M×N, db is 1×N. Each block owns 32 columns; its 8 rows of
   32 threads sum rows ty, ty+8, ty+16, … of one column each in float64, the
   8 partial sums are added in order ty = 0…7 from shared memory, and the
   result is rounded to float32 and added to float32(beta·db) (db is not
   read when beta = 0).
   Launch: block (32, 8), grid ⌈N/32⌉. */
extern "C" __global__ void __launch_bounds__(256)
    col_sum(int M, int N, const float *__restrict__ dy, float beta, float *__restrict__ db)
{
    __shared__ double part[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    double s = 0.0;
    if (j < N) {
        for (int i = ty; i < M; i += 8) {
            s += (double)dy[(size_t)i * N + j];
        }
    }
    col_sum_store(part, s, j, N, beta, db);
}
