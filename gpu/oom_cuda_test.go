//go:build gancuda && cgo

package gpu

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestOutOfMemoryIsTyped fills the device with the largest matrices a
// backend allows (2³¹−1 elements, 8 GiB each) until an allocation fails,
// and requires that failure to match ErrOutOfMemory and to leave the
// backend usable. (Not in the emulator, whose memory is the host's.)
func TestOutOfMemoryIsTyped(t *testing.T) {
	b := testBackend(t)
	var held []nn.Mat
	defer func() {
		for _, m := range held {
			b.Free(m)
		}
	}()
	var err error
	for i := 0; i < 64; i++ {
		var m nn.Mat
		if m, err = b.Alloc(1, math.MaxInt32); err != nil {
			break
		}
		held = append(held, m)
	}
	require.Error(t, err, "64 allocations of 8 GiB all succeeded")
	require.True(t, errors.Is(err, ErrOutOfMemory), "error %v does not match ErrOutOfMemory", err)
	require.Contains(t, err.Error(), "cuda: Alloc")
	t.Logf("out of memory after %d allocations of 8 GiB: %v", len(held), err)
	require.NoError(t, b.Sync(), "an allocation failure is not a sticky error")
}
