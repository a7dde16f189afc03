/* random.cu: random fills from the shared Philox generator, bit for bit
   those of the CPU backend (RandUniform and RandNormal of nn.Backend).

   rand_uniform  dst[i] = lo + span·Uniform(key, i), span = hi − lo rounded
                 to float32 on the host, each operation rounded to float32.
   rand_normal   dst[i] = mean + std·Normal(key, i), likewise. */
#include "common.cuh"

// ---- CUDA kernels

/* rand_uniform: dst has n elements. One thread per Philox block (4
   elements). Launch: 1-D grid-stride over ⌈n/4⌉ quads, 256 threads. */
extern "C" __global__ void __launch_bounds__(256)
    rand_uniform(int n, float *__restrict__ dst, float lo, float span, unsigned long long seed,
                 unsigned long long stream)
{
    GAN_FOR_EACH(q, (n + 3) / 4)
    {
        const px_u4 w = px_block(seed, stream, q);
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const unsigned i = q * 4 + u;
            if (i < (unsigned)n) {
                dst[i] = __fadd_rn(lo, __fmul_rn(span, px_uniform(px_word(w, u))));
            }
        }
    }
}

/* rand_normal: dst has n elements. One thread per Philox block: words 0, 1
   give elements 4q (cosine) and 4q+1 (sine), words 2, 3 give 4q+2 and 4q+3.
   Launch: 1-D grid-stride over ⌈n/4⌉ quads, 256 threads. */
extern "C" __global__ void __launch_bounds__(256)
    rand_normal(int n, float *__restrict__ dst, float mean, float std, unsigned long long seed,
                unsigned long long stream)
{
    GAN_FOR_EACH(q, (n + 3) / 4)
    {
        const px_u4 w = px_block(seed, stream, q);
        float z[4];
        px_normal_pair(w.x, w.y, &z[0], &z[1]);
        const unsigned i = q * 4;
        if (i + 2 < (unsigned)n) { // the second pair is needed
            px_normal_pair(w.z, w.w, &z[2], &z[3]);
        }
#pragma unroll
        for (int u = 0; u < 4; u++) {
            if (i + u < (unsigned)n) {
                dst[i + u] = __fadd_rn(mean, __fmul_rn(std, z[u]));
            }
        }
    }
}
