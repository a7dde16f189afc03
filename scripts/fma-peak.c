// fma-peak measures one CPU core's fp32 peak with AVX2 FMA: twelve
// independent chains of 256-bit fused multiply-adds (enough to cover the
// FMA latency on two pipes), 16 flops each. Multiply by the cores for the
// machine's peak, e.g. for gan bench's --peak-gflops (PEAK_GFLOPS in
// scripts/gpu-bench.sh).
//
//	gcc -O2 -mavx2 -mfma scripts/fma-peak.c -o /tmp/fma-peak && /tmp/fma-peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

int main(void) {
	__m256 a[12];
	for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(1.0f + i * 1e-7f);
	const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
	const long n = 200000000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
#pragma GCC unroll 12
		for (int j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], b, c);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	float sum = 0, o[8];
	for (int j = 0; j < 12; j++) {
		_mm256_storeu_ps(o, a[j]);
		sum += o[0];
	}
	printf("one core, AVX2 FMA: %.1f GFLOP/s (checksum %g)\n", n * 12.0 * 16 / s / 1e9, sum);
	return 0;
}
