/* ref.h — the door of backends/ref: the scalar reference kernels behind the
 * "ref" backend. Callers outside backends/ use the vtable (backend.h:
 * pl_backend_find("ref")); backend_ref.c binds these to it.
 *
 * Every kernel is a plain single-threaded loop in the file's row layout
 * (PL_LAYOUT_ROWS), sums in double where a sum is long, and returns 0 or a
 * PL_BACKEND_E*. Their arithmetic is the definition the CPU's fast paths are
 * held to; where llama.cpp rounds on purpose (f16 KV caches) they round the
 * same way and say so.
 */
#ifndef PL_REF_H
#define PL_REF_H

#include "../backend.h"

int ref_embed(const void *table, pl_type t, pl_layout layout, int64_t n_rows, int64_t cols,
              const int32_t *tokens, int n, float scale, float *out);
int ref_rms_norm(const float *x, const float *w, int rows, int d, float eps, float *out);
int ref_matmul(const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n);
int ref_rope(float *x, int n, int n_head, int head_dim, int pos0, const pl_rope_args *r);
int ref_glu(pl_glu act, const float *gate, const float *up, int64_t n, float *out);
int ref_add(const float *a, const float *b, int rows, int b_rows, int d, float *out);
int ref_scale(float *x, int64_t n, float s);
int ref_softmax(float *x, int rows, int d);
int ref_logits(const float *x, const float *norm_w, int d, float eps, const pl_matmul_w *w_out, float softcap);

#endif
