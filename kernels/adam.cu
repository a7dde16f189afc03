/* adam.cu: one step of PyTorch's single-tensor Adam (no weight decay, no
   amsgrad) over a flat parameter arena (Adam of nn.Backend).

   The host computes, in float64 (math.Pow, math.Sqrt), exactly as the CPU
   backend: bc1 = 1 − β1^t, bc2 = 1 − β2^t, step_size = float32(lr/bc1),
   bc2sqrt = float32(√bc2), w1 = float32(1 − β1), w2 = float32(1 − β2).
   Per element, each operation rounded to float32 in this order:
     m     = m + w1·(g − m)                  torch.lerp(m, g, 1 − β1)
     v     = v·β2 + (w2·g)·g                 v.mul_(β2).addcmul_(g, g, 1 − β2)
     denom = √v / bc2sqrt + eps              (√ correctly rounded)
     p     = p − step_size·(m / denom)       p.addcdiv_(m, denom, −step_size) */
#include "common.cuh"

// ---- CUDA kernels

/* adam: p, g, m, v have n elements.
   Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    adam(int n, float *__restrict__ p, const float *__restrict__ g, float *__restrict__ m, float *__restrict__ v,
         float w1, float beta2, float w2, float step_size, float bc2sqrt, float eps)
{
    GAN_FOR_EACH(i, n)
    {
        const float gi = g[i];
        const float mi = __fadd_rn(m[i], __fmul_rn(w1, __fsub_rn(gi, m[i])));
        const float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(w2, gi), gi));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2sqrt), eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = __fsub_rn(p[i], __fmul_rn(step_size, __fdiv_rn(mi, denom)));
    }
}
