/* fused.cu: the fused ops of nn.Fused that the CUDA backend runs as one
   kernel (gpu/fused.go; MatMulBiasAct is the matmul and bias_act kernels
   launched back to back). Each does, element by element, the float32
   operations of the kernels it stands for, so the results are theirs bit
   for bit: act_forward and act_backward of common.cuh, axpby's
   fl(fl(alpha·a) + fl(beta·b)), col_sum's float64 order.

   axpby_act            y = alpha·a + beta·b; z = act(y)       (AxpbyAct)
   axpby_act_backward   y = alpha·a + beta·(dy·act′(ya))       (AxpbyActBackward)
   act_backward_col_sum dx = dy·act′(y); db = Σ_rows dx        (ActBackwardColSum) */
#include "common.cuh"

// ---- CUDA kernels

/* axpby_act: y, a, b, z have n contiguous elements; y = fl(alpha·a), plus
   fl(beta·b) when beta ≠ 0 (b is then read, else not), and z = act(y). y
   and z may be a, b or each other: each element is read before it is
   written, by one thread.
   Launch: 1-D grid-stride over n, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    axpby_act(int n, float *y, const float *a, const float *b, float alpha, float beta, float *z, int act, float slope)
{
    GAN_FOR_EACH(i, n)
    {
        float v = __fmul_rn(alpha, a[i]);
        if (beta != 0.0f) {
            v = __fadd_rn(v, __fmul_rn(beta, b[i]));
        }
        y[i] = v;
        z[i] = act_forward(v, act, slope);
    }
}

/* axpby_act_backward: y, a, dy, ya have n contiguous elements;
   y = fl(alpha·a), plus fl(beta·act_backward(dy, ya)) when beta ≠ 0 (dy
   and ya are then read, else not). y may be any input.
   Launch: 1-D grid-stride over n, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    axpby_act_backward(int n, float *y, const float *a, float alpha, float beta, const float *dy, const float *ya, int act,
                       float slope)
{
    GAN_FOR_EACH(i, n)
    {
        float v = __fmul_rn(alpha, a[i]);
        if (beta != 0.0f) {
            v = __fadd_rn(v, __fmul_rn(beta, act_backward(dy[i], ya[i], act, slope)));
        }
        y[i] = v;
    }
}

/* act_backward_col_sum: dx, dy, y are M×N contiguous, db is 1×N. col_sum
   (bias.cu) with each element of dy replaced by dx = act_backward(dy, y),
   which the thread that sums it also stores: each block owns 32 columns,
   its 8 rows of 32 threads take rows ty, ty+8, … of one column each and sum
   them in float64, the 8 partial sums are added in order ty = 0…7, and db
   = float32 of the total. dx may be dy.
   Launch: block (32, 8), grid ⌈N/32⌉. */
extern "C" __global__ void __launch_bounds__(256)
    act_backward_col_sum(int M, int N, float *dx, const float *dy, const float *__restrict__ y, int act, float slope,
                         float *__restrict__ db)
{
    __shared__ double part[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    double s = 0.0;
    if (j < N) {
        for (int i = ty; i < M; i += 8) {
            const size_t k = (size_t)i * N + j;
            const float d = act_backward(dy[k], y[k], act, slope);
            dx[k] = d;
            s += (double)d;
        }
    }
    col_sum_store(part, s, j, N, 0.0f, db);
}
