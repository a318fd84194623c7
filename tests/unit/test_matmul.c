/* test_matmul.c — pl_cpu_matmul (threaded, SIMD) against pl_cpu_matmul_ref
 * (one thread, scalar) and against a float matmul of the dequantized weights,
 * on shapes that do not divide evenly among threads or tiles. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "cpu_test_util.h"
#include "engine/engine.h"

/* Float reference: Y = X . dequant(W)^T in double. */
static void float_matmul(const float *Wd, int64_t rows, int64_t cols, const float *X, int64_t n, float *Y)
{
    for (int64_t c = 0; c < n; c++)
        for (int64_t r = 0; r < rows; r++) {
            double acc = 0;
            for (int64_t k = 0; k < cols; k++) acc += (double)Wd[r * cols + k] * X[c * cols + k];
            Y[c * rows + r] = (float)acc;
        }
}

/* Run one shape for one type on a pool of nth threads and every CPU path. */
static void check_shape(pl_type t, int64_t rows, int64_t cols, int64_t n, int nth)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    float *Wf = malloc(rows * cols * sizeof *Wf), *Wd = malloc(rows * cols * sizeof *Wd);
    float *X = malloc(n * cols * sizeof *X);
    float *Yref = malloc(n * rows * sizeof *Yref), *Yf = malloc(n * rows * sizeof *Yf);
    float *Y = malloc(n * rows * sizeof *Y);
    size_t rs = pl_row_size(t, cols);
    uint8_t *W = malloc(rs * rows);
    ct_fill_normal(Wf, rows * cols, rows + cols, 0.05f);
    ct_fill_normal(X, n * cols, n + 7, 1.0f);
    for (int64_t r = 0; r < rows; r++) {
        tr->from_float(Wf + r * cols, W + r * rs, cols);
        tr->to_float(W + r * rs, Wd + r * cols, cols);
    }
    float_matmul(Wd, rows, cols, X, n, Yf);
    pl_cpu_matmul_ref(W, t, rows, cols, X, n, Yref);
    /* activation quantization (8-bit) is the only difference from Yf */
    double e = ct_rel_rmse(Yref, Yf, n * rows);
    cr_assert(e < (tr->vec_dot_type == PL_TYPE_F32 ? 1e-6 : 0.02), "%s %ldx%ld n=%ld: ref vs float %.5f",
              tr->name, (long)rows, (long)cols, (long)n, e);
    pl_pool *p = pl_pool_new(nth);
    int levels[4], nl = ct_levels(levels);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        for (int64_t i = 0; i < n * rows; i++) Y[i] = NAN;
        pl_cpu_matmul(p, W, t, rows, cols, X, n, Y);
        double d = ct_rel_rmse(Y, Yref, n * rows);
        cr_assert(d < 1e-4, "%s %ldx%ld n=%ld threads=%d path %s: rel diff %.3g vs ref",
                  tr->name, (long)rows, (long)cols, (long)n, nth, pl_cpu_level_name(levels[l]), d);
    }
    pl_cpu_force_level(-1);
    pl_pool_free(p);
    free(Wf), free(Wd), free(X), free(Yref), free(Yf), free(Y), free(W);
}

Test(matmul_cpu, every_type_decode_and_batch)
{
    for (int k = 0; k < CT_N_WEIGHT_TYPES; k++) {
        check_shape(ct_weight_types[k], 37, 256, 1, 3);
        check_shape(ct_weight_types[k], 37, 512, 7, 2);
    }
}

Test(matmul_cpu, prefill_tiles_with_ragged_edges)
{
    pl_type ts[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q8_0, PL_TYPE_Q4_K, PL_TYPE_Q6_K, PL_TYPE_F16 };
    for (int k = 0; k < 6; k++) check_shape(ts[k], 53, 256, 45, 3);
}

/* The AVX-512 panel path (16-row panels, prefill) for every type it serves:
 * ragged panels (rows % 16), activation counts around the switch-over and the
 * 4-column kernel's tail, and enough columns to split the activations into
 * several chunks. Checked on every path against the scalar reference. */
Test(matmul_cpu, panel_path_every_type)
{
    pl_type ts[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0, PL_TYPE_Q5_1, PL_TYPE_Q8_0,
                     PL_TYPE_Q2_K, PL_TYPE_Q3_K, PL_TYPE_Q4_K, PL_TYPE_Q5_K, PL_TYPE_Q6_K };
    for (int k = 0; k < 10; k++) {
        if (pl_cpu_detected_level() == PL_CPU_AVX512) {
            pl_cpu_force_level(PL_CPU_AVX512);
            cr_assert_gt(cpu_panel_group(ts[k]), 0, "%s: no panel kernel on AVX-512", pl_type_name(ts[k]));
            pl_cpu_force_level(-1);
        }
        check_shape(ts[k], 16, 512, 2, 2);
        check_shape(ts[k], 37, 512, 5, 2);
        check_shape(ts[k], 33, 768, 9, 3);
    }
    check_shape(PL_TYPE_Q4_K, 21, 4096, 100, 2);   /* 2 activation chunks */
    check_shape(PL_TYPE_Q8_0, 21, 4096, 100, 2);
}

Test(matmul_cpu, single_thread_and_null_pool)
{
    float W[64 * 2], X[64], Y[2] = { 0, 0 }, Yr[2];
    ct_fill_normal(W, 128, 1, 1), ct_fill_normal(X, 64, 2, 1);
    pl_cpu_matmul(NULL, W, PL_TYPE_F32, 2, 64, X, 1, Y);
    pl_cpu_matmul_ref(W, PL_TYPE_F32, 2, 64, X, 1, Yr);
    cr_assert(fabsf(Y[0] - Yr[0]) < 1e-4f && fabsf(Y[1] - Yr[1]) < 1e-4f);
    check_shape(PL_TYPE_Q4_1, 5, 64, 1, 1);
    check_shape(PL_TYPE_Q4_1, 3, 64, 2, 4);   /* more threads than rows */
}

Test(matmul_cpu, multi_weights_one_dispatch)
{
    enum { COLS = 512 };
    const pl_type ts[4] = { PL_TYPE_Q4_1, PL_TYPE_Q8_0, PL_TYPE_F16, PL_TYPE_Q4_K };
    const int64_t rows[4] = { 29, 64, 7, 33 };
    int64_t ns[3] = { 1, 7, 40 };
    pl_pool *p = pl_pool_new(3);
    for (int in = 0; in < 3; in++) {
        int64_t n = ns[in];
        float *X = malloc(n * COLS * sizeof *X);
        ct_fill_normal(X, n * COLS, n, 1.0f);
        pl_matmul_w ws[4];
        float *Yref[4];
        for (int k = 0; k < 4; k++) {
            const pl_type_traits *tr = pl_type_traits_get(ts[k]);
            size_t rs = pl_row_size(ts[k], COLS);
            float *f = malloc(rows[k] * COLS * sizeof *f);
            uint8_t *W = malloc(rs * rows[k]);
            ct_fill_normal(f, rows[k] * COLS, k + 1, 0.05f);
            for (int64_t r = 0; r < rows[k]; r++) tr->from_float(f + r * COLS, W + r * rs, COLS);
            free(f);
            ws[k] = (pl_matmul_w){ .W = W, .type = ts[k], .rows = rows[k], .Y = malloc(n * rows[k] * sizeof(float)) };
            Yref[k] = malloc(n * rows[k] * sizeof(float));
            pl_cpu_matmul_ref(W, ts[k], rows[k], COLS, X, n, Yref[k]);
        }
        pl_cpu_matmul_multi(p, ws, 4, COLS, X, n);
        for (int k = 0; k < 4; k++) {
            double d = ct_rel_rmse(ws[k].Y, Yref[k], n * rows[k]);
            cr_assert(d < 1e-4, "weight %d (%s) n=%ld: rel diff %.3g", k, pl_type_name(ts[k]), (long)n, d);
            free((void *)ws[k].W), free(ws[k].Y), free(Yref[k]);
        }
        free(X);
    }
    pl_pool_free(p);
}
