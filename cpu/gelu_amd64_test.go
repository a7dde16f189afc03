//go:build !purego

package cpu

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestGELUConstsLayout: the byte offsets that gelu_amd64.s uses.
func TestGELUConstsLayout(t *testing.T) {
	var k geluConsts
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"max", unsafe.Offsetof(k.max), 32}, {"cut", unsafe.Offsetof(k.cut), 96},
		{"half", unsafe.Offsetof(k.half), 128}, {"ln2Lo", unsafe.Offsetof(k.ln2Lo), 224},
		{"invP", unsafe.Offsetof(k.invP), 320}, {"bias", unsafe.Offsetof(k.bias), 352},
		{"down", unsafe.Offsetof(k.down), 384}, {"sign", unsafe.Offsetof(k.sign), 416},
		{"e", unsafe.Offsetof(k.e), 448}, {"h", unsafe.Offsetof(k.h), 672},
		{"size", unsafe.Sizeof(k), 1024},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
}
