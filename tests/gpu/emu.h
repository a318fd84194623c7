/* emu.h — runs the CUDA kernel source (the .cuh files of backends/cuda) on the CPU.
 *
 * No GPU exists on the development or CI machines, so every kernel is tested
 * here against the CPU backend. Model: blocks of a grid run one after another;
 * the threads of a block are coroutines on small stacks, switched by a dozen
 * instructions of x86-64 assembly (glibc's swapcontext makes a syscall per
 * switch and is ~15x slower). __syncthreads and warp shuffles are barriers
 * that hand control round-robin to the block's other threads, so __shared__
 * memory, barriers and shuffles behave as on hardware. The fixed schedule is
 * not a race detector, but a missing barrier usually shows as a wrong result.
 *
 * Kernel code must: launch through GPU_LAUNCH, use DYN_SHMEM for dynamic
 * shared memory, pass width 32 to shuffles (see compat.h).
 */
#ifndef PL_GPU_EMU_H
#define PL_GPU_EMU_H

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#if !defined(__x86_64__)
#error "tests/gpu/emu.h: the coroutine switch is written for x86-64"
#endif

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
typedef int cudaError_t;
typedef void *cudaStream_t;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
/* Function-level statics are per OS thread, and blocks run one at a time per thread. */
#define __shared__ static thread_local

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

namespace emu {

/* Save callee-saved registers and the FP control words on the old stack,
 * switch stacks, restore from the new one. */
extern "C" void pl_emu_switch(void **save_sp, void *load_sp);
asm(".text\n.globl pl_emu_switch\n.type pl_emu_switch,@function\npl_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n  ret\n");

struct Fiber { void *sp; uint3 tid; int warp, lane; bool done; };

struct Block {
    std::vector<Fiber> fibers;
    std::vector<char> stacks;
    std::vector<unsigned char> lanes;   /* 16 bytes per thread for shuffles */
    std::vector<unsigned char> dyn;     /* dynamic shared memory */
    std::vector<int> warp_live, warp_waiting, warp_gen;
    int live = 0, waiting = 0, gen = 0, cur = 0;
    void *sched_sp = nullptr, *dead_sp = nullptr;
    const std::function<void()> *body = nullptr;
};

inline thread_local Block *blk;

/* Back to the scheduler; it resumes us later. */
inline void yield() { pl_emu_switch(&blk->fibers[blk->cur].sp, blk->sched_sp); }

/* First frame of every fiber: run the kernel body, then retire. */
inline void fiber_entry()
{
    blk->body[0]();
    Fiber &f = blk->fibers[blk->cur];
    f.done = true;
    blk->live--;
    blk->warp_live[f.warp]--;
    pl_emu_switch(&blk->dead_sp, blk->sched_sp);
}

/* A fresh stack that "returns" into fiber_entry on the first switch. */
inline void *fiber_stack(char *base, size_t size)
{
    uint64_t *top = (uint64_t *)(((uintptr_t)(base + size)) & ~(uintptr_t)15);
    uint64_t *sp = top - 9;
    sp[0] = 0x1F80ull | (0x037Full << 32);   /* default MXCSR and x87 control word */
    for (int i = 1; i < 7; i++) sp[i] = 0;
    sp[7] = (uint64_t)(uintptr_t)&fiber_entry;
    sp[8] = 0;
    return sp;
}

/* Barrier over a counter set: wait until every live member has arrived. */
inline void barrier(int &waiting, int &gen, const int &live)
{
    int g = gen;
    waiting++;
    while (gen == g) {
        if (waiting >= live) { waiting = 0; gen++; break; }
        yield();
    }
}

inline void sync_block() { barrier(blk->waiting, blk->gen, blk->live); }
inline void sync_warp()
{
    int w = blk->fibers[blk->cur].warp;
    barrier(blk->warp_waiting[w], blk->warp_gen[w], blk->warp_live[w]);
}

/* Every lane publishes v, then reads lane src_of(lane) within its segment. */
template <class T, class F> inline T shuffle(T v, F src_of, int width)
{
    static_assert(sizeof(T) <= 16, "shuffle of a type over 16 bytes");
    Fiber &f = blk->fibers[blk->cur];
    int lane = f.lane, base = f.warp * 32;
    memcpy(&blk->lanes[(size_t)(base + lane) * 16], &v, sizeof v);
    sync_warp();
    int src = src_of(lane), seg = lane & ~(width - 1);
    if (src < seg || src >= seg + width) src = lane;
    T r;
    memcpy(&r, &blk->lanes[(size_t)(base + src) * 16], sizeof r);
    sync_warp();
    return r;
}

/* Run one block to completion, fibers round-robin. */
inline void run_block(Block &b, dim3 bd, size_t smem)
{
    const size_t stack = 64 * 1024;
    int n = (int)(bd.x * bd.y * bd.z), nw = (n + 31) / 32;
    if (b.stacks.size() < stack * (size_t)n) b.stacks.resize(stack * (size_t)n);
    b.fibers.resize((size_t)n);
    b.warp_live.assign((size_t)nw, 0);
    b.warp_waiting.assign((size_t)nw, 0);
    b.warp_gen.assign((size_t)nw, 0);
    b.lanes.assign((size_t)nw * 32 * 16, 0);
    if (b.dyn.size() < smem) b.dyn.resize(smem);
    b.live = n; b.waiting = 0; b.gen = 0;
    for (int i = 0; i < n; i++) {
        Fiber &f = b.fibers[(size_t)i];
        f.tid = {(unsigned)i % bd.x, (unsigned)i / bd.x % bd.y, (unsigned)i / (bd.x * bd.y)};
        f.warp = i / 32; f.lane = i % 32; f.done = false;
        b.warp_live[(size_t)f.warp]++;
        f.sp = fiber_stack(&b.stacks[stack * (size_t)i], stack);
    }
    while (b.live > 0)
        for (int i = 0; i < n; i++) {
            if (b.fibers[(size_t)i].done) continue;
            b.cur = i;
            threadIdx = b.fibers[(size_t)i].tid;
            pl_emu_switch(&b.sched_sp, b.fibers[(size_t)i].sp);
        }
}

/* The whole grid, block after block, on the calling thread. */
inline void launch(dim3 g, dim3 bd, size_t smem, const std::function<void()> &body)
{
    Block b;
    b.body = &body;
    blk = &b;
    gridDim = g;
    blockDim = bd;
    long n = (long)g.x * g.y * g.z;
    for (long k = 0; k < n; k++) {
        blockIdx = {(unsigned)(k % g.x), (unsigned)(k / g.x % g.y), (unsigned)(k / ((long)g.x * g.y))};
        run_block(b, bd, smem);
    }
    blk = nullptr;
}

} /* namespace emu */

#define GPU_LAUNCH(k, g, b, smem, st, ...) emu::launch(dim3(g), dim3(b), (smem), [&]() { k(__VA_ARGS__); })
#define DYN_SHMEM(T, name) T *name = (T *)emu::blk->dyn.data()

inline void __syncthreads() { emu::sync_block(); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int m, int w = 32)
{
    return emu::shuffle(v, [m](int l) { return l ^ m; }, w);
}
template <class T> inline T __shfl_sync(unsigned, T v, int s, int w = 32)
{
    return emu::shuffle(v, [s, w](int l) { return (l & ~(w - 1)) + (s % w); }, w);
}
inline float __expf(float x) { return expf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __fdividef(float a, float b) { return a / b; }
template <class T> inline T __ldg(const T *p) { return *p; }

/* IEEE half on GCC's _Float16: conversions round to nearest even, as __half2float/__float2half. */
struct __half {
    _Float16 v;
    __half() = default;
    __half(float f) : v((_Float16)f) {}
};
inline float __half2float(__half h) { return (float)h.v; }
inline __half __float2half(float f) { return __half(f); }

#endif

/* ---- the runtime API on host memory: one "device", the CPU ----------- */
#ifndef PL_GPU_EMU_RUNTIME
#define PL_GPU_EMU_RUNTIME
#define cudaSuccess 0
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost };
struct cudaDeviceProp { char name[256]; size_t totalGlobalMem; };
inline const char *cudaGetErrorString(cudaError_t e) { return e ? "emulator error" : "no error"; }
inline const char *cudaGetErrorName(cudaError_t e) { return e ? "emuError" : "cudaSuccess"; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return 0; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    snprintf(p->name, sizeof p->name, "CPU emulator");
    p->totalGlobalMem = 0;
    return 0;
}
inline cudaError_t cudaMalloc(void **p, size_t n) { *p = malloc(n ? n : 1); return *p ? 0 : 2; }
inline cudaError_t cudaFree(void *p) { free(p); return 0; }
inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memcpy(d, s, n); return 0; }
inline cudaError_t cudaDeviceSynchronize() { return 0; }
inline cudaError_t cudaGetLastError() { return 0; }
#endif
