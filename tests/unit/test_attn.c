/* test_attn.c — the CPU backend's attention over a paged KV view
 * (backends/cpu/attn.c, attn_exact.c, attn_avx2.c, attn_avx512.c).
 *
 * The tests build their own view (a pool of blocks, a sequence table that
 * visits them out of order) without the engine. pl_cpu_attention is checked
 * against the textbook formula computed in double, softmax(q.K^T / sqrt(hd)) V
 * over the positions each token sees, on random rows: prefill tiles,
 * single-token decodes split into chunks, GQA groups, a sliding window, and
 * quantized K/V rows (against the same formula over the dequantized rows).
 * The exact arithmetic (PL_ATTN_EXACT_F16) is checked bit for bit against
 * its spec written out in the test (scalar path), and within its f16 weight
 * rounding of the formula. The item
 * API must give pl_cpu_attention's bits, and the cache's block size must not
 * change a bit.
 * Tolerances: f32 accumulation over <= 300 positions of O(1) values, 2e-5
 * relative to the largest output; f16 keys meet an f16-rounded query, which
 * the reference reproduces, so the same bound holds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/attn_impl.h"

enum { AT_HD = 64, AT_KVH = 3, AT_GROUP = 3, AT_POS = 300, AT_BLOCKS = 40 };
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
    uint8_t   *blocks[AT_BLOCKS];
    int        table[AT_BLOCKS];
    pl_kv_view kv;
    pl_pool   *pool;
    int        threads;
    float     *k, *v;        /* (AT_POS, AT_KVD) the rows as the cache holds them */
    float     *scratch;
    void      *work;
} at_ctx;

/* Row of position p (K or V) found by hand, not through the backend's helper. */
static uint8_t *at_row(const at_ctx *a, bool is_v, int p)
{
    const pl_kv_view *kv = &a->kv;
    uint8_t *blk = a->blocks[a->table[p / kv->block_size]];
    return is_v ? blk + (size_t)kv->block_size * kv->row_k + (size_t)(p % kv->block_size) * kv->row_v
                : blk + (size_t)(p % kv->block_size) * kv->row_k;
}

/* A view of block_size bs in types tk / tv, its table backwards through the
 * pool, holding n positions of random rows stored by pl_cpu_kv_store. */
static void at_setup_bs(at_ctx *a, pl_type tk, pl_type tv, int n, int threads, int bs)
{
    memset(a, 0, sizeof *a);
    a->kv = (pl_kv_view){ .blocks = a->blocks, .table = a->table, .block_size = bs, .type_k = tk,
                          .type_v = tv, .row_k = pl_row_size(tk, AT_KVD), .row_v = pl_row_size(tv, AT_KVD),
                          .kv_dim = AT_KVD };
    const int nblk = (AT_POS + bs - 1) / bs;
    cr_assert_leq(nblk, AT_BLOCKS);
    for (int b = 0; b < AT_BLOCKS; b++) a->blocks[b] = malloc((size_t)bs * (a->kv.row_k + a->kv.row_v));
    for (int b = 0; b < nblk; b++) a->table[b] = AT_BLOCKS - 1 - b;
    float *k = malloc(sizeof(float) * n * AT_KVD), *v = malloc(sizeof(float) * n * AT_KVD);
    for (int i = 0; i < n * AT_KVD; i++) k[i] = at_rand() * 12, v[i] = at_rand();
    pl_cpu_kv_store(&a->kv, n - n / 3, 0, k, v);   /* in two calls: pos0 must count */
    pl_cpu_kv_store(&a->kv, n / 3, n - n / 3, k + (size_t)(n - n / 3) * AT_KVD, v + (size_t)(n - n / 3) * AT_KVD);
    if (tk == PL_TYPE_F16 && tv == PL_TYPE_F16)   /* each row landed where the view says, rounded */
        for (int p = 0; p < n; p++)
            for (int e = 0; e < AT_KVD; e++) {
                cr_assert_eq(((pl_f16 *)(void *)at_row(a, false, p))[e], pl_f32_to_f16(k[p * AT_KVD + e]));
                cr_assert_eq(((pl_f16 *)(void *)at_row(a, true, p))[e], pl_f32_to_f16(v[p * AT_KVD + e]));
            }
    /* what the cache holds, read back through the types' own dequantizers */
    a->k = k, a->v = v;
    for (int p = 0; p < n; p++) {
        pl_type_traits_get(tk)->to_float(at_row(a, false, p), k + p * AT_KVD, AT_KVD);
        pl_type_traits_get(tv)->to_float(at_row(a, true, p), v + p * AT_KVD, AT_KVD);
    }
    a->pool = pl_pool_new(threads);
    a->threads = threads;
    a->scratch = malloc(sizeof(float) * threads * pl_cpu_attn_scratch_floats(AT_HD, AT_GROUP));
    a->work = malloc(pl_cpu_attn_work_bytes(AT_NH, AT_KVH, AT_HD, AT_POS, threads));
}

static void at_setup(at_ctx *a, pl_type tk, pl_type tv, int n, int threads)
{
    at_setup_bs(a, tk, tv, n, threads, 32);
}

static void at_teardown(at_ctx *a)
{
    for (int b = 0; b < AT_BLOCKS; b++) free(a->blocks[b]);
    pl_pool_free(a->pool);
    free(a->k), free(a->v), free(a->scratch), free(a->work);
}

/* Reference output of the token at pos for query rows q (round_q: the query
 * rounded to f16, as it meets f16 keys). */
static void at_reference(const at_ctx *a, const float *q, int pos, int window, bool round_q, double *out)
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

/* Arguments of an attention of nb tokens at pos0. */
static pl_attn_args at_args(at_ctx *a, const float *q, float *out, int nb, int pos0, int window, pl_attn_math math)
{
    return (pl_attn_args){ .kv = a->kv, .nb = nb, .pos0 = pos0, .n_head = AT_NH, .n_head_kv = AT_KVH,
                           .hd = AT_HD, .q = q, .out = out, .window = window, .math = math,
                           .scratch = a->scratch, .work = a->work };
}

/* Random query rows of nb tokens (never zero: uniform in [-1, 1)). */
static float *at_queries(int nb)
{
    float *q = malloc(sizeof(float) * nb * AT_NH * AT_HD);
    for (int i = 0; i < nb * AT_NH * AT_HD; i++) q[i] = at_rand();
    return q;
}

/* max |ref - got| relative to the largest |ref| (at least 1e-3). Two plain
 * comparisons, not fmax: gcc 12's aarch64 vectoriser crashes on fmax
 * reductions here (make test-neon). */
static double at_rel_err(const double *ref, const float *got, int n)
{
    double big = 1e-3, err = 0;
    for (int e = 0; e < n; e++) {
        const double r = fabs(ref[e]), d = fabs(ref[e] - got[e]);
        if (r > big) big = r;
        if (d > err) err = d;
    }
    return err / big;
}

/* pl_cpu_attention on nb tokens at pos0 vs the reference; returns the worst relative error. */
static double at_check_math(at_ctx *a, int nb, int pos0, int window, pl_attn_math math)
{
    float *q = at_queries(nb), *out = malloc(sizeof(float) * nb * AT_NH * AT_HD);
    const pl_attn_args args = at_args(a, q, out, nb, pos0, window, math);
    pl_cpu_attention(a->pool, &args);
    double worst = 0, ref[AT_NH * AT_HD];
    for (int i = 0; i < nb; i++) {
        at_reference(a, q + i * AT_NH * AT_HD, pos0 + i, window, a->kv.type_k == PL_TYPE_F16, ref);
        worst = fmax(worst, at_rel_err(ref, out + i * AT_NH * AT_HD, AT_NH * AT_HD));
    }
    free(q), free(out);
    return worst;
}

static double at_check(at_ctx *a, int nb, int pos0, int window)
{
    return at_check_math(a, nb, pos0, window, PL_ATTN_BLOCKED);
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

/* llama.cpp's attention arithmetic on an F16 cache written out plainly, the
 * spec of PL_ATTN_EXACT_F16, for the token at pos: f32 scores of the query
 * rounded to f16, the max and a double sum of exponentials found online, then
 * out = sum of f16(exp(s - max) / sum) * V row, in position order. */
static void at_exact_spec(const at_ctx *a, const float *q, int pos, int window, float *out)
{
    const int lo = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    for (int h = 0; h < AT_NH; h++) {
        const int kvh = h / AT_GROUP;
        float qh[AT_HD], s[AT_POS], mx = -INFINITY;
        double sum = 0;
        for (int e = 0; e < AT_HD; e++) qh[e] = pl_f16_to_f32(pl_f32_to_f16(q[h * AT_HD + e]));
        for (int t = lo; t <= pos; t++) {
            const pl_f16 *k = (const pl_f16 *)(const void *)at_row(a, false, t) + kvh * AT_HD;
            float d = 0;
            for (int e = 0; e < AT_HD; e++) d += pl_f16_to_f32(k[e]) * qh[e];
            s[t] = d * 0.125f;   /* 1/sqrt(64) */
            if (s[t] > mx) sum *= exp((double)mx - s[t]), mx = s[t];
            sum += expf(s[t] - mx);
        }
        const float inv = (float)(1.0 / sum);
        float *o = out + h * AT_HD;
        memset(o, 0, sizeof(float) * AT_HD);
        for (int t = lo; t <= pos; t++) {
            const pl_f16 *v = (const pl_f16 *)(const void *)at_row(a, true, t) + kvh * AT_HD;
            const float w = pl_f16_to_f32(pl_f32_to_f16(expf(s[t] - mx) * inv));
            for (int e = 0; e < AT_HD; e++) o[e] += w * pl_f16_to_f32(v[e]);
        }
    }
}

/* The exact arithmetic vs its spec: bit for bit on the scalar path (the
 * spec's own dot and axpy); on this CPU's SIMD path the dot products sum in
 * another order, which can move a weight across an f16 rounding boundary:
 * one f16 step (2^-10 of the weight) per weight, weights summing to 1, values
 * below 1, so 1e-3 at most. */
Test(attn_run, exact_f16_matches_its_spec)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2);
    const struct { int nb, pos0, window; } cases[] = { { 40, 100, 0 }, { 1, 299, 0 }, { 30, 200, 50 } };
    float want[AT_NH * AT_HD];
    for (int lvl = 0; lvl < 2; lvl++) {
        pl_cpu_force_level(lvl == 0 ? PL_CPU_SCALAR : -1);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const int nb = cases[c].nb;
            float *q = at_queries(nb), *out = malloc(sizeof(float) * nb * AT_NH * AT_HD);
            const pl_attn_args args = at_args(&a, q, out, nb, cases[c].pos0, cases[c].window, PL_ATTN_EXACT_F16);
            pl_cpu_attention(a.pool, &args);
            double worst = 0;
            for (int i = 0; i < nb; i++) {
                at_exact_spec(&a, q + i * AT_NH * AT_HD, cases[c].pos0 + i, cases[c].window, want);
                for (int e = 0; e < AT_NH * AT_HD; e++) {   /* no fmax: see at_rel_err */
                    const double d = fabs(want[e] - out[i * AT_NH * AT_HD + e]);
                    if (d > worst) worst = d;
                }
            }
            if (lvl == 0) cr_expect(worst == 0, "scalar: %d tokens at %d off by %g", nb, cases[c].pos0, worst);
            else cr_expect_lt(worst, 1e-3, "%s: %d tokens at %d", pl_cpu_level_name(pl_cpu_level()), nb, cases[c].pos0);
            free(q), free(out);
        }
    }
    pl_cpu_force_level(-1);
    at_teardown(&a);
}

/* And it is attention: the f16 weights are each within half an f16 step
 * (2^-11 of the weight) of softmax's, so an output is within 2^-11 max|v| <
 * 5e-4 of the formula; relative to a token's largest output (near 1 with
 * these peaked scores), under 1e-3. */
Test(attn_run, exact_f16_is_the_formula_to_f16_weights)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2);
    double worst = at_check_math(&a, 40, 100, 0, PL_ATTN_EXACT_F16);
    cr_expect_lt(worst, 1e-3, "prefill: %g", worst);
    worst = at_check_math(&a, 30, 200, 50, PL_ATTN_EXACT_F16);
    cr_expect_lt(worst, 1e-3, "window: %g", worst);
    at_teardown(&a);
}

/* The outputs of one attention, as pl_cpu_attention or item by item. */
static float *at_run(at_ctx *a, const float *q, int nb, int pos0, int window, pl_attn_math math, bool items)
{
    float *out = malloc(sizeof(float) * nb * AT_NH * AT_HD);
    const pl_attn_args args = at_args(a, q, out, nb, pos0, window, math);
    if (!items) {
        pl_cpu_attention(a->pool, &args);
        return out;
    }
    const pl_attn_job *j = pl_cpu_attn_job_init(&args);
    const int n = pl_cpu_attn_job_items(j);
    for (int k = n - 1; k >= 0; k--) pl_cpu_attn_job_item(j, k % a->threads, k);   /* backwards */
    return out;
}

/* Both arithmetics, run as items in another order, give the pool's bits. */
Test(attn_items, match_pl_cpu_attention_bit_for_bit)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2);
    const struct { int nb, pos0, window; } cases[] = { { 40, 100, 0 }, { 1, 299, 0 }, { 1, 150, 60 }, { 20, 250, 33 } };
    for (int m = 0; m < 2; m++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const int nb = cases[c].nb;
            float *q = at_queries(nb);
            float *o1 = at_run(&a, q, nb, cases[c].pos0, cases[c].window, (pl_attn_math)m, false);
            float *o2 = at_run(&a, q, nb, cases[c].pos0, cases[c].window, (pl_attn_math)m, true);
            cr_expect(memcmp(o1, o2, sizeof(float) * nb * AT_NH * AT_HD) == 0, "math %d, %d tokens at %d", m, nb,
                      cases[c].pos0);
            free(q), free(o1), free(o2);
        }
    at_teardown(&a);
}

/* The exact arithmetic needs an F16 cache: on any other it is the blocked one. */
Test(attn_items, exact_falls_back_to_blocked_on_a_quantized_cache)
{
    at_ctx a;
    at_setup(&a, PL_TYPE_Q8_0, PL_TYPE_F16, 200, 2);
    float *q = at_queries(30);
    float *o1 = at_run(&a, q, 30, 150, 0, PL_ATTN_BLOCKED, false);
    float *o2 = at_run(&a, q, 30, 150, 0, PL_ATTN_EXACT_F16, false);
    cr_expect(memcmp(o1, o2, sizeof(float) * 30 * AT_NH * AT_HD) == 0);
    free(q), free(o1), free(o2);
    at_teardown(&a);
}

/* A tile of 32 positions may span cache blocks: any block size, same bits. */
Test(attn_items, block_size_changes_no_bit)
{
    const int sizes[] = { 32, 16, 48 };
    float *q = at_queries(25), *want[2] = { NULL, NULL };
    for (int i = 0; i < 3; i++) {
        at_rng = 777;   /* the same rows in every layout */
        at_ctx a;
        at_setup_bs(&a, PL_TYPE_F16, PL_TYPE_F16, AT_POS, 2, sizes[i]);
        for (int m = 0; m < 2; m++) {
            float *o = at_run(&a, q, 25, 270, 0, (pl_attn_math)m, false);
            if (!want[m]) want[m] = o;
            else {
                cr_expect(memcmp(o, want[m], sizeof(float) * 25 * AT_NH * AT_HD) == 0, "math %d, block size %d",
                          m, sizes[i]);
                free(o);
            }
        }
        at_teardown(&a);
    }
    free(q), free(want[0]), free(want[1]);
}

/* ---- the kernels under the attention ------------------------------------ */

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
    float kt[AT_HD * ATTN_BLOCK], v[ATTN_BLOCK * AT_HD], q[8 * AT_HD];
    for (int i = 0; i < AT_HD * ATTN_BLOCK; i++) kt[i] = at_rand() * 3, v[i] = at_rand();
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
    float kt[AT_HD * ATTN_BLOCK], v[ATTN_BLOCK * AT_HD], q[5 * AT_HD];
    for (int i = 0; i < AT_HD * ATTN_BLOCK; i++) kt[i] = at_rand() * 3, v[i] = at_rand();
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
    pl_cpu_silu_mul_fast(g, u, 203, got);
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
