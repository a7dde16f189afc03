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
	"gan/nn"
	"gan/nn/mnist"
	"gan/nn/model"
)

// hash20 is the SHA-256 of the full training state (every tensor of the
// checkpoint: parameters and Adam moments, by sorted name, float32 bits
// little-endian) after 20 steps of `gan train --seed 1` at batch 64,
// recorded with the code before the graph engine (commit 1b8d5b3).
const hash20 = "77fc8ddc27984d9b7de1294a0b128983864bfd08c9b3df227d5673a5b410e78c"

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
// after step 20 equal those recorded before the graph engine existed
// (testdata/seed1-losses-1876.txt, hash20).
func TestSeedRunIsBitIdentical(t *testing.T) {
	want := readLosses(t, "testdata/seed1-losses-1876.txt")
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
			require.Equal(t, hash20, stateHash(ck), "training state after 20 steps")
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
