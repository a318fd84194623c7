/* test_backend_attn.c — kv_store and attention over a pl_kv_view, on both
 * backends.
 *
 * The view is checked against the engine's paged cache (engine/kv_cache.h):
 * a store through a view of layer il writes exactly the bytes the cache's own
 * accessors read for those positions. Attention (causal, sliding window, GQA,
 * the default and an explicit score scale) is checked against the textbook
 * formula in double over the rows the cache holds (dequantized), on caches
 * of f16, q8_0, f32 and mixed types, with the blocks of a sequence out of
 * order in the table, in both arithmetics. An f16 K cache meets a query
 * rounded to f16 on both sides; PL_ATTN_EXACT_F16 on an all-f16 cache rounds
 * each softmax weight to f16 before the V rows (llama.cpp's arithmetic) and
 * the formula does not, so that case is held to 1e-3 of the largest output
 * and every other to 1e-5.
 */
#include <string.h>

#include "backend_test_util.h"
#include "engine/kv_cache.h"

enum { BA_HD = 64, BA_KVH = 2, BA_NH = 6, BA_KVD = BA_KVH * BA_HD, BA_BS = 32, BA_NBLK = 4, BA_POS = 100 };

/* A view over blocks allocated on be, table scrambled: position p in block tbl[p / 32]. */
typedef struct ba_cache {
    pl_backend *be;
    uint8_t    *blocks[BA_NBLK];
    int         table[BA_NBLK];
    pl_kv_view  v;
} ba_cache;

static void ba_cache_new(ba_cache *c, pl_backend *be, pl_type tk, pl_type tv)
{
    static const int order[BA_NBLK] = { 2, 0, 3, 1 };
    c->be = be;
    c->v = (pl_kv_view){ c->blocks, c->table, BA_BS, tk, tv, pl_row_size(tk, BA_KVD), pl_row_size(tv, BA_KVD), BA_KVD };
    for (int b = 0; b < BA_NBLK; b++) {
        c->table[b] = order[b];
        c->blocks[b] = bt_put(be, NULL, BA_BS * (c->v.row_k + c->v.row_v));
    }
}

static void ba_cache_free(ba_cache *c)
{
    for (int b = 0; b < BA_NBLK; b++) c->be->ops->release(c->be, c->blocks[b]);
}

/* Row p of K (or V) as the cache holds it, widened. */
static void ba_row(const pl_kv_view *v, int p, bool is_v, float *out)
{
    const uint8_t *blk = v->blocks[v->table[p / v->block_size]];
    const uint8_t *r = is_v ? blk + (size_t)v->block_size * v->row_k + (size_t)(p % v->block_size) * v->row_v
                            : blk + (size_t)(p % v->block_size) * v->row_k;
    pl_type_traits_get(is_v ? v->type_v : v->type_k)->to_float(r, out, v->kv_dim);
}

/* out (nb, NH*HD) by the formula, in double, no rounding but the f16 query. */
static void ba_formula(const pl_kv_view *v, const float *q, int nb, int pos0, int window, float scale, float *out)
{
    static float K[BA_POS][BA_KVD], V[BA_POS][BA_KVD];
    for (int p = 0; p < pos0 + nb; p++) ba_row(v, p, false, K[p]), ba_row(v, p, true, V[p]);
    const double sc = scale != 0.0f ? scale : 1.0 / sqrt(BA_HD);
    for (int i = 0; i < nb; i++)
        for (int h = 0; h < BA_NH; h++) {
            const int pos = pos0 + i, kvh = h / (BA_NH / BA_KVH), t0 = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
            const float *qh = q + ((size_t)i * BA_NH + h) * BA_HD;
            double s[BA_POS], mx = -INFINITY, sum = 0, acc[BA_HD] = { 0 };
            for (int t = t0; t <= pos; t++) {
                double d = 0;
                for (int k = 0; k < BA_HD; k++) {
                    float qk = v->type_k == PL_TYPE_F16 ? pl_f16_to_f32(pl_f32_to_f16(qh[k])) : qh[k];
                    d += (double)qk * K[t][kvh * BA_HD + k];
                }
                s[t] = d * sc, mx = s[t] > mx ? s[t] : mx;
            }
            for (int t = t0; t <= pos; t++) sum += exp(s[t] - mx);
            for (int t = t0; t <= pos; t++)
                for (int k = 0; k < BA_HD; k++) acc[k] += exp(s[t] - mx) / sum * V[t][kvh * BA_HD + k];
            for (int k = 0; k < BA_HD; k++) out[((size_t)i * BA_NH + h) * BA_HD + k] = (float)acc[k];
        }
}

/* Largest |a - b| relative to the largest |b|. */
static double ba_rel_max(const float *a, const float *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fabs(b[i]) > m ? fabs(b[i]) : m;
    return bt_max_diff(a, b, n) / m;
}

/* Store BA_POS rows on be, then attention of the last nb tokens; the output downloaded. */
static float *ba_run(pl_backend *be, pl_type tk, pl_type tv, const float *k, const float *v, const float *q, int nb,
                     int window, float scale, pl_attn_math math, float *formula)
{
    ba_cache c;
    ba_cache_new(&c, be, tk, tv);
    float *K = bt_put(be, k, sizeof(float) * BA_POS * BA_KVD), *V = bt_put(be, v, sizeof(float) * BA_POS * BA_KVD);
    /* a prefill of 60, then token by token: positions land in the right blocks either way */
    cr_assert_eq(be->ops->kv_store(be, &c.v, 0, 60, K, V), 0);
    for (int p = 60; p < BA_POS; p++)
        cr_assert_eq(be->ops->kv_store(be, &c.v, p, 1, K + p * BA_KVD, V + p * BA_KVD), 0);
    size_t qb = sizeof(float) * (size_t)nb * BA_NH * BA_HD;
    float *Q = bt_put(be, q, qb), *O = bt_put(be, NULL, qb);
    pl_attn_args a = { .kv = c.v, .nb = nb, .pos0 = BA_POS - nb, .n_head = BA_NH, .n_head_kv = BA_KVH, .hd = BA_HD,
                       .q = Q, .out = O, .window = window, .scale = scale, .math = math };
    int rc = be->ops->attention(be, &a);
    cr_assert_eq(rc, 0, "%s: %s", be->ops->name, pl_backend_strerror(rc));
    float *out = bt_get(be, O, qb);
    if (formula) ba_formula(&c.v, q, nb, BA_POS - nb, window, scale, formula);
    be->ops->release(be, K), be->ops->release(be, V), be->ops->release(be, Q), be->ops->release(be, O);
    ba_cache_free(&c);
    return out;
}

Test(backend_attn, attention_matches_formula_on_both_backends)
{
    const pl_type kt[4][2] = { { PL_TYPE_F16, PL_TYPE_F16 }, { PL_TYPE_Q8_0, PL_TYPE_Q8_0 },
                               { PL_TYPE_F32, PL_TYPE_F32 }, { PL_TYPE_Q8_0, PL_TYPE_F16 } };
    enum { NB = 5 };
    pl_backend *be[2] = { bt_start("cpu", 2, 0), bt_start("ref", 1, 0) };
    float *k = bt_rand(BA_POS * BA_KVD, 31, 4), *v = bt_rand(BA_POS * BA_KVD, 32, 1), *q = bt_rand(NB * BA_NH * BA_HD, 33, 1);
    float want[NB * BA_NH * BA_HD];
    for (int ti = 0; ti < 4; ti++)
        for (int mode = 0; mode < 6; mode++) {
            const int window = mode % 3 == 1 ? 16 : 0;
            const float scale = mode % 3 == 2 ? 0.3f : 0.0f;
            const pl_attn_math math = mode < 3 ? PL_ATTN_EXACT_F16 : PL_ATTN_BLOCKED;
            const bool exact = math == PL_ATTN_EXACT_F16 && kt[ti][0] == PL_TYPE_F16 && kt[ti][1] == PL_TYPE_F16;
            const double tol = exact ? 1e-3 : 1e-5;
            for (int b = 0; b < 2; b++) {
                float *out = ba_run(be[b], kt[ti][0], kt[ti][1], k, v, q, NB, window, scale, math, want);
                double e = ba_rel_max(out, want, NB * BA_NH * BA_HD);
                cr_assert(e < tol, "%s k %s v %s window %d scale %g math %d: %.3g", be[b]->ops->name,
                          pl_type_name(kt[ti][0]), pl_type_name(kt[ti][1]), window, scale, math, e);
                free(out);
            }
        }
    /* the window matters: with it the last token sees 16 positions, without it 100 */
    float *w16 = ba_run(be[1], PL_TYPE_F32, PL_TYPE_F32, k, v, q, 1, 16, 0, PL_ATTN_BLOCKED, NULL);
    float *all = ba_run(be[1], PL_TYPE_F32, PL_TYPE_F32, k, v, q, 1, 0, 0, PL_ATTN_BLOCKED, NULL);
    cr_assert_gt(bt_max_diff(w16, all, BA_NH * BA_HD), 1e-3);
    free(w16), free(all), free(k), free(v), free(q);
    bt_stop(be[0]), bt_stop(be[1]);
}

/* The view addresses the engine's cache: a store through it lands where kv_k_data / kv_v_data read. */
Test(backend_attn, view_matches_engine_kv_cache_layout)
{
    const pl_type ts[2] = { PL_TYPE_F16, PL_TYPE_Q8_0 };
    float *k = bt_rand(70 * BA_KVD, 41, 2), *v = bt_rand(70 * BA_KVD, 42, 1);
    for (int ti = 0; ti < 2; ti++) {
        pl_status st;
        kv_cache *kv = kv_cache_new_typed(2, BA_KVD, 128, 16, ts[ti], ts[ti], &st);
        cr_assert(kv, "%s", st.msg);
        int seq = kv_seq_new(kv, &st);
        int fork = kv_seq_new(kv, &st);   /* another sequence first: seq's blocks are not 0, 1, 2 */
        cr_assert_eq(kv_seq_reserve(kv, fork, 40, &st), 0, "%s", st.msg);
        cr_assert_eq(kv_seq_reserve(kv, seq, 70, &st), 0, "%s", st.msg);
        const kv_seq *s = &kv->seqs[seq];
        pl_kv_view view = { kv->layers[1].mem, s->table, KV_BLOCK, kv->type_k, kv->type_v, kv->row_k, kv->row_v, kv->kv_dim };
        cr_assert_eq(pl_ref_kv_store(&view, 0, 70, k, v), 0);
        const pl_type_traits *tr = pl_type_traits_get(ts[ti]);
        uint8_t *want = malloc(kv->row_k > kv->row_v ? kv->row_k : kv->row_v);
        for (int p = 0; p < 70; p++) {
            tr->from_float(k + p * BA_KVD, want, BA_KVD);
            cr_assert_eq(memcmp(kv_k_data(kv, s, 1, p), want, kv->row_k), 0, "%s K at %d", tr->name, p);
            tr->from_float(v + p * BA_KVD, want, BA_KVD);
            cr_assert_eq(memcmp(kv_v_data(kv, s, 1, p), want, kv->row_v), 0, "%s V at %d", tr->name, p);
        }
        free(want);
        kv_cache_free(kv);
    }
    free(k), free(v);
}

/* Shapes the kernels cannot take are refused with a reason. */
Test(backend_attn, bad_shapes_are_refused)
{
    for (int b = 0; b < 2; b++) {
        pl_backend *be = bt_start(b ? "ref" : "cpu", 1, 0);
        ba_cache c;
        ba_cache_new(&c, be, PL_TYPE_Q8_0, PL_TYPE_Q8_0);
        float q[BA_NH * BA_HD] = { 1 }, o[BA_NH * BA_HD];
        pl_attn_args a = { .kv = c.v, .nb = 1, .n_head = 5, .n_head_kv = BA_KVH, .hd = BA_HD, .q = q, .out = o };   /* 5 heads over 2 KV heads */
        cr_assert_eq(be->ops->attention(be, &a), PL_BACKEND_EARG);
        a.n_head = 8, a.n_head_kv = 8, a.hd = 16;   /* heads of 16 cut q8_0 blocks of 32 */
        cr_assert_eq(be->ops->attention(be, &a), PL_BACKEND_EUNSUPPORTED);
        c.v.row_k = 7;   /* a view whose rows do not hold kv_dim elements */
        cr_assert_eq(be->ops->kv_store(be, &c.v, 0, 1, q, q), PL_BACKEND_EUNSUPPORTED);
        ba_cache_free(&c);
        bt_stop(be);
    }
}
