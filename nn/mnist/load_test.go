package mnist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmbeddedChecksums pins the SHA-256 of the four embedded MNIST files.
func TestEmbeddedChecksums(t *testing.T) {
	want := map[string]string{
		"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
		"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
		"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
		"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
	}
	entries, err := fs.ReadDir(embedded, "data")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{
		"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
	}, names)
	for name, sum := range want {
		b, err := embedded.ReadFile("data/" + name)
		require.NoError(t, err)
		got := sha256.Sum256(b)
		assert.Equal(t, sum, hex.EncodeToString(got[:]), name)
	}
}

// TestEmbeddedTrain loads the embedded training set and checks its size, the
// label histogram, the first labels of MNIST and the float scaling.
func TestEmbeddedTrain(t *testing.T) {
	s, err := Embedded(true)
	require.NoError(t, err)
	assert.Equal(t, 60000, s.N)
	assert.Equal(t, 28, s.Rows)
	assert.Equal(t, 28, s.Cols)
	assert.Equal(t, 784, s.Pixels())
	require.Len(t, s.Images, 60000*784)
	require.Len(t, s.Labels, 60000)
	assert.Contains(t, s.Name, "train")

	var hist [10]int
	for _, l := range s.Labels {
		require.LessOrEqual(t, l, uint8(9))
		hist[l]++
	}
	for d, c := range hist {
		assert.GreaterOrEqual(t, c, 5000, "digit %d", d)
		assert.LessOrEqual(t, c, 7000, "digit %d", d)
	}
	// The well-known first ten training labels of MNIST.
	assert.Equal(t, []uint8{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, s.Labels[:10])

	// Background is black (0) and strokes reach full white (255).
	var pixHist [256]int
	for _, p := range s.Images {
		pixHist[p]++
	}
	assert.Greater(t, pixHist[0], len(s.Images)/2, "most pixels are background")
	assert.Positive(t, pixHist[255])

	f := s.Float32()
	require.Len(t, f, len(s.Images))
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	var badBlack, badWhite int
	for i, v := range f {
		lo, hi = min(lo, v), max(hi, v)
		if s.Images[i] == 0 && v != -1 {
			badBlack++
		}
		if s.Images[i] == 255 && v != 1 {
			badWhite++
		}
	}
	assert.Equal(t, float32(-1), lo)
	assert.Equal(t, float32(1), hi)
	assert.Zero(t, badBlack, "pixels 0 not mapped to -1")
	assert.Zero(t, badWhite, "pixels 255 not mapped to 1")
}

// TestEmbeddedTest loads the embedded test set.
func TestEmbeddedTest(t *testing.T) {
	s, err := Embedded(false)
	require.NoError(t, err)
	assert.Equal(t, 10000, s.N)
	assert.Len(t, s.Images, 10000*784)
	assert.Len(t, s.Labels, 10000)
	assert.Contains(t, s.Name, "test")
}

// TestFloat32Scaling compares every pixel value with PyTorch's float32
// recipe, with a float64 reference, and checks monotonicity and symmetry.
func TestFloat32Scaling(t *testing.T) {
	s := &Set{N: 1, Rows: 16, Cols: 16, Images: make([]uint8, 256), Labels: []uint8{0}}
	for p := range s.Images {
		s.Images[p] = uint8(p)
	}
	f := s.Float32()
	require.Len(t, f, 256)
	for p := range 256 {
		// ToTensor: float32 division by 255; Normalize: float32 sub then div.
		v := float32(p) / float32(255)
		want := float32(v-float32(0.5)) / float32(0.5)
		assert.Equal(t, math.Float32bits(want), math.Float32bits(f[p]), "pixel %d", p)
		ref := float64(p)/127.5 - 1
		assert.InDelta(t, ref, float64(f[p]), 1.2e-7, "pixel %d", p)
		if p > 0 {
			assert.Greater(t, f[p], f[p-1], "pixel %d", p)
		}
	}
	assert.Equal(t, float32(-1), f[0])
	assert.Equal(t, float32(1), f[255])
}

// TestImageView checks that Image returns the right, capacity-limited view.
func TestImageView(t *testing.T) {
	n, rows, cols, pix, err := ReadImages("v", bytes.NewReader(validImages(3)))
	require.NoError(t, err)
	s := &Set{N: n, Rows: rows, Cols: cols, Images: pix, Labels: []uint8{1, 2, 3}}
	for i := range 3 {
		img := s.Image(i)
		assert.Len(t, img, 784)
		assert.Equal(t, 784, cap(img))
		assert.Equal(t, pix[i*784:(i+1)*784], img)
	}
	s.Image(1)[0] = 42
	assert.Equal(t, uint8(42), s.Images[784], "Image is a view, not a copy")
	assert.Panics(t, func() { s.Image(3) })
}

// TestLoadFiles reads a pair of files and rejects a count mismatch and a
// missing file, naming the paths.
func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	img := writeFile(t, dir, "imgs.gz", gz(t, validImages(4)))
	lbl := writeFile(t, dir, "lbls", validLabels(4))
	s, err := LoadFiles(img, lbl)
	require.NoError(t, err)
	assert.Equal(t, 4, s.N)
	assert.Equal(t, img, s.Name)
	assert.Equal(t, []uint8{0, 1, 2, 3}, s.Labels)

	lbl5 := writeFile(t, dir, "lbls5", validLabels(5))
	_, err = LoadFiles(img, lbl5)
	require.Error(t, err)
	assert.Equal(t, "mnist: "+img+" has 4 images but "+lbl5+" has 5 labels", err.Error())

	missing := filepath.Join(dir, "nope-idx3-ubyte")
	_, err = LoadFiles(missing, lbl)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), missing)
	_, err = LoadFiles(img, missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)

	empty := writeFile(t, dir, "empty", validImages(0))
	emptyL := writeFile(t, dir, "emptyL", validLabels(0))
	_, err = LoadFiles(empty, emptyL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty: the set is empty")

	// Bad content is reported with the path.
	bad := writeFile(t, dir, "bad", validLabels(40))
	_, err = LoadFiles(bad, lbl)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad+": magic")
	// Even a swapped file shorter than an image header is named by its magic.
	short := writeFile(t, dir, "short", validLabels(4))
	_, err = LoadFiles(short, lbl)
	require.Error(t, err)
	assert.Contains(t, err.Error(), short+": magic 0x00000801")
}

// writeSplit writes one split of a tiny data set into dir, gzip or raw.
func writeSplit(t *testing.T, dir, prefix string, n int, gzipped bool) {
	t.Helper()
	img, lbl := validImages(n), validLabels(n)
	suffix := ""
	if gzipped {
		img, lbl, suffix = gz(t, img), gz(t, lbl), ".gz"
	}
	writeFile(t, dir, prefix+"-images-idx3-ubyte"+suffix, img)
	writeFile(t, dir, prefix+"-labels-idx1-ubyte"+suffix, lbl)
}

// TestLoadDir reads train and test splits from a directory, in either form,
// for both dataset names.
func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, "train", 6, true)
	writeSplit(t, dir, "t10k", 3, false)
	for _, ds := range []string{"", "mnist", "fashion"} {
		s, err := Load(ds, dir, true)
		require.NoError(t, err, ds)
		assert.Equal(t, 6, s.N, ds)
		assert.Equal(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), s.Name)
		s, err = Load(ds, dir, false)
		require.NoError(t, err, ds)
		assert.Equal(t, 3, s.N, ds)
		assert.Equal(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), s.Name)
	}
}

// TestLoadDirMissing names the directory and both candidate names.
func TestLoadDirMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Load("mnist", dir, true)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "mnist: train-images-idx3-ubyte not found in "+dir+
		": looked for train-images-idx3-ubyte.gz and train-images-idx3-ubyte", err.Error())

	// Images present, labels missing.
	writeFile(t, dir, "t10k-images-idx3-ubyte", validImages(1))
	_, err = Load("mnist", dir, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t10k-labels-idx1-ubyte not found in "+dir)
	assert.Contains(t, err.Error(), "looked for t10k-labels-idx1-ubyte.gz and t10k-labels-idx1-ubyte")

	_, err = Load("mnist", filepath.Join(dir, "no-such-dir"), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-dir")
}

// TestLoadEmbedded checks that Load without a directory gives the embedded set.
func TestLoadEmbedded(t *testing.T) {
	s, err := Load("mnist", "", false)
	require.NoError(t, err)
	assert.Equal(t, 10000, s.N)
	s2, err := Load("", "", false)
	require.NoError(t, err)
	assert.Equal(t, s.Labels, s2.Labels)
}

// TestLoadUnknownDataset rejects a dataset name it does not know.
func TestLoadUnknownDataset(t *testing.T) {
	_, err := Load("cifar10", "", true)
	require.Error(t, err)
	assert.Equal(t, `mnist: unknown dataset "cifar10": want "mnist" or "fashion"`, err.Error())
}

// TestFashionNotInstalled points the Debian directory at an empty folder.
func TestFashionNotInstalled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fashion-mnist")
	old := fashionDir
	fashionDir = dir
	t.Cleanup(func() { fashionDir = old })
	for _, train := range []bool{true, false} {
		_, err := Load("fashion", "", train)
		require.Error(t, err)
		assert.Equal(t, "fashion-mnist not found in "+dir+
			": install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or pass --data DIR",
			err.Error())
	}
	// A directory that exists but holds something broken reports that, not
	// "not found".
	require.NoError(t, os.MkdirAll(dir, 0o755))
	writeSplit(t, dir, "train", 2, true)
	writeFile(t, dir, "train-labels-idx1-ubyte.gz", gz(t, validLabels(3)))
	_, err := Load("fashion", "", true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has 2 images but")
	// The Debian layout in the injected directory loads.
	writeSplit(t, dir, "t10k", 2, true)
	s, err := Load("fashion", "", false)
	require.NoError(t, err)
	assert.Equal(t, 2, s.N)
}

// TestFashionInstalled loads the real Fashion-MNIST when Debian's package is
// installed; without it the test is skipped (and reported as skipped).
func TestFashionInstalled(t *testing.T) {
	if _, err := os.Stat(fashionDir); err != nil {
		t.Skipf("Debian's dataset-fashion-mnist is not installed (%v)", err)
	}
	train, err := Load("fashion", "", true)
	require.NoError(t, err)
	assert.Equal(t, 60000, train.N)
	test, err := Load("fashion", "", false)
	require.NoError(t, err)
	assert.Equal(t, 10000, test.N)
	// Fashion-MNIST is exactly balanced: 6000 and 1000 per class.
	var hist [10]int
	for _, l := range train.Labels {
		hist[l]++
	}
	for c, k := range hist {
		assert.Equal(t, 6000, k, "class %d", c)
	}
}

// BenchmarkEmbeddedTrain measures decompressing and checking the embedded
// 60000-image training set.
func BenchmarkEmbeddedTrain(b *testing.B) {
	for b.Loop() {
		s, err := Embedded(true)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(s.Images) + len(s.Labels)))
	}
}

// BenchmarkFloat32 measures converting the training set to float32.
func BenchmarkFloat32(b *testing.B) {
	s, err := Embedded(true)
	require.NoError(b, err)
	b.SetBytes(int64(len(s.Images)))
	for b.Loop() {
		_ = s.Float32()
	}
}
