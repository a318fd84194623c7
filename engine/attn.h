/* attn.h — blocked attention over the paged KV cache (engine-internal).
 *
 * Attention is computed one KV block (KV_BLOCK positions) at a time with an
 * online softmax (flash attention's running max m, running sum l and running
 * weighted value sum acc per query row), so no row of scores the length of the
 * context is ever materialised and a block of keys and values, once converted
 * to f32, serves every query row that needs it: the G query heads that share a
 * KV head (GQA) and, in a prefill, a tile of tokens.
 *
 * The arithmetic of one query row depends only on the row and the positions it
 * sees, never on which other rows share its tile, so a prefill and a
 * token-by-token decode give the same numbers. The tile kernel has a scalar
 * reference (attn_rows_ref) and an AVX2 twin that is tested against it.
 *
 * Work split (attn_run): a prefill is cut into (KV head, tile of ATTN_TT
 * tokens) items, the latest tokens first since they see the most positions; a
 * single-token decode into (KV head, chunk of ATTN_SPLIT blocks) items whose
 * partial states are merged by whichever thread finishes a head's last chunk,
 * so a long context keeps both cores busy without an extra dispatch.
 */
#ifndef PL_ATTN_H
#define PL_ATTN_H

#include <stdatomic.h>

#include "../backends/backend.h"
#include "kv_cache.h"

#define ATTN_TT    16   /* prefill tokens per work item */
#define ATTN_SPLIT 2    /* KV blocks per decode work item */

/* One block of keys and values as f32, ready for the tile kernel. */
typedef struct attn_tile {
    int          hd;     /* head dimension */
    int          nt;     /* positions held (<= KV_BLOCK); rows past it are zero */
    const float *kt;     /* (hd, KV_BLOCK) keys, transposed */
    const float *v;      /* (KV_BLOCK, hd) values */
    float        scale;  /* 1/sqrt(hd) */
} attn_tile;

/* Update nq query rows q (nq, hd) with the tile positions [lim[2r], lim[2r+1])
 * each row sees (clamped to [0, nt); rows that see none are left alone):
 * m (nq), l (nq), acc (nq, hd). */
typedef void (*attn_rows_fn)(const attn_tile *t, int nq, const float *q, const int *lim,
                             float *m, float *l, float *acc);
void attn_rows_ref(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                   float *l, float *acc);
void attn_rows_avx2(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                    float *l, float *acc);
void attn_rows_avx512(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                      float *l, float *acc);
/* The fastest kernel this CPU runs for heads of hd dimensions. */
attn_rows_fn attn_rows_kernel(int hd);

/* out = silu(gate) * up over n values (out may alias gate): the SwiGLU of
 * the feed-forward, with a vectorised exp where the CPU has AVX2. */
void attn_silu_mul(const float *gate, const float *up, int n, float *out);
void attn_silu_mul_avx2(const float *gate, const float *up, int n, float *out);
/* exp of n values (AVX2 polynomial, about 2 ulp), for tests. */
void attn_exp_avx2(const float *x, int n, float *out);

/* f16 rows to f32 (F16C where present). */
void attn_f16_to_f32(const pl_f16 *src, float *dst, int n);
void attn_f16_to_f32_avx2(const pl_f16 *src, float *dst, int n);
/* f32 rows to f16 (round to nearest even, F16C where present). */
void attn_f32_to_f16(const float *src, pl_f16 *dst, int n);
void attn_f32_to_f16_avx2(const float *src, pl_f16 *dst, int n);
/* dst = src rounded to f16 and back (round to nearest even), as ggml converts
 * a query for an f16 cache. */
void attn_round_f16(const float *src, float *dst, int n);
void attn_round_f16_avx2(const float *src, float *dst, int n);
/* dst (cols, rows) = src (rows, cols)^T; rows a multiple of 8, cols of 8. */
void attn_transpose(const float *src, int rows, int cols, float *dst);
void attn_transpose_avx2(const float *src, int rows, int cols, float *dst);

/* Per-thread scratch of attn_run, sized by attn_scratch_floats. */
size_t attn_scratch_floats(int hd, int group);
/* Decode partials (m, l, acc per head and chunk), sized by attn_partial_floats. */
size_t attn_partial_floats(int n_head, int hd, int n_ctx);

/* Store nb rows of K and V (f32, (nb, kv_dim)) at positions [pos0, pos0 + nb)
 * of s, layer il, converted to the cache's types. */
void attn_store_kv(const kv_cache *kv, const kv_seq *s, int il, int nb, int pos0, const float *k,
                   const float *v);

/* Attention of nb tokens at positions [pos0, pos0 + nb) of sequence s,
 * layer il, whose K and V are already in the cache. */
typedef struct attn_args {
    const kv_cache *kv;
    const kv_seq   *s;
    int             il, nb, pos0;
    int             n_head, n_head_kv, hd;
    const float    *q;        /* (nb, n_head * hd), rotated */
    float          *out;      /* (nb, n_head * hd) */
    int             window;   /* > 0: a token at p sees only (p - window, p] (sliding window) */
    float           scale;    /* score scale; 0: 1/sqrt(hd) */
    float          *scratch;  /* (n_threads, attn_scratch_floats) */
    float          *partial;  /* attn_partial_floats */
    atomic_int     *pending;  /* (n_head_kv) */
} attn_args;
void attn_run(pl_pool *pool, const attn_args *a);

/* The same work as items, for a caller that runs its own dispatch (the fused
 * decode step): init plans n_items; each item k in [0, n_items) runs once,
 * on any thread ith, in any order. a must outlive the job. */
typedef struct attn_job {
    const attn_args *a;
    attn_rows_fn     rows_fn;
    int              n_tiles, n_ch, n_items;
    int              b_first;      /* decode: first block the window reaches */
    size_t           scr_floats;
    atomic_int       next;         /* attn_run's item counter */
} attn_job;
void attn_job_init(attn_job *j, const attn_args *a);
void attn_job_item(const attn_job *j, int ith, int k);

#endif
