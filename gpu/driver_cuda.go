//go:build gancuda && cgo

package gpu

/*
#cgo CFLAGS: -O2 -I/usr/local/cuda/include
#cgo LDFLAGS: -ldl

#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The driver functions gan uses. cuda.h maps some names to versioned
// symbols (cuMemAlloc is cuMemAlloc_v2, …); the pointer types and the
// symbol names below follow the header, so each symbol is the one whose
// signature the header declares.
#define GAN_SYMS(X)                                                                          \
	X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString)                    \
	X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)            \
	X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)             \
	X(cuCtxSetCurrent) X(cuCtxGetCurrent)                                                    \
	X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize)                              \
	X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventSynchronize)                \
	X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction) X(cuLaunchKernel)           \
	X(cuMemAlloc) X(cuMemFree) X(cuMemAllocHost) X(cuMemFreeHost) X(cuMemsetD32Async)        \
	X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync)

#define GAN_STR2(x) #x
#define GAN_STR(x) GAN_STR2(x)
#define GAN_DECL(name) static __typeof__(&name) gan_##name;
GAN_SYMS(GAN_DECL)

// gan_load opens libcuda.so.1 and resolves every symbol. It returns 0, or
// 1 with a message in err.
static int gan_load(char *err, size_t n) {
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, n, "%s", e ? e : "dlopen libcuda.so.1 failed");
		return 1;
	}
#define GAN_LOAD(name)                                                            \
	gan_##name = (__typeof__(gan_##name))dlsym(h, GAN_STR(name));                  \
	if (gan_##name == NULL) {                                                     \
		snprintf(err, n, "libcuda.so.1 has no symbol %s", GAN_STR(name));         \
		return 1;                                                                 \
	}
	GAN_SYMS(GAN_LOAD)
#undef GAN_LOAD
	return 0;
}

static const char *gan_error_name(CUresult r) {
	const char *s = NULL;
	if (gan_cuGetErrorName == NULL || gan_cuGetErrorName(r, &s) != CUDA_SUCCESS || s == NULL) return "CUDA_ERROR_UNRECOGNIZED";
	return s;
}

static const char *gan_error_string(CUresult r) {
	const char *s = NULL;
	if (gan_cuGetErrorString == NULL || gan_cuGetErrorString(r, &s) != CUDA_SUCCESS || s == NULL) return "unrecognized error code";
	return s;
}

// gan_ctx makes ctx current on the calling thread: Go may run any op on
// any OS thread, so every entry point below starts with it.
static CUresult gan_ctx(CUcontext ctx) {
	CUcontext cur = NULL;
	if (gan_cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == ctx) return CUDA_SUCCESS;
	return gan_cuCtxSetCurrent(ctx);
}

// gan_probe initialises the driver and counts the devices; on failure
// *failed names the call.
static CUresult gan_probe(int *count, int *version, const char **failed) {
	CUresult r;
	if ((r = gan_cuInit(0)) != CUDA_SUCCESS) { *failed = "cuInit"; return r; }
	if ((r = gan_cuDriverGetVersion(version)) != CUDA_SUCCESS) { *failed = "cuDriverGetVersion"; return r; }
	if ((r = gan_cuDeviceGetCount(count)) != CUDA_SUCCESS) { *failed = "cuDeviceGetCount"; return r; }
	return CUDA_SUCCESS;
}

typedef struct {
	CUdevice dev;
	CUcontext ctx;
	CUstream stream;
	CUevent event;
	CUmodule module;
	char name[256];
	int sms, major, minor;
	size_t mem;
	const char *failed; // the call that failed
} gan_dev;

// gan_open retains device 0's primary context and creates the stream and
// the event. On failure d->failed names the call.
static CUresult gan_open(gan_dev *d) {
	CUresult r;
#define GAN_TRY(call, name) if ((r = (call)) != CUDA_SUCCESS) { d->failed = name; return r; }
	GAN_TRY(gan_cuDeviceGet(&d->dev, 0), "cuDeviceGet");
	GAN_TRY(gan_cuDeviceGetName(d->name, sizeof d->name, d->dev), "cuDeviceGetName");
	GAN_TRY(gan_cuDeviceGetAttribute(&d->sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->dev), "cuDeviceGetAttribute");
	GAN_TRY(gan_cuDeviceGetAttribute(&d->major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->dev), "cuDeviceGetAttribute");
	GAN_TRY(gan_cuDeviceGetAttribute(&d->minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->dev), "cuDeviceGetAttribute");
	GAN_TRY(gan_cuDeviceTotalMem(&d->mem, d->dev), "cuDeviceTotalMem");
	GAN_TRY(gan_cuDevicePrimaryCtxRetain(&d->ctx, d->dev), "cuDevicePrimaryCtxRetain");
	GAN_TRY(gan_ctx(d->ctx), "cuCtxSetCurrent");
	GAN_TRY(gan_cuStreamCreate(&d->stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
	GAN_TRY(gan_cuEventCreate(&d->event, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
	return CUDA_SUCCESS;
#undef GAN_TRY
}

// gan_load_module loads a fatbin image (copied to 16-byte aligned memory
// first: the driver reads its 64-bit header fields in place).
static CUresult gan_load_module(gan_dev *d, const void *image, size_t n) {
	CUresult r = gan_ctx(d->ctx);
	if (r != CUDA_SUCCESS) return r;
	void *copy = NULL;
	if (posix_memalign(&copy, 16, n) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(copy, image, n);
	r = gan_cuModuleLoadData(&d->module, copy);
	free(copy);
	return r;
}

static CUresult gan_function(gan_dev *d, const char *name, CUfunction *f) {
	return gan_cuModuleGetFunction(f, d->module, name);
}

static CUresult gan_close(gan_dev *d) {
	CUresult first = CUDA_SUCCESS, r;
	if (d->ctx == NULL) return CUDA_SUCCESS;
	gan_ctx(d->ctx);
	if (d->stream && (r = gan_cuStreamSynchronize(d->stream)) != CUDA_SUCCESS && first == CUDA_SUCCESS) first = r;
	if (d->module && (r = gan_cuModuleUnload(d->module)) != CUDA_SUCCESS && first == CUDA_SUCCESS) first = r;
	if (d->event && (r = gan_cuEventDestroy(d->event)) != CUDA_SUCCESS && first == CUDA_SUCCESS) first = r;
	if (d->stream && (r = gan_cuStreamDestroy(d->stream)) != CUDA_SUCCESS && first == CUDA_SUCCESS) first = r;
	if ((r = gan_cuDevicePrimaryCtxRelease(d->dev)) != CUDA_SUCCESS && first == CUDA_SUCCESS) first = r;
	d->module = NULL;
	d->event = NULL;
	d->stream = NULL;
	d->ctx = NULL;
	return first;
}

static CUresult gan_alloc(gan_dev *d, size_t n, CUdeviceptr *p) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemAlloc(p, n);
}

// gan_free waits for the stream first: cuMemFree "may" synchronise, and
// queued kernels may still use p.
static CUresult gan_free(gan_dev *d, CUdeviceptr p) {
	CUresult r = gan_ctx(d->ctx);
	if (r == CUDA_SUCCESS) r = gan_cuStreamSynchronize(d->stream);
	return r != CUDA_SUCCESS ? r : gan_cuMemFree(p);
}

static CUresult gan_alloc_host(gan_dev *d, size_t n, void **p) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemAllocHost(p, n);
}

static CUresult gan_free_host(gan_dev *d, void *p) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemFreeHost(p);
}

static CUresult gan_memset32(gan_dev *d, CUdeviceptr p, unsigned int v, size_t n) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemsetD32Async(p, v, n, d->stream);
}

static CUresult gan_htod(gan_dev *d, CUdeviceptr dst, const void *src, size_t n) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemcpyHtoDAsync(dst, src, n, d->stream);
}

// gan_dtoh copies and waits for the stream, so dst is filled on return.
static CUresult gan_dtoh(gan_dev *d, void *dst, CUdeviceptr src, size_t n) {
	CUresult r = gan_ctx(d->ctx);
	if (r != CUDA_SUCCESS) return r;
	r = gan_cuMemcpyDtoHAsync(dst, src, n, d->stream);
	if (r != CUDA_SUCCESS) return r;
	return gan_cuStreamSynchronize(d->stream);
}

static CUresult gan_dtod(gan_dev *d, CUdeviceptr dst, CUdeviceptr src, size_t n) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuMemcpyDtoDAsync(dst, src, n, d->stream);
}

static CUresult gan_sync(gan_dev *d) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuStreamSynchronize(d->stream);
}

static CUresult gan_record(gan_dev *d) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuEventRecord(d->event, d->stream);
}

static CUresult gan_wait_recorded(gan_dev *d) {
	CUresult r = gan_ctx(d->ctx);
	return r != CUDA_SUCCESS ? r : gan_cuEventSynchronize(d->event);
}

// gan_launch queues f; args holds n parameters in 8-byte slots.
static CUresult gan_launch(gan_dev *d, CUfunction f, unsigned gx, unsigned gy, unsigned bx, unsigned by,
                           uint64_t *args, int n) {
	void *params[20]; // maxArgs
	if (n > 20) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < n; i++) params[i] = &args[i];
	CUresult r = gan_ctx(d->ctx);
	if (r != CUDA_SUCCESS) return r;
	return gan_cuLaunchKernel(f, gx, gy, 1, bx, by, 1, 0, d->stream, params, NULL);
}
*/
import "C"

import (
	_ "embed"
	"fmt"
	"sync"
	"unsafe"
)

// fatbin is kernels/all.cu compiled by `make gpu` (PTX for compute_80 and a
// cubin for sm_90).
//
//go:embed kernels.fatbin
var fatbin []byte

// kfunc is a kernel of the loaded module.
type kfunc struct{ f C.CUfunction }

// deviceInfo describes the device a backend runs on.
type deviceInfo struct {
	Name         string
	SMs          int
	Major, Minor int
	Memory       int64
	Driver       int // CUDA driver version, e.g. 13000
}

// driver is device 0 with its primary context, one stream and the module
// of gan's kernels.
type driver struct {
	d      *C.gan_dev // in C memory: the Go side never holds it by value
	driver int
}

var (
	loadOnce  sync.Once
	loadErr   error
	probeOnce sync.Once
	probeErr  error
	devices   int
	driverVer int
)

// load opens libcuda.so.1 once.
func load() error {
	loadOnce.Do(func() {
		var msg [512]C.char
		if C.gan_load(&msg[0], C.size_t(len(msg))) != 0 {
			loadErr = fmt.Errorf("%w: cannot load the CUDA driver (%s): is the NVIDIA driver installed?",
				ErrNoDevice, C.GoString(&msg[0]))
		}
	})
	return loadErr
}

// probe loads the driver, initialises it and counts the devices, once.
func probe() error {
	probeOnce.Do(func() {
		if probeErr = load(); probeErr != nil {
			return
		}
		var count, version C.int
		var failed *C.char
		if r := C.gan_probe(&count, &version, &failed); r != C.CUDA_SUCCESS {
			probeErr = fmt.Errorf("%w: %w", ErrNoDevice, driverError(C.GoString(failed), r))
			return
		}
		devices, driverVer = int(count), int(version)
		if devices == 0 {
			probeErr = fmt.Errorf("%w: the CUDA driver sees no GPU", ErrNoDevice)
		}
	})
	return probeErr
}

func openDriver() (*driver, error) {
	if err := probe(); err != nil {
		return nil, err
	}
	if len(fatbin) == 0 {
		return nil, fmt.Errorf("the embedded kernels are empty: rebuild with `make gpu`")
	}
	d := &driver{d: (*C.gan_dev)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gan_dev{})))), driver: driverVer}
	if r := C.gan_open(d.d); r != C.CUDA_SUCCESS {
		err := driverError(C.GoString(d.d.failed), r)
		d.close()
		return nil, err
	}
	if r := C.gan_load_module(d.d, unsafe.Pointer(&fatbin[0]), C.size_t(len(fatbin))); r != C.CUDA_SUCCESS {
		err := driverError("cuModuleLoadData", r)
		i := d.info()
		d.close()
		return nil, fmt.Errorf("loading the kernels (built for sm_80 and newer) on %s (sm_%d%d): %w", i.Name, i.Major, i.Minor, err)
	}
	return d, nil
}

// driverError turns a CUresult into a *DriverError.
func driverError(call string, r C.CUresult) error {
	return &DriverError{Call: call, Code: int(r), Name: C.GoString(C.gan_error_name(r)), Msg: C.GoString(C.gan_error_string(r))}
}

func check(call string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return driverError(call, r)
}

func (d *driver) info() deviceInfo {
	return deviceInfo{
		Name: C.GoString(&d.d.name[0]), SMs: int(d.d.sms), Major: int(d.d.major), Minor: int(d.d.minor),
		Memory: int64(d.d.mem), Driver: d.driver,
	}
}

func (d *driver) function(name string) (kfunc, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var f C.CUfunction
	if err := check("cuModuleGetFunction", C.gan_function(d.d, cs, &f)); err != nil {
		return kfunc{}, err
	}
	return kfunc{f}, nil
}

func (d *driver) alloc(bytes int) (uint64, error) {
	var p C.CUdeviceptr
	if err := check("cuMemAlloc", C.gan_alloc(d.d, C.size_t(bytes), &p)); err != nil {
		return 0, err
	}
	return uint64(p), nil
}

func (d *driver) free(p uint64) error { return check("cuMemFree", C.gan_free(d.d, C.CUdeviceptr(p))) }

func (d *driver) allocHost(bytes int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if err := check("cuMemAllocHost", C.gan_alloc_host(d.d, C.size_t(bytes), &p)); err != nil {
		return nil, err
	}
	return p, nil
}

func (d *driver) freeHost(p unsafe.Pointer) error {
	return check("cuMemFreeHost", C.gan_free_host(d.d, p))
}

func (d *driver) memsetD32(p uint64, v uint32, n int) error {
	return check("cuMemsetD32Async", C.gan_memset32(d.d, C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

func (d *driver) htod(dst uint64, src unsafe.Pointer, bytes int) error {
	return check("cuMemcpyHtoDAsync", C.gan_htod(d.d, C.CUdeviceptr(dst), src, C.size_t(bytes)))
}

func (d *driver) dtoh(dst unsafe.Pointer, src uint64, bytes int) error {
	return check("cuMemcpyDtoHAsync", C.gan_dtoh(d.d, dst, C.CUdeviceptr(src), C.size_t(bytes)))
}

func (d *driver) dtod(dst, src uint64, bytes int) error {
	return check("cuMemcpyDtoDAsync", C.gan_dtod(d.d, C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes)))
}

func (d *driver) sync() error { return check("cuStreamSynchronize", C.gan_sync(d.d)) }

func (d *driver) record() error { return check("cuEventRecord", C.gan_record(d.d)) }

func (d *driver) waitRecorded() error { return check("cuEventSynchronize", C.gan_wait_recorded(d.d)) }

func (d *driver) launch(f kfunc, gx, gy, bx, by uint32, a *argBuf) error {
	return check("cuLaunchKernel", C.gan_launch(d.d, f.f, C.uint(gx), C.uint(gy),
		C.uint(bx), C.uint(by), (*C.uint64_t)(unsafe.Pointer(&a.v[0])), C.int(a.n)))
}

func (d *driver) close() error {
	if d.d == nil {
		return nil
	}
	err := check("cuDevicePrimaryCtxRelease", C.gan_close(d.d))
	C.free(unsafe.Pointer(d.d))
	d.d = nil
	return err
}
