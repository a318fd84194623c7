/* kernels.cuh — the GPU kernels, one source for CUDA, HIP and the CPU emulator.
 *
 * Weights stay in their GGUF block layout (backends/quant_blocks.h) on the
 * device; activations are f32. Matrix-vector kernels give one block to a row:
 * its threads stride over the row's quant blocks and reduce with warp
 * shuffles, then through shared memory.
 */
#ifndef PL_GPU_KERNELS_CUH
#define PL_GPU_KERNELS_CUH

#include "compat.h"
#include "../quant_blocks.h"

/* Sum over the 32 lanes of a logical warp; every lane gets the total. */
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = LWARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o, LWARP);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = LWARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o, LWARP));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); all threads get it. */
__device__ __forceinline__ float block_sum(float v)
{
    __shared__ float part[1024 / LWARP];
    int lane = threadIdx.x % LWARP, w = threadIdx.x / LWARP, nw = blockDim.x / LWARP;
    v = warp_sum(v);
    __syncthreads();               /* part[] may still be read by a previous call */
    if (lane == 0) part[w] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : 0.0f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v)
{
    __shared__ float part[1024 / LWARP];
    int lane = threadIdx.x % LWARP, w = threadIdx.x / LWARP, nw = blockDim.x / LWARP;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : -INFINITY;
    return warp_max(t);
}

/* y[row] = x[row] / rms(x[row]) * w; one block per row of n. */
__global__ void k_rms_norm(const float *__restrict__ x, const float *__restrict__ w,
                           float *__restrict__ y, int n, float eps)
{
    const float *xr = x + (size_t)blockIdx.x * n;
    float *yr = y + (size_t)blockIdx.x * n;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    float scale = rsqrtf(block_sum(ss) / n + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

/* In-place softmax of each row of n; one block per row. */
__global__ void k_softmax(float *__restrict__ x, int n)
{
    float *xr = x + (size_t)blockIdx.x * n;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]);
    m = block_max(m);
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) { xr[i] = __expf(xr[i] - m); s += xr[i]; }
    float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) xr[i] *= inv;
}

/* out = silu(gate) * up, elementwise (SwiGLU). */
__global__ void k_silu_mul(const float *__restrict__ g, const float *__restrict__ u,
                           float *__restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = g[i] / (1.0f + __expf(-g[i])) * u[i];
}

/* Dot of one q8_0 block with 32 floats. */
__device__ __forceinline__ float dot_q8_0(const block_q8_0 *b, const float *x)
{
    float s = 0.0f;
    for (int j = 0; j < QK8_0; j++) s += (float)b->qs[j] * x[j];
    return s * pl_h2f(b->d);
}

/* Dot of one q4_0 block with 32 floats: low nibbles are elements 0..15, high 16..31. */
__device__ __forceinline__ float dot_q4_0(const block_q4_0 *b, const float *x)
{
    float s = 0.0f;
    for (int j = 0; j < QK4_0 / 2; j++) {
        s += (float)((b->qs[j] & 0x0F) - 8) * x[j];
        s += (float)((b->qs[j] >> 4) - 8) * x[j + QK4_0 / 2];
    }
    return s * pl_h2f(b->d);
}

/* y = W x for a row-major W of quant blocks; one block of threads per row. */
#define PL_MATVEC_KERNEL(name, block_t, QK, dot)                                         \
    __global__ void name(const block_t *__restrict__ W, const float *__restrict__ x,     \
                         float *__restrict__ y, int rows, int cols)                      \
    {                                                                                    \
        int r = blockIdx.x, nb = cols / QK;                                              \
        if (r >= rows) return;                                                           \
        const block_t *wr = W + (size_t)r * nb;                                          \
        float acc = 0.0f;                                                                \
        for (int b = threadIdx.x; b < nb; b += blockDim.x) acc += dot(&wr[b], x + b * QK); \
        acc = block_sum(acc);                                                            \
        if (threadIdx.x == 0) y[r] = acc;                                                \
    }
PL_MATVEC_KERNEL(k_matvec_q8_0, block_q8_0, QK8_0, dot_q8_0)
PL_MATVEC_KERNEL(k_matvec_q4_0, block_q4_0, QK4_0, dot_q4_0)

#endif
