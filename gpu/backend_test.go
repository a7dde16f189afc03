//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ops' numbers, errors, views, Free, sticky errors and allocations are
// checked by the conformance suite against the CPU backend
// (conformance_test.go); the tests here are about what only the CUDA
// backend has.

// TestGatherStagingBuffer: the indices of GatherRows and ScatterAddRows go
// through one pinned staging buffer, rewritten by every call once the
// previous copy out of it is done, and grown (from 256 indices) when a
// call needs more. Gathers in a row must each see their own indices.
func TestGatherStagingBuffer(t *testing.T) {
	b := testBackend(t)
	const rows, cols = 50, 33
	src := randVals(rand.New(rand.NewPCG(23, 24)), rows*cols, -1, 1)
	s := upload(t, b, rows, cols, src)
	dst, err := b.Alloc(5*3, cols)
	require.NoError(t, err)
	for k := 0; k < 5; k++ { // queued back to back, read back once
		b.GatherRows(dst.RowView(3*k, 3), s, []int32{int32(k), int32(k + 1), int32(k + 2)})
	}
	got := download(t, b, dst)
	for k := 0; k < 5; k++ {
		for j := 0; j < 3; j++ {
			r := k + j
			require.Equal(t, src[r*cols:(r+1)*cols], got[(3*k+j)*cols:(3*k+j+1)*cols], "gather %d, row %d", k, j)
		}
	}
	big := make([]int32, 300) // more than the initial 256
	for i := range big {
		big[i] = int32((7 * i) % rows)
	}
	bg, err := b.Alloc(len(big), cols)
	require.NoError(t, err)
	b.GatherRows(bg, s, big)
	got = download(t, b, bg)
	for i, r := range big {
		require.Equal(t, src[int(r)*cols:int(r+1)*cols], got[i*cols:(i+1)*cols], "row %d of the large gather", i)
	}
}

// TestMatrixOfAnotherCUDABackend: a matrix of a second CUDA backend has
// the same buffer type but another owner, and is refused like any foreign
// matrix.
func TestMatrixOfAnotherCUDABackend(t *testing.T) {
	b, other := testBackend(t), testBackend(t)
	a := upload(t, b, 2, 3, []float32{1, 2, 3, 4, 5, 6})
	o, err := other.Alloc(2, 3)
	require.NoError(t, err)
	b.Copy(a, o)
	require.ErrorContains(t, b.Sync(), "cuda: Copy: matrix 2x3 is not from this cuda backend")
	b.err = nil
	require.ErrorContains(t, b.Upload(o, make([]float32, 6)), "not from this cuda backend")
	b.Free(o)
	require.ErrorContains(t, b.Sync(), "cuda: Free: matrix 2x3 is not from this cuda backend")
	b.err = nil
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, download(t, b, a))
	require.NoError(t, other.Sync())
}

// TestAllocSizeLimit: the kernels index with 32-bit integers, so a matrix
// holds at most 2³¹−1 elements; a larger one is refused before anything is
// allocated, and the refusal is not a sticky error.
func TestAllocSizeLimit(t *testing.T) {
	b := testBackend(t)
	_, err := b.Alloc(1<<20, 1<<12)
	require.ErrorContains(t, err, "cuda: Alloc: bad size 1048576x4096")
	require.NoError(t, b.Sync())
}
