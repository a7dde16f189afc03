package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/mnist"
)

// writeSamplesFile writes n images as the single n×784 tensor of a
// safetensors file and returns its path.
func writeSamplesFile(t *testing.T, dir, name string, pix []float32) string {
	t.Helper()
	ts := nn.NewTensors()
	ts.Add("images", []int{len(pix) / mnistPixels, mnistPixels}, pix)
	path := filepath.Join(dir, name)
	require.NoError(t, ts.WriteFile(path))
	return path
}

// evalJSON runs gan eval with --json - on a samples file and decodes the result.
func evalJSON(t *testing.T, args ...string) *eval.Result {
	t.Helper()
	code, out, errOut := gan(append([]string{"eval", "--json", "-", "--nn-ref", "2000"}, args...)...) // a later --nn-ref wins
	require.Equal(t, 0, code, errOut)
	var r eval.Result
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.NotNil(t, r.Samples)
	require.NotNil(t, r.Real)
	return &r
}

func hasFlag(r *eval.Result, prefix string) bool {
	for _, f := range r.Flags {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// Deliberately broken samples go through gan eval, and coverage, the class
// KL and the FID flag them, while real images of the same count do not.
func TestEvalFlagsCollapseAndNoise(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	train, err := mnist.Embedded(true)
	require.NoError(t, err)
	pix := train.Float32()

	// One digit repeated: the first training image of class 3.
	var three []float32
	for i := 0; i < train.N; i++ {
		if train.Labels[i] == 3 {
			three = pix[i*mnistPixels : (i+1)*mnistPixels]
			break
		}
	}
	require.NotNil(t, three)
	collapsed := make([]float32, 0, n*mnistPixels)
	for i := 0; i < n; i++ {
		collapsed = append(collapsed, three...)
	}
	// Pure noise, uniform in [−1, 1].
	noise := make([]float32, n*mnistPixels)
	key := nn.RandKey{Seed: 7, Stream: 1}
	for i := range noise {
		noise[i] = 2*key.Uniform(uint64(i)) - 1
	}
	// Real images the evaluator has not seen: training images 30000….
	realPix := pix[30000*mnistPixels : (30000+n)*mnistPixels]

	good := evalJSON(t, "--samples", writeSamplesFile(t, dir, "real.safetensors", realPix))
	col := evalJSON(t, "--samples", writeSamplesFile(t, dir, "collapsed.safetensors", collapsed))
	noi := evalJSON(t, "--samples", writeSamplesFile(t, dir, "noise.safetensors", noise))
	t.Logf("real: %+v flags %q", *good.Samples, good.Flags)
	t.Logf("collapsed: %+v flags %q", *col.Samples, col.Flags)
	t.Logf("noise: %+v flags %q", *noi.Samples, noi.Flags)
	t.Logf("real column: %+v", *good.Real)

	// Real data: every class, balanced, an FID near the real baseline, no flags.
	assert.Equal(t, 10, good.Samples.Covered)
	assert.Less(t, good.Samples.ClassKL, eval.KLLimit)
	assert.Empty(t, good.Flags)

	// One digit: one class, KL = log 10, a large FID, IS = 1.
	assert.Equal(t, 1, col.Samples.Covered)
	assert.InDelta(t, 2.302585, col.Samples.ClassKL, 1e-6)
	assert.Greater(t, col.Samples.FID, 10*good.Samples.FID)
	assert.True(t, hasFlag(col, "mode collapse"), col.Flags)
	assert.True(t, hasFlag(col, "uneven classes"), col.Flags)
	assert.True(t, hasFlag(col, "far from the data"), col.Flags)
	assert.InDelta(t, 1, col.Samples.InceptionScore, 1e-6)

	// Noise: a huge FID, an uneven histogram and almost no confident
	// prediction. The arg max classes of noise still spread over all ten
	// (hence no "mode collapse" flag): the confident share flags it instead.
	assert.Greater(t, noi.Samples.FID, 10*good.Samples.FID)
	assert.True(t, hasFlag(noi, "far from the data"), noi.Flags)
	assert.Greater(t, noi.Samples.ClassKL, 2*good.Samples.ClassKL)
	assert.True(t, hasFlag(noi, "uneven classes"), noi.Flags)
	assert.Less(t, noi.Samples.Confident, 0.1)
	assert.True(t, hasFlag(noi, "unrecognisable"), noi.Flags)
	assert.Less(t, noi.Samples.InceptionScore, 3.0)
	assert.Greater(t, noi.Samples.NNDist, 2*good.Samples.NNDist)

	// The real column is computed by the same code on real data: the same
	// numbers whatever the samples.
	assert.Equal(t, good.Real, col.Real)
	assert.Equal(t, n, good.Real.N)
	assert.Equal(t, 10, good.Real.Covered)
	assert.Greater(t, good.Real.InceptionScore, 9.0)
}

// The text table names every metric and the feature-space caveat, and a
// PNG directory (as gan sample writes) evaluates like the tensor file.
func TestEvalTextAndPNGDir(t *testing.T) {
	dir := t.TempDir()
	test, err := mnist.Embedded(false)
	require.NoError(t, err)
	pix := test.Float32()[:40*mnistPixels]
	pngs := filepath.Join(dir, "pngs")
	require.NoError(t, os.Mkdir(pngs, 0o755))
	for i := 0; i < 40; i++ {
		require.NoError(t, imageio.WritePNG(filepath.Join(pngs, "s_"+string(rune('a'+i/26))+string(rune('a'+i%26))+".png"),
			imageio.Image(pix[i*mnistPixels:(i+1)*mnistPixels])))
	}
	code, out, errOut := gan("eval", "--samples", pngs, "--nn-ref", "1000", "--json", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"FID, classifier features (not Inception)", "Inception-style score", "class KL to uniform",
		"classes with >= 2% of images", "confident share", "nearest train image", "class histogram", "flags:", "40 images"} {
		assert.Contains(t, out, want)
	}
	js, err := os.ReadFile(filepath.Join(dir, "r.json"))
	require.NoError(t, err)
	var fromPNG eval.Result
	require.NoError(t, json.Unmarshal(js, &fromPNG))
	// 8-bit PNGs of test images round-trip exactly: the PNG directory and
	// a tensor file of the same images give the same metrics.
	fromFile := evalJSON(t, "--samples", writeSamplesFile(t, dir, "s.safetensors", pix), "--nn-ref", "1000")
	assert.Equal(t, fromFile.Samples, fromPNG.Samples)
	assert.Equal(t, 40, fromPNG.Samples.N)
}

func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	two := writeSamplesFile(t, dir, "two.safetensors", make([]float32, 2*mnistPixels))
	bad := nn.NewTensors()
	bad.Add("x", []int{3, 10}, make([]float32, 30))
	badPath := filepath.Join(dir, "bad.safetensors")
	require.NoError(t, bad.WriteFile(badPath))
	for _, c := range []struct {
		name      string
		args      []string
		code      int
		fragments []string
	}{
		{"neither", []string{"eval"}, 2, []string{"--checkpoint", "--samples"}},
		{"both", []string{"eval", "--checkpoint", two, "--samples", two}, 2, []string{"exactly one"}},
		{"small n", []string{"eval", "--samples", two, "--n", "1"}, 2, []string{"--n 1"}},
		{"bad dataset", []string{"eval", "--samples", two, "--dataset", "cifar"}, 2, []string{"cifar"}},
		{"bad shape", []string{"eval", "--samples", badPath}, 1, []string{"shape [3 10]"}},
		{"missing", []string{"eval", "--samples", filepath.Join(dir, "nope")}, 1, []string{"nope"}},
		{"not a checkpoint", []string{"eval", "--checkpoint", two}, 1, []string{two, "no gan checkpoint metadata", "unexpected tensor images"}},
		{"unknown model", []string{"eval", "--checkpoint", two, "--model", "nope"}, 2, []string{"--model", `unknown model "nope"`, defaultModel}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := gan(c.args...)
			requireOneLineError(t, code, stderr, c.code, c.fragments...)
		})
	}
}
