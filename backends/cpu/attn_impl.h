/* attn_impl.h — the CPU attention's kernels and work plan (backends/cpu only).
 *
 * The public side (backend.h) is pl_cpu_attention over a pl_kv_view; this is
 * how it is built. Two arithmetics:
 *
 * Blocked (attn.c): attention is computed one tile of ATTN_BLOCK positions at
 * a time with an online softmax (flash attention's running max m, running
 * sum l and running weighted value sum acc per query row), so no row of
 * scores the length of the context is ever materialised and a tile of keys
 * and values, once converted to f32, serves every query row that needs it:
 * the G query heads that share a KV head (GQA) and, in a prefill, a tile of
 * tokens. The arithmetic of one query row depends only on the row and the
 * positions it sees, never on which other rows share its tile, so a prefill
 * and a token-by-token decode give the same numbers. The tile kernel has a
 * scalar reference (attn_rows_ref) and AVX2 / AVX-512 twins tested against it.
 *
 * Exact (attn_exact.c): llama.cpp's CPU arithmetic on an F16 cache, one
 * (token, query head) at a time in two passes over the keys.
 *
 * Work split (pl_cpu_attention, or the items of pl_cpu_attn_job_*): a blocked
 * prefill is cut into (KV head, tile of ATTN_TT tokens) items, the latest
 * tokens first since they see the most positions; a single-token decode into
 * (KV head, chunk of ATTN_SPLIT tiles) items whose partial states are merged
 * by whichever thread finishes a head's last chunk, so a long context keeps
 * both cores busy without an extra dispatch. Exact: one item per (token, head).
 */
#ifndef PL_ATTN_IMPL_H
#define PL_ATTN_IMPL_H

#include <stdatomic.h>

#include "cpu_impl.h"

#define ATTN_BLOCK 32   /* positions per tile (the SIMD kernels hold 32 scores per row) */
#define ATTN_TT    16   /* prefill tokens per work item */
#define ATTN_SPLIT 2    /* tiles per decode work item */
#define ATTN_MAX_HD 1024 /* head size the exact arithmetic keeps on its stack */

/* One tile of keys and values as f32, ready for the tile kernel. */
typedef struct attn_tile {
    int          hd;     /* head dimension */
    int          nt;     /* positions held (<= ATTN_BLOCK); rows past it are zero */
    const float *kt;     /* (hd, ATTN_BLOCK) keys, transposed */
    const float *v;      /* (ATTN_BLOCK, hd) values */
    float        scale;  /* score scale */
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

/* SIMD twin of pl_cpu_silu_mul_fast. */
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

/* The K (is_v false) or V row of position p in the view. */
static inline uint8_t *attn_kv_row(const pl_kv_view *kv, bool is_v, int p)
{
    const int bs = kv->block_size;
    uint8_t *blk = kv->blocks[kv->table[p / bs]];
    return is_v ? blk + (size_t)bs * kv->row_k + (size_t)(p % bs) * kv->row_v
                : blk + (size_t)(p % bs) * kv->row_k;
}

/* The plan of one attention call (lives at the start of the work buffer). */
struct pl_attn_job {
    pl_attn_args a;            /* the caller's arguments, math resolved */
    attn_rows_fn rows_fn;      /* blocked: the tile kernel */
    int          n_tiles, n_ch, n_items;
    int          b_first;      /* blocked decode: first tile the window reaches */
    size_t       scr_floats;   /* one thread's scratch */
    atomic_int  *pending;      /* (n_head_kv) decode chunks still running per head */
    float       *partial;      /* blocked: (n_head, n_ch, hd + 2) decode partial states m, l, acc;
                                  exact: (threads, 2, pos0 + nb) each thread's scores and weights */
};

/* Blocked arithmetic (attn.c): plan, and item k on thread ith. */
void attn_blocked_init(pl_attn_job *j);
void attn_blocked_item(const pl_attn_job *j, int ith, int k);
/* Exact arithmetic (attn_exact.c): item k is (token k / n_head, head k % n_head),
 * on thread ith's rows of the work buffer. */
void attn_exact_item(const pl_attn_job *j, int ith, int k);

#endif
