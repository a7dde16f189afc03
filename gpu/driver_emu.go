//go:build cudaemu && !gancuda && cgo

package gpu

/*
#cgo CXXFLAGS: -std=c++17 -O2
#include <stdint.h>
#include <stdlib.h>

int emu_lookup(const char *name);
int emu_launch(int k, unsigned gx, unsigned gy, unsigned bx, unsigned by, const uint64_t *args, const char *types,
               int n, char *err, int errlen);
uint64_t emu_alloc(size_t n);
int emu_free(uint64_t p);
void emu_memset32(uint64_t p, uint32_t v, size_t n);
void emu_copy(uint64_t dst, uint64_t src, size_t n);
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	// emu.cpp includes ../kernels/all.cu: depending on the package that
	// embeds those sources makes a change to them rebuild the emulator.
	_ "gan/kernels"
)

// kfunc is a kernel of the emulator's registry (gpu/emu.cpp).
type kfunc struct{ i int }

// deviceInfo describes the device a backend runs on.
type deviceInfo struct {
	Name         string
	SMs          int
	Major, Minor int
	Memory       int64
	Driver       int
}

// driver is the emulated device: kernels run synchronously on the calling
// thread, device memory is host memory.
type driver struct {
	sms int
	msg [256]C.char // a failed launch's message
}

// openEmulator returns a backend whose kernels run in the emulator, on a
// device that claims sms multiprocessors (which decides the SGEMM tile
// sizes, as on a GPU).
func openEmulator(sms int) (*Backend, error) { return newBackend(&driver{sms: sms}) }

func (d *driver) info() deviceInfo {
	return deviceInfo{Name: "CUDA emulator", SMs: d.sms, Major: 9, Minor: 0, Memory: 1 << 30, Driver: 0}
}

func (d *driver) function(name string) (kfunc, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	i := int(C.emu_lookup(cs))
	if i < 0 {
		return kfunc{}, errors.New("not in the emulator's registry")
	}
	return kfunc{i}, nil
}

func (d *driver) alloc(bytes int) (uint64, error) {
	p := uint64(C.emu_alloc(C.size_t(bytes)))
	if p == 0 {
		return 0, &DriverError{Call: "cuMemAlloc", Code: cuErrorOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", Msg: "out of memory"}
	}
	return p, nil
}

func (d *driver) free(p uint64) error {
	if C.emu_free(C.uint64_t(p)) != 0 {
		return &DriverError{Call: "cuMemFree", Code: 1, Name: "CUDA_ERROR_INVALID_VALUE", Msg: "invalid argument"}
	}
	return nil
}

func (d *driver) allocHost(bytes int) (unsafe.Pointer, error) { return C.malloc(C.size_t(bytes)), nil }

func (d *driver) freeHost(p unsafe.Pointer) error {
	C.free(p)
	return nil
}

func (d *driver) memsetD32(p uint64, v uint32, n int) error {
	C.emu_memset32(C.uint64_t(p), C.uint32_t(v), C.size_t(n))
	return nil
}

func (d *driver) htod(dst uint64, src unsafe.Pointer, bytes int) error {
	C.emu_copy(C.uint64_t(dst), C.uint64_t(uintptr(src)), C.size_t(bytes))
	return nil
}

func (d *driver) dtoh(dst unsafe.Pointer, src uint64, bytes int) error {
	C.emu_copy(C.uint64_t(uintptr(dst)), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (d *driver) dtod(dst, src uint64, bytes int) error {
	C.emu_copy(C.uint64_t(dst), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (d *driver) sync() error         { return nil }
func (d *driver) record() error       { return nil }
func (d *driver) waitRecorded() error { return nil }
func (d *driver) close() error        { return nil }

func (d *driver) launch(f kfunc, gx, gy, bx, by uint32, a *argBuf) error {
	if C.emu_launch(C.int(f.i), C.uint(gx), C.uint(gy), C.uint(bx), C.uint(by),
		(*C.uint64_t)(unsafe.Pointer(&a.v[0])), (*C.char)(unsafe.Pointer(&a.t[0])), C.int(a.n),
		&d.msg[0], C.int(len(d.msg))) != 0 {
		return fmt.Errorf("emulated launch: %s", C.GoString(&d.msg[0]))
	}
	return nil
}
