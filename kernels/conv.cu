/* conv.cu: the patch ops of 2-D convolutions, Im2Col and Col2Im of
   nn.Backend (the graph builds Conv2d and ConvTranspose2d from them and
   MatMul).

   im2col  cols = the patches of img: row (n, oy, ox) of the
           (N·OH·OW)×(C·T) cols holds image elements
           (n, c, oy·SH − PH + ky, ox·SW − PW + kx), or 0 in the padding,
           for the first T kernel positions t = ky·KW + kx (T = KH·KW
           unless nn.ConvGeom.Taps cuts the kernel), at column (c, t) for
           NCHW images and (t, c) for NHWC (conv_col_index).
   col2im  img = s, or fl(fl(beta·img) + s) when beta ≠ 0, where s is the
           float32 sum, from 0 in ascending (ky, kx) order, of the cols
           entries im2col copies the element to: im2col's adjoint.

   The images are N×C×H×W in one of two layouts (nn.ImageLayout): NHWC,
   the (N·H·W)×C matrix with element (n, c, y, x) at ((n·H + y)·W + x)·C
   + c, or NCHW, the N×(C·H·W) matrix with it at ((n·C + c)·H + y)·W + x.
   The host checks the geometry (OH and OW at most what the kernel, stride
   and padding give: a smaller grid is cropped at the bottom and right) and that both operands are contiguous and of its shapes
   (nn.CheckConv), and launches nothing for empty operands.

   col2im gathers: one thread per image element adds its own entries, in
   the same order as the CPU backend, with __fadd_rn (never fused), so the
   two backends agree bit for bit and no two threads write one element (no
   atomics). */
#include "common.cuh"

/* Image layouts, as nn.ImageLayout numbers them. */
#define GAN_NHWC 0
#define GAN_NCHW 1

/* conv_image_index is the index of element (n, c, y, x) in the layout. */
__device__ __forceinline__ int conv_image_index(int layout, int C, int H, int W, int n, int c, int y, int x)
{
    if (layout == GAN_NCHW) {
        return ((n * C + c) * H + y) * W + x;
    }
    return ((n * H + y) * W + x) * C + c;
}

/* conv_col_index is the column of (c, ky, kx) in a patch row of the
   layout, t = ky·KW + kx < T: (c, t) for NCHW, PyTorch's weight order
   (c, ky, kx) when T = KH·KW, and (t, c) for NHWC, each pixel's channels
   contiguous. */
__device__ __forceinline__ int conv_col_index(int layout, int C, int T, int KW, int c, int ky, int kx)
{
    if (layout == GAN_NCHW) {
        return c * T + ky * KW + kx;
    }
    return (ky * KW + kx) * C + c;
}

// ---- CUDA kernels

/* im2col: cols is (N·OH·OW)×(C·T), img N images C×H×W in the layout,
   the columns ordered as conv_col_index says; one thread per patch
   element. Thread i writes cols[i], so consecutive
   threads write consecutive addresses (coalesced), reading one image
   element or writing 0 where the patch lies in the padding. Every entry
   is written: the old cols is never read.
   Launch: 1-D grid-stride over N·OH·OW·C·KH·KW elements, 256 threads per
   block, the grid capped by the host (gpu/backend.go). */
extern "C" __global__ void __launch_bounds__(256)
    im2col(int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int layout,
           int T, float *__restrict__ cols, const float *__restrict__ img)
{
    const int K = C * T;
    GAN_FOR_EACH(i, N * OH * OW * K)
    {
        const int r = (int)i / K, col = (int)i - r * K;
        int c, kk;
        if (layout == GAN_NCHW) {
            c = col / T;
            kk = col - c * T;
        } else {
            kk = col / C;
            c = col - kk * C;
        }
        const int ky = kk / KW, kx = kk - ky * KW;
        const int n = r / (OH * OW), g = r - n * (OH * OW);
        const int oy = g / OW, ox = g - oy * OW;
        const int y = oy * SH - PH + ky, x = ox * SW - PW + kx;
        float v = 0.0f;
        if (y >= 0 && y < H && x >= 0 && x < W) {
            v = img[conv_image_index(layout, C, H, W, n, c, y, x)];
        }
        cols[i] = v;
    }
}

/* col2im: img is N images C×H×W in the layout, cols (N·OH·OW)×(C·T);
   one thread per image element, thread i writing img[i] (coalesced in
   either layout). The thread walks ky = 0 … KH−1, then kx = 0 … KW−1,
   stopping at the first tap ky·KW + kx ≥ T: the tap (ky, kx) reaches the
   element from patch (oy, ox) when y + PH − ky
   and x + PW − kx are non-negative multiples of SH and SW whose
   quotients oy, ox lie inside the OH×OW grid; their entries are added to
   s = 0 in that order with __fadd_rn, then img[i] = s, or
   fl(fl(beta·img[i]) + s) for beta ≠ 0 (with beta = 0 the old img is not
   read, so NaNs in it do not propagate). Since y + PH − ky falls as ky
   grows, the walk stops at the first negative one.
   Launch: 1-D grid-stride over N·C·H·W elements, 256 threads per block,
   the grid capped by the host. */
extern "C" __global__ void __launch_bounds__(256)
    col2im(int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int layout,
           int T, float *__restrict__ img, const float *__restrict__ cols, float beta)
{
    const int K = C * T;
    GAN_FOR_EACH(i, N * C * H * W)
    {
        int n, c, y, x;
        if (layout == GAN_NCHW) {
            x = (int)i % W;
            const int t = (int)i / W;
            y = t % H;
            c = t / H % C;
            n = t / H / C;
        } else {
            c = (int)i % C;
            const int p = (int)i / C;
            x = p % W;
            y = p / W % H;
            n = p / W / H;
        }
        float s = 0.0f;
        for (int ky = 0; ky < KH; ky++) {
            const int ty = y + PH - ky;
            if (ty < 0) {
                break;
            }
            const int oy = ty / SH;
            if (oy * SH != ty || oy >= OH) {
                continue;
            }
            for (int kx = 0; kx < KW; kx++) {
                const int tx = x + PW - kx;
                if (tx < 0 || ky * KW + kx >= T) {
                    break;
                }
                const int ox = tx / SW;
                if (ox * SW != tx || ox >= OW) {
                    continue;
                }
                s = __fadd_rn(s, cols[(size_t)((n * OH + oy) * OW + ox) * K + conv_col_index(layout, C, T, KW, c, ky, kx)]);
            }
        }
        if (beta != 0.0f) {
            s = __fadd_rn(__fmul_rn(beta, img[i]), s);
        }
        img[i] = s;
    }
}
