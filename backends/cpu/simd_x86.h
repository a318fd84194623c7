/* simd_x86.h — small AVX2 helpers shared by the *_avx2.c and *_avx512.c files.
 *
 * Only included by files the Makefile compiles with -mavx2 -mfma -mf16c, so
 * everything here is static inline and needs no guard beyond __AVX2__.
 */
#ifndef PL_SIMD_X86_H
#define PL_SIMD_X86_H

#if defined(__AVX2__)
#include <immintrin.h>
#include <string.h>

#include "cpu_impl.h"

/* Half to float with the F16C instruction. */
static inline float simd_f16(pl_f16 h) { return _cvtsh_ss(h); }

/* Sum of the 8 floats of v. */
static inline float simd_hsum_ps(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

/* Sum of the 8 int32 of v. */
static inline int simd_hsum_epi32(__m256i v)
{
    __m128i a = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4e));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xb1));
    return _mm_cvtsi128_si32(a);
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high. */
static inline __m256i simd_nibbles32(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* 32 bits -> 32 bytes, byte j = 0xff where bit j is set. */
static inline __m256i simd_bits32(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
}

/* Pairwise products of unsigned a and signed b bytes, summed to 8 int32. */
static inline __m256i simd_dot_u8i8(__m256i a, __m256i b)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

/* Same for two signed byte vectors (sign moved onto b). */
static inline __m256i simd_dot_i8i8(__m256i a, __m256i b)
{
    return simd_dot_u8i8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

/* Load 8 bfloat16 as floats. */
static inline __m256 simd_load_bf16(const pl_bf16 *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

#endif
#endif
