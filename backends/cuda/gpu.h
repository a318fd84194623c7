/* gpu.h — the C face of the GPU backend (CUDA or HIP, one source).
 *
 * Built only by `make gpu` / `make GPU=cuda|hip`; the default build is CPU
 * only. All pointers passed to the op functions are device pointers. Every
 * function returns 0 or a negative code with the runtime's message available
 * from pl_gpu_last_error(), so "no device" becomes a sentence the caller can
 * show before falling back to the CPU.
 */
#ifndef PL_GPU_H
#define PL_GPU_H

#include <stddef.h>

#include "../quant_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pl_gpu_info {
    int    n_devices;
    char   name[128];      /* device 0 */
    size_t mem_total;      /* bytes, device 0 */
} pl_gpu_info;

const char *pl_gpu_backend_name(void);         /* "cuda", "hip" or "emu" */
/* Devices present? 0 with info filled, or negative (no driver, no device). */
int         pl_gpu_probe(pl_gpu_info *info);
const char *pl_gpu_last_error(void);

void *pl_gpu_alloc(size_t bytes);              /* NULL on failure */
void  pl_gpu_free(void *p);
int   pl_gpu_upload(void *dst, const void *src, size_t bytes);
int   pl_gpu_download(void *dst, const void *src, size_t bytes);
int   pl_gpu_sync(void);

/* Ops (device pointers, row-major, f32 activations). */
int pl_gpu_rms_norm(const float *x, const float *w, float *y, int rows, int n, float eps);
int pl_gpu_softmax(float *x, int rows, int n);
int pl_gpu_silu_mul(const float *g, const float *u, float *out, int n);
/* y[rows] = W[rows][cols] x[cols]; W in GGUF blocks of type t (q8_0, q4_0). */
int pl_gpu_matvec(const void *W, pl_type t, const float *x, float *y, int rows, int cols);

#ifdef __cplusplus
}
#endif
#endif
