/* quant_k_avx512.c — K-quant dot products with AVX-512 VNNI (256-bit, VL).
 *
 * Decode reads every weight once, so these kernels are about uops per weight
 * byte. Against the AVX2 ones (quant_k_avx2.c) they save the scale handling:
 *   - a 32-element step is maddubs (u8 x i8 -> int16 pairs) followed by ONE
 *     vpdpwssd that multiplies by the group scale and accumulates into int32,
 *     where AVX2 needs madd + add and builds the scale vector from two
 *     broadcasts and an insert;
 *   - the group scales of a super-block are unpacked once into int16 lanes
 *     (q4_K/q5_K with 32-bit mask arithmetic instead of a per-group loop) and
 *     each step's scale vector is a single in-lane byte shuffle of them;
 *   - minimum / offset terms use the activation's bsums in one madd.
 * Weights are fed unsigned (q6_K: q+32 in 0..63) so maddubs' int16 pair sums
 * stay exact (63*127*2 < 32768); the offsets come back through the bsums.
 * Layouts as in quant_ref_k.c.
 */
#include "simd_x86.h"

#if defined(__AVX2__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

/* In-lane shuffle controls picking int16 scale g (0..7) of a 128-bit lane,
 * low lane scale a, high lane scale b. */
static inline __m256i kq_pick(int a, int b)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * b)), _mm_set1_epi16((short)(0x0100 + 0x0202 * a)));
}

/* q4_K/q5_K 6-bit scales (bytes 0..7) and mins (bytes 8..15) from the 12
 * packed bytes: words w0..w2, sc 0..3 = w0 & 0x3f.., mins 0..3 = w1 & 0x3f..,
 * sc 4..7 = low nibbles of w2 | top bits of w0, mins 4..7 = high nibbles of
 * w2 | top bits of w1. */
static inline __m128i kq4_scales_mins(const uint8_t *s)
{
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    o[0] = w[0] & 0x3f3f3f3fu;
    o[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
    o[2] = w[1] & 0x3f3f3f3fu;
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
    return _mm_loadu_si128((const __m128i *)o);
}

/* sum_g mins[g] * (bsums[2g] + bsums[2g+1]) as 8 int32 lanes. */
static inline __m256i kq4_min_terms(__m128i sm, const int16_t *bsums)
{
    __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));                  /* 8 x int16 */
    __m256i m2 = _mm256_cvtepu16_epi32(mins);                                 /* 8 x int32 */
    __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), _mm256_set1_epi16(1));
    return _mm256_mullo_epi32(m2, bs);
}

/* q4_K x Q8_K. */
void cpu_q4_K_dot_avx512(int n, float *s, const void *vx, const void *vy)
{
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        __m128i sm = kq4_scales_mins(x[i].scales);
        __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));     /* sc 0..7 in each lane */
        __m256i sumi = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p + 32)));
            sumi = _mm256_dpwssd_epi32(sumi, plo, _mm256_shuffle_epi8(sc, kq_pick(2 * p, 2 * p)));
            sumi = _mm256_dpwssd_epi32(sumi, phi, _mm256_shuffle_epi8(sc, kq_pick(2 * p + 1, 2 * p + 1)));
        }
        float d = y[i].d * simd_f16(x[i].d), dm = y[i].d * simd_f16(x[i].dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dm), _mm256_cvtepi32_ps(kq4_min_terms(sm, y[i].bsums)), accm);
    }
    *s = simd_hsum_ps(_mm256_sub_ps(acc, accm));
}

/* Bytes of q whose bit b is set -> 16, else 0. */
static inline __m256i kq_bit16(__m256i q, int b)
{
    __m256i msk = _mm256_set1_epi8((char)(1 << b));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(q, msk), msk), _mm256_set1_epi8(16));
}

/* q5_K x Q8_K: q4_K plus a fifth bit per value from qh (bits 2p, 2p+1). */
void cpu_q5_K_dot_avx512(int n, float *s, const void *vx, const void *vy)
{
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        __m128i sm = kq4_scales_mins(x[i].scales);
        __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low), kq_bit16(qh, 2 * p));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), kq_bit16(qh, 2 * p + 1));
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p + 32)));
            sumi = _mm256_dpwssd_epi32(sumi, plo, _mm256_shuffle_epi8(sc, kq_pick(2 * p, 2 * p)));
            sumi = _mm256_dpwssd_epi32(sumi, phi, _mm256_shuffle_epi8(sc, kq_pick(2 * p + 1, 2 * p + 1)));
        }
        float d = y[i].d * simd_f16(x[i].d), dm = y[i].d * simd_f16(x[i].dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dm), _mm256_cvtepi32_ps(kq4_min_terms(sm, y[i].bsums)), accm);
    }
    *s = simd_hsum_ps(_mm256_sub_ps(acc, accm));
}

/* q6_K x Q8_K: u = 4 low bits | 2 high bits << 4 (0..63), value u - 32,
 * int8 scale per 16: low 128-bit lane of a 32-step is group g, high g+1. */
void cpu_q6_K_dot_avx512(int n, float *s, const void *vx, const void *vy)
{
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i low = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i corr = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));   /* -32 * sum sc*bsum */
        for (int h = 0; h < 2; h++) {
            /* scales 8h..8h+7 in both lanes */
            __m256i sc = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i lo4[4] = { _mm256_and_si256(l0, low), _mm256_and_si256(l1, low),
                               _mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                               _mm256_and_si256(_mm256_srli_epi16(l1, 4), low) };
            for (int k = 0; k < 4; k++) {
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three);
                __m256i u = _mm256_or_si256(lo4[k], _mm256_slli_epi16(hb, 4));
                __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(y[i].qs + 128 * h + 32 * k)));
                sumi = _mm256_dpwssd_epi32(sumi, p, _mm256_shuffle_epi8(sc, kq_pick(2 * k, 2 * k + 1)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * simd_f16(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = simd_hsum_ps(acc);
}

#endif
