/* test_ops.c — the small CPU ops of the forward pass against their formulas. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_util.h"

Test(cpu_ops, rms_norm)
{
    float x[5] = { 1, -2, 3, -4, 5 }, w[5] = { 1, 2, 1, 2, 1 }, out[5];
    float rms = sqrtf((1 + 4 + 9 + 16 + 25) / 5.0f + 1e-5f);
    pl_cpu_rms_norm(x, w, 5, 1e-5f, out);
    for (int i = 0; i < 5; i++) cr_assert_float_eq(out[i], x[i] / rms * w[i], 1e-6);
    pl_cpu_rms_norm(x, NULL, 5, 1e-5f, x);   /* in place, no weight */
    cr_assert_float_eq(x[4], 5 / rms, 1e-6);
}

Test(cpu_ops, softmax)
{
    float x[4] = { 1000, 1001, 1002, 999 };  /* would overflow without max-subtraction */
    pl_cpu_softmax_inplace(x, 4);
    float e[4] = { expf(-2), expf(-1), 1, expf(-3) }, s = e[0] + e[1] + e[2] + e[3];
    for (int i = 0; i < 4; i++) cr_assert_float_eq(x[i], e[i] / s, 1e-6);
}

Test(cpu_ops, silu_mul_add_mul_scale)
{
    float g[3] = { -1, 0, 2 }, u[3] = { 2, 3, 4 }, o[3];
    pl_cpu_silu_mul(g, u, 3, o);
    for (int i = 0; i < 3; i++) cr_assert_float_eq(o[i], g[i] / (1 + expf(-g[i])) * u[i], 1e-6);
    pl_cpu_add(g, u, 3, o);
    cr_assert_float_eq(o[2], 6.0f, 0);
    pl_cpu_mul(g, u, 3, o);
    cr_assert_float_eq(o[0], -2.0f, 0);
    pl_cpu_scale(o, 0.5f, 3);
    cr_assert_float_eq(o[2], 4.0f, 0);
}

/* Rotate one head by hand and compare. */
static void check_rope(int mode)
{
    enum { HD = 8, NR = 8 };
    float x[2 * HD], want[2 * HD], cs[NR];
    ct_fill_normal(x, 2 * HD, 3, 1);
    float pos = 5, base = 10000, fs = 0.5f;
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < NR / 2; i++) {
            double ang = fs * pos * pow(base, -2.0 * i / NR);
            int a = mode == PL_ROPE_NEOX ? i : 2 * i, b = mode == PL_ROPE_NEOX ? i + NR / 2 : 2 * i + 1;
            float x0 = x[h * HD + a], x1 = x[h * HD + b];
            want[h * HD + a] = (float)(x0 * cos(ang) - x1 * sin(ang));
            want[h * HD + b] = (float)(x0 * sin(ang) + x1 * cos(ang));
        }
    pl_cpu_rope_cache(cs, NR, pos, base, fs, NULL);
    pl_cpu_rope(x, 2, HD, NR, cs, mode);
    for (int i = 0; i < 2 * HD; i++) cr_assert_float_eq(x[i], want[i], 1e-5, "mode %d dim %d", mode, i);
}

Test(cpu_ops, rope_normal_and_neox)
{
    check_rope(PL_ROPE_NORMAL);
    check_rope(PL_ROPE_NEOX);
}

Test(cpu_ops, rope_partial_dims_and_inverse)
{
    float x[12], orig[12], cs[8];
    ct_fill_normal(x, 12, 4, 1);
    memcpy(orig, x, sizeof x);
    pl_cpu_rope_cache(cs, 8, 17, 10000, 1, NULL);
    pl_cpu_rope(x, 1, 12, 8, cs, PL_ROPE_NORMAL);
    for (int i = 8; i < 12; i++) cr_assert_eq(x[i], orig[i], "dims past n_rot must not move");
    pl_cpu_rope_cache(cs, 8, -17, 10000, 1, NULL);
    pl_cpu_rope(x, 1, 12, 8, cs, PL_ROPE_NORMAL);
    for (int i = 0; i < 8; i++) cr_assert_float_eq(x[i], orig[i], 1e-5, "rotating by -pos undoes pos");
}

Test(cpu_ops, f16_dot_and_axpy_every_path)
{
    enum { N = 67 };
    pl_f16 a[N];
    float af[N], b[N], y[N], yr[N];
    ct_fill_normal(af, N, 8, 1), ct_fill_normal(b, N, 9, 1);
    cpu_f16_from_float(af, a, N);
    double exact = 0;
    for (int i = 0; i < N; i++) exact += (double)pl_f16_to_f32(a[i]) * b[i];
    int levels[4], nl = ct_levels(levels);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        cr_assert(fabs(pl_cpu_dot_f16_f32(a, b, N) - exact) < 1e-4, "dot on %s", pl_cpu_level_name(levels[l]));
        for (int i = 0; i < N; i++) y[i] = yr[i] = b[i];
        pl_cpu_axpy_f16_f32(y, a, 0.25f, N);
        for (int i = 0; i < N; i++) yr[i] += 0.25f * pl_f16_to_f32(a[i]);
        for (int i = 0; i < N; i++) cr_assert_float_eq(y[i], yr[i], 1e-6);
    }
    pl_cpu_force_level(-1);
}
