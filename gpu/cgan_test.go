//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/cgan"
)

// TestConditionalDCGANMatchesCPU trains the conditional DCGAN (--model
// cgan --arch dcgan: label embeddings gathered and concatenated to z and
// to the image, the DCGAN's convolutions and batch norms) from the same
// seed on the CPU and the CUDA backend and compares every step with the
// tolerances and reasons of TestDCGANMatchesCPU: the statistics within
// 1e-4 relative, every tensor (weights and the batch norms' running
// statistics) within 1e-4 in relative L2. Then the generators' images of
// every class, in evaluation mode, agree within 1e-4 too. 10 steps of
// batch 16 on a GPU; 3 of batch 8 in the emulator.
func TestConditionalDCGANMatchesCPU(t *testing.T) {
	p := newPair(t)
	steps, batch := 10, 16
	if reduced() {
		steps, batch = 3, 8
	}
	cfg := cgan.DefaultConfig()
	cfg.Arch, cfg.Batch, cfg.Seed = cgan.ArchDCGAN, batch, 20261203

	const rows = 64
	rng := rand.New(rand.NewPCG(29, 30))
	data := randVals(rng, rows*784, -1, 1)
	labels := make([]uint8, rows)
	for i := range labels {
		labels[i] = uint8(rng.IntN(cgan.Classes))
	}
	set := &model.Dataset{Name: "synthetic", N: rows, C: 1, H: 28, W: 28, Pixels: data, Labels: labels}
	dg, dc := p.both(t, rows, 784, data)

	gg, err := cgan.New(p.g, cfg)
	require.NoError(t, err)
	defer gg.Free()
	gc, err := cgan.New(p.c, cfg)
	require.NoError(t, err)
	defer gc.Free()
	netsG, netsC := gg.Nets(), gc.Nets()
	for i, net := range netsG {
		requireSameBits(t, download(t, p.c, netsC[i].Params.Value), download(t, p.g, net.Params.Value), net.Name+" initial weights")
	}

	names := gc.Stats()
	for step := 0; step < steps; step++ {
		idx := make([]int32, batch)
		for i := range idx {
			idx[i] = int32((step*batch + i*7) % rows)
		}
		sg, err := gg.TrainStep(&model.Batch{Data: set, Dev: dg, Idx: idx, Index: step})
		require.NoError(t, err, "gpu step %d", step)
		sc, err := gc.TrainStep(&model.Batch{Data: set, Dev: dc, Idx: idx, Index: step})
		require.NoError(t, err, "cpu step %d", step)
		for k, st := range names {
			d := math.Abs(sg[k] - sc[k])
			require.LessOrEqualf(t, d, 1e-4*math.Abs(sc[k])+1e-7, "step %d: %s: cpu %g, gpu %g", step, st.Name, sc[k], sg[k])
		}
		worst, worstName := 0.0, ""
		for i, net := range netsG {
			for _, arena := range [][2]nn.Mat{{net.Params.Value, netsC[i].Params.Value}, {net.Params.Buffers, netsC[i].Params.Buffers}} {
				wg, wc := download(t, p.g, arena[0]), download(t, p.c, arena[1])
				for _, prm := range net.Params.Params() {
					if (arena[0].Buf == net.Params.Buffers.Buf) != prm.Buffer {
						continue
					}
					off := prm.Value.Off - arena[0].Off
					name := net.Name + "." + prm.Name
					rel := relL2(wc[off:off+prm.Len()], wg[off:off+prm.Len()])
					require.LessOrEqualf(t, rel, 1e-4, "step %d: %s: relative L2 difference", step, name)
					if rel > worst {
						worst, worstName = rel, name
					}
				}
			}
		}
		t.Logf("step %d: d_loss %.6f/%.6f g_loss %.6f/%.6f; worst tensor %s at %.2g relative", step, sc[0], sg[0], sc[1], sg[1], worstName, worst)
	}

	const n = 20 // two images of every class
	z := randVals(rng, n*cgan.ZDim, -2, 2)
	lab := make([]int32, n)
	for i := range lab {
		lab[i] = int32(i % cgan.Classes)
	}
	ig, ic := make([]float32, n*784), make([]float32, n*784)
	require.NoError(t, gg.GenerateLabels(z, lab, ig))
	require.NoError(t, gc.GenerateLabels(z, lab, ic))
	rel := relL2(ic, ig)
	t.Logf("generated images: relative L2 difference %.2g", rel)
	require.LessOrEqual(t, rel, 1e-4, "generated images")
}

// relL2 is ‖b − a‖₂ / ‖a‖₂ (a of norm 0 counts as 1e-15).
func relL2(a, b []float32) float64 {
	var diff2, norm2 float64
	for j := range a {
		d := float64(b[j]) - float64(a[j])
		diff2 += d * d
		norm2 += float64(a[j]) * float64(a[j])
	}
	return math.Sqrt(diff2 / math.Max(norm2, 1e-30))
}
