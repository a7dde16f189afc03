package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
)

// The layers are read from the dcgan family: at 28×28, G grows 1 → 7 → 14
// → 28 and D shrinks 28 → 14 → 7 → 1, with ngf = ndf = 64.
func TestDCGANLayers(t *testing.T) {
	got := DCGANLayers(1, 28)
	want := []ConvLayer{
		{Name: "G1", Transposed: true, In: 100, Out: 128, K: 7, S: 1, P: 0, H: 1},
		{Name: "G2", Transposed: true, In: 128, Out: 64, K: 4, S: 2, P: 1, H: 7},
		{Name: "G3", Transposed: true, In: 64, Out: 1, K: 4, S: 2, P: 1, H: 14},
		{Name: "D1", In: 1, Out: 64, K: 4, S: 2, P: 1, H: 28},
		{Name: "D2", In: 64, Out: 128, K: 4, S: 2, P: 1, H: 14},
		{Name: "D3", In: 128, Out: 1, K: 7, S: 1, P: 0, H: 7},
	}
	assert.Equal(t, want, got)
	ps := ConvProducts(got, 64)
	require.Len(t, ps, 18)
	// D2 forward: 64·7·7 output pixels, 128 channels, 64·4·4 patch values.
	assert.Equal(t, "conv/b64/D2.fwd", ps[12].Key)
	assert.Equal(t, [3]int{3136, 128, 1024}, [3]int{ps[12].M, ps[12].N, ps[12].K})
	assert.True(t, ps[12].Im2Col)
	// G2 forward: 64·7·7 input pixels times W [128, 64·4·4], then Col2Im.
	assert.Equal(t, "conv/b64/G2.fwd", ps[3].Key)
	assert.Equal(t, [3]int{3136, 1024, 128}, [3]int{ps[3].M, ps[3].N, ps[3].K})
	assert.True(t, ps[3].Col2Im)
	// The step's work: about 9.5 GFLOP at batch 64.
	assert.InDelta(t, 9.5e9, DCGANFlops(got, 64), 0.5e9)
}

func TestRunDeviceDCGAN(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	var progress bytes.Buffer
	o := quickOptions()
	o.Groups = []string{GroupDCGAN}
	o.PeakGFLOPS, o.PeakSource = 100, "test"
	o.Progress = &progress
	run, err := RunDevice(b, o)
	require.NoError(t, err)
	require.Len(t, run.Results, 19)
	for _, r := range run.Results[:18] {
		assert.Equal(t, GroupConv, r.Group)
		assert.Positive(t, r.Value, r.Key)
		assert.InDelta(t, 2*float64(r.M)*float64(r.N)*float64(r.K)/r.Seconds.Median/1e9, r.Value, 1e-9*r.Value, r.Key)
	}
	st := run.Results[18]
	assert.Equal(t, "dcgan-step/b64", st.Key)
	assert.Equal(t, GroupDCGANStep, st.Group)
	assert.Positive(t, st.Value)
	assert.Equal(t, 100.0, run.PeakGFLOPS)
	assert.True(t, strings.Contains(progress.String(), "DCGAN train step b64"))

	// The report puts the products beside the peak and checks the targets.
	rep := Report{Schema: Schema, Tool: "gan", Runs: []Run{run}}
	var page bytes.Buffer
	require.NoError(t, Compare(&page, CompareInput{Title: "t", Reports: []Report{rep}}))
	for _, want := range []string{"DCGAN training step", "DCGAN convolution products", "gan cpu % of peak",
		"CPU DCGAN conv products at batch 64: ≥ 50% of the fp32 peak", "fp32 peak 100.0 GFLOP/s: test"} {
		assert.Contains(t, page.String(), want)
	}
}

// At 32×32 (the padded digits of dcgan --size 32) G grows 1 → 4 → 8 → 16 →
// 32 from 256 channels and D mirrors it; the run records the size, and a
// comparison of runs at different sizes judges no ratio.
func TestDCGAN32(t *testing.T) {
	got := DCGANLayers(1, 32)
	want := []ConvLayer{
		{Name: "G1", Transposed: true, In: 100, Out: 256, K: 4, S: 1, P: 0, H: 1},
		{Name: "G2", Transposed: true, In: 256, Out: 128, K: 4, S: 2, P: 1, H: 4},
		{Name: "G3", Transposed: true, In: 128, Out: 64, K: 4, S: 2, P: 1, H: 8},
		{Name: "G4", Transposed: true, In: 64, Out: 1, K: 4, S: 2, P: 1, H: 16},
		{Name: "D1", In: 1, Out: 64, K: 4, S: 2, P: 1, H: 32},
		{Name: "D2", In: 64, Out: 128, K: 4, S: 2, P: 1, H: 16},
		{Name: "D3", In: 128, Out: 256, K: 4, S: 2, P: 1, H: 8},
		{Name: "D4", In: 256, Out: 1, K: 4, S: 1, P: 0, H: 4},
	}
	assert.Equal(t, want, got)

	b := cpu.New()
	defer b.Close()
	o := quickOptions()
	o.Groups = []string{GroupDCGAN}
	o.DCGANSize = 32
	run, err := RunDevice(b, o)
	require.NoError(t, err)
	require.Len(t, run.Results, 3*8+1)
	assert.Equal(t, 32, run.DCGANSize)
	step := run.Results[len(run.Results)-1]
	assert.Equal(t, "dcgan-step/b64", step.Key)
	assert.InDelta(t, DCGANFlops(got, 64), step.Flops, 1)

	// PyTorch's run at 28 beside ours at 32: the tables say so, and the
	// step's target is not judged.
	torch := Run{Device: "cpu", Impl: "pytorch-eager", DCGANSize: 28,
		Results: []Result{{Key: "dcgan-step/b64", Group: GroupDCGANStep, Label: "DCGAN train step b64", Batch: 64, Value: 1, Unit: UnitSteps}}}
	var page bytes.Buffer
	require.NoError(t, Compare(&page, CompareInput{Title: "t", Reports: []Report{
		{Schema: Schema, Tool: "gan", Runs: []Run{run}}, {Schema: Schema, Tool: "pytorch", Runs: []Run{torch}}}}))
	assert.Contains(t, page.String(), "32×32 (gan cpu), 28×28 (pytorch-eager cpu) — different networks")
	assert.Contains(t, page.String(), "| CPU DCGAN training step, batch 64: ≥ 1.5× PyTorch (cpu) | not measured |")

	torch.DCGANSize = 32
	page.Reset()
	require.NoError(t, Compare(&page, CompareInput{Title: "t", Reports: []Report{
		{Schema: Schema, Tool: "gan", Runs: []Run{run}}, {Schema: Schema, Tool: "pytorch", Runs: []Run{torch}}}}))
	assert.Contains(t, page.String(), "pytorch/examples' DCGAN at 32×32,")
	assert.NotContains(t, page.String(), "| CPU DCGAN training step, batch 64: ≥ 1.5× PyTorch (cpu) | not measured |")
}
