package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestAttentionOpsIgnoreWorkerCount checks that BatchMatMul (on both its
// paths: blocks shared out over the workers, and large blocks one after
// the other), CausalSoftmax, its backward, GELU and its backward give the
// same bits on one worker and on three.
func TestAttentionOpsIgnoreWorkerCount(t *testing.T) {
	run := func(workers int) [][]float32 {
		b := newTestBackend(t, workers)
		rng := rand.New(rand.NewPCG(3, 4))
		var out [][]float32
		// Attention at T = 64: 4 sequences × 3 heads of size 16, queries
		// and keys as column views of one projection.
		const batch, heads, T, d = 4, 3, 64, 16
		qkv, _ := randMat(t, b, rng, batch*T, 3*heads*d, -1, 1)
		q, k := qkv.ColView(0, heads*d), qkv.ColView(heads*d, heads*d)
		s, _ := randMat(t, b, rng, batch*T, heads*T, 0, 1)
		b.BatchMatMul(s, q, k, batch, heads, false, true, 0)
		p, _ := randMat(t, b, rng, batch*T, heads*T, 0, 1)
		b.CausalSoftmax(p, s, T, 0.25)
		dp, _ := randMat(t, b, rng, batch*T, heads*T, -1, 1)
		ds, _ := randMat(t, b, rng, batch*T, heads*T, 0, 1)
		b.CausalSoftmaxBackward(ds, dp, p, T, 0.25)
		// Two blocks above the serial threshold.
		x, _ := randMat(t, b, rng, 2*200, 150, -1, 1)
		w, _ := randMat(t, b, rng, 2*160, 150, -1, 1)
		big, _ := randMat(t, b, rng, 2*200, 160, 0, 1)
		b.BatchMatMul(big, x, w, 2, 1, false, true, 0)
		h, _ := randMat(t, b, rng, 64, 1024, -5, 5)
		gy, _ := randMat(t, b, rng, 64, 1024, 0, 1)
		b.GELU(gy, h)
		gd, _ := randMat(t, b, rng, 64, 1024, -1, 1)
		b.GELUBackward(gd, gd, h)
		require.NoError(t, b.Sync())
		for _, m := range []nn.Mat{s, p, ds, big, gy, gd} {
			out = append(out, download(t, b, m))
		}
		return out
	}
	one, three := run(1), run(3)
	for i := range one {
		requireBits(t, one[i], three[i], fmt.Sprintf("output %d", i))
	}
}

// BenchmarkAttention times the ops of one causal self-attention layer and
// GELU MLP at nanoGPT's shakespeare_char shape per sequence (T = 256,
// 6 heads of 64) for 4 sequences, at T = 64 with heads of 16, and at
// char-gpt's default (12 sequences of 64, 4 heads of 32), and reports
// GFLOP/s for the products.
func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	be := New()
	defer be.Close()
	for _, s := range []struct{ batch, heads, t, d int }{{4, 6, 256, 64}, {16, 4, 64, 16}, {12, 4, 64, 32}} {
		batch, heads, T, d := s.batch, s.heads, s.t, s.d
		name := fmt.Sprintf("B%d/H%d/T%d/d%d", batch, heads, T, d)
		qkv := benchMat(b, be, rng, batch*T, 3*heads*d)
		q, k, v := qkv.ColView(0, heads*d), qkv.ColView(heads*d, heads*d), qkv.ColView(2*heads*d, heads*d)
		sc, p, y := benchMat(b, be, rng, batch*T, heads*T), benchMat(b, be, rng, batch*T, heads*T), benchMat(b, be, rng, batch*T, heads*d)
		flops := 2 * float64(batch*heads*T*T*d)
		b.Run(name+"/scores=Q·Kᵀ", func(b *testing.B) {
			for b.Loop() {
				be.BatchMatMul(sc, q, k, batch, heads, false, true, 0)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/causal_softmax", func(b *testing.B) {
			for b.Loop() {
				be.CausalSoftmax(p, sc, T, 0.125)
			}
		})
		b.Run(name+"/causal_softmax_backward", func(b *testing.B) {
			for b.Loop() {
				be.CausalSoftmaxBackward(sc, sc, p, T, 0.125)
			}
		})
		b.Run(name+"/Y=P·V", func(b *testing.B) {
			for b.Loop() {
				be.BatchMatMul(y, p, v, batch, heads, false, false, 0)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		h := benchMat(b, be, rng, batch*T, 4*heads*d)
		b.Run(name+"/gelu", func(b *testing.B) {
			for b.Loop() {
				be.GELU(h, h)
			}
			b.ReportMetric(float64(h.Len())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
		b.Run(name+"/gelu_backward", func(b *testing.B) {
			for b.Loop() {
				be.GELUBackward(h, h, h)
			}
			b.ReportMetric(float64(h.Len())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}
