// Package cpu is the pure-Go implementation of [nn.Backend]: float32
// row-major matrices in ordinary Go slices, elementwise ops and reductions
// split over a small persistent worker pool, and matrix products through
// [sgemm].
//
// Results never depend on the number of workers: elementwise ops are
// independent per element, and every reduction adds in an order fixed by the
// shape alone (per-column sums row by row; scalar sums over fixed chunks of
// 4096 elements whose float64 partial sums are combined in chunk order;
// matrix products as package sgemm documents). After the first call of each
// op with a given shape, ops allocate nothing.
//
// The ops that take strided matrices ([nn.Mat.Stride]: MatMul, Copy,
// Axpby, Mul, ScaleRows and Map) walk them row by row, or as one run of
// elements when every operand is contiguous (BatchMatMul, which takes them
// too, hands sgemm their leading dimensions); every other op records an
// error for a strided operand.
//
// Like every backend, it records the first error (a shape mismatch, a matrix
// from another backend, a bad index) with the op's name, turns every later op
// into a no-op, and reports the error from [Backend.Sync].
package cpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"gan/nn"
)

var _ nn.Backend = (*Backend)(nil)

// buffer is the storage behind a CPU [nn.Mat].
type buffer struct {
	data []float32
}

// Len is the number of float32 elements in the buffer (0 once freed).
func (b *buffer) Len() int { return len(b.data) }

// Backend is the CPU implementation of [nn.Backend]. It is not safe for
// concurrent use: like a device stream, it runs one op at a time, each op
// using all of its workers.
type Backend struct {
	workers int
	pool    *pool
	err     error

	// partials holds the float64 per-chunk partial sums of SigmoidBCE and
	// SoftmaxCE; it grows to the largest size seen and is then reused.
	partials []float64

	// One job value per op, reused on every call so that handing work to the
	// pool allocates nothing.
	jBiasAct     biasActJob
	jColSum      colSumJob
	jRowSumSq    rowSumSqJob
	jAct         actJob
	jActBack     actBackwardJob
	jDropout     dropoutJob
	jMul         mulJob
	jBCE         sigmoidBCEJob
	jSoftmax     softmaxJob
	jSoftmaxCE   softmaxCEJob
	jAdam        adamJob
	jCopy        copyJob
	jFill        fillJob
	jRandUniform randUniformJob
	jRandNormal  randNormalJob
	jGather      gatherJob
	jIm2Col      im2colJob
	jCol2Im      col2imJob
	jSwap        layoutSwapJob
	jScatter     scatterJob
	jAxpby       axpbyJob
	jMul2        stridedMulJob
	jScaleRows   scaleRowsJob
	jMap         mapJob
	jCopy2       stridedCopyJob
	jLayerNorm   layerNormJob
	jLNBack      layerNormBackwardJob
	jLNParams    layerNormParamsJob
	jBatchNorm   batchNormJob
	jBNBack      batchNormBackwardJob
	jBMM         batchMatMulJob
	jCausal      causalSoftmaxJob
	jCausalBack  causalSoftmaxBackwardJob
	jGELU        geluJob

	jRowSums      rowBlockSumJob
	jAxpbyAct     axpbyActJob
	jAxpbyActBack axpbyActBackwardJob
	// epi is MatMulBiasAct's epilogue, reused as the jobs are.
	epi biasActEpilogue
}

// New returns a backend whose ops use runtime.GOMAXPROCS(0) workers.
func New() *Backend { return NewWithWorkers(runtime.GOMAXPROCS(0)) }

// NewWithWorkers returns a backend whose ops use n workers (at least 1): the
// calling goroutine and n−1 pool goroutines. Results are identical for every n.
func NewWithWorkers(n int) *Backend {
	if n < 1 {
		n = 1
	}
	b := &Backend{workers: n, pool: newPool(n)}
	// A backend dropped without Close still stops its pool goroutines.
	runtime.AddCleanup(b, func(p *pool) { p.close() }, b.pool)
	return b
}

// Workers is the number of workers the backend's ops use.
func (b *Backend) Workers() int { return b.workers }

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Alloc returns a zeroed rows×cols matrix in a buffer of its own. Sizes
// above 2³¹−1 elements are refused.
func (b *Backend) Alloc(rows, cols int) (nn.Mat, error) {
	if rows < 0 || cols < 0 || (cols > 0 && rows > math.MaxInt32/cols) {
		return nn.Mat{}, fmt.Errorf("cpu: Alloc: bad size %dx%d", rows, cols)
	}
	return nn.Mat{Rows: rows, Cols: cols, Buf: &buffer{data: make([]float32, rows*cols)}}, nil
}

// Free releases m's buffer: m and every view of it become invalid, and ops
// given them record an error. m must be the matrix Alloc returned (or a
// reshape of all of it): freeing a view (an offset, fewer elements than the
// buffer, or a row stride) records an error saying so and frees nothing.
// Freeing the zero Mat, or a matrix already freed, does nothing.
func (b *Backend) Free(m nn.Mat) {
	if m.Buf == nil {
		return
	}
	buf, ok := m.Buf.(*buffer)
	if !ok {
		b.fail(fmt.Errorf("cpu: Free: matrix %v is not from the cpu backend (%T)", m, m.Buf))
		return
	}
	if buf.data == nil {
		return
	}
	if err := nn.CheckFree(m, len(buf.data)); err != nil {
		b.fail(fmt.Errorf("cpu: Free: %w", err))
		return
	}
	buf.data = nil
}

// Upload copies src into the contiguous dst; len(src) must equal
// dst.Len(). It returns the sticky error, if one is recorded, without
// copying.
func (b *Backend) Upload(dst nn.Mat, src []float32) error {
	if b.err != nil {
		return b.err
	}
	d, err := denseView(dst)
	if err != nil {
		return fmt.Errorf("cpu: Upload: %w", err)
	}
	if len(src) != len(d) {
		return fmt.Errorf("cpu: Upload: %d values into a %v matrix", len(src), dst)
	}
	copy(d, src)
	return nil
}

// Download copies the contiguous src into dst; len(dst) must equal
// src.Len(). It returns the sticky error, if one is recorded, without
// copying.
func (b *Backend) Download(dst []float32, src nn.Mat) error {
	if b.err != nil {
		return b.err
	}
	s, err := denseView(src)
	if err != nil {
		return fmt.Errorf("cpu: Download: %w", err)
	}
	if len(dst) != len(s) {
		return fmt.Errorf("cpu: Download: a %v matrix into %d values", src, len(dst))
	}
	copy(dst, s)
	return nil
}

// Sync returns the first error recorded by an op, or nil. Ops run
// synchronously, so there is nothing to wait for. The error stays recorded:
// every later Sync returns it again.
func (b *Backend) Sync() error { return b.err }

// Close stops the worker pool. Buffers are ordinary Go memory and need no
// release. The backend must not be used after Close.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// Data returns the elements of the contiguous m (m.Off … m.Off+m.Len()) as
// a slice sharing m's storage, for tests and other CPU code. It panics if m
// is not a valid contiguous matrix of a CPU backend.
func Data(m nn.Mat) []float32 {
	d, err := denseView(m)
	if err != nil {
		panic(fmt.Sprintf("cpu.Data: %v", err))
	}
	return d
}

// errNoBuffer is reported for the zero Mat where a matrix is required.
var errNoBuffer = errors.New("matrix has no buffer (the zero Mat)")

// view returns the storage of m, from its first element to just past its
// last ([nn.Mat.Extent] elements; element (i, j) is at i·m.LD() + j),
// checking that m is a well-formed CPU matrix lying within its buffer. The
// slice's capacity ends with the view.
func view(m nn.Mat) ([]float32, error) {
	if m.Buf == nil {
		return nil, errNoBuffer
	}
	buf, ok := m.Buf.(*buffer)
	if !ok {
		return nil, fmt.Errorf("matrix %v is not from the cpu backend (%T)", m, m.Buf)
	}
	if err := nn.CheckLayout(m, len(buf.data)); err != nil {
		if buf.data == nil {
			return nil, fmt.Errorf("matrix %v at offset %d: buffer was freed", m, m.Off)
		}
		return nil, err
	}
	end := m.Off + m.Extent()
	return buf.data[m.Off:end:end], nil
}

// denseView is view for the contiguous m: its m.Len() elements in order.
func denseView(m nn.Mat) ([]float32, error) {
	d, err := view(m)
	if err == nil {
		err = nn.CheckContiguous(m)
	}
	return d, err
}

// fail records err unless an error is already recorded.
func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// failf records an error for op, formatted as "cpu: op: …".
func (b *Backend) failf(op, format string, args ...any) {
	b.fail(fmt.Errorf("cpu: %s: %s", op, fmt.Sprintf(format, args...)))
}

// get returns the elements of the contiguous m for op, recording an error
// (and returning nil) when m is invalid or strided: the ops that take
// strided matrices use getStrided. Call it only while b.err is nil.
func (b *Backend) get(op string, m nn.Mat) []float32 {
	d, err := denseView(m)
	if err != nil {
		b.fail(fmt.Errorf("cpu: %s: %w", op, err))
		return nil
	}
	return d
}

// getStrided returns the storage of m for op as view does, recording an
// error (and returning nil) when m is invalid. Call it only while b.err is
// nil.
func (b *Backend) getStrided(op string, m nn.Mat) []float32 {
	d, err := view(m)
	if err != nil {
		b.fail(fmt.Errorf("cpu: %s: %w", op, err))
		return nil
	}
	return d
}

// check records err, if not nil, as op's error and reports whether it was
// nil.
func (b *Backend) check(op string, err error) bool {
	if err != nil {
		b.failf(op, "%v", err)
		return false
	}
	return true
}

// same records an error for op unless all matrices have the same shape.
func (b *Backend) same(op string, ms ...nn.Mat) bool {
	for _, m := range ms[1:] {
		if m.Rows != ms[0].Rows || m.Cols != ms[0].Cols {
			b.fail(fmt.Errorf("cpu: %w", nn.CheckSameShape(op, ms...)))
			return false
		}
	}
	return true
}

// checkAct records an error for op unless act is a known activation with a
// non-negative slope.
func (b *Backend) checkAct(op string, act nn.Act) bool {
	if err := nn.CheckAct(act); err != nil {
		b.failf(op, "%v", err)
		return false
	}
	return true
}
