/* attn_exact.c — llama.cpp's attention arithmetic on an F16 KV cache.
 *
 * Why a second arithmetic: rounding the softmax weights to f16 before they
 * meet the f16 values, as llama.cpp's CPU path does, keeps greedy answers
 * identical to llama.cpp's where the blocked flash-style kernel of attn.c
 * (f32 weights) parts from them on Gemma 3 270M; it brings f32 models from
 * 1e-3 to 1e-5 of llama.cpp's logits. It needs no scratch: each (token, query
 * head) makes two passes over the keys it sees instead of keeping a row of
 * scores the length of the context. Quantized caches go to attn.c, which
 * reads every row type (pl_cpu_attn_job_init decides).
 */
#include <math.h>
#include <string.h>

#include "attn_impl.h"

/* Where one KV head's rows are: the view, and the head's offset in a row. */
typedef struct ex_rows {
    const pl_kv_view *kv;
    size_t            head;   /* bytes from a row's start to the head */
} ex_rows;

/* Last position of the run from t to t1 that lies in t's cache block (rows
 * of a block are contiguous: one table look-up per run). */
static inline int ex_run_end(const pl_kv_view *kv, int t, int t1)
{
    const int last = (t / kv->block_size + 1) * kv->block_size - 1;
    return last < t1 ? last : t1;
}

/* Score of the f16 key row k with the f16-rounded query head qh. */
static inline float ex_score(const pl_f16 *k, const float *qh, int hd, float scale)
{
    return pl_cpu_dot_f16_f32(k, qh, hd) * scale;
}

/* Pass 1: the max score and the sum of exponentials over [t0, t1], online
 * (the sum in double, rescaled when the max grows). */
static float ex_max_sum(const ex_rows *r, const float *qh, int hd, float scale, int t0, int t1, double *sum)
{
    const pl_kv_view *kv = r->kv;
    float mx = -INFINITY;
    *sum = 0.0;
    for (int t = t0; t <= t1;) {
        const int end = ex_run_end(kv, t, t1);
        const uint8_t *k = attn_kv_row(kv, false, t) + r->head;
        for (; t <= end; t++, k += kv->row_k) {
            const float s = ex_score((const pl_f16 *)(const void *)k, qh, hd, scale);
            if (s > mx) {
                *sum *= exp((double)mx - s);
                mx = s;
            }
            *sum += expf(s - mx);
        }
    }
    return mx;
}

/* Pass 2: out = sum over [t0, t1] of f16(exp(s - mx) * inv) * V row, each
 * score computed again (the same bits as in pass 1). */
static void ex_weighted_sum(const ex_rows *r, const float *qh, int hd, float scale, int t0, int t1, float mx,
                            float inv, float *out)
{
    const pl_kv_view *kv = r->kv;
    memset(out, 0, sizeof(float) * hd);
    for (int t = t0; t <= t1;) {
        const int end = ex_run_end(kv, t, t1);
        const uint8_t *k = attn_kv_row(kv, false, t) + r->head, *v = attn_kv_row(kv, true, t) + r->head;
        for (; t <= end; t++, k += kv->row_k, v += kv->row_v) {
            const float s = ex_score((const pl_f16 *)(const void *)k, qh, hd, scale);
            const float p = pl_f16_to_f32(pl_f32_to_f16(expf(s - mx) * inv));
            pl_cpu_axpy_f16_f32(out, (const pl_f16 *)(const void *)v, p, hd);
        }
    }
}

/* One (token i, query head h) over the positions it sees, t0..pos: the query
 * rounded to f16 (ggml converts it to the cache's type), then the weight of
 * each position f16(exp(s - max) / sum): softmax in f32, rounded to f16 for
 * the product with the f16 values, as llama.cpp computes it. */
void attn_exact_item(const pl_attn_job *j, int k)
{
    const pl_attn_args *a = &j->a;
    const int i = k / a->n_head, h = k % a->n_head, hd = a->hd, pos = a->pos0 + i;
    const int kvh = h / (a->n_head / a->n_head_kv);
    const int t0 = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
    const float scale = a->scale > 0 ? a->scale : 1.0f / sqrtf((float)hd);
    const ex_rows r = { &a->kv, (size_t)kvh * hd * sizeof(pl_f16) };
    float qh[ATTN_MAX_HD];   /* hd <= ATTN_MAX_HD (pl_cpu_attn_job_init falls back otherwise) */
    const float *q = a->q + (size_t)i * a->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) qh[d] = pl_f16_to_f32(pl_f32_to_f16(q[d]));
    double sum;
    const float mx = ex_max_sum(&r, qh, hd, scale, t0, pos, &sum);
    ex_weighted_sum(&r, qh, hd, scale, t0, pos, mx, (float)(1.0 / sum),
                    a->out + (size_t)i * a->n_head * hd + (size_t)h * hd);
}
