/* test_kv_convert.c — the engine's KV cache as the backends see it, and
 * live re-typing of it (engine/kv_cache.h kv_view, kv_cache_convert).
 *
 * kv_view must address exactly the rows the engine's own accessors do, in
 * every layer and across blocks a fork shares; rows stored through it by the
 * CPU backend must survive conversions between types to the precision of the
 * narrower type (tolerances by the step, below).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "engine/kv_cache.h"

enum { AT_LAYERS = 2, AT_HD = 64, AT_KVH = 3, AT_POS = 300 };
#define AT_KVD (AT_KVH * AT_HD)

static uint32_t kc_rng = 4242;
/* Uniform in [-1, 1). */
static float kc_rand(void)
{
    kc_rng = kc_rng * 1664525u + 1013904223u;
    return (float)(kc_rng >> 8) / (float)(1u << 23) - 1.0f;
}

/* Rows stored through each layer's view are the ones kv_k_data / kv_v_data
 * find, for a sequence and for a fork that shares its first blocks. */
Test(kv_view, addresses_the_engine_rows)
{
    pl_status st;
    kv_cache *kv = kv_cache_new_typed(AT_LAYERS, AT_KVD, AT_POS, 32, PL_TYPE_Q8_0, PL_TYPE_F16, &st);
    cr_assert(kv, "%s", st.msg);
    const int a = kv_seq_new(kv, &st), n = 100;
    cr_assert_eq(kv_seq_reserve(kv, a, n, &st), 0, "%s", st.msg);
    int32_t toks[100] = { 0 };
    kv_seq_commit(kv, a, toks, n);
    const int b = kv_seq_fork(kv, a, &st);
    cr_assert_eq(kv_seq_truncate(kv, b, 40), 0);
    cr_assert_eq(kv_seq_reserve(kv, b, 50, &st), 0, "%s", st.msg);   /* copies the shared block 1 */
    float k[AT_KVD], v[AT_KVD], back[AT_KVD];
    for (int il = 0; il < AT_LAYERS; il++)
        for (int p = 40; p < 90; p++) {
            for (int e = 0; e < AT_KVD; e++) k[e] = kc_rand() + il, v[e] = kc_rand() - p;
            const pl_kv_view view = kv_view(kv, &kv->seqs[b], il);
            pl_cpu_kv_store(&view, 1, p, k, v);
            pl_type_traits_get(kv->type_k)->to_float(kv_k_data(kv, &kv->seqs[b], il, p), back, AT_KVD);
            for (int e = 0; e < AT_KVD; e++)
                cr_assert(fabsf(back[e] - k[e]) < 0.02f, "layer %d K %d.%d: %g for %g", il, p, e, back[e], k[e]);
            pl_type_traits_get(kv->type_v)->to_float(kv_v_data(kv, &kv->seqs[b], il, p), back, AT_KVD);
            for (int e = 0; e < AT_KVD; e++)
                cr_assert_eq(pl_f32_to_f16(back[e]), pl_f32_to_f16(v[e]), "layer %d V %d.%d", il, p, e);
        }
    cr_expect_neq(kv->seqs[a].table[1], kv->seqs[b].table[1], "the fork wrote into its own copy");
    kv_cache_free(kv);
}

/* Worst |cache - want| over positions [0, n) of seq, both layers, K and V. */
static double kc_worst(const kv_cache *kv, int seq, int n, const float *k, const float *v)
{
    float row[AT_KVD];
    double worst = 0;
    const kv_seq *s = &kv->seqs[seq];
    for (int il = 0; il < AT_LAYERS; il++)
        for (int p = 0; p < n; p++) {
            pl_type_traits_get(kv->type_k)->to_float(kv_k_data(kv, s, il, p), row, AT_KVD);
            for (int e = 0; e < AT_KVD; e++) worst = fmax(worst, fabs(row[e] - k[p * AT_KVD + e]));
            pl_type_traits_get(kv->type_v)->to_float(kv_v_data(kv, s, il, p), row, AT_KVD);
            for (int e = 0; e < AT_KVD; e++) worst = fmax(worst, fabs(row[e] - v[p * AT_KVD + e]));
        }
    return worst;
}

/* Shrinking, growing and mixed conversions keep every value (to the
 * precision of the narrower type), positions, tokens and block sharing. */
Test(attn_kv, convert_in_place_keeps_values)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(AT_LAYERS, AT_KVD, AT_POS, 16, &st);
    int a = kv_seq_new(kv, &st);
    const int n = 70;
    float *k = malloc(sizeof(float) * n * AT_KVD), *v = malloc(sizeof(float) * n * AT_KVD);
    for (int i = 0; i < n * AT_KVD; i++) k[i] = kc_rand(), v[i] = kc_rand() * 0.5f;
    cr_assert_eq(kv_seq_reserve(kv, a, n, &st), 0);
    for (int il = 0; il < AT_LAYERS; il++) {
        const pl_kv_view view = kv_view(kv, &kv->seqs[a], il);
        pl_cpu_kv_store(&view, n, 0, k, v);
    }
    int32_t toks[70];
    for (int i = 0; i < n; i++) toks[i] = 1000 + i;
    kv_seq_commit(kv, a, toks, n);
    int b = kv_seq_fork(kv, a, &st);
    const int used = kv_cache_blocks_used(kv);
    cr_assert_lt(kc_worst(kv, a, n, k, v), 1e-3, "f16 holds the rows");
    const struct { pl_type k, v; double tol; } steps[] = {
        { PL_TYPE_Q8_0, PL_TYPE_Q8_0, 1.2e-2 },   /* shrink both: 1/127 of |max| 1, plus f16 */
        { PL_TYPE_F32, PL_TYPE_Q4_0, 8e-2 },      /* K grows, V shrinks: 1/8 of |max| 0.5, +q8 */
        { PL_TYPE_F16, PL_TYPE_F16, 8e-2 },       /* both grow */
        { PL_TYPE_BF16, PL_TYPE_F16, 8e-2 },      /* same size, other type */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cr_assert_eq(kv_cache_convert(kv, steps[i].k, steps[i].v, &st), 0, "%s", st.msg);
        cr_expect_eq(kv->type_k, steps[i].k);
        cr_expect_eq(kv->seqs[a].n_pos, n);
        cr_expect_eq(kv->seqs[b].n_pos, n);
        cr_expect_eq(kv_cache_blocks_used(kv), used, "shared blocks stay shared");
        cr_expect_eq(memcmp(kv->seqs[a].tokens, toks, sizeof toks), 0);
        double wa = kc_worst(kv, a, n, k, v), wb = kc_worst(kv, b, n, k, v);
        cr_expect_lt(wa, steps[i].tol, "k %s v %s: off by %g", pl_type_name(steps[i].k),
                     pl_type_name(steps[i].v), wa);
        cr_expect_eq(wa, wb, "the fork reads the same converted blocks");
    }
    cr_expect_neq(kv_cache_convert(kv, PL_TYPE_Q4_K, PL_TYPE_F16, &st), 0, "q4_K rows refused");
    cr_expect_eq(kv->type_k, PL_TYPE_BF16, "a refused conversion changes nothing");
    cr_assert_eq(kv_seq_reserve(kv, a, 40, &st), 0, "new blocks come in the new size: %s", st.msg);
    free(k), free(v);
    kv_cache_free(kv);
}

