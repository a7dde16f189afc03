//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	"gan/nn"
)

var _ nn.Backend = (*Backend)(nil)

// threads is the block size of the elementwise kernels.
const threads = 256

// buffer is the device memory behind a CUDA [nn.Mat].
type buffer struct {
	ptr   uint64 // device address; 0 once freed (or for an empty buffer)
	n     int    // float32 elements; 0 once freed
	owner *Backend
}

// Len is the number of float32 elements in the buffer (0 once freed).
func (b *buffer) Len() int { return b.n }

// tile describes one size of the tiled SGEMM kernels (kernels/matmul.cu).
type tile struct {
	bm, bn, threads int
}

// tiles are the kernels sgemm_s_*, sgemm_m_*, sgemm_l_*, smallest first.
var tiles = [3]tile{{32, 32, 64}, {64, 64, 256}, {128, 128, 256}}

// kernelSet holds every kernel function, looked up once when the backend
// opens.
type kernelSet struct {
	gemm                        [3][2][2]kfunc // [tile][transA][transB]
	naive                       [2][2]kfunc
	gemvRows, gemvCols          kfunc
	biasAct, colSum, rowSumSq   kfunc
	actForward, actBackward     kfunc
	dropout, dropoutBwd         kfunc
	randUniform, randNormal     kfunc
	sigmoidBCE, softmax, softCE kfunc
	adam, gather, scatterAdd    kfunc
	axpby, mul, scaleRows       kfunc
	mapFn, copyStrided          kfunc
	lnForward, lnBackward       kfunc
	lnParamGrad                 kfunc
	bnColSum, bnColSqdev        kfunc
	bnForward, bnGradSums       kfunc
	bnBackward                  kfunc
	im2col, col2im              kfunc
	bgemm                       [2][2][2]kfunc // [tile][transA][transB], kernels/attention.cu
	causal, causalBack          kfunc
	geluForward, geluBackward   kfunc
	geluForwardGrad             kfunc
	axpbyAct, axpbyActBack      kfunc // kernels/fused.cu
	actBackColSum               kfunc
}

// bind looks up every kernel by its name in kernels/*.cu.
func (k *kernelSet) bind(lookup func(name string) (kfunc, error)) error {
	var firstErr error
	get := func(f *kfunc, name string) {
		if firstErr != nil {
			return
		}
		v, err := lookup(name)
		if err != nil {
			firstErr = fmt.Errorf("kernel %s: %w", name, err)
			return
		}
		*f = v
	}
	suffix := [2][2]string{{"nn", "nt"}, {"tn", "tt"}}
	letters := [3]string{"s", "m", "l"}
	for t := range tiles {
		for ta := 0; ta < 2; ta++ {
			for tb := 0; tb < 2; tb++ {
				get(&k.gemm[t][ta][tb], "sgemm_"+letters[t]+"_"+suffix[ta][tb])
			}
		}
	}
	for ta := 0; ta < 2; ta++ {
		for tb := 0; tb < 2; tb++ {
			get(&k.naive[ta][tb], "sgemm_naive_"+suffix[ta][tb])
			get(&k.bgemm[0][ta][tb], "bgemm_s_"+suffix[ta][tb])
			get(&k.bgemm[1][ta][tb], "bgemm_m_"+suffix[ta][tb])
		}
	}
	for _, e := range []struct {
		f    *kfunc
		name string
	}{
		{&k.gemvRows, "gemv_rows"}, {&k.gemvCols, "gemv_cols"},
		{&k.biasAct, "bias_act"}, {&k.colSum, "col_sum"}, {&k.rowSumSq, "row_sum_sq"},
		{&k.actForward, "act_forward_k"}, {&k.actBackward, "act_backward_k"},
		{&k.dropout, "dropout_forward"}, {&k.dropoutBwd, "dropout_backward"},
		{&k.randUniform, "rand_uniform"}, {&k.randNormal, "rand_normal"},
		{&k.sigmoidBCE, "sigmoid_bce"}, {&k.softmax, "softmax"}, {&k.softCE, "softmax_ce"},
		{&k.adam, "adam"}, {&k.gather, "gather_rows"}, {&k.scatterAdd, "scatter_add_rows"},
		{&k.axpby, "axpby"}, {&k.mul, "mul"}, {&k.scaleRows, "scale_rows"},
		{&k.mapFn, "map_fn"}, {&k.copyStrided, "copy_strided"},
		{&k.lnForward, "layer_norm_forward"}, {&k.lnBackward, "layer_norm_backward"},
		{&k.lnParamGrad, "layer_norm_param_grad"},
		{&k.bnColSum, "batch_norm_col_sum"}, {&k.bnColSqdev, "batch_norm_col_sqdev"},
		{&k.bnForward, "batch_norm_forward"}, {&k.bnGradSums, "batch_norm_grad_sums"},
		{&k.bnBackward, "batch_norm_backward"},
		{&k.im2col, "im2col"}, {&k.col2im, "col2im"},
		{&k.causal, "causal_softmax"}, {&k.causalBack, "causal_softmax_backward"},
		{&k.geluForward, "gelu_forward"}, {&k.geluBackward, "gelu_backward"}, {&k.geluForwardGrad, "gelu_forward_grad"},
		{&k.axpbyAct, "axpby_act"}, {&k.axpbyActBack, "axpby_act_backward"}, {&k.actBackColSum, "act_backward_col_sum"},
	} {
		get(e.f, e.name)
	}
	return firstErr
}

// maxArgs bounds the parameters of a kernel (gan_launch in driver_cuda.go
// has the same bound; col2im takes 17).
const maxArgs = 20

// argBuf holds the parameters of one launch, each in an 8-byte slot (4-byte
// values in the low half: the driver reads as many bytes as the parameter
// has), with a type letter per slot that the emulator checks against the
// kernel's C++ signature: i int, f float, u unsigned long long, p pointer.
type argBuf struct {
	v [maxArgs]uint64
	t [maxArgs]byte
	n int
}

func (a *argBuf) reset() *argBuf { a.n = 0; return a }

func (a *argBuf) put(v uint64, t byte) *argBuf {
	a.v[a.n], a.t[a.n] = v, t
	a.n++
	return a
}

// i adds an int parameter.
func (a *argBuf) i(v int) *argBuf { return a.put(uint64(uint32(int32(v))), 'i') }

// f adds a float parameter.
func (a *argBuf) f(v float32) *argBuf { return a.put(uint64(math.Float32bits(v)), 'f') }

// u adds an unsigned long long parameter.
func (a *argBuf) u(v uint64) *argBuf { return a.put(v, 'u') }

// p adds a pointer parameter.
func (a *argBuf) p(v uint64) *argBuf { return a.put(v, 'p') }

// Backend is the CUDA implementation of [nn.Backend] on one device. It is
// not safe for concurrent use: like the CPU backend, it runs one op at a
// time (in order, on one stream).
type Backend struct {
	d         *driver
	k         kernelSet
	info      deviceInfo
	err       error
	debugSync bool
	args      *argBuf
	maxBlocks int // grid cap of the elementwise kernels
	tile      int // tests: 1 + the index in tiles of the SGEMM tile to use; 0 chooses by size

	// Gather indices go through a pinned host staging buffer into a device
	// buffer, both grown to the largest batch seen; the staging buffer is
	// rewritten only after the driver has finished reading it.
	idxDev     uint64
	idxStage   unsafe.Pointer
	idxCap     int
	idxPending bool

	// The batch norms' float64 partial column sums (kernels/batchnorm.cu)
	// live in one device buffer, grown to the largest seen.
	bnPart uint64
	bnCap  int // float64 elements
}

// newBackend opens the device through d and looks every kernel up.
func newBackend(d *driver) (*Backend, error) {
	b := &Backend{d: d, info: d.info(), args: new(argBuf), debugSync: os.Getenv("GAN_CUDA_SYNC") == "1"}
	b.maxBlocks = max(1, b.info.SMs) * 16
	if err := b.k.bind(d.function); err != nil {
		d.close()
		return nil, fmt.Errorf("cuda: %w", err)
	}
	return b, nil
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Device describes the GPU, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs,
// 79 GiB, driver 13.0)".
func (b *Backend) Device() string {
	i := b.info
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %d GiB, driver %d.%d)", i.Name, i.Major, i.Minor, i.SMs,
		i.Memory>>30, i.Driver/1000, i.Driver%1000/10)
}

// SMs is the number of streaming multiprocessors of the device.
func (b *Backend) SMs() int { return b.info.SMs }

// Alloc returns a zeroed rows×cols matrix in a device allocation of its
// own. Running out of device memory gives an error matching
// [ErrOutOfMemory].
func (b *Backend) Alloc(rows, cols int) (nn.Mat, error) {
	if rows < 0 || cols < 0 || (cols > 0 && rows > math.MaxInt32/cols) {
		return nn.Mat{}, fmt.Errorf("cuda: Alloc: bad size %dx%d", rows, cols)
	}
	buf := &buffer{n: rows * cols, owner: b}
	if buf.n > 0 {
		p, err := b.d.alloc(4 * buf.n)
		if err != nil {
			return nn.Mat{}, fmt.Errorf("cuda: Alloc %dx%d (%d MiB): %w", rows, cols, 4*buf.n>>20, err)
		}
		buf.ptr = p
		if err := b.d.memsetD32(p, 0, buf.n); err != nil {
			b.d.free(p)
			return nn.Mat{}, fmt.Errorf("cuda: Alloc: zeroing: %w", err)
		}
	}
	return nn.Mat{Rows: rows, Cols: cols, Buf: buf}, nil
}

// Free releases m's buffer: m and every view of it become invalid, and ops
// given them record an error. m must be the matrix Alloc returned (or a
// reshape of all of it): freeing a view (an offset, fewer elements than the
// buffer, or a row stride) records an error and frees nothing. Freeing the
// zero Mat, or a matrix already freed, does nothing.
func (b *Backend) Free(m nn.Mat) {
	if m.Buf == nil {
		return
	}
	buf, ok := m.Buf.(*buffer)
	if !ok || buf.owner != b {
		b.fail(fmt.Errorf("cuda: Free: matrix %v is not from this cuda backend (%T)", m, m.Buf))
		return
	}
	if buf.ptr == 0 && buf.n == 0 && m.Len() > 0 {
		return // freed already
	}
	if err := nn.CheckFree(m, buf.n); err != nil {
		b.fail(fmt.Errorf("cuda: Free: %w", err))
		return
	}
	if buf.ptr != 0 {
		if err := b.d.free(buf.ptr); err != nil {
			b.fail(fmt.Errorf("cuda: Free: %w", err))
		}
	}
	buf.ptr, buf.n = 0, 0
}

// Upload copies src into dst; len(src) must equal dst.Len(). The copy is
// queued on the stream; src may be reused as soon as Upload returns. It
// returns the sticky error, if one is recorded, without copying.
func (b *Backend) Upload(dst nn.Mat, src []float32) error {
	if b.err != nil {
		return b.err
	}
	p, err := b.view(dst)
	if err == nil {
		err = nn.CheckContiguous(dst)
	}
	if err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	if len(src) != dst.Len() {
		return fmt.Errorf("cuda: Upload: %d values into a %v matrix", len(src), dst)
	}
	if len(src) == 0 {
		return nil
	}
	if err := b.d.htod(p, unsafe.Pointer(&src[0]), 4*len(src)); err != nil {
		b.fail(fmt.Errorf("cuda: Upload: %w", err))
		return b.err
	}
	return nil
}

// Download waits for every queued op and copies src into dst; len(dst)
// must equal src.Len(). It returns the sticky error, if one is recorded or
// the device reports a fault, without copying.
func (b *Backend) Download(dst []float32, src nn.Mat) error {
	if b.err != nil {
		return b.err
	}
	p, err := b.view(src)
	if err == nil {
		err = nn.CheckContiguous(src)
	}
	if err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	if len(dst) != src.Len() {
		return fmt.Errorf("cuda: Download: a %v matrix into %d values", src, len(dst))
	}
	if len(dst) == 0 {
		return b.Sync()
	}
	if err := b.d.dtoh(unsafe.Pointer(&dst[0]), p, 4*len(dst)); err != nil {
		b.fail(fmt.Errorf("cuda: Download: %w", err))
		return b.err
	}
	return nil
}

// Sync waits for every queued op and returns the first recorded error; a
// fault the device reports while waiting becomes the sticky error. The
// error stays recorded: every later Sync returns it again.
func (b *Backend) Sync() error {
	if b.err != nil {
		return b.err
	}
	if err := b.d.sync(); err != nil {
		b.fail(fmt.Errorf("cuda: Sync: %w", err))
	}
	return b.err
}

// Close waits for the device and releases the stream, the module, the
// backend's own buffers and its hold on the device's primary context
// (which frees every matrix still allocated). The backend must not be used
// after Close; closing twice does nothing.
func (b *Backend) Close() error {
	if b.d == nil {
		return nil
	}
	var errs []error
	if err := b.d.sync(); err != nil {
		errs = append(errs, err)
	}
	if b.idxDev != 0 {
		errs = append(errs, b.d.free(b.idxDev))
	}
	if b.idxStage != nil {
		errs = append(errs, b.d.freeHost(b.idxStage))
	}
	if b.bnPart != 0 {
		errs = append(errs, b.d.free(b.bnPart))
	}
	errs = append(errs, b.d.close())
	b.d = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cuda: Close: %w", err)
	}
	return nil
}

// errNoBuffer is reported for the zero Mat where a matrix is required.
var errNoBuffer = errors.New("matrix has no buffer (the zero Mat)")

// view returns the device address of m's first element, checking that m is
// a matrix of this backend whose elements, (Rows−1)·LD + Cols of them from
// Off on ([nn.Mat.Extent]), lie within its buffer, with a row stride that
// is 0 or at least Cols (for more than one row).
func (b *Backend) view(m nn.Mat) (uint64, error) {
	if m.Buf == nil {
		return 0, errNoBuffer
	}
	buf, ok := m.Buf.(*buffer)
	if !ok || buf.owner != b {
		return 0, fmt.Errorf("matrix %v is not from this cuda backend (%T)", m, m.Buf)
	}
	if err := nn.CheckLayout(m, buf.n); err != nil {
		if buf.ptr == 0 && buf.n == 0 {
			return 0, fmt.Errorf("matrix %v at offset %d: buffer was freed", m, m.Off)
		}
		return 0, err
	}
	return buf.ptr + 4*uint64(m.Off), nil
}

// fail records err unless an error is already recorded.
func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// failf records an error for op, formatted as "cuda: op: …".
func (b *Backend) failf(op, format string, args ...any) {
	b.fail(fmt.Errorf("cuda: %s: %s", op, fmt.Sprintf(format, args...)))
}

// get returns the device address of the contiguous m for op, recording an
// error when m is invalid or strided (the ops that take strided matrices
// use getStrided). Call it only while b.err is nil.
func (b *Backend) get(op string, m nn.Mat) uint64 {
	p, err := b.view(m)
	if err == nil {
		err = nn.CheckContiguous(m)
	}
	if err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
	}
	return p
}

// getStrided returns m's device address for op, recording an error when m
// is invalid; m may be strided. Call it only while b.err is nil.
func (b *Backend) getStrided(op string, m nn.Mat) uint64 {
	p, err := b.view(m)
	if err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
	}
	return p
}

// same records an error for op unless all matrices have the same shape.
func (b *Backend) same(op string, ms ...nn.Mat) bool {
	if err := nn.CheckSameShape(op, ms...); err != nil {
		b.fail(fmt.Errorf("cuda: %w", err))
		return false
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

// launch queues kernel f with the parameters in b.args on a gx×gy grid of
// bx×by blocks, recording a failure under op's name. With GAN_CUDA_SYNC=1
// it also waits for the kernel, so that a fault is reported as op's.
func (b *Backend) launch(op string, f kfunc, gx, gy, bx, by int) {
	if err := b.d.launch(f, uint32(gx), uint32(gy), uint32(bx), uint32(by), b.args); err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		return
	}
	b.afterOp(op)
}

// afterOp waits for the device after op in GAN_CUDA_SYNC=1 mode.
func (b *Backend) afterOp(op string) {
	if b.debugSync {
		if err := b.d.sync(); err != nil {
			b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		}
	}
}

// grid1 is the grid of a 1-D grid-stride kernel over n items: one thread
// per item up to maxBlocks blocks.
func (b *Backend) grid1(n int) int {
	return max(1, min((n+threads-1)/threads, b.maxBlocks))
}

// actArgs adds act's kind and slope to the parameters in a.
func actArgs(a *argBuf, act nn.Act) *argBuf { return a.i(int(act.Kind)).f(act.Slope) }

// MatMul computes C = op(A)·op(B) + beta·C (see [nn.Backend]); A, B and C
// may be strided (their LD is the kernels' leading dimension). Products
// with one row or one column of C go to the matrix-vector kernels; the
// others to the tiled kernel whose tile size still gives every SM a block
// (the smallest tile when none does).
func (b *Backend) MatMul(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	b.matMul("MatMul", c, a, bm, transA, transB, beta, false)
}

// matMulNaive is MatMul through the one-thread-per-output kernel: the
// reference and benchmark baseline of the tiled one.
func (b *Backend) matMulNaive(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	b.matMul("MatMul", c, a, bm, transA, transB, beta, true)
}

func (b *Backend) matMul(op string, c, a, bm nn.Mat, transA, transB bool, beta float32, naive bool) {
	if b.err != nil {
		return
	}
	cp, ap, bp := b.getStrided(op, c), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	m, n, k, err := nn.MatMulDims(c, a, bm, transA, transB)
	if err != nil {
		b.failf(op, "%v", err)
		return
	}
	if m == 0 || n == 0 {
		return
	}
	lda, ldb, ldc := a.LD(), bm.LD(), c.LD()
	ta, tb := b2i(transA), b2i(transB)
	if naive {
		for r0 := 0; r0 < m; r0 += 16 * 65535 {
			rows := min(m-r0, 16*65535)
			b.args.reset().i(rows).i(n).i(k).p(rowOffset(ap, r0, lda, transA)).i(lda).p(bp).i(ldb).
				f(beta).p(cp + 4*uint64(r0*ldc)).i(ldc).i(0)
			b.launch(op, b.k.naive[ta][tb], (n+15)/16, (rows+15)/16, 16, 16)
		}
		return
	}
	switch {
	case n == 1:
		// C is m×1 (element i at i·ldc): x is op(B), the k×1 column B
		// (element kk at kk·ldb) or the 1×k row Bᵀ (contiguous).
		incx := 1
		if !transB {
			incx = ldb
		}
		if !transA {
			b.gemv(op, b.k.gemvRows, m, k, ap, lda, bp, incx, beta, cp, ldc)
		} else {
			b.gemv(op, b.k.gemvCols, m, k, ap, lda, bp, incx, beta, cp, ldc)
		}
		return
	case m == 1:
		// C is 1×n (contiguous): x is op(A), the 1×k row A (contiguous)
		// or the k×1 column Aᵀ (element kk at kk·lda).
		incx := 1
		if transA {
			incx = lda
		}
		if !transB {
			b.gemv(op, b.k.gemvCols, n, k, bp, ldb, ap, incx, beta, cp, 1)
		} else {
			b.gemv(op, b.k.gemvRows, n, k, bp, ldb, ap, incx, beta, cp, 1)
		}
		return
	}
	t := 0
	for t+1 < len(tiles) && ceilDiv(m, tiles[t+1].bm)*ceilDiv(n, tiles[t+1].bn) >= b.info.SMs {
		t++
	}
	if b.tile > 0 {
		t = b.tile - 1
	}
	ti := tiles[t]
	vec := 0
	if ap%16 == 0 && lda%4 == 0 {
		vec |= 1
	}
	if bp%16 == 0 && ldb%4 == 0 {
		vec |= 2
	}
	if cp%16 == 0 && ldc%4 == 0 {
		vec |= 4
	}
	// gridDim.y is at most 65535: taller products go in slices of rows.
	for r0 := 0; r0 < m; r0 += ti.bm * 65535 {
		rows := min(m-r0, ti.bm*65535)
		arow := rowOffset(ap, r0, lda, transA)
		v := vec
		if arow%16 != 0 {
			v &^= 1
		}
		b.args.reset().i(rows).i(n).i(k).p(arow).i(lda).p(bp).i(ldb).f(beta).p(cp + 4*uint64(r0*ldc)).i(ldc).i(v)
		b.launch(op, b.k.gemm[t][ta][tb], ceilDiv(n, ti.bn), ceilDiv(rows, ti.bm), ti.threads, 1)
	}
}

// rowOffset is the address of row r0 of op(A): r0 rows into A, or r0
// columns into the storage of a transposed A.
func rowOffset(ap uint64, r0, lda int, transA bool) uint64 {
	if transA {
		return ap + 4*uint64(r0)
	}
	return ap + 4*uint64(r0*lda)
}

// gemv launches gemv_rows (one warp per output, 8 per block) or gemv_cols
// (one thread per output) for y = Mat·x (+ beta·y) with rows outputs, x and
// y with element strides incx and incy.
func (b *Backend) gemv(op string, f kfunc, rows, k int, mat uint64, ldm int, x uint64, incx int, beta float32,
	y uint64, incy int) {
	b.args.reset().i(rows).i(k).p(mat).i(ldm).p(x).i(incx).f(beta).p(y).i(incy)
	if f == b.k.gemvRows {
		b.launch(op, f, ceilDiv(rows, threads/32), 1, threads, 1)
	} else {
		b.launch(op, f, ceilDiv(rows, threads), 1, threads, 1)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// AddBias adds the 1×n row bias to every row of the m×n matrix y.
func (b *Backend) AddBias(y, bias nn.Mat) { b.biasAct("AddBias", y, bias, nn.Act{}) }

// BiasAct computes y = act(y + bias) in place; bias is a 1×n row or the
// zero Mat (no bias).
func (b *Backend) BiasAct(y, bias nn.Mat, act nn.Act) { b.biasAct("BiasAct", y, bias, act) }

func (b *Backend) biasAct(op string, y, bias nn.Mat, act nn.Act) {
	if b.err != nil || !b.checkAct(op, act) {
		return
	}
	yp := b.get(op, y)
	var bp uint64
	hasBias := !bias.Empty() || op == "AddBias"
	if hasBias {
		bp = b.get(op, bias)
		if err := nn.CheckBias(bias, y); b.err == nil && err != nil {
			b.failf(op, "%v", err)
		}
	}
	if b.err != nil || y.Len() == 0 || (!hasBias && act.Kind == nn.ActNone) {
		return
	}
	actArgs(b.args.reset().i(y.Rows).i(y.Cols).p(yp).p(bp).i(b2i(hasBias)), act)
	b.launch(op, b.k.biasAct, b.grid1(y.Len()), 1, threads, 1)
}

// ColSum computes db = beta·db + Σ_rows dy, where dy is m×n and db is 1×n.
// Each column is summed in float64 (eight interleaved partial sums added
// in a fixed order), rounded to float32 and added to float32(beta·db); with
// beta = 0 the old db is ignored, NaNs included.
func (b *Backend) ColSum(db, dy nn.Mat, beta float32) {
	const op = "ColSum"
	if b.err != nil {
		return
	}
	dbp, dyp := b.get(op, db), b.get(op, dy)
	if b.err != nil {
		return
	}
	if err := nn.CheckColSum(db, dy); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if dy.Cols == 0 {
		return
	}
	b.args.reset().i(dy.Rows).i(dy.Cols).p(dyp).f(beta).p(dbp)
	b.launch(op, b.k.colSum, ceilDiv(dy.Cols, 32), 1, 32, 8)
}

// RowSumSq computes dst[i] = Σ_j x[i][j]² for the m×n x into the m×1 dst:
// one block per row sums in float64 (256 strided partial sums added by a
// fixed tree), rounded to float32.
func (b *Backend) RowSumSq(dst, x nn.Mat) {
	const op = "RowSumSq"
	if b.err != nil {
		return
	}
	dp, xp := b.get(op, dst), b.get(op, x)
	if b.err != nil {
		return
	}
	if err := nn.CheckRowSumSq(dst, x); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if x.Rows == 0 {
		return
	}
	b.args.reset().i(x.Rows).i(x.Cols).p(xp).p(dp)
	b.launch(op, b.k.rowSumSq, x.Rows, 1, threads, 1)
}

// Activate computes y = act(x); y may be x.
func (b *Backend) Activate(y, x nn.Mat, act nn.Act) {
	const op = "Activate"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, y, x) {
		return
	}
	yp, xp := b.get(op, y), b.get(op, x)
	if b.err != nil || y.Len() == 0 {
		return
	}
	actArgs(b.args.reset().i(y.Len()).p(yp).p(xp), act)
	b.launch(op, b.k.actForward, b.grid1(y.Len()), 1, threads, 1)
}

// ActBackward computes dx = dy ⊙ act'(·) from the activation's output y:
// LeakyReLU: dx = dy where y > 0, else dy·slope; Tanh: dx = dy·(1 − y·y),
// each operation rounded to float32. dx may be dy.
func (b *Backend) ActBackward(dx, dy, y nn.Mat, act nn.Act) {
	const op = "ActBackward"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, dx, dy, y) {
		return
	}
	dxp, dyp, yp := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil || dx.Len() == 0 {
		return
	}
	actArgs(b.args.reset().i(dx.Len()).p(dxp).p(dyp).p(yp), act)
	b.launch(op, b.k.actBackward, b.grid1(dx.Len()), 1, threads, 1)
}

// Dropout draws the keep mask of PyTorch's training-mode dropout from the
// shared generator, exactly as the CPU backend: element i of the view is
// kept when Uniform(key, i) < float32(1 − p); mask[i] is then
// float32(1/(1−p)) (computed in float64), else 0, and y = x·mask. p must lie
// in [0, 1].
func (b *Backend) Dropout(y, mask, x nn.Mat, p float32, key nn.RandKey) {
	const op = "Dropout"
	if b.err != nil || !b.same(op, y, mask, x) {
		return
	}
	if err := nn.CheckDropout(p); err != nil {
		b.failf(op, "%v", err)
		return
	}
	yp, mp, xp := b.get(op, y), b.get(op, mask), b.get(op, x)
	if b.err != nil || y.Len() == 0 {
		return
	}
	n := y.Len()
	b.args.reset().i(n).p(yp).p(mp).p(xp).f(1 - p).f(float32(1.0 / (1.0 - float64(p)))).u(key.Seed).u(key.Stream)
	b.launch(op, b.k.dropout, b.grid1(ceilDiv(n, 4)), 1, threads, 1)
}

// DropoutBackward computes dx = dy ⊙ mask; dx may be dy.
func (b *Backend) DropoutBackward(dx, dy, mask nn.Mat) {
	const op = "DropoutBackward"
	if b.err != nil || !b.same(op, dx, dy, mask) {
		return
	}
	dxp, dyp, mp := b.get(op, dx), b.get(op, dy), b.get(op, mask)
	if b.err != nil || dx.Len() == 0 {
		return
	}
	b.args.reset().i(dx.Len()).p(dxp).p(dyp).p(mp)
	b.launch(op, b.k.dropoutBwd, b.grid1(dx.Len()), 1, threads, 1)
}

// SigmoidBCE is the fused sigmoid and binary cross-entropy on logits x with
// targets t (see [nn.Backend]), in one block of 512 threads: per element
// the CPU backend's formulas (σ and the loss in float64, the gradient
// scale·(float32(σ) − t) in float32), the two means summed in float64 and
// written to stats on the device. grad may be x.
func (b *Backend) SigmoidBCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SigmoidBCE"
	if b.err != nil {
		return
	}
	gp, sp, xp, tp := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil {
		return
	}
	if err := nn.CheckLoss(grad, stats, x, t); err != nil {
		b.failf(op, "%v", err)
		return
	}
	b.args.reset().i(x.Len()).p(gp).p(sp).p(xp).p(tp).f(scale)
	b.launch(op, b.k.sigmoidBCE, 1, 1, 512, 1)
}

// Softmax computes y = softmax(x) for each row (max-subtracted, in float64,
// rounded once), one warp per row. y may be x.
func (b *Backend) Softmax(y, x nn.Mat) {
	const op = "Softmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yp, xp := b.get(op, y), b.get(op, x)
	if b.err != nil || x.Cols == 0 || x.Rows == 0 {
		return
	}
	b.args.reset().i(x.Rows).i(x.Cols).p(yp).p(xp)
	b.launch(op, b.k.softmax, ceilDiv(x.Rows, threads/32), 1, threads, 1)
}

// SoftmaxCE is the fused row softmax and cross-entropy on logits x (m×n)
// with target distributions t (see [nn.Backend]), in one block of 1024
// threads, one warp per row; the mean loss and the accuracy are written to
// stats on the device. grad may be x.
func (b *Backend) SoftmaxCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SoftmaxCE"
	if b.err != nil {
		return
	}
	gp, sp, xp, tp := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil {
		return
	}
	if err := nn.CheckSoftmaxCE(grad, stats, x, t); err != nil {
		b.failf(op, "%v", err)
		return
	}
	b.args.reset().i(x.Rows).i(x.Cols).p(gp).p(sp).p(xp).p(tp).f(scale)
	b.launch(op, b.k.softCE, 1, 1, 1024, 1)
}

// Adam applies one step of PyTorch's single-tensor Adam to the flat
// parameters p with gradients g and moments m, v (see kernels/adam.cu for
// the formula, the CPU backend's operation for operation). The step
// constants are computed here in float64.
func (b *Backend) Adam(p, g, m, v nn.Mat, s nn.AdamStep) {
	const op = "Adam"
	if b.err != nil || !b.same(op, p, g, m, v) {
		return
	}
	c, err := s.Constants()
	if err != nil {
		b.failf(op, "%v", err)
		return
	}
	pp, gp, mp, vp := b.get(op, p), b.get(op, g), b.get(op, m), b.get(op, v)
	if b.err != nil || p.Len() == 0 {
		return
	}
	b.args.reset().i(p.Len()).p(pp).p(gp).p(mp).p(vp).
		f(c.W1).f(c.Beta2).f(c.W2).f(c.StepSize).f(c.BC2Sqrt).f(c.Eps)
	b.launch(op, b.k.adam, b.grid1(p.Len()), 1, threads, 1)
}

// Copy copies src into dst. Contiguous matrices need the same number of
// elements and are copied with an asynchronous device-to-device copy;
// when either is strided they need the same shape and are copied by the
// copy_strided kernel.
func (b *Backend) Copy(dst, src nn.Mat) {
	const op = "Copy"
	if b.err != nil {
		return
	}
	dp, sp := b.getStrided(op, dst), b.getStrided(op, src)
	if b.err != nil {
		return
	}
	if err := nn.CheckCopy(dst, src); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if dst.Len() == 0 {
		return
	}
	if !dst.Contiguous() || !src.Contiguous() {
		if dp != sp || dst.LD() != src.LD() {
			b.args.reset().i(dst.Rows).i(dst.Cols).p(dp).i(dst.LD()).p(sp).i(src.LD())
			b.launch(op, b.k.copyStrided, b.grid1(dst.Len()), 1, threads, 1)
		}
		return
	}
	if dp == sp {
		return
	}
	if err := b.d.dtod(dp, sp, 4*dst.Len()); err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		return
	}
	b.afterOp(op)
}

// Fill sets every element of dst to value with an asynchronous 32-bit
// memset of value's bits.
func (b *Backend) Fill(dst nn.Mat, value float32) {
	const op = "Fill"
	if b.err != nil {
		return
	}
	dp := b.get(op, dst)
	if b.err != nil || dst.Len() == 0 {
		return
	}
	if err := b.d.memsetD32(dp, math.Float32bits(value), dst.Len()); err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		return
	}
	b.afterOp(op)
}

// RandUniform fills dst with lo + (hi−lo)·Uniform(key, i) for element i of
// the view (row-major), bit for bit as the CPU backend.
func (b *Backend) RandUniform(dst nn.Mat, lo, hi float32, key nn.RandKey) {
	const op = "RandUniform"
	if b.err != nil {
		return
	}
	dp := b.get(op, dst)
	if b.err != nil || dst.Len() == 0 {
		return
	}
	n := dst.Len()
	b.args.reset().i(n).p(dp).f(lo).f(hi - lo).u(key.Seed).u(key.Stream)
	b.launch(op, b.k.randUniform, b.grid1(ceilDiv(n, 4)), 1, threads, 1)
}

// RandNormal fills dst with mean + std·Normal(key, i) for element i of the
// view (row-major), bit for bit as the CPU backend.
func (b *Backend) RandNormal(dst nn.Mat, mean, std float32, key nn.RandKey) {
	const op = "RandNormal"
	if b.err != nil {
		return
	}
	dp := b.get(op, dst)
	if b.err != nil || dst.Len() == 0 {
		return
	}
	n := dst.Len()
	b.args.reset().i(n).p(dp).f(mean).f(std).u(key.Seed).u(key.Stream)
	b.launch(op, b.k.randNormal, b.grid1(ceilDiv(n, 4)), 1, threads, 1)
}

// GatherRows copies row idx[i] of src into row i of dst for i < dst.Rows.
// Every index is checked on the host first: one outside [0, src.Rows)
// records an error and leaves dst untouched. The indices reach the device
// through a pinned staging buffer and one asynchronous copy.
func (b *Backend) GatherRows(dst, src nn.Mat, idx []int32) {
	const op = "GatherRows"
	if b.err != nil {
		return
	}
	dp, sp := b.get(op, dst), b.get(op, src)
	if b.err != nil {
		return
	}
	if err := nn.CheckGatherRows(dst, src, idx); err != nil {
		b.failf(op, "%v", err)
		return
	}
	idx = idx[:dst.Rows]
	if dst.Len() == 0 {
		return
	}
	if err := b.stageIndices(idx); err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		return
	}
	b.args.reset().i(dst.Rows).i(dst.Cols).p(dp).p(sp).p(b.idxDev)
	b.launch(op, b.k.gather, b.grid1(dst.Len()), 1, threads, 1)
}

// stageIndices queues the copy of idx into b.idxDev through the pinned
// staging buffer, growing both when needed.
func (b *Backend) stageIndices(idx []int32) error {
	if b.idxPending {
		// The previous copy out of the staging buffer must be done before
		// the buffer is rewritten (it normally is long done).
		if err := b.d.waitRecorded(); err != nil {
			return err
		}
		b.idxPending = false
	}
	if len(idx) > b.idxCap {
		c := max(len(idx), 256)
		if b.idxDev != 0 {
			if err := b.d.free(b.idxDev); err != nil {
				return err
			}
			b.idxDev = 0
		}
		if b.idxStage != nil {
			if err := b.d.freeHost(b.idxStage); err != nil {
				return err
			}
			b.idxStage = nil
		}
		b.idxCap = 0
		p, err := b.d.alloc(4 * c)
		if err != nil {
			return err
		}
		b.idxDev = p
		h, err := b.d.allocHost(4 * c)
		if err != nil {
			return err
		}
		b.idxStage = h
		b.idxCap = c
	}
	copy(unsafe.Slice((*int32)(b.idxStage), len(idx)), idx)
	if err := b.d.htod(b.idxDev, b.idxStage, 4*len(idx)); err != nil {
		return err
	}
	if err := b.d.record(); err != nil {
		return err
	}
	b.idxPending = true
	return nil
}
