/* act_avx512.h — quantizing one activation block as Q8_0 would, for the
 * AVX-512 decode kernels (gemv_avx512.c, gemv_r16_avx512.c,
 * gemv_r16_q5_avx512vbmi.c), which prepare
 * the activation once per call in layouts of their own. Only included by
 * files compiled with -mavx512f. */
#ifndef PL_ACT_AVX512_H
#define PL_ACT_AVX512_H
#if defined(__AVX512F__)

#include <immintrin.h>
#include <stdint.h>

/* The R16 decode kernels' prepared activation (cpu_r16_act_prep_avx512): the
 * cols Q8_0 bytes, then per block corr = -128 * sum(q), d/16, d (f16-rounded)
 * and s = d * sum(q) as Q8_1 stores it. */
typedef struct r16_act_blk { int32_t corr; float d16, d, s; } r16_act_blk;

/* Quantize 32 floats as Q8_0 (d = amax/127, q = round(x/d)): elements 0..15
 * to lo, 16..31 to hi; *d_out = d (not yet f16-rounded); returns sum(q). */
static inline __attribute__((always_inline)) int act_q8_block(const float *x, int8_t *lo, int8_t *hi, float *d_out)
{
    __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
    float d = amax / 127.f, id = d ? 1.0f / d : 0.0f;
    /* Clamped to the int8 the bytes hold, so the sum matches them (and -128 * sum
     * cannot overflow) even when x holds inf or NaN (a broken model's activations). */
    const __m512i lo8 = _mm512_set1_epi32(-128), hi8 = _mm512_set1_epi32(127);
    __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, _mm512_set1_ps(id)));
    __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, _mm512_set1_ps(id)));
    qa = _mm512_min_epi32(_mm512_max_epi32(qa, lo8), hi8);
    qb = _mm512_min_epi32(_mm512_max_epi32(qb, lo8), hi8);
    _mm_storeu_si128((__m128i *)lo, _mm512_cvtsepi32_epi8(qa));
    _mm_storeu_si128((__m128i *)hi, _mm512_cvtsepi32_epi8(qb));
    *d_out = d;
    return _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
}

#endif
#endif
