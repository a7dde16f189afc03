// Package sgemm is a fast, deterministic float32 matrix multiply (GEMM) for
// the CPU backend.
//
// [Sgemm] packs panels of A and B (absorbing all four transpose cases, so one
// register-blocked micro-kernel serves every case) and runs an assembly
// micro-kernel: AVX-512 where the CPU has it, else AVX2 with FMA, else
// portable Go. Matrix-vector shapes (m == 1 or n == 1) skip the packing and
// use dot-product and axpy kernels.
//
// Results are bit-identical for any worker count: work is split over
// goroutines only along m and n, at multiples of the micro-tile, and the
// K dimension is cut into blocks whose size depends on K alone, so every
// element of C is summed in the same order whoever computes it. (Results may
// differ between kernel sets, that is between CPUs.)
package sgemm

//go:generate go run ./internal/asmgen -out sgemm_amd64.s

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// kernelSet is one family of kernels together with its blocking.
type kernelSet struct {
	name string
	// mr×nr is the register tile of micro.
	mr, nr int
	// kcMax bounds the K block; mcMax and ncMax bound the packed A and B
	// blocks (multiples of mr and nr).
	kcMax, mcMax, ncMax int
	// micro multiplies an mr×k packed A panel by a k×nr packed B panel and
	// writes the tile into c (row stride ldc) as mode says: modeStore,
	// modeAdd or modeBeta.
	micro func(k int, a, b, c *float32, ldc int, beta float32, mode int)
	// trans sets dst[p·width+r] = src[r·ld+p] for r < rows (a multiple of
	// 4) and p < 8·k8; nil means the Go loop.
	trans func(dst, src *float32, ld, k8, rows, width int)
	// copy sets dst[p·width+j] = src[p·ld+j] for j < cols (a multiple of 4)
	// and p < k; nil means the Go loop.
	copy func(dst, src *float32, ld, k, cols, width int)
	// dotRows sets y[i] = Σ_p a[i·lda+p]·x[p] for i < m.
	dotRows func(m, k int, a *float32, lda int, x, y *float32)
	// axpyCols sets y[j] = Σ_p x[p]·a[p·lda+j] for j < n.
	axpyCols func(k, n int, a *float32, lda int, x, y *float32)
}

// How a micro-kernel writes its tile T into C.
const (
	modeStore = 0 // C = T
	modeAdd   = 1 // C = C + T
	modeBeta  = 2 // C = float32(beta·C) + T
)

// impl is the kernel set in use. Tests swap it to run every set.
var impl = bestKernels()

// Kernel names the micro-kernel in use: "avx512", "avx2" or "generic".
func Kernel() string { return impl.name }

// workers is the number of goroutines Sgemm may use.
var workers atomic.Int64

func init() { workers.Store(int64(runtime.GOMAXPROCS(0))) }

// SetWorkers sets how many goroutines Sgemm may use (default
// runtime.GOMAXPROCS(0) at start-up); n < 1 means 1. Results are
// bit-identical for any value.
func SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	workers.Store(int64(n))
}

// Work below these sizes (multiply-adds) runs on one goroutine: waking a
// worker costs more than it saves.
const (
	parMinGemm = 1 << 20
	parMinGemv = 1 << 17
)

// Sgemm computes C = op(A)·op(B) + beta·C for row-major matrices: op(A) is
// m×k, op(B) is k×n, C is m×n, with leading dimensions lda, ldb, ldc (row
// strides). op(X) is Xᵀ when transX is true: A is then stored k×m, B n×k.
// With beta == 0 the old C is not read (NaN does not propagate). Sgemm panics
// if a dimension is negative, a leading dimension is smaller than its row or
// a slice is too short, as BLAS implementations do.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("A", a, ar, ac, lda)
	checkMat("B", b, br, bc, ldb)
	checkMat("C", c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	ctx := ctxPool.Get().(*callCtx)
	ctx.ks = impl
	ctx.p = problem{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	if m == 1 || n == 1 {
		ctx.gemv()
	} else {
		ctx.gemm()
	}
	ctx.p = problem{}
	ctxPool.Put(ctx)
}

// checkMat panics unless x can hold a rows×cols matrix with row stride ld.
func checkMat(name string, x []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("sgemm: leading dimension of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("sgemm: %s has %d elements, a %dx%d matrix with stride %d needs %d", name, len(x), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// scale sets C = beta·C (C = 0 when beta == 0, whatever C held).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// problem holds the arguments of one call.
type problem struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

// part is one worker's share of a call: the block [i0,i1)×[j0,j1) of C for
// the packed path, or a range of outputs for the matrix-vector path.
type part struct {
	ctx            *callCtx
	i0, i1, j0, j1 int
	// Packing buffers and the edge tile, kept between calls.
	ap, bp, tile []float32
}

// callCtx is the reusable state of one Sgemm call: the problem, its parts
// and their buffers. Contexts are pooled, so steady-state calls allocate
// nothing.
type callCtx struct {
	ks    *kernelSet
	p     problem
	parts []part
	wg    sync.WaitGroup
	// x holds a strided vector operand copied contiguous, y the raw sums of
	// the matrix-vector path before they are merged into C.
	x, y []float32
	// The operands of the matrix-vector path while it runs: the vector gx,
	// the matrix gm with row stride gldm, and whether outputs are dot
	// products of rows of gm (gdot) or x-weighted sums of its rows.
	gx, gm []float32
	gldm   int
	gdot   bool
}

var ctxPool = sync.Pool{New: func() any { return new(callCtx) }}

// grow returns s resized to n elements, reallocating only when it must.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n, n+n/4)
	}
	return s[:n]
}

// setParts sizes ctx.parts to n parts.
func (ctx *callCtx) setParts(n int) {
	for len(ctx.parts) < n {
		ctx.parts = append(ctx.parts, part{})
	}
	for i := 0; i < n; i++ {
		ctx.parts[i].ctx = ctx
	}
}

// run runs f on parts [0, n): parts 1.. on the worker pool, part 0 on the
// calling goroutine, and waits for all of them.
func (ctx *callCtx) run(n int, f func(*part)) {
	if n == 1 {
		f(&ctx.parts[0])
		return
	}
	pool.ensure(n - 1)
	ctx.wg.Add(n - 1)
	for i := 1; i < n; i++ {
		pool.jobs <- job{p: &ctx.parts[i], f: f}
	}
	f(&ctx.parts[0])
	ctx.wg.Wait()
}

// kBlocks returns the size of the K blocks: the fewest blocks of at most
// kcMax, made as equal as possible and rounded up to a multiple of 8. It
// depends on k and the kernel set only, never on the worker count, which
// fixes the summation order of every element.
func kBlocks(k, kcMax int) int {
	nb := (k + kcMax - 1) / kcMax
	kc := (k + nb - 1) / nb
	return (kc + 7) &^ 7
}

// gemm runs the packed path.
func (ctx *callCtx) gemm() {
	ks, p := ctx.ks, &ctx.p
	mt := (p.m + ks.mr - 1) / ks.mr
	nt := (p.n + ks.nr - 1) / ks.nr
	w := int(workers.Load())
	if p.m*p.n*p.k < parMinGemm {
		w = 1
	}
	// Split along n (each part packs all of A) or along m (each part packs
	// all of B), whichever makes the slowest part cheapest. Costs count
	// multiply-adds; packing one element costs about as much as packPenalty.
	const packPenalty = 16
	splitN := false
	if w > 1 {
		wn, wm := min(w, nt), min(w, mt)
		colsN := (nt + wn - 1) / wn * ks.nr
		rowsM := (mt + wm - 1) / wm * ks.mr
		costN := mt*ks.mr*colsN + packPenalty*(p.m+colsN)
		costM := rowsM*nt*ks.nr + packPenalty*(rowsM+p.n)
		splitN = costN < costM
		if splitN {
			w = wn
		} else {
			w = wm
		}
	}
	ctx.setParts(w)
	for i := 0; i < w; i++ {
		pt := &ctx.parts[i]
		if splitN {
			pt.i0, pt.i1 = 0, p.m
			pt.j0, pt.j1 = min(p.n, i*nt/w*ks.nr), min(p.n, (i+1)*nt/w*ks.nr)
		} else {
			pt.i0, pt.i1 = min(p.m, i*mt/w*ks.mr), min(p.m, (i+1)*mt/w*ks.mr)
			pt.j0, pt.j1 = 0, p.n
		}
	}
	ctx.run(w, gemmPart)
}

// gemmPart computes one part of the packed path: C[i0:i1, j0:j1].
func gemmPart(pt *part) {
	ctx := pt.ctx
	ks, p := ctx.ks, &ctx.p
	mr, nr := ks.mr, ks.nr
	if pt.i0 >= pt.i1 || pt.j0 >= pt.j1 {
		return
	}
	kcb := kBlocks(p.k, ks.kcMax)
	mcb := min(ks.mcMax, (pt.i1-pt.i0+mr-1)/mr*mr)
	ncb := min(ks.ncMax, (pt.j1-pt.j0+nr-1)/nr*nr)
	pt.ap = grow(pt.ap, mcb*kcb)
	pt.bp = grow(pt.bp, ncb*kcb)
	pt.tile = grow(pt.tile, mr*nr)
	firstMode := modeBeta
	switch p.beta {
	case 0:
		firstMode = modeStore
	case 1:
		firstMode = modeAdd
	}
	for jc := pt.j0; jc < pt.j1; jc += ncb {
		nc := min(ncb, pt.j1-jc)
		for pc := 0; pc < p.k; pc += kcb {
			kc := min(kcb, p.k-pc)
			mode := modeAdd
			if pc == 0 {
				mode = firstMode
			}
			packB(ks, pt.bp, p, jc, nc, pc, kc)
			for ic := pt.i0; ic < pt.i1; ic += mcb {
				mc := min(mcb, pt.i1-ic)
				packA(ks, pt.ap, p, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					nn := min(nr, nc-jr)
					bpan := &pt.bp[jr*kc]
					for ir := 0; ir < mc; ir += mr {
						mm := min(mr, mc-ir)
						apan := &pt.ap[ir*kc]
						off := (ic+ir)*p.ldc + jc + jr
						if mm == mr && nn == nr {
							ks.micro(kc, apan, bpan, &p.c[off], p.ldc, p.beta, mode)
							continue
						}
						ks.micro(kc, apan, bpan, &pt.tile[0], nr, 0, modeStore)
						merge(p.c[off:], p.ldc, pt.tile, nr, mm, nn, p.beta, mode)
					}
				}
			}
		}
	}
}

// merge writes the mm×nn corner of a tile t (row stride ldt) into c as mode
// says, with the same arithmetic as the micro-kernels.
func merge(c []float32, ldc int, t []float32, ldt, mm, nn int, beta float32, mode int) {
	for i := 0; i < mm; i++ {
		crow := c[i*ldc : i*ldc+nn]
		trow := t[i*ldt : i*ldt+nn]
		switch mode {
		case modeStore:
			copy(crow, trow)
		case modeAdd:
			for j, v := range trow {
				crow[j] += v
			}
		default:
			for j, v := range trow {
				crow[j] = float32(beta*crow[j]) + v
			}
		}
	}
}

// packA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// panels of mr rows: dst[q·mr·kc + p·mr + r] = op(A)[i0+q·mr+r][p0+p], with
// rows past the end zero.
func packA(ks *kernelSet, dst []float32, p *problem, i0, mc, p0, kc int) {
	mr := ks.mr
	for q := 0; q*mr < mc; q++ {
		rows := min(mr, mc-q*mr)
		pan := dst[q*mr*kc : (q+1)*mr*kc]
		r0 := i0 + q*mr
		if p.transA {
			// op(A)[i][p] = a[p·lda+i]: rows of the panel are contiguous.
			packCopyPanel(ks, pan, p.a[p0*p.lda+r0:], p.lda, kc, rows, mr)
		} else {
			// op(A)[i][p] = a[i·lda+p]: a transpose.
			packTransPanel(ks, pan, p.a[r0*p.lda+p0:], p.lda, kc, rows, mr)
		}
	}
}

// packB packs columns [j0, j0+nc) and rows [p0, p0+kc) of op(B) into panels
// of nr columns: dst[q·nr·kc + p·nr + j] = op(B)[p0+p][j0+q·nr+j], with
// columns past the end zero.
func packB(ks *kernelSet, dst []float32, p *problem, j0, nc, p0, kc int) {
	nr := ks.nr
	for q := 0; q*nr < nc; q++ {
		cols := min(nr, nc-q*nr)
		pan := dst[q*nr*kc : (q+1)*nr*kc]
		c0 := j0 + q*nr
		if p.transB {
			// op(B)[p][j] = b[j·ldb+p]: a transpose.
			packTransPanel(ks, pan, p.b[c0*p.ldb+p0:], p.ldb, kc, cols, nr)
		} else {
			// op(B)[p][j] = b[p·ldb+j]: contiguous rows.
			packCopyPanel(ks, pan, p.b[p0*p.ldb+c0:], p.ldb, kc, cols, nr)
		}
	}
}

// packCopyPanel sets dst[p·width+j] = src[p·ld+j] for j < cols, p < kc, and
// zeroes columns [cols, width).
func packCopyPanel(ks *kernelSet, dst, src []float32, ld, kc, cols, width int) {
	done := 0
	if ks.copy != nil && cols >= 4 {
		done = cols &^ 3
		ks.copy(&dst[0], &src[0], ld, kc, done, width)
	}
	if done == width {
		return
	}
	for p := 0; p < kc; p++ {
		d := dst[p*width+done : (p+1)*width]
		n := copy(d, src[p*ld+done:p*ld+cols])
		clear(d[n:])
	}
}

// packTransPanel sets dst[p·width+r] = src[r·ld+p] for r < rows, p < kc,
// and zeroes rows [rows, width).
func packTransPanel(ks *kernelSet, dst, src []float32, ld, kc, rows, width int) {
	doneR, doneP := 0, 0
	if ks.trans != nil && rows >= 4 && kc >= 8 {
		doneR, doneP = rows&^3, kc&^7
		ks.trans(&dst[0], &src[0], ld, doneP/8, doneR, width)
	}
	// The columns the assembly did not reach, for the rows it did.
	for r := 0; r < doneR; r++ {
		s := src[r*ld+doneP : r*ld+kc]
		for p, v := range s {
			dst[(doneP+p)*width+r] = v
		}
	}
	// The remaining rows, then zero padding.
	for r := doneR; r < rows; r++ {
		s := src[r*ld : r*ld+kc]
		for p, v := range s {
			dst[p*width+r] = v
		}
	}
	if rows < width {
		for p := 0; p < kc; p++ {
			clear(dst[p*width+rows : (p+1)*width])
		}
	}
}

// gemv runs the matrix-vector path: m == 1 or n == 1, where packing would
// cost as much as the multiply.
func (ctx *callCtx) gemv() {
	p := &ctx.p
	// The vector operand x and the matrix M, so that the outputs are either
	// dot products of rows of M with x (dot) or x-weighted sums of the rows
	// of M (axpy). outs is the number of outputs.
	var (
		x, mat     []float32
		incx, ldm  int
		dot        bool
		outs, cinc int
	)
	if p.n == 1 {
		// C[i] = Σ_p op(A)[i][p]·op(B)[p][0].
		x, incx = p.b, p.ldb // column of B, stride ldb
		if p.transB {
			incx = 1 // B is a 1×k row
		}
		mat, ldm, dot = p.a, p.lda, !p.transA
		outs, cinc = p.m, p.ldc
	} else {
		// m == 1: C[j] = Σ_p op(A)[0][p]·op(B)[p][j].
		x, incx = p.a, 1 // A is a 1×k row
		if p.transA {
			incx = p.lda // column of a k×1 matrix
		}
		mat, ldm, dot = p.b, p.ldb, p.transB
		outs, cinc = p.n, 1
	}
	if incx != 1 {
		ctx.x = grow(ctx.x, p.k)
		for i := range ctx.x {
			ctx.x[i] = x[i*incx]
		}
		x = ctx.x
	}
	ctx.y = grow(ctx.y, outs)
	w := int(workers.Load())
	if outs*p.k < parMinGemv {
		w = 1
	}
	w = min(w, (outs+31)/32)
	ctx.setParts(w)
	for i := 0; i < w; i++ {
		// Whole 32-output strips, so each output is computed by the same
		// kernel path whatever w is.
		strips := (outs + 31) / 32
		ctx.parts[i].i0 = min(outs, i*strips/w*32)
		ctx.parts[i].i1 = min(outs, (i+1)*strips/w*32)
	}
	ctx.gx, ctx.gm, ctx.gldm, ctx.gdot = x, mat, ldm, dot
	ctx.run(w, gemvPart)
	// Merge the raw sums into C.
	mode := modeAdd
	switch p.beta {
	case 0:
		mode = modeStore
	case 1:
	default:
		mode = modeBeta
	}
	merge(p.c, cinc, ctx.y, 1, outs, 1, p.beta, mode)
	ctx.gx, ctx.gm = nil, nil
}

// gemvPart computes outputs [i0, i1) of the matrix-vector path into ctx.y.
func gemvPart(pt *part) {
	ctx := pt.ctx
	ks, k := ctx.ks, ctx.p.k
	n := pt.i1 - pt.i0
	if n <= 0 {
		return
	}
	if ctx.gdot {
		ks.dotRows(n, k, &ctx.gm[pt.i0*ctx.gldm], ctx.gldm, &ctx.gx[0], &ctx.y[pt.i0])
	} else {
		ks.axpyCols(k, n, &ctx.gm[pt.i0], ctx.gldm, &ctx.gx[0], &ctx.y[pt.i0])
	}
}

// job is one part handed to the worker pool.
type job struct {
	p *part
	f func(*part)
}

// workerPool runs parts on long-lived goroutines.
type workerPool struct {
	mu      sync.Mutex
	started int
	jobs    chan job
}

var pool = workerPool{jobs: make(chan job, 64)}

// ensure starts workers until at least n are running.
func (wp *workerPool) ensure(n int) {
	wp.mu.Lock()
	for wp.started < n {
		wp.started++
		go wp.loop()
	}
	wp.mu.Unlock()
}

// loop is the body of one worker.
func (wp *workerPool) loop() {
	for j := range wp.jobs {
		j.f(j.p)
		j.p.ctx.wg.Done()
	}
}
