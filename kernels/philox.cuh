/* philox.cuh: the bit-for-bit CUDA twin of nn/rand.go.

   Philox4x32-10 (Salmon et al., SC 2011) with the addressing of nn.RandKey:
     key     = (lo32(seed), hi32(seed))
     counter = (lo32(i/4), hi32(i/4), lo32(stream), hi32(stream))
   and the block's four words serve elements 4·(i/4) … 4·(i/4)+3.

     px_uniform(w)              = (w >> 8)·2⁻²⁴                  (nn.UniformFromWord)
     px_normal_pair(w0, w1, …)  = Box–Muller, cosine and sine    (nn.NormalFromWords)

   The logarithm and the sine/cosine of Box–Muller are nn/rand.go's detLog
   and detSinCos2Pi, operation for operation, with the same constants (as
   hexadecimal literals printed from Go, so no compiler ever rounds a decimal
   constant differently) and in the same order. On the device every float64
   operation is an explicitly rounded intrinsic (__dmul_rn, __dadd_rn, …),
   which nvcc never contracts into a fused multiply-add; on the host the
   file must be compiled with -ffp-contract=off (the Go test in this
   directory does so and compares the host build with nn bit for bit).

   The header is plain C when not compiled by nvcc, so cgo can build it. */
#ifndef GAN_PHILOX_CUH
#define GAN_PHILOX_CUH

#include <stdint.h>

#if defined(__CUDACC__)
#define PX_FN static __host__ __device__ __forceinline__
#define PX_UNROLL _Pragma("unroll")
#else
#define PX_FN static inline
#define PX_UNROLL
#endif

#if defined(__CUDA_ARCH__)
#define PX_DMUL(a, b) __dmul_rn((a), (b))
#define PX_DADD(a, b) __dadd_rn((a), (b))
#define PX_DSUB(a, b) __dsub_rn((a), (b))
#define PX_DDIV(a, b) __ddiv_rn((a), (b))
#define PX_DSQRT(a) __dsqrt_rn(a)
#else
#include <math.h>
#include <string.h>
#define PX_DMUL(a, b) ((double)(a) * (double)(b))
#define PX_DADD(a, b) ((double)(a) + (double)(b))
#define PX_DSUB(a, b) ((double)(a) - (double)(b))
#define PX_DDIV(a, b) ((double)(a) / (double)(b))
#define PX_DSQRT(a) sqrt(a)
#endif

/* Four 32-bit words of one Philox block. */
typedef struct {
    uint32_t x, y, z, w;
} px_u4;

/* px_philox4x32_10 is nn.Philox4x32: ten rounds on counter (c0, c1, c2, c3)
   with key (k0, k1). */
PX_FN px_u4 px_philox4x32_10(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3)
{
    PX_UNROLL
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * (uint64_t)c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * (uint64_t)c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    px_u4 out = {c0, c1, c2, c3};
    return out;
}

/* px_block is nn.RandKey{seed, stream}.Block(b). */
PX_FN px_u4 px_block(uint64_t seed, uint64_t stream, uint64_t b)
{
    return px_philox4x32_10((uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)b, (uint32_t)(b >> 32),
                            (uint32_t)stream, (uint32_t)(stream >> 32));
}

/* px_word returns word q (0…3) of block w. */
PX_FN uint32_t px_word(px_u4 w, int q)
{
    return q == 0 ? w.x : q == 1 ? w.y : q == 2 ? w.z : w.w;
}

/* px_uniform is nn.UniformFromWord: the top 24 bits of w times 2⁻²⁴, in
   [0, 1). Both operations are exact. */
PX_FN float px_uniform(uint32_t w)
{
    return (float)(w >> 8) * (1.0f / 16777216.0f);
}

PX_FN uint64_t px_bits(double x)
{
#if defined(__CUDA_ARCH__)
    return (uint64_t)__double_as_longlong(x);
#else
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

PX_FN double px_from_bits(uint64_t u)
{
#if defined(__CUDA_ARCH__)
    return __longlong_as_double((long long)u);
#else
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

/* px_det_log is nn's detLog: ln x for a normal x in [2⁻³², 1]. frexp is done
   on the bits (exact for normal numbers): x = m·2^e with m in [0.5, 1). */
PX_FN double px_det_log(double x)
{
    uint64_t bits = px_bits(x);
    int e = (int)((bits >> 52) & 0x7ff) - 1022;
    double m = px_from_bits((bits & 0x800FFFFFFFFFFFFFull) | (1022ull << 52));
    if (m < 0x1.6a09e667f3bcdp-1) { /* 0.70710678118654752440 */
        m = PX_DMUL(m, 2.0);        /* exact */
        e--;
    }
    double s = PX_DDIV(PX_DSUB(m, 1.0), PX_DADD(m, 1.0));
    double z = PX_DMUL(s, s);
    /* Horner on 1 + z/3 + z²/5 + … + z¹¹/23. */
    double p = 0x1.642c8590b2164p-05;                /* 1/23 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.8618618618618p-05); /* 1/21 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.af286bca1af28p-05); /* 1/19 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.e1e1e1e1e1e1ep-05); /* 1/17 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.1111111111111p-04); /* 1/15 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.3b13b13b13b14p-04); /* 1/13 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.745d1745d1746p-04); /* 1/11 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.c71c71c71c71cp-04); /* 1/9 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.2492492492492p-03); /* 1/7 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.999999999999ap-03); /* 1/5 */
    p = PX_DADD(PX_DMUL(p, z), 0x1.5555555555555p-02); /* 1/3 */
    p = PX_DADD(PX_DMUL(p, z), 1.0);
    /* e·ln 2 + (2·s)·p; ln 2 = 0.69314718055994530942. */
    return PX_DADD(PX_DMUL((double)e, 0x1.62e42fefa39efp-01), PX_DMUL(PX_DMUL(2.0, s), p));
}

/* px_det_sincos2pi is nn's detSinCos2Pi: sin(2πu) and cos(2πu) for u in
   [0, 1). */
PX_FN void px_det_sincos2pi(double u, double *sin_out, double *cos_out)
{
    int q = (int)PX_DMUL(u, 4.0); /* quadrant 0…3; u·4 is exact */
    double r = PX_DSUB(u, PX_DMUL((double)q, 0.25));
    int swap = r > 0.125;
    if (swap) {
        r = PX_DSUB(0.25, r);
    }
    double x = PX_DMUL(r, 0x1.921fb54442d18p+02); /* 2π = 6.28318530717958647693 */
    double z = PX_DMUL(x, x);
    double sp = 0x1.952c77030ad4ap-49;                   /* 1/17! */
    sp = PX_DADD(PX_DMUL(sp, z), -0x1.ae7f3e733b81fp-41); /* −1/15! */
    sp = PX_DADD(PX_DMUL(sp, z), 0x1.6124613a86d09p-33);  /* 1/13! */
    sp = PX_DADD(PX_DMUL(sp, z), -0x1.ae64567f544e4p-26); /* −1/11! */
    sp = PX_DADD(PX_DMUL(sp, z), 0x1.71de3a556c734p-19);  /* 1/9! */
    sp = PX_DADD(PX_DMUL(sp, z), -0x1.a01a01a01a01ap-13); /* −1/7! */
    sp = PX_DADD(PX_DMUL(sp, z), 0x1.1111111111111p-07);  /* 1/5! */
    sp = PX_DADD(PX_DMUL(sp, z), -0x1.5555555555555p-03); /* −1/3! */
    sp = PX_DADD(PX_DMUL(sp, z), 1.0);
    double s = PX_DMUL(x, sp);
    double cp = 0x1.ae7f3e733b81fp-45;                   /* 1/16! */
    cp = PX_DADD(PX_DMUL(cp, z), -0x1.93974a8c07c9dp-37); /* −1/14! */
    cp = PX_DADD(PX_DMUL(cp, z), 0x1.1eed8eff8d898p-29);  /* 1/12! */
    cp = PX_DADD(PX_DMUL(cp, z), -0x1.27e4fb7789f5cp-22); /* −1/10! */
    cp = PX_DADD(PX_DMUL(cp, z), 0x1.a01a01a01a01ap-16);  /* 1/8! */
    cp = PX_DADD(PX_DMUL(cp, z), -0x1.6c16c16c16c17p-10); /* −1/6! */
    cp = PX_DADD(PX_DMUL(cp, z), 0x1.5555555555555p-05);  /* 1/4! */
    cp = PX_DADD(PX_DMUL(cp, z), -0.5);
    cp = PX_DADD(PX_DMUL(cp, z), 1.0);
    double c = cp;
    if (swap) {
        double t = s;
        s = c;
        c = t;
    }
    switch (q) {
    case 0:
        *sin_out = s;
        *cos_out = c;
        break;
    case 1:
        *sin_out = c;
        *cos_out = -s;
        break;
    case 2:
        *sin_out = -s;
        *cos_out = -c;
        break;
    default:
        *sin_out = -c;
        *cos_out = s;
        break;
    }
}

/* px_normal_pair is nn.NormalFromWords(w0, w1, false) in *cos_out and
   nn.NormalFromWords(w0, w1, true) in *sin_out: r·cos(2πu2) and r·sin(2πu2)
   with r = √(−2 ln u1), u1 = (w0 + 1)·2⁻³², u2 = w1·2⁻³², each product
   rounded to float64 and then to float32. */
PX_FN void px_normal_pair(uint32_t w0, uint32_t w1, float *cos_out, float *sin_out)
{
    double u1 = PX_DMUL(PX_DADD((double)w0, 1.0), 0x1p-32);
    double u2 = PX_DMUL((double)w1, 0x1p-32);
    double r = PX_DSQRT(PX_DMUL(-2.0, px_det_log(u1)));
    double s, c;
    px_det_sincos2pi(u2, &s, &c);
    *cos_out = (float)PX_DMUL(r, c);
    *sin_out = (float)PX_DMUL(r, s);
}

#endif /* GAN_PHILOX_CUH */
