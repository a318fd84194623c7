/* gemv_r16k_avx512.c — decode kernels for q4_K and q6_K weights in the
 * 16-row layout (PL_LAYOUT_R16, r16.c) against a Q8_K activation row.
 *
 * As for the 32-blocks (gemv_r16_avx512.c), a 64-byte load is 4 quant bytes
 * of 16 rows, so one vpdpbusd with 4 broadcast activation bytes advances 16
 * row dots and the results come out one lane per row. What the K-quants add
 * is a small integer scale per group of 32 (q4_K) or 16 (q6_K) weights and
 * row: a group's integer dot is finished in its own accumulator and then
 * multiplied by the 16 rows' scales (vpmulld), which R16 keeps as 4-byte
 * pieces so one 64-byte load holds the same scale bytes of all 16 rows.
 *   q4_K: low nibbles as they are, high nibbles as (byte & 0xf0) = 16 x the
 *         value in a second accumulator (shifted back once per super-block);
 *         6-bit scales and mins unpacked with 32-bit lane ops; the min term
 *         is sum_j min_j * (activation sum of group j).
 *   q6_K: 4 low bits from ql, 2 high bits from qh, merged per byte with one
 *         vpternlogd; the offset 32 comes back through the activation's
 *         16-element sums, which start each group's accumulator.
 * Weights stream as one run of bytes per slice, each super-block of 16 rows
 * prefetched whole, two super-blocks ahead.
 */
#include <string.h>

#include "cpu_impl.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>

#define RK_OR_AND 0xEC   /* vpternlogd: (a & c) | b */

#define RK_INLINE static inline __attribute__((always_inline))

/* 4 activation bytes broadcast to 16 lanes. */
RK_INLINE __m512i rk_a4(const int8_t *a)
{
    int32_t v;
    memcpy(&v, a, 4);
    return _mm512_set1_epi32(v);
}

/* Byte k of every int32 lane, zero-extended. */
RK_INLINE __m512i rk_byte_u(__m512i v, int k)
{
    return k == 3 ? _mm512_srli_epi32(v, 24) : _mm512_and_si512(_mm512_srli_epi32(v, 8 * k), _mm512_set1_epi32(0xff));
}

/* Byte k of every int32 lane, sign-extended. */
RK_INLINE __m512i rk_byte_s(__m512i v, int k)
{
    return _mm512_srai_epi32(k == 3 ? v : _mm512_slli_epi32(v, 24 - 8 * k), 24);
}

/* Prefetch the whole super-block of 16 rows two ahead of p (sb bytes each),
 * in one burst at its start. Before, each load prefetched 4096 bytes past
 * itself; q6_K reads its super-block in three interleaved runs (ql low, ql
 * high, qh), so lines were asked for out of order. 1 thread, cold, Zen 5:
 * q6_K (1.1B output shape) 18-29 -> 33-35 GB/s, q4_K 31-33 -> 34-38. */
RK_INLINE void rk_prefetch_ahead(const uint8_t *p, int sb)
{
    for (int o = 0; o < sb; o += 64) _mm_prefetch((const char *)p + 2 * sb + o, _MM_HINT_T0);
}

/* q4_K, per super-block and 16 rows: d|dmin (64) | scales, 3 pieces (192) |
 * qs, 32 pieces (2048). */
RK_INLINE __m512 rk_q4_K(const uint8_t *p, const block_q8_K *y, __m512 acc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), h4 = _mm512_set1_epi8((char)0xf0), m6 = _mm512_set1_epi8(0x3f);
    const __m512i b30 = _mm512_set1_epi8(0x30);
    rk_prefetch_ahead(p, 16 * sizeof(block_q4_K));
    __m512i dm = _mm512_loadu_si512(p);
    __m512i w0 = _mm512_loadu_si512(p + 64), w1 = _mm512_loadu_si512(p + 128), w2 = _mm512_loadu_si512(p + 192);
    /* as gk_q4_scales, on 16 rows at once: sc0..3 | sc4..7 | mn0..3 | mn4..7 */
    __m512i sc[2], mn[2];
    sc[0] = _mm512_and_si512(w0, m6);
    sc[1] = _mm512_ternarylogic_epi32(w2, _mm512_and_si512(_mm512_srli_epi32(w0, 2), b30), m4, RK_OR_AND);
    mn[0] = _mm512_and_si512(w1, m6);
    mn[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(w2, 4), _mm512_and_si512(_mm512_srli_epi32(w1, 2), b30), m4,
                                      RK_OR_AND);
    const uint8_t *qs = p + 256;
    __m512i sumi = _mm512_setzero_si512(), sumh = _mm512_setzero_si512(), summ = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {   /* 64 elements: group 2j (low nibbles), 2j+1 (high) */
        __m512i al = _mm512_setzero_si512(), ah = _mm512_setzero_si512();
        const int8_t *a = y->qs + 64 * j;
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            const uint8_t *q = qs + 64 * (8 * j + c);
            __m512i v = _mm512_loadu_si512(q);
            al = _mm512_dpbusd_epi32(al, _mm512_and_si512(v, m4), rk_a4(a + 4 * c));
            ah = _mm512_dpbusd_epi32(ah, _mm512_and_si512(v, h4), rk_a4(a + 32 + 4 * c));
        }
        const int g0 = 2 * j, g1 = 2 * j + 1;
        sumi = _mm512_add_epi32(sumi, _mm512_mullo_epi32(al, rk_byte_u(sc[g0 / 4], g0 % 4)));
        sumh = _mm512_add_epi32(sumh, _mm512_mullo_epi32(ah, rk_byte_u(sc[g1 / 4], g1 % 4)));
        summ = _mm512_add_epi32(summ, _mm512_mullo_epi32(rk_byte_u(mn[g0 / 4], g0 % 4),
                                                         _mm512_set1_epi32(y->bsums[2 * g0] + y->bsums[2 * g0 + 1])));
        summ = _mm512_add_epi32(summ, _mm512_mullo_epi32(rk_byte_u(mn[g1 / 4], g1 % 4),
                                                         _mm512_set1_epi32(y->bsums[2 * g1] + y->bsums[2 * g1 + 1])));
    }
    sumi = _mm512_add_epi32(sumi, _mm512_srai_epi32(sumh, 4));
    __m512 yd = _mm512_set1_ps(y->d);
    __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm)), yd);
    __m512 dmin = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))), yd);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), d, acc);
    return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), dmin, acc);
}

/* q6_K, per super-block and 16 rows: d (32) | scales, 4 pieces (256) |
 * ql, 32 pieces (2048) | qh, 16 pieces (1024). Element 128h + 32k + l (k =
 * 0..3, l = 0..31) is ql[64h + l + 32(k&1)] (low nibble for k < 2, high
 * otherwise) | bits 2k..2k+1 of qh[32h + l] << 4, minus 32. */
RK_INLINE __m512 rk_q6_K(const uint8_t *p, const block_q8_K *y, __m512 acc)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), b30 = _mm512_set1_epi8(0x30);
    rk_prefetch_ahead(p, 16 * sizeof(block_q6_K));
    __m512i s[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) s[i] = _mm512_loadu_si512(p + 32 + 64 * i);
    const uint8_t *ql = p + 288, *qh = p + 288 + 2048;
    __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
        for (int gs = 0; gs < 2; gs++) {   /* l in [16 gs, 16 gs + 16): groups 8h + 2k + gs */
            __m512i a[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) a[k] = _mm512_set1_epi32(-32 * y->bsums[8 * h + 2 * k + gs]);
#pragma GCC unroll 4
            for (int c = 4 * gs; c < 4 * gs + 4; c++) {
                const uint8_t *pa = ql + 64 * (16 * h + c), *pb = ql + 64 * (16 * h + 8 + c), *ph = qh + 64 * (8 * h + c);
                __m512i A = _mm512_loadu_si512(pa), B = _mm512_loadu_si512(pb), H = _mm512_loadu_si512(ph);
                __m512i q[4];
                q[0] = _mm512_ternarylogic_epi32(A, _mm512_and_si512(_mm512_slli_epi32(H, 4), b30), m4, RK_OR_AND);
                q[1] = _mm512_ternarylogic_epi32(B, _mm512_and_si512(_mm512_slli_epi32(H, 2), b30), m4, RK_OR_AND);
                q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(A, 4), _mm512_and_si512(H, b30), m4, RK_OR_AND);
                q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(B, 4), _mm512_and_si512(_mm512_srli_epi32(H, 2), b30),
                                                 m4, RK_OR_AND);
                const int8_t *ya = y->qs + 128 * h + 4 * c;
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) a[k] = _mm512_dpbusd_epi32(a[k], q[k], rk_a4(ya + 32 * k));
            }
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const int g = 8 * h + 2 * k + gs;
                sumi = _mm512_add_epi32(sumi, _mm512_mullo_epi32(a[k], rk_byte_s(s[g / 4], g % 4)));
            }
        }
    __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)), _mm512_set1_ps(y->d));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), d, acc);
}

/* y[0..nr) for nr (a multiple of 16) rows in R16 at W; SB bytes per super-block and 16 rows. */
#define RK_KERNEL(T, SB)                                                                              \
    void cpu_##T##_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y) \
    {                                                                                                 \
        const int64_t nb = cols / QK_K;                                                               \
        const block_q8_K *a = act;                                                                    \
        const uint8_t *p = W;                                                                         \
        for (int64_t g = 0; g < nr / 16; g++) {                                                       \
            __m512 acc = _mm512_setzero_ps();                                                         \
            for (int64_t b = 0; b < nb; b++, p += (SB)) acc = rk_##T(p, a + b, acc);                  \
            _mm512_storeu_ps(y + 16 * g, acc);                                                        \
        }                                                                                             \
    }

RK_KERNEL(q4_K, 16 * sizeof(block_q4_K))
RK_KERNEL(q6_K, 16 * sizeof(block_q6_K))

#endif
