/* test_quant.c — element types: conversions, quantize/dequantize error, dot
 * products of every CPU path against the scalar reference and against a
 * float dot of the dequantized values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_util.h"
#include "engine/engine.h"

/* Largest relative RMS error of quantize->dequantize on normal-ish data.
 * K-quants: ~3% over what the error-minimising quantizers give here (q2_K
 * 0.292, q3_K 0.147, q4_K 0.070, q5_K 0.035, q6_K 0.0173), below what plain
 * round-to-nearest gives (0.328, 0.152, 0.076, 0.037, 0.0184). */
static const struct { pl_type t; double max_rmse; } k_bounds[] = {
    { PL_TYPE_F32, 0 },       { PL_TYPE_F16, 5e-4 },   { PL_TYPE_BF16, 3e-3 },
    { PL_TYPE_Q8_0, 0.007 },  { PL_TYPE_Q4_0, 0.095 }, { PL_TYPE_Q4_1, 0.09 },
    { PL_TYPE_Q5_0, 0.05 },   { PL_TYPE_Q5_1, 0.045 }, { PL_TYPE_Q2_K, 0.30 },
    { PL_TYPE_Q3_K, 0.151 },  { PL_TYPE_Q4_K, 0.072 }, { PL_TYPE_Q5_K, 0.0362 },
    { PL_TYPE_Q6_K, 0.0178 }, { PL_TYPE_Q8_1, 0.007 }, { PL_TYPE_Q8_K, 0.008 },
};

#define NQ 2048

Test(quant_types, names_and_sizes)
{
    cr_assert_str_eq(pl_type_name(PL_TYPE_Q4_0), "q4_0");
    cr_assert_str_eq(pl_type_name(PL_TYPE_Q6_K), "q6_K");
    cr_assert_eq(pl_type_from_name("Q4_K"), PL_TYPE_Q4_K);
    cr_assert_eq(pl_type_from_name("bf16"), PL_TYPE_BF16);
    cr_assert_eq(pl_type_from_name("q4_2"), -1);
    cr_assert_null(pl_type_name((pl_type)4));
    cr_assert_null(pl_type_traits_get((pl_type)5));
    cr_assert_eq(pl_row_size(PL_TYPE_Q4_0, 64), 36);
    cr_assert_eq(pl_row_size(PL_TYPE_Q4_1, 64), 40);
    cr_assert_eq(pl_row_size(PL_TYPE_Q6_K, 512), 420);
    cr_assert_eq(pl_row_size(PL_TYPE_Q4_K, 100), 0, "ragged row must be rejected");
    cr_assert_eq(pl_row_size(PL_TYPE_F16, 7), 14);
}

Test(quant_types, f16_round_trip_every_half)
{
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;   /* NaN payloads */
        float f = pl_f16_to_f32((pl_f16)h);
        cr_assert_eq(pl_f32_to_f16(f), h, "half 0x%04x -> %g -> 0x%04x", h, f, pl_f32_to_f16(f));
    }
    cr_assert_eq(pl_f32_to_f16(1.0f), 0x3c00);
    cr_assert_eq(pl_f32_to_f16(65520.f), 0x7c00, "65520 rounds to inf");
    cr_assert_eq(pl_f32_to_f16(65519.f), 0x7bff);
    cr_assert_eq(pl_f32_to_f16(1.0f + 0x1p-11f), 0x3c00, "tie rounds to even");
    cr_assert_eq(pl_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02, "tie rounds to even (up)");
    cr_assert_eq(pl_f32_to_f16(0x1p-25f), 0, "half the smallest subnormal rounds to 0");
    cr_assert_eq(pl_f32_to_f16(0x1.8p-25f), 1);
    cr_assert(pl_f32_to_f16(NAN) & 0x200, "NaN stays NaN");
}

Test(quant_types, f16_matches_hardware_rounding)
{
#if !defined(__x86_64__) && !defined(__i386__)
    cr_skip_test("x86 only: F16C rounding is compared on x86 machines");
#else
    if (pl_cpu_detected_level() != PL_CPU_AVX2 && pl_cpu_detected_level() != PL_CPU_AVX512)
        cr_skip_test("no F16C on this CPU: hardware rounding cannot be compared");
    uint64_t s = 7;
    float x[4096];
    pl_f16 a[4096], b[4096];
    for (int i = 0; i < 4096; i++) x[i] = ct_rand_f(&s) * ldexpf(1, (int)(ct_rand_u64(&s) % 40) - 28);
    cpu_f16_from_float(x, a, 4096);
    cpu_f16_from_float_avx2(x, b, 4096);
    for (int i = 0; i < 4096; i++) cr_assert_eq(a[i], b[i], "%g: soft 0x%04x hw 0x%04x", x[i], a[i], b[i]);
#endif
}

Test(quant_types, bf16_rounding)
{
    cr_assert_eq(pl_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(pl_bf16_to_f32(0x3f80), 1.0f);
    cr_assert_eq(pl_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "tie to even");
    cr_assert_eq(pl_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    cr_assert(isnan(pl_bf16_to_f32(pl_f32_to_bf16(NAN))));
}

/* Quantize then dequantize NQ values of type t; returns the relative RMSE. */
static double round_trip_rmse(pl_type t, uint64_t seed)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    cr_assert_not_null(tr, "type %d has no traits", t);
    float *x = malloc(NQ * sizeof *x), *y = malloc(NQ * sizeof *y);
    void *q = malloc(pl_row_size(t, NQ));
    ct_fill_normal(x, NQ, seed, 0.02f);
    tr->from_float(x, q, NQ);
    tr->to_float(q, y, NQ);
    double e = ct_rel_rmse(y, x, NQ);
    free(x), free(y), free(q);
    return e;
}

Test(quant_types, round_trip_error_bounds)
{
    for (size_t i = 0; i < sizeof k_bounds / sizeof k_bounds[0]; i++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            double e = round_trip_rmse(k_bounds[i].t, seed);
            cr_assert(e <= k_bounds[i].max_rmse, "%s: relative RMSE %.4f > %.4f",
                      pl_type_name(k_bounds[i].t), e, k_bounds[i].max_rmse);
        }
}

Test(quant_types, constant_and_zero_blocks)
{
    for (int k = 0; k < CT_N_WEIGHT_TYPES; k++) {
        pl_type t = ct_weight_types[k];
        const pl_type_traits *tr = pl_type_traits_get(t);
        float x[512], y[512];
        void *q = malloc(pl_row_size(t, 512));
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 512; i++) x[i] = v ? 0.5f : 0.0f;
            tr->from_float(x, q, 512);
            tr->to_float(q, y, 512);
            for (int i = 0; i < 512; i++)
                cr_assert(fabsf(y[i] - x[i]) <= 0.02f, "%s: constant %g came back as %g at %d",
                          tr->name, x[i], y[i], i);
        }
        free(q);
    }
}

/* Dot of one weight row with one activation row through every path. */
static void check_dot(pl_type t, int n, uint64_t seed)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    const pl_type_traits *ty = pl_type_traits_get(tr->vec_dot_type);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    float *xd = malloc(n * sizeof *x), *yd = malloc(n * sizeof *y);
    void *xq = malloc(pl_row_size(t, n)), *yq = malloc(pl_row_size(tr->vec_dot_type, n));
    ct_fill_normal(x, n, seed, 0.05f);
    ct_fill_normal(y, n, seed + 100, 1.0f);
    tr->from_float(x, xq, n);
    ty->from_float(y, yq, n);
    tr->to_float(xq, xd, n);
    ty->to_float(yq, yd, n);
    double exact = 0, mag = 0;
    for (int i = 0; i < n; i++) exact += (double)xd[i] * yd[i], mag += fabs((double)xd[i] * yd[i]);
    float ref;
    tr->vec_dot_ref(n, &ref, xq, yq);
    /* Q8_1's s is rounded to f16: up to 2^-11 of the minimum term. */
    cr_assert(fabs(ref - exact) <= 1e-3 * mag + 1e-6, "%s n=%d: ref %g vs dequantized dot %g",
              tr->name, n, ref, exact);
    int levels[4], nl = ct_levels(levels);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        float got;
        pl_type_traits_get(t)->vec_dot(n, &got, xq, yq);
        cr_assert(fabs(got - ref) <= 2e-5 * mag + 1e-6, "%s n=%d path %s: %.7g vs ref %.7g",
                  tr->name, n, pl_cpu_level_name(levels[l]), got, ref);
    }
    pl_cpu_force_level(-1);
    free(x), free(y), free(xd), free(yd), free(xq), free(yq);
}

Test(quant_dot, every_type_every_path)
{
    for (int k = 0; k < CT_N_WEIGHT_TYPES; k++)
        for (int seed = 1; seed <= 4; seed++) {
            check_dot(ct_weight_types[k], 256, (uint64_t)seed);
            check_dot(ct_weight_types[k], 1536, (uint64_t)seed + 10);
        }
}

Test(quant_dot, float_types_odd_lengths)
{
    pl_type ts[] = { PL_TYPE_F32, PL_TYPE_F16, PL_TYPE_BF16 };
    for (int k = 0; k < 3; k++)
        for (int n = 1; n < 70; n += 3) check_dot(ts[k], n, (uint64_t)n);
}

Test(quant_dot, paths_are_really_selected)
{
    int levels[4], nl = ct_levels(levels);
    pl_cpu_force_level(PL_CPU_SCALAR);
    cr_assert_eq(pl_cpu_level(), PL_CPU_SCALAR);
    cr_assert_eq(pl_type_traits_get(PL_TYPE_Q4_0)->vec_dot, pl_type_traits_get(PL_TYPE_Q4_0)->vec_dot_ref);
    pl_cpu_force_level(levels[nl - 1]);
    if (levels[nl - 1] == PL_CPU_AVX2 || levels[nl - 1] == PL_CPU_AVX512)   /* every type has one */
        for (int k = 0; k < CT_N_WEIGHT_TYPES; k++) {
            const pl_type_traits *tr = pl_type_traits_get(ct_weight_types[k]);
            cr_assert_neq(tr->vec_dot, tr->vec_dot_ref, "%s: SIMD path not selected", tr->name);
        }
    pl_cpu_force_level(-1);
}

Test(quant_act, fast_quantizers_match_reference)
{
    pl_type ts[] = { PL_TYPE_Q8_0, PL_TYPE_Q8_1, PL_TYPE_Q8_K };
    int levels[4], nl = ct_levels(levels);
    float x[1024], a[1024], b[1024];
    ct_fill_normal(x, 1024, 5, 3.0f);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        for (int k = 0; k < 3; k++) {
            const pl_type_traits *tr = pl_type_traits_get(ts[k]);
            size_t sz = pl_row_size(ts[k], 1024);
            void *qa = malloc(sz), *qb = malloc(sz);
            tr->from_float(x, qa, 1024);
            cpu_act_quantizer(ts[k])(x, qb, 1024);
            tr->to_float(qa, a, 1024);
            tr->to_float(qb, b, 1024);
            cr_assert(ct_rel_rmse(b, a, 1024) < 1e-3, "%s fast quantizer (%s) differs from reference",
                      tr->name, pl_cpu_level_name(levels[l]));
            free(qa), free(qb);
        }
    }
    pl_cpu_force_level(-1);
}
