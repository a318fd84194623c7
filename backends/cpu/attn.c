/* attn.c — blocked, causal attention over a paged KV cache view on the pool.
 *
 * See attn_impl.h for the algorithm. This file holds the scalar reference of
 * the tile kernel, the loading of one tile of positions (any row type: F16
 * through F16C, quantized rows through the type's to_float) into f32, the
 * work split, and the public entry points that pick the arithmetic. Keys in
 * F16 meet a query rounded to f16 first, as llama.cpp converts the query to
 * the cache's type; quantized keys are widened to f32 instead of narrowing
 * the query, which is at least as exact.
 */
#include <math.h>
#include <string.h>

#include "attn_impl.h"

/* ---- kernels ------------------------------------------------------------ */

/* Scalar reference of the tile kernel: scores, running max, rescale, accumulate. */
void attn_rows_ref(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                   float *l, float *acc)
{
    const int hd = t->hd;
    float p[ATTN_BLOCK];
    for (int r = 0; r < nq; r++) {
        const int n = lim[2 * r + 1] < t->nt ? lim[2 * r + 1] : t->nt;
        const int j0 = lim[2 * r] > 0 ? lim[2 * r] : 0;
        if (n <= j0) continue;
        const float *qr = q + (size_t)r * hd;
        float mx = m[r];
        for (int j = j0; j < n; j++) {
            float d = 0;
            for (int k = 0; k < hd; k++) d += qr[k] * t->kt[k * ATTN_BLOCK + j];
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

#if defined(__x86_64__) || defined(__i386__)
/* True where the AVX2 twins may run. */
static bool attn_have_avx2(void)
{
    return pl_cpu_level() >= PL_CPU_AVX2 && pl_cpu_level() != PL_CPU_NEON;
}
#endif

attn_rows_fn attn_rows_kernel(int hd)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attn_have_avx2() && pl_cpu_level() == PL_CPU_AVX512 && hd % 16 == 0) return attn_rows_avx512;
    if (attn_have_avx2() && hd % 8 == 0) return attn_rows_avx2;
#endif
    return attn_rows_ref;
}

void pl_cpu_silu_mul_fast(const float *gate, const float *up, int n, float *out)
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
    float *krow, *kt, *v;     /* (ATTN_BLOCK, hd), (hd, ATTN_BLOCK), (ATTN_BLOCK, hd) */
} attn_scr;

static size_t attn_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Carve a thread's scratch (or, with base NULL, measure it in floats). */
static size_t attn_scr_layout(float *base, int hd, int group, attn_scr *s)
{
    const size_t rows = (size_t)group * ATTN_TT;
    const size_t sizes[] = { rows * hd, rows * hd, rows, rows, 2 * rows, (size_t)ATTN_BLOCK * hd,
                             (size_t)ATTN_BLOCK * hd, (size_t)ATTN_BLOCK * hd, rows * hd, rows, rows };
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

size_t pl_cpu_attn_scratch_floats(int hd, int group)
{
    attn_scr s;
    return attn_scr_layout(NULL, hd, group, &s);
}

/* Chunks of ATTN_SPLIT tiles a decode at n_pos positions can have. */
static int attn_max_chunks(int n_pos) { return (n_pos + ATTN_BLOCK * ATTN_SPLIT - 1) / (ATTN_BLOCK * ATTN_SPLIT); }

/* The work buffer: the job, the pending counters, the partial states (each
 * part 64-byte aligned from the buffer's start). */
static size_t attn_round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The last part serves one arithmetic at a time: the blocked decode's
 * partial states, or the exact arithmetic's rows of scores and weights (two
 * rows of n_pos floats per thread). */
size_t pl_cpu_attn_work_bytes(int n_head, int n_head_kv, int hd, int n_pos, int n_threads)
{
    const size_t partial = sizeof(float) * n_head * attn_max_chunks(n_pos) * (hd + 2);
    const size_t rows = sizeof(float) * (size_t)(n_threads > 0 ? n_threads : 1) * 2 * (size_t)n_pos;
    return attn_round64(sizeof(pl_attn_job)) + attn_round64(sizeof(atomic_int) * n_head_kv) +
           (partial > rows ? partial : rows);
}

/* ---- one tile of positions into f32 ------------------------------------- */

/* K (is_v false) or V rows (n, hd) of head h, positions [p0, p0 + n), into
 * f32, one run of rows per cache block they fall in. */
static void attn_rows_to_f32(const pl_kv_view *kv, bool is_v, int p0, int n, int h, int hd, float *dst)
{
    const pl_type t = is_v ? kv->type_v : kv->type_k;
    const pl_type_traits *tr = pl_type_traits_get(t);
    const size_t stride = is_v ? kv->row_v : kv->row_k, head = (size_t)h * pl_row_size(t, hd);
    for (int j = 0; j < n;) {
        const int left = kv->block_size - (p0 + j) % kv->block_size, run = left < n - j ? left : n - j;
        const uint8_t *src = attn_kv_row(kv, is_v, p0 + j) + head;
        for (int r = 0; r < run; r++, j++, src += stride) {
            if (t == PL_TYPE_F16) attn_f16_to_f32((const pl_f16 *)(const void *)src, dst + (size_t)j * hd, hd);
            else tr->to_float(src, dst + (size_t)j * hd, hd);
        }
    }
}

/* Keys (transposed) and values of KV head h, positions [32 b, 32 b + nt). */
static void attn_load(const pl_attn_args *a, const attn_scr *s, int b, int h, int nt, attn_tile *t)
{
    const int hd = a->hd;
    attn_rows_to_f32(&a->kv, false, b * ATTN_BLOCK, nt, h, hd, s->krow);
    memset(s->krow + (size_t)nt * hd, 0, sizeof(float) * (ATTN_BLOCK - nt) * hd);
    attn_transpose(s->krow, ATTN_BLOCK, hd, s->kt);
    attn_rows_to_f32(&a->kv, true, b * ATTN_BLOCK, nt, h, hd, s->v);
    *t = (attn_tile){ .hd = hd, .nt = nt, .kt = s->kt, .v = s->v,
                      .scale = a->scale > 0 ? a->scale : 1.0f / sqrtf((float)hd) };
}

/* K and V rows of a chunk into the cache, in its row types. */
void pl_cpu_kv_store(const pl_kv_view *kv, int nb, int pos0, const float *k, const float *v)
{
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k), *tv = pl_type_traits_get(kv->type_v);
    for (int i = 0; i < nb; i++) {
        const float *kr = k + (size_t)i * kv->kv_dim, *vr = v + (size_t)i * kv->kv_dim;
        uint8_t *kd = attn_kv_row(kv, false, pos0 + i), *vd = attn_kv_row(kv, true, pos0 + i);
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
static void attn_gather_q(const pl_attn_args *a, const attn_scr *s, int h, int i0, int i1)
{
    const int hd = a->hd, group = a->n_head / a->n_head_kv;
    const bool f16 = a->kv.type_k == PL_TYPE_F16;
    for (int i = i0; i < i1; i++)
        for (int g = 0; g < group; g++) {
            const float *src = a->q + (size_t)i * a->n_head * hd + (size_t)(h * group + g) * hd;
            float *dst = s->q + (size_t)((i - i0) * group + g) * hd;
            if (f16) attn_round_f16(src, dst, hd);
            else memcpy(dst, src, sizeof(float) * hd);
        }
}

/* Rows of tokens [i0, i1) of KV head h over tiles [b0, b1), chunk by chunk
 * (ATTN_SPLIT tiles, counted from position 0): the merged state is left in
 * s->M, s->L, s->ACC. */
static void attn_item_rows(const pl_attn_args *a, const attn_scr *s, attn_rows_fn rows_fn, int h,
                           int i0, int i1, int b0, int b1)
{
    const int hd = a->hd, group = a->n_head / a->n_head_kv, nq = (i1 - i0) * group;
    attn_gather_q(a, s, h, i0, i1);
    attn_state_reset(s->m, s->l, s->acc, nq, hd);
    attn_state_reset(s->M, s->L, s->ACC, nq, hd);
    const int n_pos = a->pos0 + i1;   /* positions the last token sees */
    const int first = a->window > 0 ? a->pos0 + i0 - a->window + 1 : 0;
    if (first > 0 && first / ATTN_BLOCK > b0) b0 = first / ATTN_BLOCK;
    for (int b = b0; b < b1; b++) {
        const int t0 = b * ATTN_BLOCK, nt = n_pos - t0 < ATTN_BLOCK ? n_pos - t0 : ATTN_BLOCK;
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
static void attn_item_finish(const pl_attn_args *a, const attn_scr *s, int h, int i0, int i1)
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
static void attn_combine(const pl_attn_job *j, const attn_scr *s, int h)
{
    const pl_attn_args *a = &j->a;
    const int hd = a->hd, group = a->n_head / a->n_head_kv;
    for (int g = 0; g < group; g++) {
        const float *p0 = j->partial + (size_t)(h * group + g) * j->n_ch * (hd + 2);
        attn_state_reset(s->M, s->L, s->ACC, 1, hd);
        for (int c = 0; c < j->n_ch; c++) {
            const float *p = p0 + (size_t)c * (hd + 2);
            attn_merge(s->M, s->L, s->ACC, p[0], p[1], p + 2, hd);
        }
        attn_finish_row(a->out + (size_t)(h * group + g) * hd, s->ACC, s->L[0], hd);
    }
}

/* A decode chunk: partial state out, and the head's last chunk merges. */
static void attn_chunk(const pl_attn_job *j, const attn_scr *s, int h, int c)
{
    const pl_attn_args *a = &j->a;
    const int hd = a->hd, group = a->n_head / a->n_head_kv, n_blocks = (a->pos0 + ATTN_BLOCK) / ATTN_BLOCK;
    const int c0 = j->b_first / ATTN_SPLIT;
    const int b0 = (c0 + c) * ATTN_SPLIT, b1 = b0 + ATTN_SPLIT < n_blocks ? b0 + ATTN_SPLIT : n_blocks;
    attn_item_rows(a, s, j->rows_fn, h, 0, 1, b0 > j->b_first ? b0 : j->b_first, b1);
    for (int g = 0; g < group; g++) {
        float *p = j->partial + ((size_t)(h * group + g) * j->n_ch + c) * (hd + 2);
        p[0] = s->M[g], p[1] = s->L[g];
        memcpy(p + 2, s->ACC + (size_t)g * hd, sizeof(float) * hd);
    }
    if (atomic_fetch_sub(&j->pending[h], 1) == 1) attn_combine(j, s, h);
}

/* Work item k (see attn_blocked_init) on thread ith's scratch. */
void attn_blocked_item(const pl_attn_job *j, int ith, int k)
{
    const pl_attn_args *a = &j->a;
    attn_scr s;
    attn_scr_layout(a->scratch + (size_t)ith * j->scr_floats, a->hd, a->n_head / a->n_head_kv, &s);
    const int h = k % a->n_head_kv, u = k / a->n_head_kv;
    if (j->n_ch > 1) { attn_chunk(j, &s, h, u); return; }
    const int tile = j->n_tiles - 1 - u, i0 = tile * ATTN_TT;
    const int i1 = i0 + ATTN_TT < a->nb ? i0 + ATTN_TT : a->nb;
    attn_item_rows(a, &s, j->rows_fn, h, i0, i1, 0, (a->pos0 + i1 + ATTN_BLOCK - 1) / ATTN_BLOCK);
    attn_item_finish(a, &s, h, i0, i1);
}

/* Plan the items: prefill tiles, or split decode chunks (pending counters set). */
void attn_blocked_init(pl_attn_job *j)
{
    const pl_attn_args *a = &j->a;
    j->rows_fn = attn_rows_kernel(a->hd), j->n_ch = 1;
    j->scr_floats = pl_cpu_attn_scratch_floats(a->hd, a->n_head / a->n_head_kv);
    j->n_tiles = (a->nb + ATTN_TT - 1) / ATTN_TT;
    const int n_blocks = (a->pos0 + a->nb + ATTN_BLOCK - 1) / ATTN_BLOCK;
    const int first = a->window > 0 ? a->pos0 - a->window + 1 : 0;
    j->b_first = first > 0 ? first / ATTN_BLOCK : 0;
    const int c0 = j->b_first / ATTN_SPLIT, c1 = (n_blocks - 1) / ATTN_SPLIT + 1;
    if (a->nb == 1 && c1 - c0 > 1) {
        j->n_ch = c1 - c0;
        for (int h = 0; h < a->n_head_kv; h++) atomic_store(&j->pending[h], j->n_ch);
    }
    j->n_items = a->n_head_kv * (j->n_ch > 1 ? j->n_ch : j->n_tiles);
}

/* ---- the public entry points --------------------------------------------- */

/* The arithmetic a call gets: EXACT_F16 only where it can run. */
static pl_attn_math attn_math_of(const pl_attn_args *a)
{
    const bool f16 = a->kv.type_k == PL_TYPE_F16 && a->kv.type_v == PL_TYPE_F16;
    return a->math == PL_ATTN_EXACT_F16 && f16 && a->hd <= ATTN_MAX_HD ? PL_ATTN_EXACT_F16 : PL_ATTN_BLOCKED;
}

pl_attn_job *pl_cpu_attn_job_init(const pl_attn_args *a)
{
    uint8_t *w = a->work;
    pl_attn_job *j = (pl_attn_job *)(void *)w;
    *j = (pl_attn_job){ .a = *a, .n_ch = 1 };
    j->a.math = attn_math_of(a);
    j->pending = (atomic_int *)(void *)(w + attn_round64(sizeof *j));
    j->partial = (float *)(void *)(w + attn_round64(sizeof *j) + attn_round64(sizeof(atomic_int) * a->n_head_kv));
    if (j->a.math == PL_ATTN_EXACT_F16) j->n_items = a->nb * a->n_head;
    else attn_blocked_init(j);
    return j;
}

int pl_cpu_attn_job_items(const pl_attn_job *j) { return j->n_items; }

void pl_cpu_attn_job_item(const pl_attn_job *j, int ith, int k)
{
    if (j->a.math == PL_ATTN_EXACT_F16) attn_exact_item(j, ith, k);
    else attn_blocked_item(j, ith, k);
}

/* Pool worker of the blocked items: from a shared counter (a late thread takes fewer). */
typedef struct attn_run { const pl_attn_job *j; atomic_int next; } attn_run;
static void attn_worker(int ith, int nth, void *arg)
{
    attn_run *r = arg;
    for (int k; (k = atomic_fetch_add(&r->next, 1)) < r->j->n_items;) attn_blocked_item(r->j, ith, k);
}

/* Pool worker of the exact items: (token, head) pairs dealt round-robin. */
static void attn_exact_worker(int ith, int nth, void *arg)
{
    const attn_run *r = arg;
    for (int k = ith; k < r->j->n_items; k += nth) attn_exact_item(r->j, ith, k);
}

/* Attention of a chunk of tokens on the pool. */
void pl_cpu_attention(pl_pool *pool, const pl_attn_args *a)
{
    attn_run r = { .j = pl_cpu_attn_job_init(a) };
    atomic_init(&r.next, 0);
    pl_pool_run(pool, r.j->a.math == PL_ATTN_EXACT_F16 ? attn_exact_worker : attn_worker, &r);
}
