package cpu

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// The ops' numbers, errors, views, Free, sticky errors and allocations are
// checked by the conformance suite (conformance_test.go); the tests here
// are about what only the CPU backend has: Data, its worker pool.

// foreignBuffer is storage from some other backend.
type foreignBuffer struct{}

func (foreignBuffer) Len() int { return 100 }

// TestData checks that Data gives a view's own elements, with a capacity
// that ends with the view, and panics on a matrix of another backend.
func TestData(t *testing.T) {
	b := newTestBackend(t, 1)
	m := matOf(t, b, 3, 4, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	row := m.RowView(1, 2)
	assert.Equal(t, []float32{5, 6, 7, 8, 9, 10, 11, 12}, Data(row))
	assert.Equal(t, 8, cap(Data(row)), "a view's slice ends with the view")
	Data(row)[0] = -5
	assert.Equal(t, float32(-5), download(t, b, m)[4], "Data aliases the buffer")
	assert.Panics(t, func() { Data(nn.Mat{Rows: 2, Cols: 2, Buf: foreignBuffer{}}) })
	assert.Panics(t, func() { Data(m.ColView(1, 2)) }, "a strided view has no dense slice")
}

// TestZeroWorkers checks that a backend asked for no workers gets one.
func TestZeroWorkers(t *testing.T) {
	b := NewWithWorkers(0)
	assert.Equal(t, 1, b.Workers())
	require.NoError(t, b.Close())
}

// waitGoroutines collects garbage until at most n goroutines run, or fails
// after a few seconds.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			require.LessOrEqual(t, runtime.NumGoroutine(), n, "pool goroutines still running")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPoolGoroutinesStop checks that Close stops the worker pool, and that
// a backend dropped without Close stops it when collected.
func TestPoolGoroutinesStop(t *testing.T) {
	start := runtime.NumGoroutine()
	b := NewWithWorkers(5)
	assert.GreaterOrEqual(t, runtime.NumGoroutine(), start+4)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close twice is harmless")
	waitGoroutines(t, start)

	func() {
		b := NewWithWorkers(5)
		m, err := b.Alloc(100, 1000)
		require.NoError(t, err)
		b.Fill(m, 1) // runs on the pool
		require.NoError(t, b.Sync())
	}()
	waitGoroutines(t, start)
}
