/* gemv_k_avx512.c — decode (one activation row) kernels for q4_K and q6_K
 * (the K-quants of Q4_K_M models) against a Q8_K activation, 512-bit.
 *
 * The 256-bit dots (quant_k_avx512.c) take 32 elements per step and one
 * row at a time. Here a step is 64 elements of FOUR rows:
 *   - q4_K: a 64-byte load holds two 32-byte nibble chunks; its low nibbles are
 *     elements [0..31] and [64..95] of the 128 it covers, its high nibbles
 *     [32..63] and [96..127], so the activation is read as two 32-byte halves;
 *   - q6_K: a 64-byte load of ql holds both 32-element halves of a 64-element
 *     step, the 32 qh bytes are broadcast to both halves and shifted by a
 *     different count per half (vpsllvw / vpsrlvw), and one vpternlogd merges
 *     the 4 low and 2 high bits; the activation is read straight (64 bytes);
 *   - maddubs (u8 weight x i8 activation -> int16 pairs, exact since u <= 63)
 *     then vpdpwssd multiplies by the 16-element group scales (one vpermw
 *     spreads them) and accumulates in int32, one float FMA per super-block;
 *   - minimum / offset terms use the activation's bsums once per super-block.
 * Activation loads are shared by the four rows, and every row's bytes are
 * prefetched GK_PF bytes ahead (the dots have no prefetch; cold decode was
 * latency-bound without it). Layouts as in quant_ref_k.c.
 */
#include "simd_x86.h"

#if defined(__AVX2__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

#define GK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define GK_INLINE static inline __attribute__((always_inline)) GK_TARGET

#ifndef GK_PF
#define GK_PF 2048          /* prefetch distance in bytes of each weight row */
#endif

/* int16 lane j of the result = s16[first + j / 8] (four groups of 16 elements). */
GK_INLINE __m512i gk_spread4(__m512i s16, int first)
{
    static const int16_t base[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                      2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
    __m512i idx = _mm512_add_epi16(_mm512_loadu_si512(base), _mm512_set1_epi16((short)first));
    return _mm512_permutexvar_epi16(idx, s16);
}

/* int16 lanes 0..15 of the result = s16[a], lanes 16..31 = s16[b]. */
GK_INLINE __m512i gk_pick2(__m512i s16, int a, int b)
{
    __m512i idx = _mm512_mask_blend_epi16(0xffff0000u, _mm512_set1_epi16((short)a), _mm512_set1_epi16((short)b));
    return _mm512_permutexvar_epi16(idx, s16);
}

/* Prefetch the lines of R rows GK_PF bytes past offset off (past a row's end:
 * the rows the next R-row step reads). */
GK_INLINE void gk_prefetch(const uint8_t *w, size_t w_row, int R, size_t off, size_t bytes)
{
    size_t pf = off + GK_PF;
    if (pf >= w_row) pf += (size_t)(R - 1) * w_row;
    for (int r = 0; r < R; r++)
        for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)w + r * w_row + pf + o, _MM_HINT_T0);
}

/* q4_K/q5_K 6-bit scales (bytes 0..7) and mins (bytes 8..15) of a super-block. */
GK_INLINE __m128i gk_q4_scales(const uint8_t *s)
{
    uint32_t w[3], o[4];
    memcpy(w, s, 12);
    o[0] = w[0] & 0x3f3f3f3fu;
    o[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
    o[2] = w[1] & 0x3f3f3f3fu;
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
    return _mm_loadu_si128((const __m128i *)o);
}

/* One q4_K super-block of one row: sumi (int32 lanes) and the min term. */
GK_INLINE void gk_q4_block(const block_q4_K *x, const block_q8_K *y, __m512i ylo[2], __m512i yhi[2],
                           __m256i bsp, __m512 *acc, __m256 *accm)
{
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m128i sm = gk_q4_scales(x->scales);
    __m512i sc = _mm512_broadcast_i64x4(_mm256_cvtepu8_epi16(sm));   /* sc0..7, m0..7 */
    __m512i sumi = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_loadu_si512(x->qs + 64 * h);
        __m512i lo = _mm512_and_si512(q, low), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
        /* lo: chunks p = 2h, 2h+1 low nibbles -> scales 4h, 4h+2; hi -> 4h+1, 4h+3 */
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(lo, ylo[h]), gk_pick2(sc, 4 * h, 4 * h + 2));
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(hi, yhi[h]), gk_pick2(sc, 4 * h + 1, 4 * h + 3));
    }
    float d = y->d * simd_f16(x->d), dm = y->d * simd_f16(x->dmin);
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d), *acc);
    __m256i mins = _mm256_cvtepu16_epi32(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)));
    *accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(mins, bsp)), _mm256_set1_ps(dm), *accm);
}

/* y[0..R) = R q4_K rows . a Q8_K activation row. */
GK_INLINE void gk_q4_rows(const int R, int nb, const uint8_t *w, size_t w_row, const block_q8_K *y, float *out)
{
    __m512 acc[4];
    __m256 accm[4];
    for (int r = 0; r < 4; r++) acc[r] = _mm512_setzero_ps(), accm[r] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m512i ylo[2], yhi[2];
        for (int h = 0; h < 2; h++) {
            const int8_t *q = y[i].qs + 128 * h;
            ylo[h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q)),
                                        _mm256_loadu_si256((const __m256i *)(q + 64)), 1);
            yhi[h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(q + 32))),
                                        _mm256_loadu_si256((const __m256i *)(q + 96)), 1);
        }
        __m256i bsp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), _mm256_set1_epi16(1));
        gk_prefetch(w, w_row, R, (size_t)i * sizeof(block_q4_K), sizeof(block_q4_K));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            gk_q4_block((const block_q4_K *)(w + r * w_row) + i, &y[i], ylo, yhi, bsp, &acc[r], &accm[r]);
    }
    for (int r = 0; r < R; r++) {
        __m256 m = accm[r];
        out[r] = _mm512_reduce_add_ps(acc[r]) - simd_hsum_ps(m);
    }
}

/* One q6_K super-block of one row. */
GK_INLINE void gk_q6_block(const block_q6_K *x, const block_q8_K *y, __m512 *acc)
{
    const __m512i m3f = _mm512_set1_epi8(0x3f);
    const __m512i c01 = _mm512_set_epi64(2 * 0x0001000100010001LL, 2 * 0x0001000100010001LL, 2 * 0x0001000100010001LL,
                                         2 * 0x0001000100010001LL, 4 * 0x0001000100010001LL, 4 * 0x0001000100010001LL,
                                         4 * 0x0001000100010001LL, 4 * 0x0001000100010001LL);   /* << 4, << 2 */
    const __m512i c23 = _mm512_set_epi64(2 * 0x0001000100010001LL, 2 * 0x0001000100010001LL, 2 * 0x0001000100010001LL,
                                         2 * 0x0001000100010001LL, 0, 0, 0, 0);                 /* >> 0, >> 2 */
    __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)y->bsums)), 5);
    __m512i sumi = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
    __m512i s = _mm512_castsi256_si512(s16);
    for (int h = 0; h < 2; h++) {
        __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
        /* low 4 bits from l (select mask 0x0f), bits 4..5 from the shifted qh */
        __m512i u01 = _mm512_and_si512(_mm512_ternarylogic_epi32(l, _mm512_sllv_epi16(qh, c01), _mm512_set1_epi8(0x0f), 0xE4), m3f);
        __m512i u23 = _mm512_and_si512(_mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), _mm512_srlv_epi16(qh, c23),
                                                                 _mm512_set1_epi8(0x0f), 0xE4), m3f);
        __m512i y01 = _mm512_loadu_si512(y->qs + 128 * h), y23 = _mm512_loadu_si512(y->qs + 128 * h + 64);
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(u01, y01), gk_spread4(s, 8 * h));
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(u23, y23), gk_spread4(s, 8 * h + 4));
    }
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(y->d * simd_f16(x->d)), *acc);
}

/* y[0..R) = R q6_K rows . a Q8_K activation row. */
GK_INLINE void gk_q6_rows(const int R, int nb, const uint8_t *w, size_t w_row, const block_q8_K *y, float *out)
{
    __m512 acc[4];
    for (int r = 0; r < 4; r++) acc[r] = _mm512_setzero_ps();
    for (int i = 0; i < nb; i++) {
        gk_prefetch(w, w_row, R, (size_t)i * sizeof(block_q6_K), sizeof(block_q6_K));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) gk_q6_block((const block_q6_K *)(w + r * w_row) + i, &y[i], &acc[r]);
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

/* The public kernels (cpu_gemv_fn): act is the Q8_K activation row. */
#define GK_KERNEL(NAME, ROWS)                                                                         \
    GK_TARGET void cpu_##NAME##_gemv_avx512(int64_t cols, const void *W, size_t w_row, int64_t nr,    \
                                            const void *act, float *y)                              \
    {                                                                                               \
        const uint8_t *w = W;                                                                       \
        int64_t r = 0;                                                                              \
        int nb = (int)(cols / QK_K);                                                                \
        for (; r + 4 <= nr; r += 4) ROWS(4, nb, w + r * w_row, w_row, act, y + r);                  \
        for (; r < nr; r++) ROWS(1, nb, w + r * w_row, w_row, act, y + r);                          \
    }

GK_KERNEL(q4_K, gk_q4_rows)
GK_KERNEL(q6_K, gk_q6_rows)

#endif
