// Package sgemm is a fast, deterministic float32 matrix multiply (GEMM) for
// the CPU backend.
//
// [Sgemm] packs panels of A and B (absorbing all four transpose cases, so one
// register-blocked micro-kernel serves every case) and runs an assembly
// micro-kernel: AVX-512 where the CPU has it, else AVX2 with FMA, else
// portable Go. Matrix-vector shapes (m == 1 or n == 1) skip the packing and
// use dot-product and axpy kernels. With AVX2, a product at most 512 wide
// reads A in place instead (direct kernels for A and Aᵀ): packing a tall A
// (an Im2Col patch matrix) costs more there than its panels save, and the
// products are the packed ones, summed in the same order.
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
	"time"
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
	// microHalf, if not nil, is micro for an mr×(nr/2) tile. It serves a
	// last column panel of at most nr/2 columns, packed nr/2 wide.
	microHalf func(k int, a, b, c *float32, ldc int, beta float32, mode int)
	// direct and directHalf, if not nil, are micro and microHalf reading
	// an mr-row panel of a row-major op(A) in place (row r at a + r·lda,
	// k contiguous) instead of packed: the same products, summed in the
	// same order, so the results are the same bit for bit.
	direct, directHalf func(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)
	// directT and directTHalf read the panel of op(A) = Aᵀ in place: row r
	// at a + r, the k steps lda apart.
	directT, directTHalf func(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)
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

// betaMode is the mode that writes a product's first (or only) K block
// into C = product + beta·C.
func betaMode(beta float32) int {
	switch beta {
	case 0:
		return modeStore
	case 1:
		return modeAdd
	}
	return modeBeta
}

// impl is the kernel set in use. Tests swap it to run every set.
var impl = bestKernels()

// Kernel names the micro-kernel in use: "avx512", "avx2" or "generic".
func Kernel() string { return impl.name }

// workers is the number of goroutines Sgemm may use; 0 means
// runtime.GOMAXPROCS(0) at the time of the call.
var workers atomic.Int64

// SetWorkers sets how many goroutines Sgemm may use. The default, restored
// by n < 1, is runtime.GOMAXPROCS(0) at the time of each call. Results are
// bit-identical for any value.
func SetWorkers(n int) { workers.Store(int64(max(n, 0))) }

// numWorkers returns how many goroutines this call may use.
func (ctx *callCtx) numWorkers() int {
	if ctx.maxW > 0 {
		return ctx.maxW
	}
	if w := int(workers.Load()); w > 0 {
		return w
	}
	return runtime.GOMAXPROCS(0)
}

// Work below these sizes (multiply-adds) runs on one goroutine: handing
// part of it to a worker costs more than it saves. (A 64×256×100 GEMM, 1.6M
// multiply-adds and 16 µs on one core, was no faster on two.)
const (
	parMinGemm = 1 << 22
	parMinGemv = 1 << 17
)

// Sgemm computes C = op(A)·op(B) + beta·C for row-major matrices: op(A) is
// m×k, op(B) is k×n, C is m×n, with leading dimensions lda, ldb, ldc (row
// strides). op(X) is Xᵀ when transX is true: A is then stored k×m, B n×k.
// With beta == 0 the old C is not read (NaN does not propagate). Sgemm panics
// if a dimension is negative, a leading dimension is smaller than its row or
// a slice is too short, as BLAS implementations do.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmWorkers(0, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// SgemmWorkers is [Sgemm] on at most workers goroutines (the calling one
// included); workers < 1 means the default of [SetWorkers]. The result is
// bit-identical for any value.
func SgemmWorkers(workers int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmEpilogue(workers, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, nil)
}

// An Epilogue finishes the elements of C once their sums are complete (a
// bias and an activation, say), while they are still in cache.
type Epilogue interface {
	// Finish is called for disjoint blocks rows [i0, i1) × columns
	// [j0, j1) of c (row stride ldc) that together cover C, each once,
	// on the goroutine that computed it, so calls may run concurrently.
	Finish(c []float32, ldc, i0, i1, j0, j1 int)
}

// SgemmEpilogue is [SgemmWorkers] followed by epi (nil for none) on every
// element of C: on the packed path block by block as each is finished, on
// the others over the whole of C at the end.
func SgemmEpilogue(workers int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi Epilogue) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkOperands(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scale(m, n, beta, c, ldc)
		if epi != nil {
			epi.Finish(c, ldc, 0, m, 0, n)
		}
		return
	}
	ctx := getCtx()
	ctx.ks = impl
	ctx.maxW = workers
	ctx.p = problem{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	switch {
	case m == 1 || n == 1:
		ctx.gemv()
	case weightGrad(impl, &ctx.p):
		ctx.weightGrad()
	default:
		ctx.p.epi = epi
		ctx.gemm()
		epi = nil // applied block by block
	}
	ctx.p = problem{}
	putCtx(ctx)
	if epi != nil {
		epi.Finish(c, ldc, 0, m, 0, n)
	}
}

// stored returns the rows and columns of the stored matrix X whose op(X)
// is rows×cols (Xᵀ when trans).
func stored(trans bool, rows, cols int) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

// checkOperands panics unless a, b and c can hold op(A) (m×k), op(B)
// (k×n) and C (m×n) with their leading dimensions.
func checkOperands(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := stored(transA, m, k)
	br, bc := stored(transB, k, n)
	checkMat("A", a, ar, ac, lda)
	checkMat("B", b, br, bc, ldb)
	checkMat("C", c, m, n, ldc)
}

// checkMat panics unless x can hold a rows×cols matrix with row stride ld.
// The assembly kernels trust this check, so it must not overflow.
func checkMat(name string, x []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("sgemm: leading dimension of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	// len(x) ≥ (rows−1)·ld + cols, without computing the product.
	if len(x) < cols || (rows > 1 && (len(x)-cols)/(rows-1) < ld) {
		panic(fmt.Sprintf("sgemm: %s has %d elements, too few for a %dx%d matrix with stride %d", name, len(x), rows, cols, ld))
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
	// epi, if not nil, finishes each block of C on the packed path.
	epi Epilogue
}

// part is one participant in a call (the caller or a pool worker) with its
// buffers, which are kept between calls.
type part struct {
	ctx *callCtx
	// ap and bp hold packed blocks of A and B; tile is the edge tile.
	ap, bp, tile []float32
	// packed says that ap (when ctx.cacheA) or bp (when ctx.cacheB)
	// already holds the whole packed operand for this call.
	packed bool
	// state is the call generation shifted left by 2, or'ed with jobPending,
	// jobRunning or jobCancelled, for a participant handed to the pool.
	state atomic.Uint64
}

// The life of a job handed to the pool: the worker that picks it up claims
// it (pending → running) unless the caller, done with every chunk, has
// cancelled it first (pending → cancelled). A job left over from an earlier
// call carries an old generation and matches neither.
const (
	jobPending   = 0
	jobRunning   = 1
	jobCancelled = 2
)

// callCtx is the reusable state of one Sgemm call: the problem, how it is
// cut into chunks, and the participants with their buffers. Contexts are
// kept on a free list, so steady-state calls allocate nothing.
type callCtx struct {
	ks *kernelSet
	// maxW caps the goroutines of this call; 0 means numWorkers().
	maxW int
	p    problem
	// parts are never moved once made: a job left over from an earlier
	// call may still look at its participant's state.
	parts []*part
	wg    sync.WaitGroup
	// The call is cut into nchunks chunks that participants claim in turn
	// through next: column ranges (splitN) or row ranges of C, at multiples
	// of the micro-tile, or output ranges on the matrix-vector path.
	nchunks int
	next    atomic.Int64
	// gen numbers the calls made with this context.
	gen    uint64
	splitN bool
	// directA says that full mr-row panels of A are read in place by the
	// kernel set's direct kernels (directT for transA) rather than packed.
	directA bool
	// cacheA (with splitN) and cacheB (without) say that each participant
	// packs the operand every chunk needs once, all K blocks of it, and
	// reuses it for the later chunks it claims.
	cacheA, cacheB bool
	// x holds a strided vector operand copied contiguous, y the raw sums of
	// the matrix-vector path when they must be merged into C.
	x, y []float32
	// The operands of the matrix-vector path while it runs: the vector gx,
	// the matrix gm with row stride gldm, where the raw sums go (gy), and
	// whether outputs are dot products of rows of gm (gdot) or x-weighted
	// sums of its rows.
	gx, gm, gy []float32
	gldm       int
	gdot       bool
}

// freeCtx holds the contexts of finished calls. Unlike a sync.Pool it keeps
// them, and their packing buffers, across garbage collections: a training
// loop makes the same calls every step and should never reallocate.
var freeCtx struct {
	sync.Mutex
	list []*callCtx
}

// getCtx returns a free context, or a new one.
func getCtx() *callCtx {
	freeCtx.Lock()
	defer freeCtx.Unlock()
	if n := len(freeCtx.list); n > 0 {
		ctx := freeCtx.list[n-1]
		freeCtx.list = freeCtx.list[:n-1]
		return ctx
	}
	return new(callCtx)
}

// putCtx returns ctx to the free list.
func putCtx(ctx *callCtx) {
	freeCtx.Lock()
	freeCtx.list = append(freeCtx.list, ctx)
	freeCtx.Unlock()
}

// grow returns s resized to n elements, reallocating only when it must.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n, n+n/4)
	}
	return s[:n]
}

// run has up to w participants, the caller and w−1 pool workers, each run
// f until the chunks run out. Claiming chunks one at a time keeps both cores
// busy when a worker wakes late or is descheduled; a worker that has not
// started when the caller runs out of chunks is cancelled rather than
// waited for.
func (ctx *callCtx) run(w int, f func(pt *part, chunk int)) {
	for len(ctx.parts) < w {
		ctx.parts = append(ctx.parts, new(part))
	}
	ctx.next.Store(0)
	ctx.gen++
	for i := 0; i < w; i++ {
		ctx.parts[i].ctx = ctx
		ctx.parts[i].packed = false
	}
	if w > 1 {
		pool.ensure(w - 1)
		ctx.wg.Add(w - 1)
		for i := 1; i < w; i++ {
			ctx.parts[i].state.Store(ctx.gen<<2 | jobPending)
			pool.jobs <- job{p: ctx.parts[i], f: f, gen: ctx.gen}
		}
	}
	if w > 1 && int(pool.polling.Load()) < w-1 {
		// A parked worker woken by the send waits in this P's runnext slot,
		// which another P steals only after a sleep of tens of
		// microseconds. Yielding lets it start here at once while an idle
		// P picks this goroutine up from the global queue.
		runtime.Gosched()
	}
	participate(ctx.parts[0], f)
	if w > 1 {
		for i := 1; i < w; i++ {
			if ctx.parts[i].state.CompareAndSwap(ctx.gen<<2|jobPending, ctx.gen<<2|jobCancelled) {
				ctx.wg.Done()
			}
		}
		ctx.wg.Wait()
	}
}

// participate runs f on chunks claimed from pt's call until none are left.
func participate(pt *part, f func(pt *part, chunk int)) {
	ctx := pt.ctx
	for {
		c := int(ctx.next.Add(1) - 1)
		if c >= ctx.nchunks {
			return
		}
		f(pt, c)
	}
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

// directMaxN is the widest product whose A is read in place (see gemm);
// a variable so that the tests and benchmarks can move it.
var directMaxN = 512

// maxCache bounds the packed-operand cache of one participant, in float32
// elements (16 MiB). Larger operands are packed block by block per chunk.
const maxCache = 4 << 20

// gemm runs the packed path.
func (ctx *callCtx) gemm() {
	ks, p := ctx.ks, &ctx.p
	mt := (p.m + ks.mr - 1) / ks.mr
	nt := (p.n + ks.nr - 1) / ks.nr
	w := ctx.numWorkers()
	if int64(p.m)*int64(p.n)*int64(p.k) < parMinGemm {
		w = 1
	}
	ctx.nchunks, ctx.splitN, ctx.cacheA, ctx.cacheB = 1, true, false, false
	// A is read in place where the kernel set can, when n is small enough
	// that each packed element of A would serve few products (an Im2Col
	// patch matrix times a conv weight, say, or a weight gradient's
	// transposed output gradient).
	ctx.directA = p.n <= directMaxN && (!p.transA && ks.direct != nil || p.transA && ks.directT != nil)
	if w > 1 {
		// Split along n (every participant packs all of A) or along m
		// (every participant packs all of B), whichever makes a
		// participant's share cheapest. Costs count multiply-adds; packing
		// one element costs about as much as packPenalty.
		const packPenalty = 16
		wn, wm := min(w, nt), min(w, mt)
		colsN := (nt + wn - 1) / wn * ks.nr
		rowsM := (mt + wm - 1) / wm * ks.mr
		// A read in place costs a quarter of packing it: every participant
		// of a split along n still reads all of A.
		penA := packPenalty
		if ctx.directA {
			penA = packPenalty / 4
		}
		costN := mt*ks.mr*colsN + penA*p.m + packPenalty*colsN
		costM := rowsM*nt*ks.nr + penA*rowsM + packPenalty*p.n
		ctx.splitN = costN <= costM
		tiles := mt
		if ctx.splitN {
			w, tiles = wn, nt
			ctx.cacheA = mt*ks.mr*p.k <= maxCache && !ctx.directA
		} else {
			w = wm
			ctx.cacheB = nt*ks.nr*p.k <= maxCache
		}
		// With the shared operand cached, more chunks than participants
		// cost nothing extra and balance the load; without, each chunk
		// repacks it, so there is one chunk per participant.
		ctx.nchunks = w
		if ctx.cacheA || ctx.cacheB {
			ctx.nchunks = min(tiles, 4*w)
		}
	}
	ctx.run(w, gemmChunk)
}

// gemmChunk computes chunk c of the packed path.
func gemmChunk(pt *part, c int) {
	ctx := pt.ctx
	ks, p := ctx.ks, &ctx.p
	i0, i1, j0, j1 := 0, p.m, 0, p.n
	if ctx.nchunks > 1 {
		if ctx.splitN {
			nt := (p.n + ks.nr - 1) / ks.nr
			j0, j1 = min(p.n, c*nt/ctx.nchunks*ks.nr), min(p.n, (c+1)*nt/ctx.nchunks*ks.nr)
		} else {
			mt := (p.m + ks.mr - 1) / ks.mr
			i0, i1 = min(p.m, c*mt/ctx.nchunks*ks.mr), min(p.m, (c+1)*mt/ctx.nchunks*ks.mr)
		}
	}
	if i0 < i1 && j0 < j1 {
		gemmBlock(pt, i0, i1, j0, j1)
	}
}

// gemmBlock computes C[i0:i1, j0:j1] on the packed path.
func gemmBlock(pt *part, i0, i1, j0, j1 int) {
	ctx := pt.ctx
	ks, p := ctx.ks, &ctx.p
	mr, nr := ks.mr, ks.nr
	kcb := kBlocks(p.k, ks.kcMax)
	mcb := min(ks.mcMax, (i1-i0+mr-1)/mr*mr)
	ncb := min(ks.ncMax, (j1-j0+nr-1)/nr*nr)
	// A cached operand holds every K block of the whole matrix: the block
	// starting at row ic (column jc) and depth pc lies at pc·mPad + ic·kc
	// (pc·nPad + jc·kc).
	mPad := (p.m + mr - 1) / mr * mr
	nPad := (p.n + nr - 1) / nr * nr
	kPad := (p.k + 7) &^ 7
	if ctx.cacheA {
		pt.ap = grow(pt.ap, mPad*kPad)
	} else {
		pt.ap = grow(pt.ap, mcb*kcb)
	}
	if ctx.cacheB {
		pt.bp = grow(pt.bp, nPad*kPad)
	} else {
		pt.bp = grow(pt.bp, ncb*kcb)
	}
	pt.tile = grow(pt.tile, mr*nr)
	firstMode := betaMode(p.beta)
	for jc := j0; jc < j1; jc += ncb {
		nc := min(ncb, j1-jc)
		for pc := 0; pc < p.k; pc += kcb {
			kc := min(kcb, p.k-pc)
			mode := modeAdd
			if pc == 0 {
				mode = firstMode
			}
			bp := pt.bp
			if ctx.cacheB {
				bp = pt.bp[pc*nPad+jc*kc:]
			}
			if !ctx.cacheB || !pt.packed {
				packB(ks, bp, p, jc, nc, pc, kc)
			}
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				ap := pt.ap
				if ctx.cacheA {
					ap = pt.ap[pc*mPad+ic*kc:]
				}
				switch {
				case ctx.directA:
					// Only a last panel of fewer than mr rows is packed.
					if rem := mc % mr; rem != 0 {
						packA(ks, ap[(mc-rem)*kc:], p, ic+mc-rem, rem, pc, kc)
					}
				case !ctx.cacheA || !pt.packed:
					packA(ks, ap, p, ic, mc, pc, kc)
				}
				for jr := 0; jr < nc; jr += nr {
					nn := min(nr, nc-jr)
					micro, direct, width := ks.micro, ks.direct, panelWidth(ks, nn)
					if p.transA {
						direct = ks.directT
					}
					if width < nr {
						micro, direct = ks.microHalf, ks.directHalf
						if p.transA {
							direct = ks.directTHalf
						}
					}
					bpan := &bp[jr*kc]
					for ir := 0; ir < mc; ir += mr {
						mm := min(mr, mc-ir)
						off := (ic+ir)*p.ldc + jc + jr
						if ctx.directA && mm == mr {
							var aptr *float32
							if p.transA {
								aptr = &p.a[pc*p.lda+ic+ir]
							} else {
								aptr = &p.a[(ic+ir)*p.lda+pc]
							}
							if nn == width {
								direct(kc, aptr, p.lda, bpan, &p.c[off], p.ldc, p.beta, mode)
								continue
							}
							direct(kc, aptr, p.lda, bpan, &pt.tile[0], width, 0, modeStore)
							merge(p.c[off:], p.ldc, pt.tile, width, mm, nn, p.beta, mode)
							continue
						}
						apan := &ap[ir*kc]
						if mm == mr && nn == width {
							micro(kc, apan, bpan, &p.c[off], p.ldc, p.beta, mode)
							continue
						}
						micro(kc, apan, bpan, &pt.tile[0], width, 0, modeStore)
						merge(p.c[off:], p.ldc, pt.tile, width, mm, nn, p.beta, mode)
					}
				}
				if p.epi != nil && pc+kc == p.k {
					p.epi.Finish(p.c, p.ldc, ic, ic+mc, jc, jc+nc)
				}
			}
		}
	}
	pt.packed = true
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
		width := panelWidth(ks, cols)
		pan := dst[q*nr*kc : q*nr*kc+width*kc]
		c0 := j0 + q*nr
		if p.transB {
			// op(B)[p][j] = b[j·ldb+p]: a transpose.
			packTransPanel(ks, pan, p.b[c0*p.ldb+p0:], p.ldb, kc, cols, width)
		} else {
			// op(B)[p][j] = b[p·ldb+j]: contiguous rows.
			packCopyPanel(ks, pan, p.b[p0*p.ldb+c0:], p.ldb, kc, cols, width)
		}
	}
}

// panelWidth is the packed width of a B panel of cols ≤ nr columns: nr/2
// when the half-width kernel can take it, else nr.
func panelWidth(ks *kernelSet, cols int) int {
	if ks.microHalf != nil && 2*cols <= ks.nr {
		return ks.nr / 2
	}
	return ks.nr
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
	// The raw sums go to ctx.y, or straight into C when it is contiguous and
	// its old value is not needed.
	direct := cinc == 1 && p.beta == 0
	y := p.c[:outs:outs]
	if !direct {
		ctx.y = grow(ctx.y, outs)
		y = ctx.y
	}
	w := ctx.numWorkers()
	if int64(outs)*int64(p.k) < parMinGemv {
		w = 1
	}
	// Chunks of whole 32-output strips, so each output is computed by the
	// same kernel path whatever the chunks are.
	strips := (outs + 31) / 32
	w = min(w, strips)
	ctx.nchunks = 1
	if w > 1 {
		ctx.nchunks = min(strips, 4*w)
	}
	ctx.gx, ctx.gm, ctx.gy, ctx.gldm, ctx.gdot = x, mat, y, ldm, dot
	ctx.run(w, gemvChunk)
	ctx.gx, ctx.gm, ctx.gy = nil, nil, nil
	if direct {
		return
	}
	// Merge the raw sums into C, as one row when C is contiguous.
	mode := modeAdd
	switch p.beta {
	case 0:
		mode = modeStore
	case 1:
	default:
		mode = modeBeta
	}
	if cinc == 1 {
		merge(p.c, outs, y, outs, 1, outs, p.beta, mode)
	} else {
		merge(p.c, cinc, y, 1, outs, 1, p.beta, mode)
	}
}

// gemvChunk computes chunk c of the outputs of the matrix-vector path into
// ctx.y.
func gemvChunk(pt *part, c int) {
	ctx := pt.ctx
	ks, k, outs := ctx.ks, ctx.p.k, len(ctx.gy)
	strips := (outs + 31) / 32
	i0 := min(outs, c*strips/ctx.nchunks*32)
	i1 := min(outs, (c+1)*strips/ctx.nchunks*32)
	if i0 >= i1 {
		return
	}
	if ctx.gdot {
		ks.dotRows(i1-i0, k, &ctx.gm[i0*ctx.gldm], ctx.gldm, &ctx.gx[0], &ctx.gy[i0])
	} else {
		ks.axpyCols(k, i1-i0, &ctx.gm[i0], ctx.gldm, &ctx.gx[0], &ctx.gy[i0])
	}
}

// job asks a pool worker to take part in call generation gen as
// participant p.
type job struct {
	p   *part
	f   func(pt *part, chunk int)
	gen uint64
}

// workerPool runs participants on long-lived goroutines.
type workerPool struct {
	mu      sync.Mutex
	started int
	jobs    chan job
	// polling counts the workers that are watching jobs without blocking.
	polling atomic.Int32
}

// pollFor is how long a worker keeps polling for the next job before it
// blocks. GEMMs come in bursts (a training step makes dozens a few
// microseconds apart); a polling worker joins a call within about a
// microsecond, a parked one must first be woken through the scheduler
// (tens of microseconds; see run).
const pollFor = 200 * time.Microsecond

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

// next returns the next job: it polls for pollFor, yielding to other
// goroutines between looks, then blocks.
func (wp *workerPool) next() job {
	wp.polling.Add(1)
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case j := <-wp.jobs:
			wp.polling.Add(-1)
			return j
		default:
		}
		if i%16 == 0 && time.Since(start) > pollFor {
			break
		}
		runtime.Gosched()
	}
	wp.polling.Add(-1)
	return <-wp.jobs
}

// loop is the body of one worker.
func (wp *workerPool) loop() {
	for {
		j := wp.next()
		if !j.p.state.CompareAndSwap(j.gen<<2|jobPending, j.gen<<2|jobRunning) {
			continue // cancelled, or left over from an earlier call
		}
		participate(j.p, j.f)
		j.p.ctx.wg.Done()
	}
}
