/* act.cu: elementwise activations (Activate and ActBackward of nn.Backend).

   act_forward_k   y = act(x); y may be x.
   act_backward_k  dx = dy·act′, from the activation's output y; dx may be dy.
   The formulas are act_forward and act_backward of common.cuh. */
#include "common.cuh"

// ---- CUDA kernels

/* act_forward_k: y, x have n elements.
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256) act_forward_k(int n, float *y, const float *x, int act, float slope)
{
    GAN_FOR_EACH(i, n)
    {
        y[i] = act_forward(x[i], act, slope);
    }
}

/* act_backward_k: dx, dy, y have n elements.
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    act_backward_k(int n, float *dx, const float *dy, const float *__restrict__ y, int act, float slope)
{
    GAN_FOR_EACH(i, n)
    {
        dx[i] = act_backward(dy[i], y[i], act, slope);
    }
}
