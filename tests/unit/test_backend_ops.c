/* test_backend_ops.c — every op of the forward pass, cpu against ref through
 * the vtable, on random inputs (never zeros) placed in each backend's memory.
 *
 * Tolerances, and why:
 *  - matmul: relative RMS difference < 1e-4 (the CPU kernels' bound against
 *    the scalar reference in test_matmul.c: same quantized activations, sums
 *    in another order), for f32, f16, q4_0, q4_1, q8_0, q4_K and q6_K, the
 *    CPU's weight in GGUF's rows and in its own layout (R16 where it has
 *    one), decode (n = 1) and prefill (n = 7); and the reference itself
 *    within 2% (1e-6 for f32/f16) of the exact product of the dequantized
 *    weights, so both cannot be wrong together;
 *  - embed, add, scale: exact (the same conversion and one float op);
 *  - rms_norm, SwiGLU: exact: both round step by step as ggml does, since
 *    the next matmul quantizes their output and one ulp can flip a rounding
 *    there (test_backend_model.c measured what that does to a real model);
 *  - softmax, RoPE: 1e-6 / 1e-5 absolute (double vs float arithmetic of the
 *    same formula);
 *  - GeGLU: the CPU looks GELU up in an f16 table like ggml (input and
 *    output rounded to f16), the reference computes tanh in double: about
 *    2^-11 relative, so RMS 2e-3 relative;
 *  - logits: as matmul, with and without a soft cap.
 */
#include <string.h>

#include "backend_test_util.h"

typedef struct bt_pair { pl_backend *cpu, *ref; } bt_pair;

static bt_pair bt_pair_start(void) { return (bt_pair){ bt_start("cpu", 2, 0), bt_start("ref", 1, 0) }; }
static void bt_pair_stop(bt_pair p) { bt_stop(p.cpu), bt_stop(p.ref); }

/* rows x cols weights of type t from random floats, in GGUF rows (malloc). */
static void *bt_weight(pl_type t, int64_t rows, int64_t cols, uint64_t seed, float **f_out)
{
    float *f = bt_rand(rows * cols, seed, 0.5f);
    size_t rs = pl_row_size(t, cols);
    uint8_t *w = malloc(rs * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) pl_type_traits_get(t)->from_float(f + r * cols, w + r * rs, cols);
    if (f_out) *f_out = f;
    else free(f);
    return w;
}

/* Y (n, rows) of one weight on a backend: weight loaded in layout, X uploaded, Y downloaded. */
static float *bt_matmul(pl_backend *be, pl_type t, const void *w_host, int64_t rows, int64_t cols, pl_layout layout,
                        const float *x, int64_t n)
{
    void *W = NULL;
    cr_assert_eq(be->ops->weight_load(be, t, rows, cols, w_host, PL_LAYOUT_ROWS, layout, &W), 0, "%s %s",
                 be->ops->name, pl_type_name(t));
    float *X = bt_put(be, x, sizeof(float) * (size_t)(n * cols)), *Y = bt_put(be, NULL, sizeof(float) * (size_t)(n * rows));
    pl_matmul_w ws = { W, t, rows, Y, layout };
    int rc = be->ops->matmul(be, &ws, 1, cols, X, n);
    cr_assert_eq(rc, 0, "%s %s layout %d: %s", be->ops->name, pl_type_name(t), layout, pl_backend_strerror(rc));
    float *y = bt_get(be, Y, sizeof(float) * (size_t)(n * rows));
    if (W != w_host) be->ops->release(be, W);
    be->ops->release(be, X), be->ops->release(be, Y);
    return y;
}

static const pl_type bt_types[] = { PL_TYPE_F32, PL_TYPE_F16, PL_TYPE_Q4_0, PL_TYPE_Q4_1,
                                    PL_TYPE_Q8_0, PL_TYPE_Q4_K, PL_TYPE_Q6_K };

Test(backend_ops, matmul_cpu_matches_ref_every_type_and_layout)
{
    enum { R = 64, C = 512 };
    bt_pair p = bt_pair_start();
    for (size_t ti = 0; ti < sizeof bt_types / sizeof bt_types[0]; ti++) {
        pl_type t = bt_types[ti];
        float *wf;
        void *w = bt_weight(t, R, C, 100 + ti, &wf);
        for (int64_t n = 1; n <= 7; n += 6) {
            float *x = bt_rand(n * C, 200 + n, 1);
            float *yr = bt_matmul(p.ref, t, w, R, C, PL_LAYOUT_ROWS, x, n);
            /* the reference against the exact product of what the weight holds */
            float *row = malloc(sizeof(float) * C), *exact = malloc(sizeof(float) * n * R);
            for (int64_t r = 0; r < R; r++) {
                pl_type_traits_get(t)->to_float((uint8_t *)w + r * pl_row_size(t, C), row, C);
                for (int64_t c = 0; c < n; c++) {
                    double s = 0;
                    for (int64_t k = 0; k < C; k++) s += (double)row[k] * x[c * C + k];
                    exact[c * R + r] = (float)s;
                }
            }
            double e = ct_rel_rmse(yr, exact, n * R);
            cr_assert(e < (t == PL_TYPE_F32 || t == PL_TYPE_F16 ? 1e-6 : 0.02), "ref %s n=%ld vs exact: %.3g",
                      pl_type_name(t), (long)n, e);
            pl_layout lays[2] = { PL_LAYOUT_ROWS, p.cpu->ops->layout(p.cpu, t, R, C) };
            for (int li = 0; li < 2; li++) {
                float *yc = bt_matmul(p.cpu, t, w, R, C, lays[li], x, n);
                double d = ct_rel_rmse(yc, yr, n * R);
                cr_assert(d < 1e-4, "cpu %s layout %d n=%ld vs ref: %.3g", pl_type_name(t), lays[li], (long)n, d);
                free(yc);
            }
            free(x), free(yr), free(row), free(exact);
        }
        free(w), free(wf);
    }
    bt_pair_stop(p);
}

/* Three weights of different types sharing X in one call (Q/K/V). */
Test(backend_ops, matmul_multi_shares_one_input)
{
    enum { C = 256, N = 3 };
    const pl_type ts[3] = { PL_TYPE_Q4_K, PL_TYPE_Q8_0, PL_TYPE_F16 };
    const int64_t rows[3] = { 96, 32, 48 };
    bt_pair p = bt_pair_start();
    float *x = bt_rand(N * C, 5, 1), *ys[2][3];
    for (int b = 0; b < 2; b++) {
        pl_backend *be = b ? p.ref : p.cpu;
        pl_matmul_w ws[3];
        void *host[3];
        float *X = bt_put(be, x, sizeof(float) * N * C);
        for (int k = 0; k < 3; k++) {
            host[k] = bt_weight(ts[k], rows[k], C, 40 + k, NULL);
            pl_layout l = be->ops->layout(be, ts[k], rows[k], C);
            void *W;
            cr_assert_eq(be->ops->weight_load(be, ts[k], rows[k], C, host[k], PL_LAYOUT_ROWS, l, &W), 0);
            ws[k] = (pl_matmul_w){ W, ts[k], rows[k], bt_put(be, NULL, sizeof(float) * N * rows[k]), l };
        }
        cr_assert_eq(be->ops->matmul(be, ws, 3, C, X, N), 0);
        for (int k = 0; k < 3; k++) {
            ys[b][k] = bt_get(be, ws[k].Y, sizeof(float) * N * rows[k]);
            if (ws[k].W != host[k]) be->ops->release(be, (void *)ws[k].W);
            be->ops->release(be, ws[k].Y);
            free(host[k]);
        }
        be->ops->release(be, X);
    }
    for (int k = 0; k < 3; k++) {
        double d = ct_rel_rmse(ys[0][k], ys[1][k], N * rows[k]);
        cr_assert(d < 1e-4, "weight %d (%s): %.3g", k, pl_type_name(ts[k]), d);
        free(ys[0][k]), free(ys[1][k]);
    }
    free(x);
    bt_pair_stop(p);
}

/* Embedding rows: ROWS on both, and the CPU's R16 table read row by row. */
Test(backend_ops, embed_rows_scaled)
{
    enum { R = 64, C = 256, N = 5 };
    const int32_t tok[N] = { 3, 63, 0, 17, 3 };
    const pl_type ts[3] = { PL_TYPE_Q8_0, PL_TYPE_F16, PL_TYPE_Q4_K };
    bt_pair p = bt_pair_start();
    for (int ti = 0; ti < 3; ti++) {
        void *w = bt_weight(ts[ti], R, C, 60 + ti, NULL);
        float out[2][N * C];
        for (int b = 0; b < 2; b++) {
            pl_backend *be = b ? p.ref : p.cpu;
            pl_layout l = be->ops->layout(be, ts[ti], R, C);
            void *W;
            cr_assert_eq(be->ops->weight_load(be, ts[ti], R, C, w, PL_LAYOUT_ROWS, l, &W), 0);
            float *O = bt_put(be, NULL, sizeof out[b]);
            cr_assert_eq(be->ops->embed(be, W, ts[ti], l, R, C, tok, N, 1.75f, O), 0);
            cr_assert_eq(be->ops->download(be, out[b], O, sizeof out[b]), 0);
            if (W != w) be->ops->release(be, W);
            be->ops->release(be, O);
        }
        cr_assert_eq(bt_max_diff(out[0], out[1], N * C), 0.0, "%s", pl_type_name(ts[ti]));
        cr_assert_eq(memcmp(out[0], out[0] + 4 * C, C * sizeof(float)), 0, "token 3 twice");
        cr_assert_gt(fabsf(out[1][C + 5]), 0.0f);
        free(w);
    }
    bt_pair_stop(p);
}

/* Run op on the same input on both backends; returns cpu's and ref's outputs. */
typedef int (*bt_unary)(pl_backend *be, float *buf, int64_t n, void *arg);
static void bt_both(bt_pair p, const float *in, int64_t n, bt_unary op, void *arg, float **yc, float **yr)
{
    for (int b = 0; b < 2; b++) {
        pl_backend *be = b ? p.ref : p.cpu;
        float *B = bt_put(be, in, sizeof(float) * (size_t)n);
        int rc = op(be, B, n, arg);
        cr_assert_eq(rc, 0, "%s: %s", be->ops->name, pl_backend_strerror(rc));
        *(b ? yr : yc) = bt_get(be, B, sizeof(float) * (size_t)n);
        be->ops->release(be, B);
    }
}

static int op_norm_w(pl_backend *be, float *x, int64_t n, void *w)
{
    float *W = bt_put(be, w, sizeof(float) * 96);
    int rc = be->ops->rms_norm(be, x, W, (int)(n / 96), 96, 1e-6f, x);
    be->ops->release(be, W);
    return rc;
}
static int op_norm(pl_backend *be, float *x, int64_t n, void *a) { return be->ops->rms_norm(be, x, NULL, (int)(n / 96), 96, 1e-5f, x); }
static int op_softmax(pl_backend *be, float *x, int64_t n, void *a) { return be->ops->softmax(be, x, 3, (int)(n / 3)); }
static int op_scale(pl_backend *be, float *x, int64_t n, void *a) { return be->ops->scale(be, x, n, -0.37f); }
static int op_rope(pl_backend *be, float *x, int64_t n, void *r)
{
    return be->ops->rope(be, x, (int)(n / (3 * 64)), 3, 64, 1000, r);
}

Test(backend_ops, norms_softmax_scale)
{
    bt_pair p = bt_pair_start();
    float *x = bt_rand(5 * 96, 9, 2), *w = bt_rand(96, 10, 1), *yc, *yr;
    bt_both(p, x, 5 * 96, op_norm_w, w, &yc, &yr);
    cr_assert(bt_max_diff(yc, yr, 5 * 96) == 0 && bt_max_diff(yc, x, 96) > 0.01, "rms_norm with weight");
    free(yc), free(yr);
    bt_both(p, x, 5 * 96, op_norm, NULL, &yc, &yr);
    double ss = 0;
    for (int i = 0; i < 96; i++) ss += (double)yr[i] * yr[i];
    cr_assert(bt_max_diff(yc, yr, 5 * 96) == 0 && fabs(ss / 96 - 1) < 1e-4, "rms_norm: unit mean square");
    free(yc), free(yr);
    float *s = bt_rand(3 * 1000, 12, 10);
    bt_both(p, s, 3 * 1000, op_softmax, NULL, &yc, &yr);
    double sum = 0;
    for (int i = 0; i < 1000; i++) sum += yc[i];
    cr_assert(bt_max_diff(yc, yr, 3000) < 1e-6 && fabs(sum - 1) < 1e-5, "softmax: sum %.7f", sum);
    free(yc), free(yr), free(s);
    bt_both(p, x, 5 * 96, op_scale, NULL, &yc, &yr);
    cr_assert(bt_max_diff(yc, yr, 5 * 96) == 0 && yc[7] == x[7] * -0.37f);
    free(yc), free(yr), free(x), free(w);
    bt_pair_stop(p);
}

/* Normal and neox, all dims or half, with per-pair frequency factors. */
Test(backend_ops, rope_both_modes)
{
    bt_pair p = bt_pair_start();
    float ff[32];
    for (int i = 0; i < 32; i++) ff[i] = 1.0f + 3.0f * (float)i / 31;
    float *x = bt_rand(4 * 3 * 64, 13, 1);
    for (int mode = 0; mode <= 2; mode += 2)
        for (int n_rot = 32; n_rot <= 64; n_rot += 32) {
            pl_rope_args r = { n_rot, mode, 10000.0f, 0.5f, n_rot == 64 ? ff : NULL };
            float *yc, *yr;
            bt_both(p, x, 4 * 3 * 64, op_rope, &r, &yc, &yr);
            cr_assert(bt_max_diff(yc, yr, 4 * 3 * 64) < 1e-5, "mode %d n_rot %d: %.3g", mode, n_rot,
                      bt_max_diff(yc, yr, 4 * 3 * 64));
            cr_assert_gt(bt_max_diff(yr, x, 4 * 3 * 64), 0.1, "nothing rotated");
            if (n_rot == 32) cr_assert_eq(memcmp(yr + 32, x + 32, 32 * sizeof(float)), 0, "dims past n_rot moved");
            free(yc), free(yr);
        }
    free(x);
    bt_pair_stop(p);
}

Test(backend_ops, glu_add)
{
    enum { N = 3000, D = 100 };
    bt_pair p = bt_pair_start();
    float *g = bt_rand(N, 21, 2.5f), *u = bt_rand(N, 22, 1), *o[2][2];
    for (int b = 0; b < 2; b++) {
        pl_backend *be = b ? p.ref : p.cpu;
        float *G = bt_put(be, g, sizeof(float) * N), *U = bt_put(be, u, sizeof(float) * N), *O = bt_put(be, NULL, sizeof(float) * N);
        for (int act = 0; act < 2; act++) {
            cr_assert_eq(be->ops->glu(be, (pl_glu)act, G, U, N, O), 0);
            o[b][act] = bt_get(be, O, sizeof(float) * N);
        }
        be->ops->release(be, G), be->ops->release(be, U), be->ops->release(be, O);
    }
    cr_assert(bt_max_diff(o[0][0], o[1][0], N) == 0, "swiglu");
    cr_assert(ct_rel_rmse(o[0][1], o[1][1], N) < 2e-3 && bt_max_diff(o[0][1], o[1][1], N) < 2e-2, "geglu: %.3g",
              ct_rel_rmse(o[0][1], o[1][1], N));
    cr_assert_gt(ct_rel_rmse(o[1][0], o[1][1], N), 0.05, "swiglu and geglu are different functions");
    for (int b = 0; b < 2; b++) free(o[b][0]), free(o[b][1]);
    /* add: a per-row b, and one bias row on every row */
    float *ad[2][2];
    for (int b = 0; b < 2; b++) {
        pl_backend *be = b ? p.ref : p.cpu;
        float *A = bt_put(be, g, sizeof(float) * N), *B = bt_put(be, u, sizeof(float) * N), *O = bt_put(be, NULL, sizeof(float) * N);
        cr_assert_eq(be->ops->add(be, A, B, N / D, N / D, D, O), 0);
        ad[b][0] = bt_get(be, O, sizeof(float) * N);
        cr_assert_eq(be->ops->add(be, A, B, N / D, 1, D, O), 0);
        ad[b][1] = bt_get(be, O, sizeof(float) * N);
        be->ops->release(be, A), be->ops->release(be, B), be->ops->release(be, O);
    }
    cr_assert(bt_max_diff(ad[0][0], ad[1][0], N) == 0 && ad[1][0][N - 1] == g[N - 1] + u[N - 1]);
    cr_assert(bt_max_diff(ad[0][1], ad[1][1], N) == 0 && ad[1][1][N - 1] == g[N - 1] + u[D - 1], "bias broadcast");
    for (int b = 0; b < 2; b++) free(ad[b][0]), free(ad[b][1]);
    free(g), free(u);
    bt_pair_stop(p);
}

/* Final norm + output matmul (+ soft cap): the logits a user samples from. */
Test(backend_ops, logits_with_and_without_softcap)
{
    enum { D = 256, V = 96 };
    bt_pair p = bt_pair_start();
    void *w = bt_weight(PL_TYPE_Q8_0, V, D, 77, NULL);
    float *x = bt_rand(D, 78, 3), *nw = bt_rand(D, 79, 1), *lg[2][2];
    for (int b = 0; b < 2; b++) {
        pl_backend *be = b ? p.ref : p.cpu;
        pl_layout l = be->ops->layout(be, PL_TYPE_Q8_0, V, D);
        void *W;
        cr_assert_eq(be->ops->weight_load(be, PL_TYPE_Q8_0, V, D, w, PL_LAYOUT_ROWS, l, &W), 0);
        float *X = bt_put(be, x, sizeof(float) * D), *NW = bt_put(be, nw, sizeof(float) * D), *Y = bt_put(be, NULL, sizeof(float) * V);
        pl_matmul_w out = { W, PL_TYPE_Q8_0, V, Y, l };
        for (int cap = 0; cap < 2; cap++) {
            cr_assert_eq(be->ops->logits(be, X, NW, D, 1e-6f, &out, cap ? 2.0f : 0.0f), 0);
            lg[b][cap] = bt_get(be, Y, sizeof(float) * V);
        }
        if (W != w) be->ops->release(be, W);
        be->ops->release(be, X), be->ops->release(be, NW), be->ops->release(be, Y);
    }
    float mx = 0;
    for (int i = 0; i < V; i++) {
        mx = fabsf(lg[1][0][i]) > mx ? fabsf(lg[1][0][i]) : mx;
        cr_assert(fabsf(lg[1][1][i]) <= 2.0f, "capped logit %d = %g", i, lg[1][1][i]);
    }
    cr_assert_gt(mx, 2.0f, "the cap must have something to cap");
    for (int cap = 0; cap < 2; cap++)
        cr_assert(ct_rel_rmse(lg[0][cap], lg[1][cap], V) < 1e-4, "cap %d: %.3g", cap, ct_rel_rmse(lg[0][cap], lg[1][cap], V));
    for (int b = 0; b < 2; b++) free(lg[b][0]), free(lg[b][1]);
    free(w), free(x), free(nw);
    bt_pair_stop(p);
}
