package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// minParallel is the amount of work (roughly, elements touched) below which
// an op runs inline on the calling goroutine: handing work to the pool costs
// a few microseconds, more than a small op.
const minParallel = 16384

// job is one op's work, split into units (elements, rows, columns or chunks,
// as the op chooses). run(lo, hi) does units [lo, hi); calls on disjoint
// ranges may run concurrently and must give the same results as one call on
// the whole range.
type job interface {
	run(lo, hi int)
}

// task is a range of units of a job, sent to a pool goroutine.
type task struct {
	j      job
	lo, hi int
}

// pool is a set of goroutines that run tasks. It holds no reference to its
// backend, so a backend dropped without Close can be collected and its
// cleanup can stop the pool.
type pool struct {
	tasks chan task
	wg    sync.WaitGroup
	// left counts the tasks of the current job not yet finished, for the
	// caller to poll before it blocks on wg.
	left atomic.Int64
	once sync.Once
}

// newPool starts workers−1 goroutines; the caller of [Backend.parallel] is
// the remaining worker.
func newPool(workers int) *pool {
	p := &pool{tasks: make(chan task, workers)}
	for i := 1; i < workers; i++ {
		go p.work()
	}
	return p
}

// pollFor is how long a worker keeps polling for its next task before it
// blocks, as sgemm's workers do: a step's ops come a few microseconds
// apart, and a parked goroutine must first be woken through the scheduler
// (tens of microseconds, during which the caller works alone). Between
// looks the worker yields, so other goroutines (sgemm's workers) run.
const pollFor = 200 * time.Microsecond

// work runs tasks until the pool is closed.
func (p *pool) work() {
	for {
		t, ok := p.next()
		if !ok {
			return
		}
		t.j.run(t.lo, t.hi)
		p.left.Add(-1)
		p.wg.Done()
	}
}

// next returns the next task, polling for pollFor before it blocks; ok is
// false once the pool is closed.
func (p *pool) next() (t task, ok bool) {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case t, ok = <-p.tasks:
			return t, ok
		default:
		}
		if i%16 == 0 && time.Since(start) > pollFor {
			break
		}
		runtime.Gosched()
	}
	t, ok = <-p.tasks
	return t, ok
}

// close stops the pool's goroutines; it may be called more than once.
func (p *pool) close() {
	p.once.Do(func() { close(p.tasks) })
}

// parallel runs units [0, n) of j, where each unit costs about cost
// elements of work. Small jobs, and every job on a one-worker backend, run
// inline; larger ones are cut into at most b.workers contiguous ranges, one
// run on the calling goroutine, and parallel returns when all are done.
func (b *Backend) parallel(n, cost int, j job) {
	if n <= 0 {
		return
	}
	work := n * cost
	pieces := min(b.workers, n, work/(minParallel/2))
	if work < minParallel || pieces <= 1 {
		j.run(0, n)
		return
	}
	p := b.pool
	p.wg.Add(pieces - 1)
	p.left.Store(int64(pieces - 1))
	for w := 1; w < pieces; w++ {
		p.tasks <- task{j: j, lo: n * w / pieces, hi: n * (w + 1) / pieces}
	}
	j.run(0, n/pieces)
	// Poll for the other pieces before blocking, for the same reason as
	// the workers do.
	start := time.Now()
	for i := 1; p.left.Load() > 0; i++ {
		if i%16 == 0 && time.Since(start) > pollFor {
			break
		}
		runtime.Gosched()
	}
	p.wg.Wait()
}
