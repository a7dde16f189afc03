package seedgan

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/cpu/sgemm"
	"gan/nn"
	"gan/nn/mnist"
	"gan/nn/model"
)

// golden is, for each SGEMM kernel set (sgemm.Kernel), what the code
// before the graph engine (commit 1b8d5b3) gives for `gan train --seed 1`
// at batch 64: every step's statistics (losses) and hash20, the SHA-256 of
// the full training state (every tensor of the checkpoint: parameters and
// Adam moments, by sorted name, float32 bits little-endian) after 20
// steps. The kernel sets tile the products differently, so their last bits
// differ (step 4's d_loss is one ulp apart between AVX-512 and AVX2), while
// on each the old and the new code agree bit for bit. The avx512 entry was
// recorded on a Xeon with AVX-512; the avx2 entry on an AMD EPYC without
// it (2026-12-02), after checking there that 1b8d5b3's gan binary and this
// code's reach the same 48 state tensors, bit for bit, after 20 and after
// 1,876 steps, with the same metrics.csv (whose 6 significant digits are
// all the old binary prints of the statistics: their bits in the avx2 file
// are this code's).
var golden = map[string]struct{ losses, hash20 string }{
	"avx512": {"testdata/seed1-losses-1876-avx512.txt", "77fc8ddc27984d9b7de1294a0b128983864bfd08c9b3df227d5673a5b410e78c"},
	"avx2":   {"testdata/seed1-losses-1876-avx2.txt", "bae75475399a0a4ce97a2d56cdfe943aae6b5aa6261fa9c77c9709033dadf8e1"},
}

// stateHash hashes a checkpoint as hash20 was made: names sorted, each
// name, a zero byte, then its values' bits.
func stateHash(t *nn.Tensors) string {
	names := append([]string(nil), t.Names...)
	sort.Strings(names)
	h := sha256.New()
	var buf [4]byte
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		for _, v := range t.Data[n] {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestSeedRunIsBitIdentical trains the seed configuration (seed 1, batch 64)
// for two epochs, 1,876 steps, on the CPU and checks that every step's
// statistics (d_loss, g_loss, D(x), D(G(z)) as float32 bits) and the state
// after step 20 equal those recorded before the graph engine existed for
// this CPU's kernel set (golden). The portable kernels (purego builds) have
// no recording: the test says so and skips.
func TestSeedRunIsBitIdentical(t *testing.T) {
	g, ok := golden[sgemm.Kernel()]
	if !ok {
		t.Skipf("no run of commit 1b8d5b3 recorded for the %s SGEMM kernels", sgemm.Kernel())
	}
	want := readLosses(t, g.losses)
	b := cpu.New()
	defer b.Close()
	train, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	m, err := New(b, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	var got []string
	err = model.Train(context.Background(), m, data, dev, len(want), model.Hooks{OnStep: func(p model.Progress) error {
		s := p.Stats
		got = append(got, fmt.Sprintf("%d %08x %08x %08x %08x", p.Step,
			math.Float32bits(float32(s[0])), math.Float32bits(float32(s[1])), math.Float32bits(float32(s[2])), math.Float32bits(float32(s[3]))))
		if p.Step == 20 {
			ck, err := model.Checkpoint(m)
			require.NoError(t, err)
			require.Equal(t, g.hash20, stateHash(ck), "training state after 20 steps")
		}
		if k := len(got) - 1; got[k] != want[k] {
			return fmt.Errorf("step %d: got %q, recorded %q", p.Step, got[k], want[k])
		}
		return nil
	}})
	require.NoError(t, err)
	require.Len(t, got, len(want))
}

func readLosses(t *testing.T, path string) []string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			lines = append(lines, s)
		}
	}
	require.NoError(t, sc.Err())
	return lines
}
