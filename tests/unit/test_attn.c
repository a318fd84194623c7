/* test_attn.c — blocked attention (engine/attn_cpu.c, engine/attn_avx2.c).
 *
 * attn_run is checked against the textbook formula computed in double,
 * softmax(q.K^T / sqrt(hd)) V over the positions each token sees, on a cache
 * filled with random rows: prefill tiles, single-token decodes split into
 * chunks, GQA groups, a sliding window, and quantized K/V rows (against the
 * same formula over the dequantized rows). The SIMD helpers are checked
 * against their scalar references on random inputs.
 * Tolerances: f32 accumulation over <= 300 positions of O(1) values, 2e-5
 * relative to the largest output; f16 keys meet an f16-rounded query, which
 * the reference reproduces, so the same bound holds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "engine/attn.h"
#include "engine/kv_cache.h"

enum { AT_LAYERS = 2, AT_HD = 64, AT_KVH = 3, AT_GROUP = 3, AT_POS = 300 };
#define AT_NH (AT_KVH * AT_GROUP)
#define AT_KVD (AT_KVH * AT_HD)

static uint32_t at_rng = 12345;
/* Uniform in [-1, 1). */
static float at_rand(void)
{
    at_rng = at_rng * 1664525u + 1013904223u;
    return (float)(at_rng >> 8) / (float)(1u << 23) - 1.0f;
}

typedef struct at_ctx {
    kv_cache *kv;
    int       seq;
    pl_pool  *pool;
    float    *k, *v;        /* (AT_POS, AT_KVD) the rows as the cache holds them */
    float    *scratch, *partial;
    atomic_int pending[AT_KVH];
} at_ctx;

/* A cache of n positions of random rows (layer 1), in types tk / tv. */
static void at_setup(at_ctx *a, pl_type tk, pl_type tv, int n, int threads)
{
    pl_status st;
    a->kv = kv_cache_new_typed(AT_LAYERS, AT_KVD, AT_POS, 64, tk, tv, &st);
    cr_assert(a->kv, "%s", st.msg);
    a->seq = kv_seq_new(a->kv, &st);
    cr_assert_eq(kv_seq_reserve(a->kv, a->seq, n, &st), 0, "%s", st.msg);
    float *k = malloc(sizeof(float) * n * AT_KVD), *v = malloc(sizeof(float) * n * AT_KVD);
    for (int i = 0; i < n * AT_KVD; i++) k[i] = at_rand() * 12, v[i] = at_rand();
    attn_store_kv(a->kv, &a->kv->seqs[a->seq], 1, n, 0, k, v);
    int32_t *toks = calloc(n, sizeof *toks);
    kv_seq_commit(a->kv, a->seq, toks, n);
    free(toks);
    /* what the cache holds, read back through the types' own dequantizers */
    a->k = k, a->v = v;
    const kv_seq *s = &a->kv->seqs[a->seq];
    for (int p = 0; p < n; p++) {
        pl_type_traits_get(tk)->to_float(kv_k_data(a->kv, s, 1, p), k + p * AT_KVD, AT_KVD);
        pl_type_traits_get(tv)->to_float(kv_v_data(a->kv, s, 1, p), v + p * AT_KVD, AT_KVD);
    }
    a->pool = pl_pool_new(threads);
    a->scratch = malloc(sizeof(float) * threads * attn_scratch_floats(AT_HD, AT_GROUP));
    a->partial = malloc(sizeof(float) * attn_partial_floats(AT_NH, AT_HD, AT_POS));
}

static void at_teardown(at_ctx *a)
{
    kv_cache_free(a->kv);
    pl_pool_free(a->pool);
    free(a->k), free(a->v), free(a->scratch), free(a->partial);
}

/* Reference output of token i (position pos0 + i) for query rows q. */
static void at_reference(const at_ctx *a, const float *q, int pos, int window, bool round_q,
                         double *out)
{
    double sc[AT_POS];
    for (int h = 0; h < AT_NH; h++) {
        const int kvh = h / AT_GROUP, lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        double mx = -INFINITY, sum = 0;
        for (int t = lo; t <= pos; t++) {
            double d = 0;
            for (int e = 0; e < AT_HD; e++) {
                float qe = q[h * AT_HD + e];
                if (round_q) qe = pl_f16_to_f32(pl_f32_to_f16(qe));
                d += (double)qe * a->k[t * AT_KVD + kvh * AT_HD + e];
            }
            sc[t] = d / sqrt((double)AT_HD);
            mx = fmax(mx, sc[t]);
        }
        for (int t = lo; t <= pos; t++) sum += sc[t] = exp(sc[t] - mx);
        for (int e = 0; e < AT_HD; e++) {
            double o = 0;
            for (int t = lo; t <= pos; t++) o += sc[t] * a->v[t * AT_KVD + kvh * AT_HD + e];
            out[h * AT_HD + e] = o / sum;
        }
    }
}

/* attn_run on nb tokens at pos0 vs the reference; returns the worst relative error. */
static double at_check(at_ctx *a, int nb, int pos0, int window)
{
    float *q = malloc(sizeof(float) * nb * AT_NH * AT_HD), *out = malloc(sizeof(float) * nb * AT_NH * AT_HD);
    for (int i = 0; i < nb * AT_NH * AT_HD; i++) q[i] = at_rand();
    attn_args args = { .kv = a->kv, .s = &a->kv->seqs[a->seq], .il = 1, .nb = nb, .pos0 = pos0,
                       .n_head = AT_NH, .n_head_kv = AT_KVH, .hd = AT_HD, .q = q, .out = out,
                       .window = window, .scratch = a->scratch, .partial = a->partial,
                       .pending = a->pending };
    attn_run(a->pool, &args);
    double worst = 0, ref[AT_NH * AT_HD];
    for (int i = 0; i < nb; i++) {
        at_reference(a, q + i * AT_NH * AT_HD, pos0 + i, window, a->kv->type_k == PL_TYPE_F16, ref);
        double big = 1e-3, err = 0;
        for (int e = 0; e < AT_NH * AT_HD; e++) {
            big = fmax(big, fabs(ref[e]));
            err = fmax(err, fabs(ref[e] - out[i * AT_NH * AT_HD + e]));
        }
        worst = fmax(worst, err / big);
    }
    free(q), free(out);
    return worst;
}

Test(attn_run, prefill_matches_formula)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, 150, 2);
    cr_expect_lt(at_check(&a, 150, 0, 0), 2e-5, "one 150-token chunk");
    cr_expect_lt(at_check(&a, 50, 100, 0), 2e-5, "a chunk after 100 cached positions");
    at_teardown(&a);
}

Test(attn_run, split_decode_matches_formula)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2);
    const int at[] = { 0, 31, 32, 63, 64, 65, 130, 299 };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        cr_expect_lt(at_check(&a, 1, at[i], 0), 2e-5, "decode at position %d", at[i]);
    at_teardown(&a);
}

Test(attn_run, sliding_window)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2);
    cr_expect_lt(at_check(&a, 100, 200, 40), 2e-5, "prefill with a 40-position window");
    cr_expect_lt(at_check(&a, 1, 299, 70), 2e-5, "decode with a 70-position window");
    at_teardown(&a);
}

Test(attn_run, quantized_rows_and_one_thread)
{
    const pl_type types[][2] = { { PL_TYPE_Q8_0, PL_TYPE_Q8_0 }, { PL_TYPE_Q4_0, PL_TYPE_Q8_0 },
                                 { PL_TYPE_F16, PL_TYPE_Q4_0 } };
    for (int i = 0; i < 3; i++) {
        at_ctx a;
        at_setup(&a, types[i][0], types[i][1], 200, 1 + i % 2);
        cr_expect_lt(at_check(&a, 120, 80, 0), 2e-5, "prefill, k %s v %s",
                     pl_type_name(types[i][0]), pl_type_name(types[i][1]));
        cr_expect_lt(at_check(&a, 1, 199, 0), 2e-5, "decode, k %s v %s",
                     pl_type_name(types[i][0]), pl_type_name(types[i][1]));
        at_teardown(&a);
    }
}

/* The SIMD kernels this CPU has, by name. */
static int at_kernels(attn_rows_fn *fns, const char **names)
{
    int n = 0;
#if defined(__x86_64__)
    if (pl_cpu_detected_level() >= PL_CPU_AVX2) fns[n] = attn_rows_avx2, names[n++] = "avx2";
    if (pl_cpu_detected_level() >= PL_CPU_AVX512) fns[n] = attn_rows_avx512, names[n++] = "avx512";
#endif
    fns[n] = attn_rows_kernel(AT_HD), names[n++] = "selected";
    return n;
}

/* Every tile kernel equals the scalar reference row by row. */
Test(attn_kernel, simd_matches_reference)
{
    float kt[AT_HD * KV_BLOCK], v[KV_BLOCK * AT_HD], q[8 * AT_HD];
    for (int i = 0; i < AT_HD * KV_BLOCK; i++) kt[i] = at_rand() * 3, v[i] = at_rand();
    for (int i = 0; i < 8 * AT_HD; i++) q[i] = at_rand();
    attn_tile t = { .hd = AT_HD, .nt = 27, .kt = kt, .v = v, .scale = 0.125f };
    int lim[16] = { 0, 27, 0, 1, 5, 20, -3, 9, 0, 40, 26, 27, 27, 30, 0, 0 };
    attn_rows_fn fns[3];
    const char *names[3];
    const int nk = at_kernels(fns, names);
    for (int f = 0; f < nk; f++) {
        float m[2][8], l[2][8], acc[2][8 * AT_HD];
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < 8; r++) {
                m[k][r] = r == 2 ? 0.5f : -INFINITY, l[k][r] = r == 2 ? 2.0f : 0;
                for (int e = 0; e < AT_HD; e++) acc[k][r * AT_HD + e] = r == 2 ? 0.25f : 0;
            }
        attn_rows_ref(&t, 8, q, lim, m[0], l[0], acc[0]);
        fns[f](&t, 8, q, lim, m[1], l[1], acc[1]);
        for (int r = 0; r < 8; r++) {
            cr_expect(m[1][r] == m[0][r] || fabsf(m[1][r] - m[0][r]) < 1e-6f, "%s: row %d max", names[f], r);
            cr_expect_float_eq(l[1][r], l[0][r], 2e-5 * fmaxf(1, l[0][r]), "%s: row %d sum", names[f], r);
            for (int e = 0; e < AT_HD; e++)
                cr_expect_float_eq(acc[1][r * AT_HD + e], acc[0][r * AT_HD + e], 2e-5 * fmaxf(1, l[0][r]),
                                   "%s: row %d acc %d", names[f], r, e);
        }
        cr_expect(isinf(m[1][7]) && l[1][7] == 0, "%s: a row that sees nothing is untouched", names[f]);
    }
}

/* Rows that share positions are computed together; a row's bits must not
 * depend on that (prefill and decode group rows differently). */
Test(attn_kernel, row_bits_do_not_depend_on_grouping)
{
    float kt[AT_HD * KV_BLOCK], v[KV_BLOCK * AT_HD], q[5 * AT_HD];
    for (int i = 0; i < AT_HD * KV_BLOCK; i++) kt[i] = at_rand() * 3, v[i] = at_rand();
    for (int i = 0; i < 5 * AT_HD; i++) q[i] = at_rand();
    attn_tile t = { .hd = AT_HD, .nt = 32, .kt = kt, .v = v, .scale = 0.125f };
    int lim[10] = { 0, 20, 0, 20, 0, 20, 0, 20, 0, 20 };
    attn_rows_fn fns[3];
    const char *names[3];
    const int nk = at_kernels(fns, names);
    for (int f = 0; f < nk; f++) {
        float m5[5], l5[5], a5[5 * AT_HD], m1, l1, a1[AT_HD];
        for (int r = 0; r < 5; r++) m5[r] = -INFINITY, l5[r] = 0;
        memset(a5, 0, sizeof a5);
        fns[f](&t, 5, q, lim, m5, l5, a5);
        for (int r = 0; r < 5; r++) {
            m1 = -INFINITY, l1 = 0;
            memset(a1, 0, sizeof a1);
            fns[f](&t, 1, q + r * AT_HD, lim, &m1, &l1, a1);
            cr_expect(m1 == m5[r] && l1 == l5[r] && memcmp(a1, a5 + r * AT_HD, sizeof a1) == 0,
                      "%s: row %d alone differs from row %d of five", names[f], r, r);
        }
    }
}

Test(attn_kernel, silu_and_exp_match_libm)
{
    float g[203], u[203], ref[203], got[203];
    for (int i = 0; i < 203; i++) g[i] = at_rand() * 30, u[i] = at_rand();
    g[0] = -100, g[1] = 100, g[2] = 0;
    pl_cpu_silu_mul(g, u, 203, ref);
    attn_silu_mul(g, u, 203, got);
    for (int i = 0; i < 203; i++)
        cr_expect_float_eq(got[i], ref[i], 1e-6 + 1e-6 * fabsf(ref[i]), "silu at %g", g[i]);
#if defined(__x86_64__)
    if (pl_cpu_level() >= PL_CPU_AVX2) {
        attn_exp_avx2(g, 203, got);
        for (int i = 0; i < 203; i++)
            if (g[i] > -87 && g[i] < 88)
                cr_expect_float_eq(got[i], expf(g[i]), 4e-7 * expf(g[i]), "exp(%g)", g[i]);
    }
#endif
}

/* ---- live re-typing of the cache (kv_cache_convert) --------------------- */

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
    for (int i = 0; i < n * AT_KVD; i++) k[i] = at_rand(), v[i] = at_rand() * 0.5f;
    cr_assert_eq(kv_seq_reserve(kv, a, n, &st), 0);
    for (int il = 0; il < AT_LAYERS; il++) attn_store_kv(kv, &kv->seqs[a], il, n, 0, k, v);
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

/* The fast f16 conversions are bit-exact with the scalar ones. */
Test(attn_kernel, f16_round_trip_is_exact)
{
    float x[301], got[301];
    pl_f16 h[301];
    float back[301];
    for (int i = 0; i < 301; i++) x[i] = at_rand() * (i % 7 == 0 ? 70000.0f : i % 5 == 0 ? 1e-6f : 3.0f);
    attn_round_f16(x, got, 301);
    for (int i = 0; i < 301; i++) h[i] = pl_f32_to_f16(x[i]);
    attn_f16_to_f32(h, back, 301);
    pl_f16 h2[301];
    attn_f32_to_f16(x, h2, 301);
    cr_expect(memcmp(h, h2, sizeof h) == 0, "f32 -> f16 differs from pl_f32_to_f16");
    for (int i = 0; i < 301; i++) {
        float want = pl_f16_to_f32(pl_f32_to_f16(x[i]));
        cr_expect(memcmp(&got[i], &want, 4) == 0, "round(%g): %g, want %g", x[i], got[i], want);
        cr_expect(memcmp(&back[i], &want, 4) == 0, "f16 -> f32 of %g", x[i]);
    }
}
