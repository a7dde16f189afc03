/* dropout.cu: PyTorch's training-mode dropout with masks from the shared
   Philox generator (Dropout and DropoutBackward of nn.Backend).

   dropout_forward   mask and y = x ⊙ mask
   dropout_backward  dx = dy ⊙ mask

   Element i of the view is kept iff px_uniform(word i%4 of block i/4) <
   keep, keep = float32(1 − p); its mask is then scale = float32(1/(1 − p))
   (computed in float64 on the host), else 0, and y = x·mask, one float32
   product: the CPU backend's rule, bit for bit. */
#include "common.cuh"

// ---- CUDA kernels

/* dropout_forward: y, mask, x have n elements; (seed, stream) is the
   nn.RandKey. One thread per Philox block, i.e. per 4 elements.
   Launch: 1-D grid-stride over ⌈n/4⌉ quads, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    dropout_forward(int n, float *y, float *__restrict__ mask, const float *x, float keep, float scale,
                    unsigned long long seed, unsigned long long stream)
{
    GAN_FOR_EACH(q, (n + 3) / 4)
    {
        const px_u4 w = px_block(seed, stream, q);
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const unsigned i = q * 4 + u;
            if (i < (unsigned)n) {
                const float m = px_uniform(px_word(w, u)) < keep ? scale : 0.0f;
                mask[i] = m;
                y[i] = __fmul_rn(x[i], m);
            }
        }
    }
}

/* dropout_backward: z = x ⊙ y over n elements (dx = dy ⊙ mask); z may
   be x. Launch: 1-D grid-stride, 256 threads per block. */
extern "C" __global__ void __launch_bounds__(256)
    dropout_backward(int n, float *z, const float *x, const float *y)
{
    GAN_FOR_EACH(i, n)
    {
        z[i] = __fmul_rn(x[i], y[i]);
    }
}
