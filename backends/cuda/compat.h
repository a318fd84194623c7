/* compat.h — one kernel source for three compilers.
 *
 * Kernels are written in CUDA's dialect; this header maps it for hipcc
 * (ROCm HIP, from Debian's packages) and for g++ running the kernels on the
 * CPU (the test build passes -DPL_GPU_EMU -include tests/gpu/emu.h).
 * Rules for kernel code:
 *   - launch only through GPU_LAUNCH(kernel, grid, block, smem, stream, args...)
 *     (g++ cannot parse <<<>>>);
 *   - dynamic shared memory through DYN_SHMEM(type, name);
 *   - a 32-lane logical warp (LWARP) and width 32 on every shuffle, so AMD's
 *     64-lane wavefronts split into two independent halves; never a literal
 *     warpSize in device code;
 *   - no inline PTX or cooperative groups outside #ifdef __CUDA_ARCH__.
 */
#ifndef PL_GPU_COMPAT_H
#define PL_GPU_COMPAT_H

#include <stdint.h>

#if defined(PL_GPU_EMU)
/* The test build brings its CPU emulation in (g++ -include tests/gpu/emu.h):
 * production headers never include tests. */
#  ifndef PL_GPU_EMU_H
#    error "PL_GPU_EMU builds must -include the emulation header (tests/gpu/Makefile.inc)"
#  endif
/* fp16 bits to float on the CPU: GCC's _Float16 */
static inline float pl_h2f(uint16_t b) { _Float16 h; memcpy(&h, &b, 2); return (float)h; }
#elif defined(__HIPCC__)
#  include <hip/hip_runtime.h>
#  include <hip/hip_fp16.h>
#  define cudaError_t             hipError_t
#  define cudaSuccess             hipSuccess
#  define cudaGetErrorString      hipGetErrorString
#  define cudaGetErrorName        hipGetErrorName
#  define cudaGetDeviceCount      hipGetDeviceCount
#  define cudaGetDeviceProperties hipGetDeviceProperties
#  define cudaDeviceProp          hipDeviceProp_t
#  define cudaMalloc              hipMalloc
#  define cudaFree                hipFree
#  define cudaMemcpy              hipMemcpy
#  define cudaMemcpyHostToDevice  hipMemcpyHostToDevice
#  define cudaMemcpyDeviceToHost  hipMemcpyDeviceToHost
#  define cudaDeviceSynchronize   hipDeviceSynchronize
#  define cudaGetLastError        hipGetLastError
#  define cudaStream_t            hipStream_t
/* ROCm 5.2 has no *_sync shuffles; its wavefront runs in lockstep. */
#  ifndef __shfl_xor_sync
#    define __shfl_xor_sync(mask, v, lane, width) __shfl_xor((v), (lane), (width))
#    define __shfl_sync(mask, v, src, width)      __shfl((v), (src), (width))
#  endif
#  define GPU_LAUNCH(k, g, b, smem, st, ...) hipLaunchKernelGGL(k, g, b, smem, st, __VA_ARGS__)
#  define DYN_SHMEM(T, name) extern __shared__ T name[]
__device__ __forceinline__ float pl_h2f(uint16_t b) { return __half2float(__ushort_as_half(b)); }
#else
#  include <cuda_runtime.h>
#  include <cuda_fp16.h>
#  define GPU_LAUNCH(k, g, b, smem, st, ...) k<<<(g), (b), (smem), (st)>>>(__VA_ARGS__)
#  define DYN_SHMEM(T, name) extern __shared__ T name[]
__device__ __forceinline__ float pl_h2f(uint16_t b) { return __half2float(__ushort_as_half(b)); }
#endif

#define LWARP 32

#endif
