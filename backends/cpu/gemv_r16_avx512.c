/* gemv_r16_avx512.c — decode kernels for weights in the 16-row layout
 * (PL_LAYOUT_R16, see r16.c): q4_0 and q8_0 with AVX-512 VNNI.
 *
 * Why: the row-layout kernels (gemv_avx512.c) spend ~7 cycles of shuffles,
 * conversions and sums on every 72 bytes of q4_0, and on this machine time
 * behaves like memory time PLUS that, not the larger of the two. In R16 one
 * 64-byte load is 4 quant bytes of 16 rows, so per block and 16 rows:
 *   q8_0: 8 vpdpbusd, nothing else;
 *   q4_0: 4 x (2 AND + 2 vpdpbusd): the low nibbles as they are, the high
 *         ones as (byte & 0xf0) = 16 x nibble, in a second accumulator that
 *         joins the first as lo * 16 + hi, so no shifts per load;
 *   then one conversion of the 16 f16 scales, one int->float, one multiply
 *   and one fma for all 16 rows, whose results are the 16 lanes: no
 *   horizontal sums. Measured in isolation (1 GiB of weights, 2 threads):
 *   q8_0 25 -> 29-30 GB/s, q4_0 28 -> 28.5-29, a pure read 31.5.
 * The activation is prepared once per call: its Q8_0 bytes as they are
 * (pieces of 4 are broadcast straight from memory) and per block
 *   corr = -128 * sum(q)   (q4_0: 16 x the offset 8; q8_0: the offset 128),
 *   d/16 (q4_0: the high nibbles come 16x too big) and d,
 * d rounded to f16 as Q8_0 stores it, so results equal the reference up to
 * float summation order. Each 16-row group is one contiguous run of bytes, a
 * slice of groups too: one prefetch stream R16_PF bytes ahead.
 */
#include <string.h>

#include "cpu_impl.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include "act_avx512.h"

#ifndef R16_PF
#define R16_PF 4096  /* prefetch distance in bytes (one stream per slice): 512 -> 2048 gave 1.1B q4_0 tg +5% (Xeon); 2048 -> 4096 gave 1-thread cold q4_0 35 -> 38 GB/s, q6_K 22 -> 27 (Zen 5) */
#endif

size_t cpu_r16_act_bytes(int64_t cols)
{
    return ((size_t)cols + sizeof(r16_act_blk) * (size_t)(cols / 32) + 63) & ~(size_t)63;
}

void cpu_r16_act_prep_avx512(const float *x, int64_t cols, void *act)
{
    int8_t *q = act;
    r16_act_blk *blk = (r16_act_blk *)(q + cols);
    enum { rne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };   /* a constant expression, as clang requires */
    for (int64_t b = 0; b < cols / 32; b++) {
        float d;
        int sum = act_q8_block(x + 32 * b, q + 32 * b, q + 32 * b + 16, &d);
        float s = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(d * (float)sum), rne)));
        d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(d), rne)));   /* as Q8_0's f16 d */
        blk[b] = (r16_act_blk){ -128 * sum, d * (1.0f / 16), d, s };
    }
}

/* 4 activation bytes as one int32 (broadcast from memory by the compiler). */
static inline int32_t r16_a4(const int8_t *a)
{
    int32_t v;
    memcpy(&v, a, 4);
    return v;
}

/* 16 x (the integer dot of one nibble block of 16 rows with the activation),
 * plus corr (already 16x): low nibbles as they are, high ones as byte & 0xf0. */
static inline __attribute__((always_inline)) __m512 r16_nibbles(const uint8_t *q, const int8_t *a, int32_t corr)
{
    const __m512i lo = _mm512_set1_epi8(0x0f), hi = _mm512_set1_epi8((char)0xf0);
    __m512i sl = _mm512_setzero_si512(), sh = _mm512_set1_epi32(corr);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_loadu_si512(q + 64 * c);
        _mm_prefetch((const char *)q + 64 * c + R16_PF, _MM_HINT_T0);
        sl = _mm512_dpbusd_epi32(sl, _mm512_and_si512(v, lo), _mm512_set1_epi32(r16_a4(a + 4 * c)));
        sh = _mm512_dpbusd_epi32(sh, _mm512_and_si512(v, hi), _mm512_set1_epi32(r16_a4(a + 16 + 4 * c)));
    }
    return _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(sl, 4), sh));
}

/* One q4_0 block of 16 rows (quants at q, f16 scales at dq) into acc. */
static inline __attribute__((always_inline)) __m512 r16_q4_0(const uint8_t *q, const uint8_t *dq, const int8_t *a,
                                                             const r16_act_blk *ab, __m512 acc)
{
    __m512 s = r16_nibbles(q, a, ab->corr);
    __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dq));
    return _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(ab->d16)), dw, acc);
}

/* One q4_1 block of 16 rows (quants at q, 16 f16 (d, m) pairs at dq):
 * sum (d u + m) y = d dy sum u q + m s. */
static inline __attribute__((always_inline)) __m512 r16_q4_1(const uint8_t *q, const uint8_t *dq, const int8_t *a,
                                                             const r16_act_blk *ab, __m512 acc)
{
    __m512 s = r16_nibbles(q, a, 0);
    __m512i dm = _mm512_loadu_si512(dq);
    __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
    __m512 mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
    acc = _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(ab->d16)), dw, acc);
    return _mm512_fmadd_ps(mw, _mm512_set1_ps(ab->s), acc);
}

/* One q8_0 block of 16 rows into acc (two integer chains for latency). */
static inline __attribute__((always_inline)) __m512 r16_q8_0(const uint8_t *q, const uint8_t *dq, const int8_t *a,
                                                             const r16_act_blk *ab, __m512 acc)
{
    __m512i s0 = _mm512_set1_epi32(ab->corr), s1 = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int c = 0; c < 8; c += 2) {
        _mm_prefetch((const char *)q + 64 * c + R16_PF, _MM_HINT_T0);
        _mm_prefetch((const char *)q + 64 * c + 64 + R16_PF, _MM_HINT_T0);
        s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(q + 64 * c), _mm512_set1_epi32(r16_a4(a + 4 * c)));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(q + 64 * c + 64), _mm512_set1_epi32(r16_a4(a + 4 * c + 4)));
    }
    __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
    __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dq));
    return _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(ab->d)), dw, acc);
}

/* y[0..nr) for nr (a multiple of 16) rows in R16 at W; Q quant bytes and D
 * scale bytes per block and row. */
#define R16_KERNEL(T, Q, D)                                                                           \
    void cpu_##T##_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y) \
    {                                                                                                 \
        const int64_t nb = cols / 32;                                                                 \
        const int8_t *a = act;                                                                        \
        const r16_act_blk *ab = (const r16_act_blk *)(a + cols);                                      \
        const uint8_t *p = W;                                                                         \
        for (int64_t g = 0; g < nr / 16; g++) {                                                       \
            __m512 acc = _mm512_setzero_ps();                                                         \
            int64_t b = 0;                                                                            \
            for (; b + 2 <= nb; b += 2, p += 32 * ((D) + (Q))) {                                   \
                _mm_prefetch((const char *)p + R16_PF, _MM_HINT_T0);                                  \
                if ((D) > 2) _mm_prefetch((const char *)p + 64 + R16_PF, _MM_HINT_T0);               \
                acc = r16_##T(p + 32 * (D), p, a + 32 * b, ab + b, acc);                              \
                acc = r16_##T(p + 32 * (D) + 16 * (Q), p + 16 * (D), a + 32 * b + 32, ab + b + 1, acc); \
            }                                                                                         \
            if (b < nb) acc = r16_##T(p + 16 * (D), p, a + 32 * b, ab + b, acc), p += 16 * ((D) + (Q)); \
            _mm512_storeu_ps(y + 16 * g, acc);                                                        \
        }                                                                                             \
    }

R16_KERNEL(q4_0, 16, 2)
R16_KERNEL(q4_1, 16, 4)
R16_KERNEL(q8_0, 32, 2)

#else
/* Built without AVX-512 VNNI: cpu_r16_gemv_kernel says NULL, these never run. */
size_t cpu_r16_act_bytes(int64_t cols) { return (size_t)cols; }
void cpu_r16_act_prep_avx512(const float *x, int64_t cols, void *act) {}
#endif
