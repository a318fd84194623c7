/* ref_attn.c — the scalar reference of the KV store and of attention over a
 * paged cache view (pl_kv_view): the definition the CPU's blocked kernels are
 * held to, and the "ref" backend's own.
 *
 * Attention of one (query row, head) is the textbook two passes: every score
 * q.k * scale of the positions the row sees (causal, and within the sliding
 * window when there is one) into a buffer, then softmax (max-subtracted, sum
 * in double) and the weighted sum of the value rows in double. K and V rows
 * are widened with their type's to_float, head by head (a head is whole
 * blocks of its type). An F16 cache gets llama.cpp's arithmetic: the query is
 * rounded to f16 before its dot with the f16 keys, and each softmax weight is
 * rounded to f16 before it multiplies the f16 values (as engine/forward_ext.c
 * does), which keeps f32 models within 1e-5 of llama.cpp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

/* Bytes of layer data for position p: its K row, or its V row when v. */
static const uint8_t *kv_row(const pl_kv_view *kv, int p, bool v)
{
    const uint8_t *blk = kv->blocks[kv->table[p / kv->block_size]];
    const int r = p % kv->block_size;
    return v ? blk + (size_t)kv->block_size * kv->row_k + (size_t)r * kv->row_v : blk + (size_t)r * kv->row_k;
}

/* The view's shape is consistent: rows of kv_dim in each type, converters present. */
static int kv_view_check(const pl_kv_view *kv)
{
    if (!kv || !kv->blocks || !kv->table || kv->block_size <= 0 || kv->kv_dim <= 0) return PL_BACKEND_EARG;
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k), *tv = pl_type_traits_get(kv->type_v);
    if (!tk || !tv || !tk->to_float || !tv->to_float || !tk->from_float || !tv->from_float)
        return PL_BACKEND_EUNSUPPORTED;
    if (pl_row_size(kv->type_k, kv->kv_dim) != kv->row_k || pl_row_size(kv->type_v, kv->kv_dim) != kv->row_v ||
        !kv->row_k || !kv->row_v)
        return PL_BACKEND_EUNSUPPORTED;
    return 0;
}

int pl_ref_kv_store_check(const pl_kv_view *kv, int pos0, int n, const float *k, const float *v)
{
    int rc = kv_view_check(kv);
    if (rc) return rc;
    return !k || !v || pos0 < 0 || n < 0 ? PL_BACKEND_EARG : 0;
}

int pl_ref_kv_store(const pl_kv_view *kv, int pos0, int n, const float *k, const float *v)
{
    int rc = pl_ref_kv_store_check(kv, pos0, n, k, v);
    if (rc) return rc;
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k), *tv = pl_type_traits_get(kv->type_v);
    for (int i = 0; i < n; i++) {
        tk->from_float(k + (size_t)i * kv->kv_dim, (void *)kv_row(kv, pos0 + i, false), kv->kv_dim);
        tv->from_float(v + (size_t)i * kv->kv_dim, (void *)kv_row(kv, pos0 + i, true), kv->kv_dim);
    }
    return 0;
}

/* One query head over positions [t0, pos]: out (hd) = sum softmax(scores) * V.
 * Scratch: s (pos - t0 + 1) scores, row (2 * hd): a widened K/V row and the query. */
static void attn_head(const pl_attn_args *a, const float *q, int kvh, int t0, int pos, float *s, float *row,
                      double *acc, float *out)
{
    const pl_kv_view *kv = &a->kv;
    const int hd = a->hd;
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k), *tv = pl_type_traits_get(kv->type_v);
    const size_t k_off = pl_row_size(kv->type_k, (int64_t)kvh * hd), v_off = pl_row_size(kv->type_v, (int64_t)kvh * hd);
    const bool f16k = kv->type_k == PL_TYPE_F16, f16v = kv->type_v == PL_TYPE_F16;
    const bool exact = a->math == PL_ATTN_EXACT_F16 && f16k && f16v;   /* else BLOCKED's f32 weights */
    const float scale = a->scale != 0.0f ? a->scale : 1.0f / sqrtf((float)hd);
    float *qh = row + hd, mx = -INFINITY;
    for (int d = 0; d < hd; d++) qh[d] = f16k ? pl_f16_to_f32(pl_f32_to_f16(q[d])) : q[d];
    for (int t = t0; t <= pos; t++) {
        tk->to_float(kv_row(kv, t, false) + k_off, row, hd);
        double dot = 0;
        for (int d = 0; d < hd; d++) dot += (double)row[d] * qh[d];
        s[t - t0] = (float)dot * scale;
        mx = s[t - t0] > mx ? s[t - t0] : mx;
    }
    double sum = 0;
    for (int t = t0; t <= pos; t++) sum += exp((double)s[t - t0] - mx);
    memset(acc, 0, sizeof(double) * (size_t)hd);
    for (int t = t0; t <= pos; t++) {
        float p = (float)(exp((double)s[t - t0] - mx) / sum);
        if (exact) p = pl_f16_to_f32(pl_f32_to_f16(p));   /* llama.cpp's weights meet f16 values as f16 */
        tv->to_float(kv_row(kv, t, true) + v_off, row, hd);
        for (int d = 0; d < hd; d++) acc[d] += (double)p * row[d];
    }
    for (int d = 0; d < hd; d++) out[d] = (float)acc[d];
}

/* The shape of a call: heads divide, a head is whole blocks of both types. */
int pl_ref_attention_check(const pl_attn_args *a)
{
    if (!a) return PL_BACKEND_EARG;
    int rc = kv_view_check(&a->kv);
    if (rc) return rc;
    if (!a->q || !a->out || a->nb < 0 || a->pos0 < 0 || a->n_head <= 0 || a->n_head_kv <= 0 || a->hd <= 0 ||
        a->n_head % a->n_head_kv || a->n_head_kv * a->hd != a->kv.kv_dim)
        return PL_BACKEND_EARG;
    if (!pl_row_size(a->kv.type_k, a->hd) || !pl_row_size(a->kv.type_v, a->hd))
        return PL_BACKEND_EUNSUPPORTED;
    return 0;
}

int pl_ref_attention(const pl_attn_args *a)
{
    int rc = pl_ref_attention_check(a);
    if (rc) return rc;
    const int hd = a->hd, group = a->n_head / a->n_head_kv, n_pos = a->pos0 + a->nb;
    float *s = malloc(sizeof(float) * ((size_t)n_pos + 2 * (size_t)hd));
    double *acc = malloc(sizeof(double) * (size_t)hd);
    if (!s || !acc) {
        free(s), free(acc);
        return PL_BACKEND_ENOMEM;
    }
    for (int i = 0; i < a->nb; i++) {
        const int pos = a->pos0 + i, t0 = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        for (int h = 0; h < a->n_head; h++) {
            const size_t off = ((size_t)i * a->n_head + h) * hd;
            attn_head(a, a->q + off, h / group, t0, pos, s, s + n_pos, acc, a->out + off);
        }
    }
    free(s), free(acc);
    return 0;
}
