package imagefolder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pattern is a picture of w×h pixels whose colour varies with position, so
// that a wrong crop or filter shows.
func pattern(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(x * 255 / w), uint8(y * 255 / h), 255})
		}
	}
	return img
}

func grayPattern(w, h int, seed uint64) *image.Gray {
	rng := rand.New(rand.NewPCG(seed, 9))
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reference is the direct computation of one loaded image, in float64:
// each channel value of the source (PIL's luma for gray), the largest
// centred square, and for each output pixel the integral of the
// piecewise-constant picture over the square it covers, divided by the
// square's area, mapped to [−1, 1].
func reference(img image.Image, c, size int) []float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	side := min(w, h)
	x0, y0 := b.Min.X+(w-side)/2, b.Min.Y+(h-side)/2
	value := func(x, y, ch int) float64 {
		n := color.NRGBAModel.Convert(img.At(x0+x, y0+y)).(color.NRGBA)
		rgb := [3]float64{float64(n.R), float64(n.G), float64(n.B)}
		if c == 1 {
			// PIL: L = R·299/1000 + G·587/1000 + B·114/1000, rounded.
			return math.Floor(rgb[0]*0.299 + rgb[1]*0.587 + rgb[2]*0.114 + 0.5) // exact on the tests' values (see TestLumaIsPILs)
		}
		return rgb[ch]
	}
	scale := float64(side) / float64(size)
	out := make([]float64, c*size*size)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < size; i++ {
			for j := 0; j < size; j++ {
				ylo, yhi := float64(i)*scale, float64(i+1)*scale
				xlo, xhi := float64(j)*scale, float64(j+1)*scale
				var s float64
				for y := 0; y < side; y++ {
					oy := math.Min(yhi, float64(y+1)) - math.Max(ylo, float64(y))
					if oy <= 0 {
						continue
					}
					for x := 0; x < side; x++ {
						ox := math.Min(xhi, float64(x+1)) - math.Max(xlo, float64(x))
						if ox > 0 {
							s += ox * oy * value(x, y, ch)
						}
					}
				}
				out[(ch*size+i)*size+j] = s/(scale*scale)/127.5 - 1
			}
		}
	}
	return out
}

// TestLumaIsPILs checks the gray conversion against values PIL's
// Image.convert('L') gives.
func TestLumaIsPILs(t *testing.T) {
	for _, c := range []struct{ r, g, b, want uint8 }{
		{255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {255, 255, 255, 255},
		{10, 200, 30, 124}, {128, 128, 128, 128}, {1, 1, 1, 1},
	} {
		if got := luma(c.r, c.g, c.b); got != c.want {
			t.Errorf("luma(%d, %d, %d) = %d, want %d", c.r, c.g, c.b, got, c.want)
		}
	}
	// The test's float form of the formula agrees with the fixed-point
	// one on every gray value and on a sample of colours.
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 20000; k++ {
		r, g, b := uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))
		if k < 256 {
			r, g, b = uint8(k), uint8(k), uint8(k)
		}
		f := math.Floor(float64(r)*0.299 + float64(g)*0.587 + float64(b)*0.114 + 0.5)
		if d := math.Abs(f - float64(luma(r, g, b))); d > 1 {
			t.Fatalf("luma(%d, %d, %d) = %d, float formula %g", r, g, b, luma(r, g, b), f)
		}
	}
}

// folder writes the test folder: PNG and JPEG pictures, gray and RGB,
// non-square, one in a class subfolder, a corrupt and a truncated picture,
// a text file and a hidden file. It returns the decoded pictures the
// loader should use, by path.
func folder(t *testing.T) (string, map[string]image.Image) {
	dir := t.TempDir()
	want := map[string]image.Image{}
	add := func(name string, data []byte) {
		write(t, dir, name, data)
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = img
	}
	add("b_rgb_wide.png", encodePNG(t, pattern(13, 7, 1)))
	add("a_gray_tall.png", encodePNG(t, grayPattern(5, 9, 2)))
	add("c_rgb.JPG", encodeJPEG(t, pattern(20, 16, 3)))
	add("d_gray.jpeg", encodeJPEG(t, grayPattern(11, 12, 4)))
	add("class1/e_small.png", encodePNG(t, pattern(3, 4, 5))) // upscaled
	good := encodePNG(t, pattern(9, 9, 6))
	write(t, dir, "f_truncated.png", good[:len(good)/2])
	write(t, dir, "g_corrupt.jpg", []byte("this is not a JPEG file at all"))
	write(t, dir, "notes.txt", []byte("not a picture"))
	write(t, dir, ".hidden.png", []byte("garbage"))
	write(t, dir, ".cache/x.png", []byte("garbage"))
	return dir, want
}

func TestLoadMatchesDirectComputation(t *testing.T) {
	dir, want := folder(t)
	for _, c := range []int{1, 3} {
		for _, size := range []int{4, 6} {
			d, rep, err := Load(dir, Options{Channels: c, Size: size})
			if err != nil {
				t.Fatal(err)
			}
			files := []string{"a_gray_tall.png", "b_rgb_wide.png", "c_rgb.JPG", "class1/e_small.png", "d_gray.jpeg"}
			if !slices.Equal(rep.Files, files) {
				t.Fatalf("files %q, want %q (sorted by path)", rep.Files, files)
			}
			if d.N != 5 || d.C != c || d.H != size || d.W != size || d.Classes != 0 || d.Labels != nil || len(d.Pixels) != 5*c*size*size || d.Name != dir {
				t.Fatalf("dataset %s: N %d, %d×%d×%d, classes %d, %d labels, %d values", d.Name, d.N, d.C, d.H, d.W, d.Classes, len(d.Labels), len(d.Pixels))
			}
			if len(rep.Skipped) != 2 || rep.Skipped[0].Path != "f_truncated.png" || rep.Skipped[1].Path != "g_corrupt.jpg" || rep.Ignored != 1 {
				t.Fatalf("skipped %v, ignored %d: want the truncated and the corrupt file, and notes.txt", rep.Skipped, rep.Ignored)
			}
			for k, name := range files {
				ref := reference(want[name], c, size)
				got := d.Pixels[k*d.Dim() : (k+1)*d.Dim()]
				for i := range ref {
					// float32 rounding of values in [−1, 1] (docs/tolerances.md: float32 storage)
					if math.Abs(float64(got[i])-ref[i]) > 1e-6 {
						t.Fatalf("%s at %d×%d×%d, value %d: %g, direct computation %g", name, c, size, size, i, got[i], ref[i])
					}
				}
			}
		}
	}
}

func TestGrayPicturesGiveEqualChannels(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "g.png", encodePNG(t, grayPattern(8, 6, 1)))
	d, _, err := Load(dir, Options{Channels: 3, Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	p := d.Pixels
	if !slices.Equal(p[:16], p[16:32]) || !slices.Equal(p[:16], p[32:]) {
		t.Fatalf("a gray picture loaded as RGB has unequal channels: %v", p)
	}
}

func TestSolidColoursMapToRange(t *testing.T) {
	dir := t.TempDir()
	white := image.NewGray(image.Rect(0, 0, 30, 17))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	write(t, dir, "0.png", encodePNG(t, image.NewGray(image.Rect(0, 0, 17, 30))))
	write(t, dir, "1.png", encodePNG(t, white))
	d, _, err := Load(dir, Options{Channels: 1, Size: 7})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.Pixels {
		if want := float32(2*(i/49) - 1); v != want {
			t.Fatalf("value %d: %g, want %g", i, v, want)
		}
	}
}

func TestSkipSummaryNamesFirstFew(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "ok.png", encodePNG(t, grayPattern(4, 4, 1)))
	for _, n := range []string{"x1.png", "x2.png", "x3.png", "x4.png", "x5.png"} {
		write(t, dir, n, []byte{0x89, 'P', 'N', 'G'})
	}
	_, rep, err := Load(dir, Options{Channels: 1, Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.SkipSummary(3)
	if !strings.HasPrefix(s, "skipped 5 of 6 picture files in "+dir) || !strings.Contains(s, "x1.png (") || !strings.Contains(s, "x3.png (") ||
		strings.Contains(s, "x4.png") || !strings.HasSuffix(s, "; and 2 more") || strings.Contains(s, "\n") {
		t.Fatalf("summary %q", s)
	}
}

func TestNothingUsableIsAnErrorNamingTheFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad.png", []byte("\x89PNG\r\n\x1a\nrubbish"))
	write(t, dir, "bad.jpg", []byte{0xff, 0xd8, 0xff})
	write(t, dir, "readme.md", []byte("# pictures"))
	_, rep, err := Load(dir, Options{Channels: 3, Size: 8})
	if err == nil {
		t.Fatal("no error for a folder without a usable picture")
	}
	msg := err.Error()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "none of its 2 picture files") || !strings.Contains(msg, "bad.png") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q", msg)
	}
	if rep == nil || len(rep.Skipped) != 2 {
		t.Fatalf("report %+v", rep)
	}

	empty := t.TempDir()
	write(t, empty, "a.txt", nil)
	if _, _, err := Load(empty, Options{Channels: 1, Size: 8}); err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "no PNG or JPEG") || !strings.Contains(err.Error(), "1 other") {
		t.Fatalf("empty folder: %v", err)
	}
	missing := filepath.Join(empty, "missing")
	if _, _, err := Load(missing, Options{Channels: 1, Size: 8}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing folder: %v", err)
	}
	file := filepath.Join(empty, "a.txt")
	if _, _, err := Load(file, Options{Channels: 1, Size: 8}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("a file as the folder: %v", err)
	}
}

func TestBadOptionsAndMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.png", encodePNG(t, grayPattern(4, 4, 1)))
	write(t, dir, "b.png", encodePNG(t, grayPattern(4, 4, 2)))
	for _, o := range []Options{{Channels: 2, Size: 8}, {Channels: 1, Size: 0}, {Channels: 3, Size: MaxSize + 1}, {Channels: 1, Size: 8, MaxBytes: -1}} {
		if _, _, err := Load(dir, o); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%+v: error %v", o, err)
		}
	}
	_, _, err := Load(dir, Options{Channels: 3, Size: 64, MaxBytes: 2*3*64*64*4 - 1})
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("over the memory limit: %v", err)
	}
	if _, _, err := Load(dir, Options{Channels: 3, Size: 64, MaxBytes: 2 * 3 * 64 * 64 * 4}); err != nil {
		t.Fatalf("at the memory limit: %v", err)
	}
}

// withDimensions rewrites a PNG's header to claim w×h pixels (with a
// valid checksum), as a malicious or damaged file might.
func withDimensions(data []byte, w, h uint32) []byte {
	out := slices.Clone(data)
	ihdr := out[8+8 : 8+8+13] // after the signature, the chunk's length and type
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(out[8+8+13:], crc32.ChecksumIEEE(out[8+4:8+8+13]))
	return out
}

// TestDamagedFilesNeverPanic loads a folder of damaged copies of a PNG
// and a JPEG (every truncation length in steps, random byte changes, a
// header claiming a huge picture): each is either loaded or skipped.
func TestDamagedFilesNeverPanic(t *testing.T) {
	dir := t.TempDir()
	pngData := encodePNG(t, pattern(12, 10, 1))
	jpgData := encodeJPEG(t, pattern(12, 10, 2))
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	put := func(ext string, data []byte) {
		write(t, dir, fmt.Sprintf("%03d%s", n, ext), data)
		n++
	}
	for _, src := range []struct {
		ext  string
		data []byte
	}{{".png", pngData}, {".jpg", jpgData}} {
		for cut := 0; cut < len(src.data); cut += max(1, len(src.data)/40) {
			put(src.ext, src.data[:cut])
		}
		for k := 0; k < 40; k++ {
			d := slices.Clone(src.data)
			for j := 0; j < 1+k%4; j++ {
				d[rng.IntN(len(d))] = uint8(rng.IntN(256))
			}
			put(src.ext, d)
		}
	}
	put(".png", withDimensions(pngData, 1<<20, 1<<20))
	put(".png", withDimensions(pngData, 0, 10))
	put(".jpg", pngData) // a PNG named .jpg is a PNG
	put(".png", jpgData)
	d, rep, err := Load(dir, Options{Channels: 3, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files)+len(rep.Skipped) != n || d.N != len(rep.Files) {
		t.Fatalf("%d files: %d loaded, %d skipped", n, len(rep.Files), len(rep.Skipped))
	}
	if len(rep.Files) < 3 || len(rep.Skipped) < n/2 {
		t.Fatalf("%d loaded, %d skipped of %d damaged files: implausible", len(rep.Files), len(rep.Skipped), n)
	}
	sawHuge := false
	for _, s := range rep.Skipped {
		if strings.Contains(s.Err.Error(), "larger than") {
			sawHuge = true
		}
	}
	if !sawHuge {
		t.Fatalf("the file claiming 2^20×2^20 pixels was not refused by its header: %v", rep.Skipped)
	}
	for i, v := range d.Pixels {
		if !(v >= -1 && v <= 1) {
			t.Fatalf("value %d = %g, outside [−1, 1]", i, v)
		}
	}
}

func TestOutputDoesNotDependOnWorkers(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 12; i++ {
		name := string(rune('a'+i)) + ".png"
		if i%3 == 0 {
			write(t, dir, name, []byte("bad"))
			continue
		}
		write(t, dir, name, encodePNG(t, pattern(9+i, 14-i/2, uint64(i))))
	}
	one, rep1, err := Load(dir, Options{Channels: 3, Size: 6, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	four, rep4, err := Load(dir, Options{Channels: 3, Size: 6, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if one.N != 8 || !slices.Equal(one.Pixels, four.Pixels) || !slices.Equal(rep1.Files, rep4.Files) || len(rep4.Skipped) != 4 {
		t.Fatalf("1 worker: %d images, 4 workers: %d images, pixels equal %v", one.N, four.N, slices.Equal(one.Pixels, four.Pixels))
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 16; i++ {
		write(b, dir, string(rune('a'+i))+".jpg", encodeJPEG(b, pattern(320, 240, uint64(i))))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Load(dir, Options{Channels: 3, Size: 64}); err != nil {
			b.Fatal(err)
		}
	}
}
