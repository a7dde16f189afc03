package cpu

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

func TestAllocUploadDownload(t *testing.T) {
	b := newTestBackend(t, 1)
	assert.Equal(t, "cpu", b.Name())
	m, err := b.Alloc(3, 4)
	require.NoError(t, err)
	assert.Equal(t, 12, m.Buf.Len())
	assert.Equal(t, make([]float32, 12), download(t, b, m), "Alloc zeroes")

	vals := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	require.NoError(t, b.Upload(m, vals))
	row := m.RowView(1, 2)
	assert.Equal(t, vals[4:], download(t, b, row))
	assert.Equal(t, vals[4:], Data(row))
	assert.Equal(t, 8, cap(Data(row)), "a view's slice ends with the view")

	require.ErrorContains(t, b.Upload(m, vals[:5]), "Upload")
	require.ErrorContains(t, b.Download(make([]float32, 13), m), "Download")
	_, err = b.Alloc(-1, 3)
	require.ErrorContains(t, err, "Alloc")
	_, err = b.Alloc(1<<40, 1<<40)
	require.ErrorContains(t, err, "Alloc")
	require.NoError(t, b.Sync(), "Upload and Download errors are returned, not recorded")

	b.Free(m)
	require.ErrorContains(t, b.Download(make([]float32, 12), m), "freed")
	b.Fill(m, 1)
	require.ErrorContains(t, b.Sync(), "cpu: Fill")
	require.NoError(t, NewWithWorkers(0).Close(), "a backend with 0 workers gets 1")
}

// foreignBuffer is storage from some other backend.
type foreignBuffer struct{}

func (foreignBuffer) Len() int { return 100 }

func TestForeignMatrixIsAnError(t *testing.T) {
	b := newTestBackend(t, 1)
	foreign := nn.Mat{Rows: 2, Cols: 2, Buf: foreignBuffer{}}
	require.ErrorContains(t, b.Upload(foreign, make([]float32, 4)), "not from the cpu backend")
	mine, err := b.Alloc(2, 2)
	require.NoError(t, err)
	b.Copy(mine, foreign)
	err = b.Sync()
	require.ErrorContains(t, err, "cpu: Copy")
	require.ErrorContains(t, err, "not from the cpu backend")
	assert.Panics(t, func() { Data(foreign) })
}

func TestStickyError(t *testing.T) {
	b := newTestBackend(t, 1)
	a, _ := b.Alloc(2, 3)
	c, _ := b.Alloc(2, 2)
	b.MatMul(c, a, a, false, false, 0) // 2×3 · 2×3
	err := b.Sync()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cpu: MatMul")

	b.Fill(c, 7) // later ops do nothing
	b.Activate(c, a, nn.Act{Kind: nn.ActTanh})
	require.Equal(t, err, b.Sync(), "the first error stays")
	require.Equal(t, err, b.Sync())
	require.Equal(t, err, b.Upload(c, make([]float32, 4)))
	require.Equal(t, err, b.Download(make([]float32, 4), c))
	assert.Equal(t, make([]float32, 4), Data(c), "Fill after the error did nothing")
}

// TestOpErrorsNameTheOp gives every op a bad argument and checks that Sync
// reports it with the op's name and that the output is left alone.
func TestOpErrorsNameTheOp(t *testing.T) {
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	cases := []struct {
		op   string
		call func(b *Backend, m func(r, c int) nn.Mat)
	}{
		{"MatMul", func(b *Backend, m func(r, c int) nn.Mat) { b.MatMul(m(2, 2), m(2, 3), m(3, 3), false, false, 0) }},
		{"MatMul", func(b *Backend, m func(r, c int) nn.Mat) { b.MatMul(m(2, 2), m(2, 3), m(2, 3), false, false, 0) }},
		{"AddBias", func(b *Backend, m func(r, c int) nn.Mat) { b.AddBias(m(2, 3), m(1, 2)) }},
		{"AddBias", func(b *Backend, m func(r, c int) nn.Mat) { b.AddBias(m(2, 3), nn.Mat{}) }},
		{"BiasAct", func(b *Backend, m func(r, c int) nn.Mat) { b.BiasAct(m(2, 3), m(2, 3), leaky) }},
		{"BiasAct", func(b *Backend, m func(r, c int) nn.Mat) {
			b.BiasAct(m(2, 3), m(1, 3), nn.Act{Kind: nn.ActLeakyReLU, Slope: -1})
		}},
		{"BiasAct", func(b *Backend, m func(r, c int) nn.Mat) { b.BiasAct(m(2, 3), m(1, 3), nn.Act{Kind: 9}) }},
		{"ColSum", func(b *Backend, m func(r, c int) nn.Mat) { b.ColSum(m(1, 2), m(2, 3), 0) }},
		{"RowSumSq", func(b *Backend, m func(r, c int) nn.Mat) { b.RowSumSq(m(3, 1), m(2, 3)) }},
		{"RowSumSq", func(b *Backend, m func(r, c int) nn.Mat) { b.RowSumSq(m(1, 2), m(1, 3)) }},
		{"Activate", func(b *Backend, m func(r, c int) nn.Mat) { b.Activate(m(2, 3), m(3, 2), leaky) }},
		{"ActBackward", func(b *Backend, m func(r, c int) nn.Mat) { b.ActBackward(m(2, 3), m(2, 3), m(2, 2), leaky) }},
		{"Dropout", func(b *Backend, m func(r, c int) nn.Mat) { b.Dropout(m(2, 3), m(2, 2), m(2, 3), 0.3, nn.RandKey{}) }},
		{"Dropout", func(b *Backend, m func(r, c int) nn.Mat) { b.Dropout(m(2, 3), m(2, 3), m(2, 3), 1.5, nn.RandKey{}) }},
		{"DropoutBackward", func(b *Backend, m func(r, c int) nn.Mat) { b.DropoutBackward(m(2, 3), m(3, 3), m(2, 3)) }},
		{"SigmoidBCE", func(b *Backend, m func(r, c int) nn.Mat) { b.SigmoidBCE(m(4, 1), m(1, 2), m(4, 1), m(3, 1), 1) }},
		{"SigmoidBCE", func(b *Backend, m func(r, c int) nn.Mat) { b.SigmoidBCE(m(4, 1), m(1, 3), m(4, 1), m(4, 1), 1) }},
		{"Softmax", func(b *Backend, m func(r, c int) nn.Mat) { b.Softmax(m(2, 3), m(2, 4)) }},
		{"SoftmaxCE", func(b *Backend, m func(r, c int) nn.Mat) { b.SoftmaxCE(m(2, 3), m(1, 2), m(2, 3), m(2, 4), 1) }},
		{"Adam", func(b *Backend, m func(r, c int) nn.Mat) {
			b.Adam(m(1, 4), m(1, 4), m(1, 4), m(1, 3), nn.AdamStep{LR: 1, Step: 1})
		}},
		{"Adam", func(b *Backend, m func(r, c int) nn.Mat) {
			b.Adam(m(1, 4), m(1, 4), m(1, 4), m(1, 4), nn.AdamStep{LR: 1, Step: 0})
		}},
		{"Copy", func(b *Backend, m func(r, c int) nn.Mat) { b.Copy(m(2, 3), m(2, 2)) }},
		{"Fill", func(b *Backend, m func(r, c int) nn.Mat) { b.Fill(nn.Mat{}, 1) }},
		{"RandUniform", func(b *Backend, m func(r, c int) nn.Mat) {
			b.RandUniform(nn.Mat{Rows: 2, Cols: 3, Buf: foreignBuffer{}}, 0, 1, nn.RandKey{})
		}},
		{"RandNormal", func(b *Backend, m func(r, c int) nn.Mat) {
			x := m(2, 3)
			x.Off = 1 // past the end of its buffer
			b.RandNormal(x, 0, 1, nn.RandKey{})
		}},
		{"GatherRows", func(b *Backend, m func(r, c int) nn.Mat) { b.GatherRows(m(2, 3), m(5, 3), []int32{1, 5}) }},
		{"GatherRows", func(b *Backend, m func(r, c int) nn.Mat) { b.GatherRows(m(2, 3), m(5, 3), []int32{-1, 0}) }},
		{"GatherRows", func(b *Backend, m func(r, c int) nn.Mat) { b.GatherRows(m(2, 3), m(5, 3), []int32{1}) }},
		{"GatherRows", func(b *Backend, m func(r, c int) nn.Mat) { b.GatherRows(m(2, 3), m(5, 4), []int32{1, 2}) }},
	}
	for _, tc := range cases {
		b := NewWithWorkers(1)
		var mats []nn.Mat
		alloc := func(r, c int) nn.Mat {
			x, err := b.Alloc(r, c)
			require.NoError(t, err)
			for i := range Data(x) {
				Data(x)[i] = 0.5
			}
			mats = append(mats, x)
			return x
		}
		tc.call(b, alloc)
		err := b.Sync()
		require.Error(t, err, tc.op)
		assert.Contains(t, err.Error(), "cpu: "+tc.op, "error %q", err)
		for _, x := range mats {
			for _, v := range Data(x) {
				require.Equal(t, float32(0.5), v, "%s wrote despite the error %q", tc.op, err)
			}
		}
		require.NoError(t, b.Close())
	}
}

// TestNoPanicOnBadMatrices checks that malformed views are errors, not panics.
func TestNoPanicOnBadMatrices(t *testing.T) {
	b := newTestBackend(t, 1)
	m, err := b.Alloc(2, 2)
	require.NoError(t, err)
	for _, bad := range []nn.Mat{
		{Rows: -1, Cols: 2, Buf: m.Buf},
		{Rows: 2, Cols: 2, Off: -1, Buf: m.Buf},
		{Rows: 3, Cols: 2, Buf: m.Buf},
		{Rows: math.MaxInt / 2, Cols: 4, Buf: m.Buf},
	} {
		b2 := NewWithWorkers(1)
		assert.NotPanics(t, func() { b2.Fill(bad, 1) })
		assert.ErrorContains(t, b2.Sync(), "cpu: Fill", "%+v", bad)
		require.NoError(t, b2.Close())
	}
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

func TestPoolGoroutinesStop(t *testing.T) {
	start := runtime.NumGoroutine()
	b := NewWithWorkers(5)
	assert.GreaterOrEqual(t, runtime.NumGoroutine(), start+4)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close twice is harmless")
	waitGoroutines(t, start)

	// A backend dropped without Close stops its pool when collected.
	func() {
		b := NewWithWorkers(5)
		m, err := b.Alloc(100, 1000)
		require.NoError(t, err)
		b.Fill(m, 1) // runs on the pool
		require.NoError(t, b.Sync())
	}()
	waitGoroutines(t, start)
}
