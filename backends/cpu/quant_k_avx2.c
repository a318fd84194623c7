/* quant_k_avx2.c — AVX2 dot products of the K-quants with Q8_K activations.
 *
 * One pattern for all five: per 32 elements build the weights as UNSIGNED
 * bytes u (so maddubs u8 x i8 can be used: every |u| <= 63 keeps its int16
 * pair sums exact), multiply-add with the activation bytes, then madd the 16
 * int16 sums with the two 16-group scales (low lane group g, high lane g+1)
 * into int32. Offsets that make a signed value unsigned (q3_K: +4, q6_K: +32)
 * and the minimum terms (q2_K, q4_K, q5_K) are taken back once per
 * super-block through Q8_K's bsums (sums of 16 activations):
 *   sum_g sc_g * sum (u - k) y = sum_g sc_g * sum u y - k * sum_g sc_g * bsum_g.
 * Element layouts are described in quant_ref_k.c.
 */
#include "simd_x86.h"

#if defined(__AVX2__)

/* int16 scale vector: s0 for the first 16 elements, s1 for the next 16. */
static inline __m256i k_scales2(int s0, int s1)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

/* int32 lanes += scales . maddubs(u, y) for 32 elements. */
static inline __m256i k_acc32(__m256i acc, __m256i u, const int8_t *y, int s0, int s1)
{
    __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)y));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, k_scales2(s0, s1)));
}

/* sum_g w[g] * bsums[g] over the 16 groups. */
static inline int k_bsum_dot(const int16_t w[16], const int16_t bsums[16])
{
    __m256i a = _mm256_loadu_si256((const __m256i *)w), b = _mm256_loadu_si256((const __m256i *)bsums);
    return simd_hsum_epi32(_mm256_madd_epi16(a, b));
}

/* Bits 2j..2j+1 of 32 bytes, as bytes 0..3. */
static inline __m256i k_crumb(__m256i q, int j)
{
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3));
}

/* Bytes whose bit b is set -> 'val', else 0. */
static inline __m256i k_bit(__m256i q, int b, char val)
{
    __m256i m = _mm256_set1_epi8((char)(1 << b));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(q, m), m), _mm256_set1_epi8(val));
}

/* q2_K: u = 2 bits; d*sum sc*u*y - dmin*sum m*bsum. */
void cpu_q2_K_dot_avx2(int n, float *s, const void *vx, const void *vy)
{
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int16_t mn[16];
        for (int g = 0; g < 16; g++) mn[g] = x[i].scales[g] >> 4;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int j = 0; j < 4; j++) {
                int g = 8 * h + 2 * j;
                sumi = k_acc32(sumi, k_crumb(q, j), y[i].qs + 128 * h + 32 * j, x[i].scales[g] & 0xf,
                               x[i].scales[g + 1] & 0xf);
            }
        }
        acc += y[i].d * (simd_f16(x[i].d) * (float)simd_hsum_epi32(sumi) -
                         simd_f16(x[i].dmin) * (float)k_bsum_dot(mn, y[i].bsums));
    }
    *s = acc;
}

/* Sixteen signed 6-bit scales of q3_K. */
static inline void k_q3_scales(const uint8_t *s, int16_t sc[16])
{
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? s[g] & 0xf : s[g - 8] >> 4;
        int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
        sc[g] = (int16_t)((lo | hi << 4) - 32);
    }
}

/* q3_K: u = 2 bits + 4*(high bit) in 0..7, value u - 4. */
void cpu_q3_K_dot_avx2(int n, float *s, const void *vx, const void *vy)
{
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int16_t sc[16];
        k_q3_scales(x[i].scales, sc);
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int j = 0; j < 4; j++) {
                __m256i u = _mm256_or_si256(k_crumb(q, j), k_bit(hm, 4 * h + j, 4));
                int g = 8 * h + 2 * j;
                sumi = k_acc32(sumi, u, y[i].qs + 128 * h + 32 * j, sc[g], sc[g + 1]);
            }
        }
        int corr = 4 * k_bsum_dot(sc, y[i].bsums);
        acc += y[i].d * simd_f16(x[i].d) * (float)(simd_hsum_epi32(sumi) - corr);
    }
    *s = acc;
}

/* 6-bit scales and mins of q4_K/q5_K, per 32 and spread per 16 for bsums. */
static inline void k_q4_scales(const uint8_t *s, int sc[8], int16_t mn16[16])
{
    for (int j = 0; j < 8; j++) {
        int m;
        if (j < 4) sc[j] = s[j] & 63, m = s[j + 4] & 63;
        else sc[j] = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4), m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        mn16[2 * j] = mn16[2 * j + 1] = (int16_t)m;
    }
}

/* q4_K: u = nibble; d*sum sc*u*y - dmin*sum m*bsum. */
void cpu_q4_K_dot_avx2(int n, float *s, const void *vx, const void *vy)
{
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int sc[8];
        int16_t mn[16];
        k_q4_scales(x[i].scales, sc, mn);
        __m256i sumi = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            sumi = k_acc32(sumi, lo, y[i].qs + 64 * p, sc[2 * p], sc[2 * p]);
            sumi = k_acc32(sumi, hi, y[i].qs + 64 * p + 32, sc[2 * p + 1], sc[2 * p + 1]);
        }
        acc += y[i].d * (simd_f16(x[i].d) * (float)simd_hsum_epi32(sumi) -
                         simd_f16(x[i].dmin) * (float)k_bsum_dot(mn, y[i].bsums));
    }
    *s = acc;
}

/* q5_K: u = nibble + 16*(bit of qh); as q4_K otherwise. */
void cpu_q5_K_dot_avx2(int n, float *s, const void *vx, const void *vy)
{
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int sc[8];
        int16_t mn[16];
        k_q4_scales(x[i].scales, sc, mn);
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low), k_bit(qh, 2 * p, 16));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), k_bit(qh, 2 * p + 1, 16));
            sumi = k_acc32(sumi, lo, y[i].qs + 64 * p, sc[2 * p], sc[2 * p]);
            sumi = k_acc32(sumi, hi, y[i].qs + 64 * p + 32, sc[2 * p + 1], sc[2 * p + 1]);
        }
        acc += y[i].d * (simd_f16(x[i].d) * (float)simd_hsum_epi32(sumi) -
                         simd_f16(x[i].dmin) * (float)k_bsum_dot(mn, y[i].bsums));
    }
    *s = acc;
}

/* q6_K: u = 4 low bits | 2 high bits << 4 in 0..63, value u - 32. */
void cpu_q6_K_dot_avx2(int n, float *s, const void *vx, const void *vy)
{
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        const int8_t *sc = x[i].scales;
        int16_t sc16[16];
        for (int g = 0; g < 16; g++) sc16[g] = sc[g];
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i lo4[4] = { _mm256_and_si256(l0, low), _mm256_and_si256(l1, low),
                               _mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                               _mm256_and_si256(_mm256_srli_epi16(l1, 4), low) };
            for (int k = 0; k < 4; k++) {
                __m256i u = _mm256_or_si256(lo4[k], _mm256_slli_epi16(k_crumb(qh, k), 4));
                int g = 8 * h + 2 * k;
                sumi = k_acc32(sumi, u, y[i].qs + 128 * h + 32 * k, sc[g], sc[g + 1]);
            }
        }
        int corr = 32 * k_bsum_dot(sc16, y[i].bsums);
        acc += y[i].d * simd_f16(x[i].d) * (float)(simd_hsum_epi32(sumi) - corr);
    }
    *s = acc;
}

#endif
