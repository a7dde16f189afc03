//go:build cudaemu && !gancuda && cgo

// emu.cpp: runs the kernels of ../kernels on the CPU, for the cudaemu tests
// of package gpu on machines without a GPU.
//
// It compiles kernels/all.cu as ordinary C++ after defining the little of
// CUDA that the kernels use, and executes a launch as CUDA would, block by
// block: every thread of a block is a fiber (ucontext) with its own stack,
// and the fibers run in turn until each reaches __syncthreads (block
// barrier), a warp shuffle (warp barrier) or its end. A barrier opens when
// every thread it concerns has reached it, so the kernels' shared memory,
// barriers and shuffles behave as on a GPU; a barrier that can never open
// (a divergent __syncthreads, a shuffle with lanes missing) is reported as
// an error instead of hanging. Shared memory is a static array: blocks run
// one after the other. Device memory is host memory with a PROT_NONE page
// right after each allocation, so a kernel reading or writing past the end
// of a buffer crashes the test instead of passing silently.
//
// What it cannot show: timing, races between threads (fibers switch only at
// barriers, so a missing __syncthreads between a write and a read of shared
// memory by different threads may still pass; compute-sanitizer's racecheck
// on a GPU covers that), and last-bit differences of the device's exp, log,
// tanh and fmaf (here glibc's; fmaf is emulated in float64, exact except
// for rare double roundings).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <math.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

// The kernels round explicitly; the host compiler must not fuse a*b+c.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// ---- the CUDA that the kernels use

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

namespace emu {

enum State { RUN, BLOCK_WAIT, WARP_WAIT, DONE };

struct Fiber {
    ucontext_t ctx;
    uint3 idx;
    unsigned tid;
    State st;
};

constexpr size_t kStack = 64 << 10;
constexpr unsigned kMaxThreads = 1024;

static ucontext_t sched;
static Fiber fibers[kMaxThreads];
static char *stacks;
static Fiber *cur;
static bool direct; // running a kernel without barriers: no fibers
static dim3 block_idx, block_dim, grid_dim;
static std::function<void()> body;
static uint64_t slots[kMaxThreads];
static std::string error;

static void wait(State s)
{
    if (direct) {
        std::fprintf(stderr, "emu: a kernel registered without barriers reached one\n");
        std::abort();
    }
    cur->st = s;
    swapcontext(&cur->ctx, &sched);
}

static void fiber_main()
{
    body();
    cur->st = DONE;
}

// run_block runs every thread of the current block to its end.
static bool run_block(unsigned n)
{
    for (unsigned t = 0; t < n; t++) {
        Fiber &f = fibers[t];
        f.tid = t;
        f.idx = uint3{t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y)};
        f.st = RUN;
        if (direct) {
            cur = &f;
            body();
            f.st = DONE;
            continue;
        }
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = stacks + (size_t)t * kStack;
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = &sched;
        makecontext(&f.ctx, fiber_main, 0);
    }
    if (direct) {
        return true;
    }
    for (;;) {
        for (unsigned t = 0; t < n; t++) {
            if (fibers[t].st == RUN) {
                cur = &fibers[t];
                swapcontext(&sched, &fibers[t].ctx);
            }
        }
        // Nobody runs: open the warp barriers that every lane reached.
        bool opened = false;
        for (unsigned w = 0; w * 32 < n; w++) {
            const unsigned lo = w * 32, hi = std::min(n, lo + 32);
            unsigned waiting = 0;
            for (unsigned t = lo; t < hi; t++) {
                waiting += fibers[t].st == WARP_WAIT;
            }
            if (waiting == hi - lo) {
                for (unsigned t = lo; t < hi; t++) {
                    fibers[t].st = RUN;
                }
                opened = true;
            } else if (waiting > 0) {
                char msg[160];
                std::snprintf(msg, sizeof msg,
                              "block (%u,%u): %u of the %u lanes of warp %u wait in a shuffle, the others do not",
                              block_idx.x, block_idx.y, waiting, hi - lo, w);
                error = msg;
                return false;
            }
        }
        if (opened) {
            continue;
        }
        unsigned done = 0, waiting = 0;
        for (unsigned t = 0; t < n; t++) {
            done += fibers[t].st == DONE;
            waiting += fibers[t].st == BLOCK_WAIT;
        }
        if (done == n) {
            return true;
        }
        if (waiting + done == n) {
            for (unsigned t = 0; t < n; t++) {
                if (fibers[t].st == BLOCK_WAIT) {
                    fibers[t].st = RUN;
                }
            }
            continue;
        }
        error = "deadlock";
        return false;
    }
}

// launch runs fn over the grid.
static bool launch(dim3 grid, dim3 block, bool has_barriers, std::function<void()> fn)
{
    const unsigned n = block.x * block.y * block.z;
    if (n == 0 || n > kMaxThreads || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535) {
        error = "invalid launch configuration";
        return false;
    }
    if (stacks == nullptr) {
        stacks = static_cast<char *>(std::malloc(kStack * kMaxThreads));
    }
    body = std::move(fn);
    direct = !has_barriers;
    grid_dim = grid;
    block_dim = block;
    for (unsigned z = 0; z < grid.z; z++) {
        for (unsigned y = 0; y < grid.y; y++) {
            for (unsigned x = 0; x < grid.x; x++) {
                block_idx = dim3{x, y, z};
                if (!run_block(n)) {
                    return false;
                }
            }
        }
    }
    return true;
}

template <typename T>
static T shfl_xor(T v, int lane_mask)
{
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned t = cur->tid;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    slots[t] = bits;
    wait(WARP_WAIT);
    const unsigned src = (t & ~31u) | ((t & 31u) ^ (unsigned)lane_mask);
    bits = slots[src];
    wait(WARP_WAIT); // nobody overwrites a slot before every lane has read
    T r;
    std::memcpy(&r, &bits, sizeof r);
    return r;
}

} // namespace emu

#define threadIdx (emu::cur->idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

static inline void __syncthreads() { emu::wait(emu::BLOCK_WAIT); }

template <typename T>
static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask)
{
    if (mask != 0xffffffffu) {
        std::fprintf(stderr, "emu: only full-warp shuffles are emulated\n");
        std::abort();
    }
    return emu::shfl_xor(v, lane_mask);
}

static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return std::sqrt(a); }
static inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
static inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
// fmaf: the exact product in float64, one float64 rounding of the sum, then
// float32 (a software fmaf would be exact but far slower).
#define fmaf(a, b, c) ((float)((double)(a) * (double)(b) + (double)(c)))

// A misaligned float4 access is a fatal fault on a GPU: here, too.
#define GAN_CHECK_ALIGN16(p)                                                                          \
    do {                                                                                              \
        if ((reinterpret_cast<uintptr_t>(p) & 15) != 0) {                                             \
            std::fprintf(stderr, "emu: misaligned float4 access at %p (%s:%d)\n", (const void *)(p), \
                         __FILE__, __LINE__);                                                         \
            std::abort();                                                                             \
        }                                                                                             \
    } while (0)

// ---- the kernels

#include "../kernels/all.cu"

// ---- registry and C interface

namespace emu {

template <typename T>
struct code;
template <>
struct code<int> {
    static constexpr char c = 'i';
};
template <>
struct code<float> {
    static constexpr char c = 'f';
};
template <>
struct code<unsigned long long> {
    static constexpr char c = 'u';
};
template <typename T>
struct code<T *> {
    static constexpr char c = 'p';
};

template <typename T>
static T unpack(uint64_t v)
{
    if constexpr (std::is_pointer_v<T>) {
        return reinterpret_cast<T>(static_cast<uintptr_t>(v));
    } else {
        T x;
        std::memcpy(&x, &v, sizeof x); // little-endian: the low bytes
        return x;
    }
}

struct Kernel {
    const char *name;
    std::string sig;
    bool barriers;
    std::function<void(const uint64_t *)> call;
};

template <typename... A, size_t... I>
static void invoke(void (*f)(A...), const uint64_t *v, std::index_sequence<I...>)
{
    f(unpack<A>(v[I])...);
}

template <typename... A>
static Kernel make(const char *name, void (*f)(A...), bool barriers)
{
    Kernel k{name, std::string{code<A>::c...}, barriers, nullptr};
    k.call = [f](const uint64_t *v) { invoke(f, v, std::index_sequence_for<A...>{}); };
    return k;
}

// The kernels; "barriers" marks those that use __syncthreads or shuffles
// and so need fibers.
static const std::vector<Kernel> &registry()
{
    static const std::vector<Kernel> r = {
        make("sgemm_s_nn", sgemm_s_nn, true), make("sgemm_s_nt", sgemm_s_nt, true),
        make("sgemm_s_tn", sgemm_s_tn, true), make("sgemm_s_tt", sgemm_s_tt, true),
        make("sgemm_m_nn", sgemm_m_nn, true), make("sgemm_m_nt", sgemm_m_nt, true),
        make("sgemm_m_tn", sgemm_m_tn, true), make("sgemm_m_tt", sgemm_m_tt, true),
        make("sgemm_l_nn", sgemm_l_nn, true), make("sgemm_l_nt", sgemm_l_nt, true),
        make("sgemm_l_tn", sgemm_l_tn, true), make("sgemm_l_tt", sgemm_l_tt, true),
        make("sgemm_naive_nn", sgemm_naive_nn, false), make("sgemm_naive_nt", sgemm_naive_nt, false),
        make("sgemm_naive_tn", sgemm_naive_tn, false), make("sgemm_naive_tt", sgemm_naive_tt, false),
        make("gemv_rows", gemv_rows, true), make("gemv_cols", gemv_cols, false),
        make("bias_act", bias_act, false), make("col_sum", col_sum, true),
        make("row_sum_sq", row_sum_sq, true),
        make("act_forward_k", act_forward_k, false), make("act_backward_k", act_backward_k, false),
        make("dropout_forward", dropout_forward, false), make("dropout_backward", dropout_backward, false),
        make("rand_uniform", rand_uniform, false), make("rand_normal", rand_normal, false),
        make("sigmoid_bce", sigmoid_bce, true), make("softmax", softmax, true),
        make("softmax_ce", softmax_ce, true), make("adam", adam, false),
        make("gather_rows", gather_rows, false), make("scatter_add_rows", scatter_add_rows, false),
        make("axpby", axpby, false), make("mul", mul, false), make("scale_rows", scale_rows, false),
        make("map_fn", map_fn, false), make("copy_strided", copy_strided, false),
        make("layer_norm_forward", layer_norm_forward, true),
        make("layer_norm_backward", layer_norm_backward, true),
        make("layer_norm_param_grad", layer_norm_param_grad, true),
        make("batch_norm_col_sum", batch_norm_col_sum, true),
        make("batch_norm_col_sqdev", batch_norm_col_sqdev, true),
        make("batch_norm_forward", batch_norm_forward, true),
        make("batch_norm_grad_sums", batch_norm_grad_sums, true),
        make("batch_norm_backward", batch_norm_backward, true),
        make("im2col", im2col, false), make("col2im", col2im, false),
        make("axpby_act", axpby_act, false), make("axpby_act_backward", axpby_act_backward, false),
        make("act_backward_col_sum", act_backward_col_sum, true),
        make("bgemm_s_nn", bgemm_s_nn, true), make("bgemm_s_nt", bgemm_s_nt, true),
        make("bgemm_s_tn", bgemm_s_tn, true), make("bgemm_s_tt", bgemm_s_tt, true),
        make("bgemm_m_nn", bgemm_m_nn, true), make("bgemm_m_nt", bgemm_m_nt, true),
        make("bgemm_m_tn", bgemm_m_tn, true), make("bgemm_m_tt", bgemm_m_tt, true),
        make("causal_softmax", causal_softmax, true),
        make("causal_softmax_backward", causal_softmax_backward, true),
        make("gelu_forward", gelu_forward, false), make("gelu_backward", gelu_backward, false),
        make("gelu_forward_grad", gelu_forward_grad, false),
    };
    return r;
}

static std::mutex mu; // one launch at a time: shared memory is static

struct Alloc {
    void *base;
    size_t len;
};
static std::vector<std::pair<uint64_t, Alloc>> allocs;

} // namespace emu

extern "C" {

// emu_lookup returns the index of kernel name, or -1.
int emu_lookup(const char *name)
{
    const auto &r = emu::registry();
    for (size_t i = 0; i < r.size(); i++) {
        if (std::strcmp(r[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

// emu_launch runs kernel k with n parameters of the given type letters;
// it returns 0, or 1 with a message in err.
int emu_launch(int k, unsigned gx, unsigned gy, unsigned bx, unsigned by, const uint64_t *args, const char *types,
               int n, char *err, int errlen)
{
    std::lock_guard<std::mutex> lock(emu::mu);
    const auto &r = emu::registry();
    if (k < 0 || (size_t)k >= r.size()) {
        std::snprintf(err, errlen, "no kernel %d", k);
        return 1;
    }
    const emu::Kernel &ker = r[k];
    if (ker.sig != std::string(types, n)) {
        std::snprintf(err, errlen, "%s takes parameters \"%s\", the launch passes \"%.*s\"", ker.name,
                      ker.sig.c_str(), n, types);
        return 1;
    }
    std::vector<uint64_t> v(args, args + n);
    emu::error.clear();
    const bool ok = emu::launch(dim3{gx, gy, 1}, dim3{bx, by, 1}, ker.barriers, [&] { ker.call(v.data()); });
    if (!ok) {
        std::snprintf(err, errlen, "%s: %s", ker.name, emu::error.c_str());
        return 1;
    }
    return 0;
}

// emu_alloc returns n bytes (16-byte aligned) ending as close as alignment
// allows before a PROT_NONE page, or 0.
uint64_t emu_alloc(size_t n)
{
    std::lock_guard<std::mutex> lock(emu::mu);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t data = (n + page - 1) / page * page;
    const size_t len = data + page;
    void *base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        return 0;
    }
    char *guard = static_cast<char *>(base) + data;
    mprotect(guard, page, PROT_NONE);
    const uint64_t p = (uint64_t)(uintptr_t)(guard - n) & ~(uint64_t)15;
    emu::allocs.push_back({p, emu::Alloc{base, len}});
    return p;
}

// emu_free releases an allocation of emu_alloc; it returns 1 for an
// unknown pointer.
int emu_free(uint64_t p)
{
    std::lock_guard<std::mutex> lock(emu::mu);
    for (size_t i = 0; i < emu::allocs.size(); i++) {
        if (emu::allocs[i].first == p) {
            munmap(emu::allocs[i].second.base, emu::allocs[i].second.len);
            emu::allocs.erase(emu::allocs.begin() + (long)i);
            return 0;
        }
    }
    return 1;
}

void emu_memset32(uint64_t p, uint32_t v, size_t n)
{
    uint32_t *d = reinterpret_cast<uint32_t *>((uintptr_t)p);
    std::fill(d, d + n, v);
}

void emu_copy(uint64_t dst, uint64_t src, size_t n)
{
    std::memmove(reinterpret_cast<void *>((uintptr_t)dst), reinterpret_cast<const void *>((uintptr_t)src), n);
}

} // extern "C"
