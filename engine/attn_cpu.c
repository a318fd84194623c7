/* attn_cpu.c — blocked, causal attention over the paged KV cache on the pool.
 *
 * See attn.h for the algorithm. This file holds the scalar reference of the
 * tile kernel, the loading of one cache block (any row type: F16 through F16C,
 * quantized rows through the type's to_float) into f32 tiles, and the work
 * split. Keys in F16 meet a query rounded to f16 first, as llama.cpp converts
 * the query to the cache's type; quantized keys are widened to f32 instead
 * of narrowing the query, which is at least as exact.
 */
#include <math.h>
#include <string.h>

#include "attn.h"

/* ---- kernels ------------------------------------------------------------ */

/* Scalar reference of the tile kernel: scores, running max, rescale, accumulate. */
void attn_rows_ref(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                   float *l, float *acc)
{
    const int hd = t->hd;
    float p[KV_BLOCK];
    for (int r = 0; r < nq; r++) {
        const int n = lim[2 * r + 1] < t->nt ? lim[2 * r + 1] : t->nt;
        const int j0 = lim[2 * r] > 0 ? lim[2 * r] : 0;
        if (n <= j0) continue;
        const float *qr = q + (size_t)r * hd;
        float mx = m[r];
        for (int j = j0; j < n; j++) {
            float d = 0;
            for (int k = 0; k < hd; k++) d += qr[k] * t->kt[k * KV_BLOCK + j];
            p[j] = d * t->scale;
            if (p[j] > mx) mx = p[j];
        }
        const float corr = expf(m[r] - mx);
        float sum = 0;
        for (int j = j0; j < n; j++) sum += p[j] = expf(p[j] - mx);
        l[r] = l[r] * corr + sum;
        m[r] = mx;
        float *ar = acc + (size_t)r * hd;
        for (int k = 0; k < hd; k++) ar[k] *= corr;
        for (int j = j0; j < n; j++)
            for (int k = 0; k < hd; k++) ar[k] += p[j] * t->v[j * hd + k];
    }
}

/* True where the AVX2 twins may run. */
static bool attn_have_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return pl_cpu_level() >= PL_CPU_AVX2 && pl_cpu_level() != PL_CPU_NEON;
#else
    return false;
#endif
}

attn_rows_fn attn_rows_kernel(int hd)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2() && pl_cpu_level() == PL_CPU_AVX512 && hd % 16 == 0) return attn_rows_avx512;
    if (attn_have_avx2() && hd % 8 == 0) return attn_rows_avx2;
#endif
    return attn_rows_ref;
}

void attn_silu_mul(const float *gate, const float *up, int n, float *out)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2()) { attn_silu_mul_avx2(gate, up, n, out); return; }
#endif
    pl_cpu_silu_mul(gate, up, n, out);
}

void attn_f16_to_f32(const pl_f16 *src, float *dst, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2()) { attn_f16_to_f32_avx2(src, dst, n); return; }
#endif
    for (int i = 0; i < n; i++) dst[i] = pl_f16_to_f32(src[i]);
}

void attn_f32_to_f16(const float *src, pl_f16 *dst, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2()) { attn_f32_to_f16_avx2(src, dst, n); return; }
#endif
    for (int i = 0; i < n; i++) dst[i] = pl_f32_to_f16(src[i]);
}

void attn_round_f16(const float *src, float *dst, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2()) { attn_round_f16_avx2(src, dst, n); return; }
#endif
    for (int i = 0; i < n; i++) dst[i] = pl_f16_to_f32(pl_f32_to_f16(src[i]));
}

void attn_transpose(const float *src, int rows, int cols, float *dst)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2() && rows % 8 == 0 && cols % 8 == 0) {
        attn_transpose_avx2(src, rows, cols, dst);
        return;
    }
#endif
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

/* ---- per-thread scratch ------------------------------------------------- */

/* Views into one thread's scratch (every part 64-byte aligned). */
typedef struct attn_scr {
    float *q, *acc, *m, *l;   /* (rows, hd), (rows, hd), (rows), (rows): chunk state */
    float *ACC, *M, *L;       /* (rows, hd), (rows), (rows): merged over chunks */
    int   *lim;               /* (rows, 2) first and end position of the tile each row sees */
    float *krow, *kt, *v;     /* (KV_BLOCK, hd), (hd, KV_BLOCK), (KV_BLOCK, hd) */
} attn_scr;

static size_t attn_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Carve a thread's scratch (or, with base NULL, measure it in floats). */
static size_t attn_scr_layout(float *base, int hd, int group, attn_scr *s)
{
    const size_t rows = (size_t)group * ATTN_TT;
    const size_t sizes[] = { rows * hd, rows * hd, rows, rows, 2 * rows, (size_t)KV_BLOCK * hd,
                             (size_t)KV_BLOCK * hd, (size_t)KV_BLOCK * hd, rows * hd, rows, rows };
    float *lim = NULL;
    float **views[] = { &s->q, &s->acc, &s->m, &s->l, &lim, &s->krow, &s->kt, &s->v,
                        &s->ACC, &s->M, &s->L };
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (base) *views[i] = base + off;
        off += attn_round16(sizes[i]);
    }
    s->lim = (int *)(void *)lim;   /* the slot only ever holds ints */
    return off;
}

size_t attn_scratch_floats(int hd, int group)
{
    attn_scr s;
    return attn_scr_layout(NULL, hd, group, &s);
}

/* Chunks of ATTN_SPLIT blocks a decode at n_ctx positions can have. */
static int attn_max_chunks(int n_ctx) { return (n_ctx + KV_BLOCK * ATTN_SPLIT - 1) / (KV_BLOCK * ATTN_SPLIT); }

size_t attn_partial_floats(int n_head, int hd, int n_ctx)
{
    return (size_t)n_head * attn_max_chunks(n_ctx) * (hd + 2);
}

/* ---- one cache block into f32 tiles ------------------------------------ */

/* rows (n, hd) of head h starting at src (rows `stride` bytes apart) into f32. */
static void attn_rows_to_f32(const uint8_t *src, size_t stride, pl_type t, int n, int hd, float *dst)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    for (int j = 0; j < n; j++) {
        if (t == PL_TYPE_F16) attn_f16_to_f32((const pl_f16 *)(const void *)(src + j * stride), dst + (size_t)j * hd, hd);
        else tr->to_float(src + j * stride, dst + (size_t)j * hd, hd);
    }
}

/* Keys (transposed) and values of KV head h, positions [32 b, 32 b + nt). */
static void attn_load(const attn_args *a, const attn_scr *s, int b, int h, int nt, attn_tile *t)
{
    const kv_cache *kv = a->kv;
    const int blk = a->s->table[b], hd = a->hd;
    const uint8_t *k = kv_block_k(kv, blk, a->il) + h * pl_row_size(kv->type_k, hd);
    const uint8_t *v = kv_block_v(kv, blk, a->il) + h * pl_row_size(kv->type_v, hd);
    attn_rows_to_f32(k, kv->row_k, kv->type_k, nt, hd, s->krow);
    memset(s->krow + (size_t)nt * hd, 0, sizeof(float) * (KV_BLOCK - nt) * hd);
    attn_transpose(s->krow, KV_BLOCK, hd, s->kt);
    attn_rows_to_f32(v, kv->row_v, kv->type_v, nt, hd, s->v);
    *t = (attn_tile){ .hd = hd, .nt = nt, .kt = s->kt, .v = s->v,
                      .scale = a->scale > 0 ? a->scale : 1.0f / sqrtf((float)hd) };
}

/* K and V rows of a chunk into the cache, in its row types. */
void attn_store_kv(const kv_cache *kv, const kv_seq *s, int il, int nb, int pos0, const float *k,
                   const float *v)
{
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k), *tv = pl_type_traits_get(kv->type_v);
    for (int i = 0; i < nb; i++) {
        const float *kr = k + (size_t)i * kv->kv_dim, *vr = v + (size_t)i * kv->kv_dim;
        uint8_t *kd = kv_k_data(kv, s, il, pos0 + i), *vd = kv_v_data(kv, s, il, pos0 + i);
        if (kv->type_k == PL_TYPE_F16) attn_f32_to_f16(kr, (pl_f16 *)(void *)kd, kv->kv_dim);
        else tk->from_float(kr, kd, kv->kv_dim);
        if (kv->type_v == PL_TYPE_F16) attn_f32_to_f16(vr, (pl_f16 *)(void *)vd, kv->kv_dim);
        else tv->from_float(vr, vd, kv->kv_dim);
    }
}

/* ---- work items ----------------------------------------------------------- */

/* Fold one chunk's state (m, l, acc) into a row's merged state (M, L, ACC).
 * An empty chunk changes nothing; the first one is copied exactly (M = -inf
 * scales by 0, the chunk by 1), so merging in chunk order gives the same bits
 * whether the chunks were computed in one item (prefill) or apart (decode). */
static void attn_merge(float *M, float *L, float *ACC, float m, float l, const float *acc, int hd)
{
    if (m == -INFINITY) return;
    const float mx = fmaxf(*M, m), a = expf(*M - mx), b = expf(m - mx);
    *L = *L * a + l * b;
    for (int d = 0; d < hd; d++) ACC[d] = ACC[d] * a + acc[d] * b;
    *M = mx;
}

/* Empty states for nq rows. */
static void attn_state_reset(float *m, float *l, float *acc, int nq, int hd)
{
    for (int r = 0; r < nq; r++) m[r] = -INFINITY, l[r] = 0;
    memset(acc, 0, sizeof(float) * nq * hd);
}

/* q rows of tokens [i0, i1) x the group's heads of KV head h, rounded to f16
 * for f16 keys (row = (i - i0) * group + g). */
static void attn_gather_q(const attn_args *a, const attn_scr *s, int h, int i0, int i1)
{
    const int hd = a->hd, group = a->n_head / a->n_head_kv;
    const bool f16 = a->kv->type_k == PL_TYPE_F16;
    for (int i = i0; i < i1; i++)
        for (int g = 0; g < group; g++) {
            const float *src = a->q + (size_t)i * a->n_head * hd + (size_t)(h * group + g) * hd;
            float *dst = s->q + (size_t)((i - i0) * group + g) * hd;
            if (f16) attn_round_f16(src, dst, hd);
            else memcpy(dst, src, sizeof(float) * hd);
        }
}

/* Rows of tokens [i0, i1) of KV head h over blocks [b0, b1), chunk by chunk
 * (ATTN_SPLIT blocks, counted from position 0): the merged state is left in
 * s->M, s->L, s->ACC. */
static void attn_item_rows(const attn_args *a, const attn_scr *s, attn_rows_fn rows_fn, int h,
                           int i0, int i1, int b0, int b1)
{
    const int hd = a->hd, group = a->n_head / a->n_head_kv, nq = (i1 - i0) * group;
    attn_gather_q(a, s, h, i0, i1);
    attn_state_reset(s->m, s->l, s->acc, nq, hd);
    attn_state_reset(s->M, s->L, s->ACC, nq, hd);
    const int n_pos = a->pos0 + i1;   /* positions the last token sees */
    const int first = a->window > 0 ? a->pos0 + i0 - a->window + 1 : 0;
    if (first > 0 && first / KV_BLOCK > b0) b0 = first / KV_BLOCK;
    for (int b = b0; b < b1; b++) {
        const int t0 = b * KV_BLOCK, nt = n_pos - t0 < KV_BLOCK ? n_pos - t0 : KV_BLOCK;
        attn_tile t;
        attn_load(a, s, b, h, nt, &t);
        for (int r = 0; r < nq; r++) {
            const int pos = a->pos0 + i0 + r / group;
            s->lim[2 * r] = a->window > 0 ? pos - a->window + 1 - t0 : 0;
            s->lim[2 * r + 1] = pos - t0 + 1;
        }
        rows_fn(&t, nq, s->q, s->lim, s->m, s->l, s->acc);
        if ((b + 1) % ATTN_SPLIT && b + 1 < b1) continue;
        for (int r = 0; r < nq; r++)
            attn_merge(&s->M[r], &s->L[r], s->ACC + (size_t)r * hd, s->m[r], s->l[r],
                       s->acc + (size_t)r * hd, hd);
        attn_state_reset(s->m, s->l, s->acc, nq, hd);
    }
}

/* One output row: acc / l. */
static void attn_finish_row(float *o, const float *acc, float l, int hd)
{
    const float inv = 1.0f / l;
    for (int d = 0; d < hd; d++) o[d] = acc[d] * inv;
}

/* out rows of tokens [i0, i1) of KV head h from the merged state. */
static void attn_item_finish(const attn_args *a, const attn_scr *s, int h, int i0, int i1)
{
    const int hd = a->hd, group = a->n_head / a->n_head_kv;
    for (int i = i0; i < i1; i++)
        for (int g = 0; g < group; g++) {
            const int r = (i - i0) * group + g;
            attn_finish_row(a->out + (size_t)i * a->n_head * hd + (size_t)(h * group + g) * hd,
                            s->ACC + (size_t)r * hd, s->L[r], hd);
        }
}

/* Merge the n_ch partial states of KV head h (one token), in chunk order,
 * into the output: the same folds a prefill item makes. */
static void attn_combine(const attn_job *j, const attn_scr *s, int h)
{
    const attn_args *a = j->a;
    const int hd = a->hd, group = a->n_head / a->n_head_kv;
    for (int g = 0; g < group; g++) {
        const float *p0 = a->partial + (size_t)(h * group + g) * j->n_ch * (hd + 2);
        attn_state_reset(s->M, s->L, s->ACC, 1, hd);
        for (int c = 0; c < j->n_ch; c++) {
            const float *p = p0 + (size_t)c * (hd + 2);
            attn_merge(s->M, s->L, s->ACC, p[0], p[1], p + 2, hd);
        }
        attn_finish_row(a->out + (size_t)(h * group + g) * hd, s->ACC, s->L[0], hd);
    }
}

/* A decode chunk: partial state out, and the head's last chunk merges. */
static void attn_chunk(const attn_job *j, const attn_scr *s, int h, int c)
{
    const attn_args *a = j->a;
    const int hd = a->hd, group = a->n_head / a->n_head_kv, n_blocks = (a->pos0 + KV_BLOCK) / KV_BLOCK;
    const int c0 = j->b_first / ATTN_SPLIT;
    const int b0 = (c0 + c) * ATTN_SPLIT, b1 = b0 + ATTN_SPLIT < n_blocks ? b0 + ATTN_SPLIT : n_blocks;
    attn_item_rows(a, s, j->rows_fn, h, 0, 1, b0 > j->b_first ? b0 : j->b_first, b1);
    for (int g = 0; g < group; g++) {
        float *p = a->partial + ((size_t)(h * group + g) * j->n_ch + c) * (hd + 2);
        p[0] = s->M[g], p[1] = s->L[g];
        memcpy(p + 2, s->ACC + (size_t)g * hd, sizeof(float) * hd);
    }
    if (atomic_fetch_sub(&a->pending[h], 1) == 1) attn_combine(j, s, h);
}

/* Work item k (see attn_job_init) on thread ith's scratch. */
void attn_job_item(const attn_job *j, int ith, int k)
{
    const attn_args *a = j->a;
    attn_scr s;
    attn_scr_layout(a->scratch + (size_t)ith * j->scr_floats, a->hd, a->n_head / a->n_head_kv, &s);
    const int h = k % a->n_head_kv, u = k / a->n_head_kv;
    if (j->n_ch > 1) { attn_chunk(j, &s, h, u); return; }
    const int tile = j->n_tiles - 1 - u, i0 = tile * ATTN_TT;
    const int i1 = i0 + ATTN_TT < a->nb ? i0 + ATTN_TT : a->nb;
    attn_item_rows(a, &s, j->rows_fn, h, i0, i1, 0, (a->pos0 + i1 + KV_BLOCK - 1) / KV_BLOCK);
    attn_item_finish(a, &s, h, i0, i1);
}

/* Pool worker: items from a shared counter (a late thread takes fewer). */
static void attn_worker(int ith, int nth, void *arg)
{
    attn_job *j = arg;
    for (int k; (k = atomic_fetch_add(&j->next, 1)) < j->n_items;) attn_job_item(j, ith, k);
}

/* Plan the items: prefill tiles, or split decode chunks (pending counters set). */
void attn_job_init(attn_job *j, const attn_args *a)
{
    *j = (attn_job){ .a = a, .rows_fn = attn_rows_kernel(a->hd), .n_ch = 1,
                     .scr_floats = attn_scratch_floats(a->hd, a->n_head / a->n_head_kv) };
    j->n_tiles = (a->nb + ATTN_TT - 1) / ATTN_TT;
    const int n_blocks = (a->pos0 + a->nb + KV_BLOCK - 1) / KV_BLOCK;
    const int first = a->window > 0 ? a->pos0 - a->window + 1 : 0;
    j->b_first = first > 0 ? first / KV_BLOCK : 0;
    const int c0 = j->b_first / ATTN_SPLIT, c1 = (n_blocks - 1) / ATTN_SPLIT + 1;
    if (a->nb == 1 && c1 - c0 > 1) {
        j->n_ch = c1 - c0;
        for (int h = 0; h < a->n_head_kv; h++) atomic_store(&a->pending[h], j->n_ch);
    }
    j->n_items = a->n_head_kv * (j->n_ch > 1 ? j->n_ch : j->n_tiles);
    atomic_init(&j->next, 0);
}

/* Attention of a chunk of tokens on the pool. */
void attn_run(pl_pool *pool, const attn_args *a)
{
    attn_job j;
    attn_job_init(&j, a);
    pl_pool_run(pool, attn_worker, &j);
}
