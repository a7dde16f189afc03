/* gather.cu: row indexing, GatherRows and ScatterAddRows of nn.Backend
   (Copy and Fill are driver copies and memsets, or copy_strided of
   elementwise.cu for strided views; see gpu/backend.go).

   gather_rows       row r of dst = row idx[r] of src, for r < R.
   scatter_add_rows  row idx[i] of dst += row i of src, for i = 0 … R−1 in
                     that order: the backward of gather_rows.
   The host checks every index against the rows of the matrix it selects
   from (gather) or into (scatter) before the launch, and sends the indices
   through a pinned staging buffer. */
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

/* scatter_add_rows: src is R×N, dst is (any)×N, idx has R entries in device
   memory. One thread per column c walks the source rows in order, adding
   src[i][c] into dst[idx[i]][c] with one float32 rounding each: repeated
   indices sum in the order i = 0, 1, …, exactly as the CPU backend, and no
   two threads touch one element (no atomics). The host applies beta to dst
   beforehand (a memset for beta = 0, map_fn's scale otherwise).
   Launch: 256 threads per block, grid ⌈N/256⌉ (one thread per column). */
extern "C" __global__ void __launch_bounds__(256)
    scatter_add_rows(int R, int N, float *__restrict__ dst, const float *__restrict__ src,
                     const int *__restrict__ idx)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= N) {
        return;
    }
    for (int i = 0; i < R; i++) {
        float *d = dst + (size_t)idx[i] * N + c;
        *d = __fadd_rn(*d, src[(size_t)i * N + c]);
    }
}
