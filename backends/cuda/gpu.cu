/* gpu.cu — host side of the GPU backend: device probe, memory, launchers.
 * Compiled by nvcc (CUDA), hipcc (HIP) and g++ -DPL_GPU_EMU (tests/gpu). */
#include <stdio.h>
#include <string.h>

#include "gpu.h"
#include "kernels.cuh"

static char last_error[256];

/* Remember the runtime's words for a failed call; returns -1. */
static int gpu_fail(const char *what, cudaError_t e)
{
    snprintf(last_error, sizeof last_error, "%s: %s (%s, %d)", what, cudaGetErrorString(e),
             cudaGetErrorName(e), (int)e);
    return -1;
}

/* After a launch: a launch error or an unsupported shape becomes a message. */
static int gpu_launched(const char *what)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : gpu_fail(what, e);
}

extern "C" {

const char *pl_gpu_last_error(void) { return last_error; }

const char *pl_gpu_backend_name(void)
{
#if defined(PL_GPU_EMU)
    return "emu";
#elif defined(__HIPCC__)
    return "hip";
#else
    return "cuda";
#endif
}

int pl_gpu_probe(pl_gpu_info *info)
{
    memset(info, 0, sizeof *info);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return gpu_fail("no usable GPU", e);
    if (n == 0) {
        snprintf(last_error, sizeof last_error, "no GPU device found");
        return -1;
    }
    cudaDeviceProp p;
    if ((e = cudaGetDeviceProperties(&p, 0)) != cudaSuccess) return gpu_fail("device properties", e);
    info->n_devices = n;
    snprintf(info->name, sizeof info->name, "%.127s", p.name);
    info->mem_total = p.totalGlobalMem;
    return 0;
}

void *pl_gpu_alloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) { gpu_fail("device allocation", e); return NULL; }
    return p;
}

/* Frees are best-effort: a failure here has no caller that could act on it. */
void pl_gpu_free(void *p) { if (p) (void)cudaFree(p); }

int pl_gpu_upload(void *dst, const void *src, size_t bytes)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? 0 : gpu_fail("upload", e);
}

int pl_gpu_download(void *dst, const void *src, size_t bytes)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : gpu_fail("download", e);
}

int pl_gpu_sync(void)
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : gpu_fail("synchronize", e);
}

int pl_gpu_rms_norm(const float *x, const float *w, float *y, int rows, int n, float eps)
{
    GPU_LAUNCH(k_rms_norm, dim3(rows), dim3(256), 0, 0, x, w, y, n, eps);
    return gpu_launched("rms_norm");
}

int pl_gpu_softmax(float *x, int rows, int n)
{
    GPU_LAUNCH(k_softmax, dim3(rows), dim3(256), 0, 0, x, n);
    return gpu_launched("softmax");
}

int pl_gpu_silu_mul(const float *g, const float *u, float *out, int n)
{
    GPU_LAUNCH(k_silu_mul, dim3((n + 255) / 256), dim3(256), 0, 0, g, u, out, n);
    return gpu_launched("silu_mul");
}

int pl_gpu_matvec(const void *W, pl_type t, const float *x, float *y, int rows, int cols)
{
    if (t == PL_TYPE_Q8_0 && cols % QK8_0 == 0) {
        GPU_LAUNCH(k_matvec_q8_0, dim3(rows), dim3(128), 0, 0, (const block_q8_0 *)W, x, y, rows, cols);
    } else if (t == PL_TYPE_Q4_0 && cols % QK4_0 == 0) {
        GPU_LAUNCH(k_matvec_q4_0, dim3(rows), dim3(128), 0, 0, (const block_q4_0 *)W, x, y, rows, cols);
    } else {
        snprintf(last_error, sizeof last_error, "matvec: weight type %d with %d columns not supported on the GPU", (int)t, cols);
        return -1;
    }
    return gpu_launched("matvec");
}

} /* extern "C" */
