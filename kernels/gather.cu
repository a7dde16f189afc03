/* gather.cu: GatherRows of nn.Backend (Copy and Fill are driver copies and
   memsets, see gpu/backend.go).

   gather_rows  row r of dst = row idx[r] of src, for r < R. The host checks
   every index against src's rows before the launch. */
#include "common.cuh"

// ---- CUDA kernels

/* gather_rows: dst is R×N, src is (any)×N, idx has R entries in device
   memory. Launch: 1-D grid-stride over R·N elements, 256 threads. */
extern "C" __global__ void __launch_bounds__(256)
    gather_rows(int R, int N, float *__restrict__ dst, const float *__restrict__ src, const int *__restrict__ idx)
{
    GAN_FOR_EACH(i, R * N)
    {
        const unsigned r = i / (unsigned)N, c = i - r * (unsigned)N;
        dst[i] = src[(size_t)idx[r] * N + c];
    }
}
