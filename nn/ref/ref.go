// Package ref is the float64 reference implementation of [nn.Backend]: the
// oracle of the backend conformance suite (package backendtest) and of the
// finite-difference checks of gradients.
//
// Storage is float64. [Backend.Upload] and [Backend.Download] convert from
// and to float32; [Backend.Upload64] and [Backend.Download64] move float64
// values unchanged. Every op follows the semantics documented on
// [nn.Backend] but computes in float64 without the float32 roundings that
// the documentation prescribes for the float32 backends: the result is the
// exact value (up to float64 rounding) that those roundings approximate.
// The exceptions are discrete decisions, which must match the float32
// backends exactly: Dropout keeps element i when nn.RandKey.Uniform(i) is
// below float32(1−p), as the CPU backend does (the kept value is then
// scaled by 1/(1−p) in float64), and the random fills use the shared
// generator's float32 draws.
//
// Errors behave as in the CPU backend: the first one is recorded with the
// op's name ("ref: MatMul: …"), later ops do nothing, and Sync reports it.
// Shapes are checked with the nn.Check helpers, and the stride rules are
// the same (MatMul, BatchMatMul, Copy, Axpby, Mul, ScaleRows and Map take
// strided matrices, every other op records an error for one).
//
// The code is simple loops, written for clarity rather than speed; it
// allocates nothing after Alloc.
package ref

import (
	"errors"
	"fmt"
	"math"

	"gan/nn"
)

var _ nn.Backend = (*Backend)(nil)

// buffer is the storage behind a reference [nn.Mat].
type buffer struct {
	data []float64
}

// Len is the number of elements in the buffer (0 once freed).
func (b *buffer) Len() int { return len(b.data) }

// Backend is the float64 reference implementation of [nn.Backend]. It is
// not safe for concurrent use.
type Backend struct {
	err error
}

// New returns a reference backend.
func New() *Backend { return &Backend{} }

// Name returns "ref".
func (b *Backend) Name() string { return "ref" }

// Alloc returns a zeroed rows×cols matrix in a buffer of its own. Sizes
// above 2³¹−1 elements are refused, as on the CPU backend.
func (b *Backend) Alloc(rows, cols int) (nn.Mat, error) {
	if rows < 0 || cols < 0 || (cols > 0 && rows > math.MaxInt32/cols) {
		return nn.Mat{}, fmt.Errorf("ref: Alloc: bad size %dx%d", rows, cols)
	}
	return nn.Mat{Rows: rows, Cols: cols, Buf: &buffer{data: make([]float64, rows*cols)}}, nil
}

// Free releases m's buffer: m and every view of it become invalid. m must
// be the matrix Alloc returned (or a reshape of all of it): freeing a view
// records an error and frees nothing. Freeing the zero Mat, or a matrix
// already freed, does nothing.
func (b *Backend) Free(m nn.Mat) {
	if m.Buf == nil {
		return
	}
	buf, ok := m.Buf.(*buffer)
	if !ok {
		b.fail(fmt.Errorf("ref: Free: matrix %v is not from the ref backend (%T)", m, m.Buf))
		return
	}
	if buf.data == nil {
		return
	}
	if err := nn.CheckFree(m, len(buf.data)); err != nil {
		b.fail(fmt.Errorf("ref: Free: %w", err))
		return
	}
	buf.data = nil
}

// Upload copies the float32 values src into the contiguous dst; len(src)
// must equal dst.Len(). It returns the sticky error, if one is recorded,
// without copying.
func (b *Backend) Upload(dst nn.Mat, src []float32) error {
	d, err := b.transfer("Upload", dst, len(src))
	if err != nil {
		return err
	}
	for i, v := range src {
		d.data[i] = float64(v)
	}
	return nil
}

// Upload64 is [Backend.Upload] for float64 values, which it stores
// unchanged.
func (b *Backend) Upload64(dst nn.Mat, src []float64) error {
	d, err := b.transfer("Upload64", dst, len(src))
	if err != nil {
		return err
	}
	copy(d.data, src)
	return nil
}

// Download copies the contiguous src into dst, rounding each value to
// float32; len(dst) must equal src.Len(). It returns the sticky error, if
// one is recorded, without copying.
func (b *Backend) Download(dst []float32, src nn.Mat) error {
	s, err := b.transfer("Download", src, len(dst))
	if err != nil {
		return err
	}
	for i, v := range s.data {
		dst[i] = float32(v)
	}
	return nil
}

// Download64 is [Backend.Download] without the rounding to float32.
func (b *Backend) Download64(dst []float64, src nn.Mat) error {
	s, err := b.transfer("Download64", src, len(dst))
	if err != nil {
		return err
	}
	copy(dst, s.data)
	return nil
}

// transfer checks an Upload or Download of n host values to or from m.
func (b *Backend) transfer(op string, m nn.Mat, n int) (view, error) {
	if b.err != nil {
		return view{}, b.err
	}
	v, err := lookup(m)
	if err == nil {
		err = nn.CheckContiguous(m)
	}
	if err != nil {
		return view{}, fmt.Errorf("ref: %s: %w", op, err)
	}
	if n != m.Len() {
		return view{}, fmt.Errorf("ref: %s: %d values for a %v matrix", op, n, m)
	}
	return v, nil
}

// Sync returns the first error recorded by an op, or nil. The error stays
// recorded: every later Sync returns it again.
func (b *Backend) Sync() error { return b.err }

// Close does nothing: buffers are ordinary Go memory.
func (b *Backend) Close() error { return nil }

// view is the storage of one matrix: element (i, j) is data[i·ld + j].
type view struct {
	data       []float64
	rows, cols int
	ld         int
}

// at returns the index in v.data of element (i, j).
func (v view) at(i, j int) int { return i*v.ld + j }

// errNoBuffer is reported for the zero Mat where a matrix is required.
var errNoBuffer = errors.New("matrix has no buffer (the zero Mat)")

// lookup returns m's storage, checking that m is a reference matrix lying
// within its buffer.
func lookup(m nn.Mat) (view, error) {
	if m.Buf == nil {
		return view{}, errNoBuffer
	}
	buf, ok := m.Buf.(*buffer)
	if !ok {
		return view{}, fmt.Errorf("matrix %v is not from the ref backend (%T)", m, m.Buf)
	}
	if err := nn.CheckLayout(m, len(buf.data)); err != nil {
		if buf.data == nil {
			return view{}, fmt.Errorf("matrix %v at offset %d: buffer was freed", m, m.Off)
		}
		return view{}, err
	}
	end := m.Off + m.Extent()
	return view{data: buf.data[m.Off:end:end], rows: m.Rows, cols: m.Cols, ld: m.LD()}, nil
}

// fail records err unless an error is already recorded.
func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// check records err, if not nil, as op's error and reports whether it was
// nil.
func (b *Backend) check(op string, err error) bool {
	if err != nil {
		b.fail(fmt.Errorf("ref: %s: %w", op, err))
		return false
	}
	return true
}

// get returns the storage of the contiguous m for op, recording an error
// when m is invalid or strided. Call it only while b.err is nil.
func (b *Backend) get(op string, m nn.Mat) view {
	v, err := lookup(m)
	if err == nil {
		err = nn.CheckContiguous(m)
	}
	b.check(op, err)
	return v
}

// getStrided is get for the ops that take strided matrices.
func (b *Backend) getStrided(op string, m nn.Mat) view {
	v, err := lookup(m)
	b.check(op, err)
	return v
}
