//go:build !purego

package sgemm

import (
	"fmt"
	"testing"
)

func BenchmarkKernelShapes(b *testing.B) {
	type kf = func(k int, a, b, c *float32, ldc int, beta float32, mode int)
	for _, kc := range []int{128, 256, 384, 512} {
		for _, s := range []struct {
			name   string
			mr, nr int
			f      kf
		}{
			{"12x32", 12, 32, kern512x12x32}, {"8x32", 8, 32, kern512x8x32}, {"14x32", 14, 32, kern512x14x32},
			{"8x48", 8, 48, kern512x8x48}, {"6x64", 6, 64, kern512x6x64}, {"avx2-6x16", 6, 16, kern256x6x16}, {"avx2-4x24", 4, 24, kern256x4x24},
		} {
			b.Run(fmt.Sprintf("kc%d/%s", kc, s.name), func(b *testing.B) {
				mc := 240 / s.mr * s.mr
				ap := make([]float32, mc*kc)
				bp := make([]float32, kc*s.nr)
				c := make([]float32, mc*s.nr)
				for i := range ap {
					ap[i] = 1
				}
				for i := 0; i < b.N; i++ {
					for ir := 0; ir < mc; ir += s.mr {
						s.f(kc, &ap[ir*kc], &bp[0], &c[ir*s.nr], s.nr, 0, 1)
					}
				}
				b.ReportMetric(float64(2*mc*s.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
