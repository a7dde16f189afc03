//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/dcgan"
)

// TestDCGANMatchesCPU trains the DCGAN family (convolutions through
// Im2Col/Col2Im, batch norm with running statistics) from the same seed on
// the CPU and the CUDA backend and compares every step, with the
// tolerances and the reasons of TestSeedGANMatchesCPU; the batch norms'
// running statistics (buffers) are compared like the weights. 10 steps of
// batch 16 on a GPU; 3 of batch 8 in the emulator, where the convolutions'
// kernels run on the CPU one thread at a time.
func TestDCGANMatchesCPU(t *testing.T) {
	p := newPair(t)
	steps, batch := 10, 16
	if reduced() {
		steps, batch = 3, 8
	}
	cfg := dcgan.DefaultConfig()
	cfg.Batch = batch
	cfg.Seed = 20261202

	const rows = 64
	rng := rand.New(rand.NewPCG(27, 28))
	data := randVals(rng, rows*784, -1, 1)
	for i := range data {
		if rng.IntN(2) == 0 {
			data[i] = -1
		}
	}
	set := &model.Dataset{Name: "synthetic", N: rows, C: 1, H: 28, W: 28, Pixels: data}
	dg, dc := p.both(t, rows, 784, data)

	gg, err := dcgan.New(p.g, cfg)
	require.NoError(t, err)
	defer gg.Free()
	gc, err := dcgan.New(p.c, cfg)
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
					a, b := wc[off:off+prm.Len()], wg[off:off+prm.Len()]
					var diff2, norm2 float64
					for j := range a {
						d := float64(b[j]) - float64(a[j])
						diff2 += d * d
						norm2 += float64(a[j]) * float64(a[j])
					}
					name := net.Name + "." + prm.Name
					rel := math.Sqrt(diff2 / math.Max(norm2, 1e-30))
					require.LessOrEqualf(t, rel, 1e-4, "step %d: %s: relative L2 difference", step, name)
					if rel > worst {
						worst, worstName = rel, name
					}
				}
			}
		}
		t.Logf("step %d: d_loss %.6f/%.6f g_loss %.6f/%.6f; worst tensor %s at %.2g relative", step, sc[0], sg[0], sc[1], sg[1], worstName, worst)
	}
}
