/* attn_exact.c — llama.cpp's attention arithmetic on an F16 KV cache.
 *
 * Why a second arithmetic: rounding the softmax weights to f16 before they
 * meet the f16 values, as llama.cpp's CPU path does, keeps greedy answers
 * identical to llama.cpp's where the blocked flash-style kernel of attn.c
 * (f32 weights) parts from them on Gemma 3 270M; it brings f32 models from
 * 1e-3 to 1e-5 of llama.cpp's logits. Each (token, query head) is one item;
 * it keeps a row of scores and a row of weights on its thread's part of the
 * work buffer, so every key is scored once. Quantized caches go to attn.c,
 * which reads every row type (pl_cpu_attn_job_init decides).
 */
#include <math.h>
#include <string.h>

#include "attn_impl.h"

/* Last position of the run from t to t1 that lies in t's cache block (rows
 * of a block are contiguous: one table look-up per run). */
static inline int ex_run_end(const pl_kv_view *kv, int t, int t1)
{
    const int last = (t / kv->block_size + 1) * kv->block_size - 1;
    return last < t1 ? last : t1;
}

/* sc[u] = scale * k(t0 + u) . qh for the n positions from t0, on the rows of
 * KV head offset `head` bytes into each K row. */
static void ex_scores(const pl_kv_view *kv, size_t head, const float *qh, int hd, float scale, int t0, int n,
                      float *sc)
{
    for (int t = t0, u = 0; u < n;) {
        const int end = ex_run_end(kv, t, t0 + n - 1);
        const uint8_t *k = attn_kv_row(kv, false, t) + head;
        for (; t <= end; t++, u++, k += kv->row_k)
            sc[u] = pl_cpu_dot_f16_f32((const pl_f16 *)(const void *)k, qh, hd) * scale;
    }
}

/* out = sum of w[u] * v(t0 + u) over the n positions from t0. */
static void ex_weighted_sum(const pl_kv_view *kv, size_t head, const float *w, int hd, int t0, int n, float *out)
{
    memset(out, 0, sizeof(float) * hd);
    for (int t = t0, u = 0; u < n;) {
        const int end = ex_run_end(kv, t, t0 + n - 1);
        const uint8_t *v = attn_kv_row(kv, true, t) + head;
        for (; t <= end; t++, u++, v += kv->row_v)
            pl_cpu_axpy_f16_f32(out, (const pl_f16 *)(const void *)v, w[u], hd);
    }
}

/* One (token i, query head h) over the n positions t0..pos it sees: the query
 * rounded to f16 (ggml converts it to the cache's type); then the online max
 * and sum of exponentials (the sum in double), and each position's weight
 * f16(exp(s - max) / sum): softmax in f32, rounded to f16 for the product
 * with the f16 values, as llama.cpp computes it. An exponential taken after
 * the final max was found is the number the weight needs, so only those
 * taken before it are taken again. */
void attn_exact_item(const pl_attn_job *j, int ith, int k)
{
    const pl_attn_args *a = &j->a;
    const int i = k / a->n_head, h = k % a->n_head, hd = a->hd, pos = a->pos0 + i;
    const int kvh = h / (a->n_head / a->n_head_kv);
    const int t0 = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0, n = pos - t0 + 1;
    const float scale = a->scale > 0 ? a->scale : 1.0f / sqrtf((float)hd);
    const size_t head = (size_t)kvh * hd * sizeof(pl_f16), row = (size_t)(a->pos0 + a->nb);
    float *sc = j->partial + (size_t)ith * 2 * row, *e = sc + row;
    float qh[ATTN_MAX_HD];   /* hd <= ATTN_MAX_HD (pl_cpu_attn_job_init falls back otherwise) */
    attn_round_f16(a->q + (size_t)i * a->n_head * hd + (size_t)h * hd, qh, hd);
    ex_scores(&a->kv, head, qh, hd, scale, t0, n, sc);
    float mx = -INFINITY;
    double sum = 0.0;
    int at_max = 0;   /* e[u] for u >= at_max were taken with the final max */
    for (int u = 0; u < n; u++) {
        if (sc[u] > mx) {
            sum *= exp((double)mx - sc[u]);
            mx = sc[u];
            at_max = u;
        }
        e[u] = expf(sc[u] - mx);
        sum += e[u];
    }
    const float inv = (float)(1.0 / sum);
    for (int u = 0; u < n; u++) e[u] = (u < at_max ? expf(sc[u] - mx) : e[u]) * inv;
    attn_round_f16(e, e, n);
    ex_weighted_sum(&a->kv, head, e, hd, t0, n, a->out + (size_t)i * a->n_head * hd + (size_t)h * hd);
}
