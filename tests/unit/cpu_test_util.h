/* cpu_test_util.h — shared helpers of the backends/ unit tests (quant, matmul,
 * pool, ops): a deterministic random source, error measures, and the list of
 * CPU paths this machine can run so every test covers each of them. */
#ifndef PL_CPU_TEST_UTIL_H
#define PL_CPU_TEST_UTIL_H

#include <math.h>
#include <stdint.h>

#include "backends/backend.h"
#include "backends/cpu/cpu_impl.h"

/* xorshift64*: the same numbers on every run and machine. */
static inline uint64_t ct_rand_u64(uint64_t *s)
{
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Uniform in [-1, 1). */
static inline float ct_rand_f(uint64_t *s)
{
    return (float)((ct_rand_u64(s) >> 40) * (1.0 / (1 << 23)) - 1.0);
}

/* Roughly normal (sum of four uniforms), the shape of real weights. */
static inline void ct_fill_normal(float *x, int64_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * (ct_rand_f(&s) + ct_rand_f(&s) + ct_rand_f(&s) + ct_rand_f(&s)) * 0.866f;
}

/* sqrt(sum (a-b)^2 / sum b^2). */
static inline double ct_rel_rmse(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* CPU paths this machine can run, best last; returns how many. */
static inline int ct_levels(int out[4])
{
    int n = 0, best = pl_cpu_detected_level();
    out[n++] = PL_CPU_SCALAR;
    if (best == PL_CPU_NEON) out[n++] = PL_CPU_NEON;
    if (best == PL_CPU_AVX2 || best == PL_CPU_AVX512) out[n++] = PL_CPU_AVX2;
    if (best == PL_CPU_AVX512) out[n++] = PL_CPU_AVX512;
    return n;
}

/* Every weight type the CPU backend computes with. */
static const pl_type ct_weight_types[] = {
    PL_TYPE_F32, PL_TYPE_F16, PL_TYPE_BF16, PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0,
    PL_TYPE_Q5_1, PL_TYPE_Q8_0, PL_TYPE_Q2_K, PL_TYPE_Q3_K, PL_TYPE_Q4_K, PL_TYPE_Q5_K,
    PL_TYPE_Q6_K,
};
#define CT_N_WEIGHT_TYPES (int)(sizeof ct_weight_types / sizeof ct_weight_types[0])

#endif
