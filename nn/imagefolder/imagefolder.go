// Package imagefolder loads a directory of the user's own PNG and JPEG
// pictures as a training set: every picture is decoded, converted to one
// (gray) or three (RGB) channels, centre-cropped to a square, resized to
// Size×Size with an area (box) filter and scaled to [−1, 1], into a
// [model.Dataset] without labels.
//
// The choices, each as a PyTorch user would recognise it:
//
//   - The directory is walked recursively, so both a flat folder of
//     pictures and torchvision's ImageFolder layout (root/class/xxx.png, as
//     pytorch/examples' DCGAN reads it) work; the class folders give no
//     labels. Files and folders whose names start with "." are left out
//     (thumbnail caches, macOS "._" resource forks named like pictures).
//     Files are taken by extension (.png, .jpg, .jpeg, in any case); every
//     other file is ignored and counted. Symbolic links to folders are not
//     followed.
//   - The files are sorted by their slash-separated path below the
//     directory (byte order), so a run is reproducible wherever the folder
//     is copied.
//   - A file is decoded by its content (PNG or JPEG signature), with the
//     standard library's decoders called directly: no decoder registered
//     elsewhere in the program (GIF, WebP, …) is ever used.
//   - Gray is ITU-R BT.601 luma exactly as PIL's Image.convert('L'), which
//     torchvision's Grayscale calls on PIL images: (19595 R + 38470 G +
//     7471 B + 2¹⁵) >> 16 on 8-bit values, rounded to an 8-bit value before
//     resizing. RGB from a gray picture repeats its value in the three
//     channels (convert('RGB')). Alpha is dropped without compositing, as
//     convert does. 16-bit PNG samples keep their high byte.
//   - The centre crop is the largest centred square, its corner at
//     ((W−side)/2, (H−side)/2) rounded down.
//   - The resize is an area (box) filter: output pixel (i, j) is the mean
//     of the cropped picture over the square it covers, each source pixel
//     weighted by its overlap (PIL's Image.resize with Image.BOX, OpenCV's
//     INTER_AREA). It was chosen over torchvision's bilinear-with-antialias
//     because it is exact and separable, keeps the mean brightness, never
//     overshoots (no clamping needed), and can be checked against a direct
//     computation; the two differ by a slight softening only. Values are
//     not rounded to 8 bits after resizing (torchvision's PIL path does).
//   - Values v in 0…255 become v/127.5 − 1, i.e. ToTensor then
//     Normalize(0.5, 0.5).
//
// Files that cannot be read or decoded (truncated, corrupt, a picture
// larger than [MaxPixels]) are skipped and reported in [Report]; if none
// is left, Load returns an error naming the directory. Decoding runs on a
// few goroutines; the result does not depend on their number.
package imagefolder

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"gan/nn/model"
)

// Limits on what Load accepts; each is a clear error or a skipped file,
// never an attempt to allocate without bound.
const (
	// MaxSize is the largest Size (pixels per side).
	MaxSize = 4096
	// MaxPixels is the largest picture (width × height) decoded; a larger
	// one is skipped before its pixels are allocated.
	MaxPixels = 1 << 26
	// MaxFileBytes is the largest file read; a larger one is skipped.
	MaxFileBytes = 256 << 20
	// DefaultMaxBytes is the default limit on the dataset's memory,
	// N·C·Size·Size float32 values.
	DefaultMaxBytes = 8 << 30
	// maxWorkers bounds the decoding goroutines (each holds one decoded
	// picture, up to MaxPixels·8 bytes).
	maxWorkers = 4
)

// Options says what shape to load the pictures at.
type Options struct {
	// Channels is 1 (gray) or 3 (RGB).
	Channels int
	// Size is the side of the square images, 1 … MaxSize.
	Size int
	// MaxBytes limits the dataset's memory (0: DefaultMaxBytes).
	MaxBytes int64
	// Workers is the number of decoding goroutines (0: up to 4, at most
	// GOMAXPROCS).
	Workers int
}

// Skipped is a file that was left out, with the reason.
type Skipped struct {
	// Path is the file's path below the directory, slash-separated.
	Path string
	Err  error
}

// Report describes what Load found in the directory.
type Report struct {
	// Dir is the directory as given.
	Dir string
	// Files lists the loaded pictures (paths below Dir, slash-separated),
	// in the order of the dataset's images.
	Files []string
	// Skipped lists the picture files that could not be used, in path
	// order.
	Skipped []Skipped
	// Ignored counts the files whose extension is not a picture's.
	Ignored int
}

// SkipSummary describes the skipped files in one line, naming the first
// few ("" when none was skipped).
func (r *Report) SkipSummary(few int) string {
	if len(r.Skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("skipped %d of %d picture files in %s that could not be used: %s",
		len(r.Skipped), len(r.Skipped)+len(r.Files), r.Dir, r.firstSkipped(few))
}

// firstSkipped names the first few skipped files with their reasons.
func (r *Report) firstSkipped(few int) string {
	var sb strings.Builder
	for i, s := range r.Skipped {
		if i == few {
			fmt.Fprintf(&sb, "; and %d more", len(r.Skipped)-few)
			break
		}
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "%s (%v)", s.Path, s.Err)
	}
	return sb.String()
}

// IsPicture reports whether a file name has one of the extensions Load
// takes: .png, .jpg or .jpeg, in any case.
func IsPicture(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// Check returns an error unless o asks for a shape Load can make.
func (o Options) Check() error {
	if o.Channels != 1 && o.Channels != 3 {
		return fmt.Errorf("%d channels: want 1 (gray) or 3 (RGB)", o.Channels)
	}
	if o.Size < 1 || o.Size > MaxSize {
		return fmt.Errorf("size %d: must be between 1 and %d", o.Size, MaxSize)
	}
	if o.MaxBytes < 0 {
		return fmt.Errorf("memory limit %d bytes: must not be negative", o.MaxBytes)
	}
	return nil
}

// list returns the picture files below dir, sorted, and the count of
// other files.
func list(dir string) (files []string, ignored int, err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, 0, err
	}
	if !st.IsDir() {
		return nil, 0, fmt.Errorf("%s is not a directory", dir)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if !IsPicture(d.Name()) {
			ignored++
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sort.Strings(files)
	return files, ignored, nil
}

// Load reads the pictures below dir at o's shape. It returns the dataset
// (Name dir, N pictures of o.Channels×o.Size×o.Size, Classes 0) and what
// was loaded, skipped and ignored; the error names dir.
func Load(dir string, o Options) (*model.Dataset, *Report, error) {
	if err := o.Check(); err != nil {
		return nil, nil, fmt.Errorf("images %s: %w", dir, err)
	}
	files, ignored, err := list(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("images %s: %w", dir, err)
	}
	rep := &Report{Dir: dir, Ignored: ignored}
	if len(files) == 0 {
		return nil, rep, fmt.Errorf("images %s: no PNG or JPEG files (.png, .jpg, .jpeg) in it or its folders (%d other files ignored)", dir, ignored)
	}
	dim := o.Channels * o.Size * o.Size
	maxBytes := o.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if need := int64(len(files)) * int64(dim) * 4; need > maxBytes {
		return nil, rep, fmt.Errorf("images %s: %d pictures of %d×%d×%d take %.1f GiB as float32, over the limit of %.1f GiB: use a smaller size or fewer pictures",
			dir, len(files), o.Channels, o.Size, o.Size, float64(need)/(1<<30), float64(maxBytes)/(1<<30))
	}
	pix := make([]float32, len(files)*dim)
	errs := make([]error, len(files))
	workers := o.Workers
	if workers <= 0 {
		workers = min(maxWorkers, runtime.GOMAXPROCS(0))
	}
	workers = max(1, min(workers, len(files)))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rs resizer
			for i := range next {
				errs[i] = loadFile(filepath.Join(dir, filepath.FromSlash(files[i])), o, &rs, pix[i*dim:(i+1)*dim])
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()

	n := 0
	for i, f := range files {
		if errs[i] != nil {
			rep.Skipped = append(rep.Skipped, Skipped{Path: f, Err: errs[i]})
			continue
		}
		if n != i {
			copy(pix[n*dim:(n+1)*dim], pix[i*dim:(i+1)*dim])
		}
		rep.Files = append(rep.Files, f)
		n++
	}
	if n == 0 {
		return nil, rep, fmt.Errorf("images %s: none of its %d picture files could be used: %s", dir, len(files), rep.firstSkipped(3))
	}
	pix = pix[:n*dim]
	if 4*n < 3*len(files) { // a quarter or more skipped: give the memory back
		pix = append([]float32(nil), pix...)
	}
	return &model.Dataset{Name: dir, N: n, C: o.Channels, H: o.Size, W: o.Size, Pixels: pix}, rep, nil
}

// Decode-time errors that are not the decoders' own.
var (
	errUnknownFormat = errors.New("neither a PNG nor a JPEG file")
	errTooLarge      = fmt.Errorf("larger than %d pixels", MaxPixels)
)

// loadFile reads, decodes and converts one picture into out (C·Size·Size
// values). A panic in a decoder is returned as an error.
func loadFile(path string, o Options, rs *resizer, out []float32) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(data) > MaxFileBytes {
		return fmt.Errorf("larger than %d MiB", MaxFileBytes>>20)
	}
	if len(data) == 0 {
		return errors.New("empty file")
	}
	img, err := decode(data)
	if err != nil {
		return err
	}
	return convert(img, o, rs, out)
}

// decode decodes a PNG or JPEG file's bytes, told apart by their
// signature, after checking from the header that the picture is not too
// large to hold.
func decode(data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", r)
		}
	}()
	var decodeConfig func(io.Reader) (image.Config, error)
	var decodeImage func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		decodeConfig, decodeImage = png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, []byte("\xff\xd8")):
		decodeConfig, decodeImage = jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, errUnknownFormat
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return nil, fmt.Errorf("empty picture (%d×%d)", cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%d×%d: %w", cfg.Width, cfg.Height, errTooLarge)
	}
	return decodeImage(bytes.NewReader(data))
}

// convert crops, resizes and scales img into out.
func convert(img image.Image, o Options, rs *resizer, out []float32) error {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	side := min(w, h)
	if side < 1 {
		return fmt.Errorf("empty picture (%d×%d)", w, h)
	}
	corner := image.Pt(b.Min.X+(w-side)/2, b.Min.Y+(h-side)/2)
	crop := image.Rectangle{Min: corner, Max: corner.Add(image.Pt(side, side))}
	rs.src = readPixels(img, crop, o.Channels, rs.src)
	rs.resize(side, o.Size, o.Channels, out)
	for i, v := range out {
		out[i] = min(max(v/127.5-1, -1), 1)
	}
	return nil
}

// luma is BT.601 luma as PIL's convert('L') computes it on 8-bit values.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// readPixels copies the square crop of img into buf (grown as needed) as
// c planes of 8-bit values, side×side each, channel-major.
func readPixels(img image.Image, crop image.Rectangle, c int, buf []uint8) []uint8 {
	side := crop.Dx()
	plane := side * side
	if cap(buf) < c*plane {
		buf = make([]uint8, c*plane)
	}
	buf = buf[:c*plane]
	put := func(i int, r, g, b uint8) {
		if c == 1 {
			buf[i] = luma(r, g, b)
			return
		}
		buf[i], buf[plane+i], buf[2*plane+i] = r, g, b
	}
	for y := 0; y < side; y++ {
		sy := crop.Min.Y + y
		row := y * side
		switch m := img.(type) {
		case *image.Gray:
			s := m.Pix[m.PixOffset(crop.Min.X, sy):]
			for x := 0; x < side; x++ {
				put(row+x, s[x], s[x], s[x])
			}
		case *image.YCbCr:
			for x := 0; x < side; x++ {
				sx := crop.Min.X + x
				yi, ci := m.YOffset(sx, sy), m.COffset(sx, sy)
				// The 16-bit conversion's high byte, as img.At(x, y).RGBA()
				// gives (color.YCbCrToRGB rounds differently).
				r, g, b, _ := color.YCbCr{Y: m.Y[yi], Cb: m.Cb[ci], Cr: m.Cr[ci]}.RGBA()
				put(row+x, uint8(r>>8), uint8(g>>8), uint8(b>>8))
			}
		case *image.NRGBA:
			s := m.Pix[m.PixOffset(crop.Min.X, sy):]
			for x := 0; x < side; x++ {
				put(row+x, s[4*x], s[4*x+1], s[4*x+2])
			}
		case *image.RGBA:
			s := m.Pix[m.PixOffset(crop.Min.X, sy):]
			for x := 0; x < side; x++ {
				r, g, b, a := s[4*x], s[4*x+1], s[4*x+2], s[4*x+3]
				if a != 255 {
					n := color.NRGBAModel.Convert(color.RGBA{r, g, b, a}).(color.NRGBA)
					r, g, b = n.R, n.G, n.B
				}
				put(row+x, r, g, b)
			}
		default:
			for x := 0; x < side; x++ {
				n := color.NRGBA64Model.Convert(img.At(crop.Min.X+x, sy)).(color.NRGBA64)
				put(row+x, uint8(n.R>>8), uint8(n.G>>8), uint8(n.B>>8))
			}
		}
	}
	return buf
}

// tap is one source pixel's weight in an output pixel.
type tap struct {
	src int
	w   float64
}

// resizer holds a worker's buffers: the cropped picture, the box filter's
// taps and the horizontally resized rows.
type resizer struct {
	src        []uint8
	from, to   int
	taps       [][]tap
	horizontal []float64
}

// boxTaps returns, for each of the to output pixels along an axis of from
// source pixels, the source pixels it overlaps and their weights (overlap
// length / box length, summing to 1).
func boxTaps(from, to int) [][]tap {
	out := make([][]tap, to)
	scale := float64(from) / float64(to)
	for i := range out {
		// The box is [i·from/to, (i+1)·from/to), computed in integers
		// where it matters so that boundaries on source pixel edges are
		// exact.
		lo := float64(i) * scale
		hi := float64(i+1) * scale
		first := i * from / to
		last := ((i+1)*from + to - 1) / to // ceil((i+1)·from/to), exclusive
		for s := first; s < last; s++ {
			w := min(hi, float64(s+1)) - max(lo, float64(s))
			if w > 0 {
				out[i] = append(out[i], tap{s, w / scale})
			}
		}
	}
	return out
}

// resize box-filters the c planes of side×side values in rs.src to
// size×size each, written to out as float32 values in 0…255.
func (rs *resizer) resize(side, size, c int, out []float32) {
	if rs.taps == nil || rs.from != side || rs.to != size {
		rs.taps, rs.from, rs.to = boxTaps(side, size), side, size
	}
	if cap(rs.horizontal) < side*size {
		rs.horizontal = make([]float64, side*size)
	}
	hz := rs.horizontal[:side*size]
	for ch := 0; ch < c; ch++ {
		src := rs.src[ch*side*side : (ch+1)*side*side]
		for y := 0; y < side; y++ {
			row := src[y*side : (y+1)*side]
			for x, ts := range rs.taps {
				var s float64
				for _, t := range ts {
					s += t.w * float64(row[t.src])
				}
				hz[y*size+x] = s
			}
		}
		dst := out[ch*size*size : (ch+1)*size*size]
		for y, ts := range rs.taps {
			for x := 0; x < size; x++ {
				var s float64
				for _, t := range ts {
					s += t.w * hz[t.src*size+x]
				}
				dst[y*size+x] = float32(s)
			}
		}
	}
}
