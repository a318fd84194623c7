/* gemv_r16_q5_avx512vbmi.c — the q5_0 decode kernel for weights in the
 * 16-row layout (PL_LAYOUT_R16, r16.c), AVX-512 VNNI plus VBMI.
 *
 * Why: llama.cpp's Q4_K_M and Q5_K_M recipes store the matrices whose width
 * is not a multiple of 256 (576 in SmolLM2) as q5_0, and in the row layout
 * its kernel was half of such a model's decode time. In R16 a q5_0 pair of
 * blocks is d[16] d[16] | qh[16] qh[16] | qs[16] qs[16] (one 4-byte qh word
 * per row: one 64-byte load holds the fifth bits of 16 rows, one per lane).
 * The value is nibble + 16 * bit - 16, so per 4-byte piece c of the quants:
 *   low nibbles and high ones (as byte & 0xf0, 16x, a second accumulator)
 *   as for q4_0 (gemv_r16_avx512.c);
 *   the fifth bits of elements 4c..4c+3 and 16+4c..: one vpmultishiftqb each
 *   picks, for byte j of every row's lane, the 8 bits whose bit 4 is qh bit
 *   4c + j (or 16 + 4c + j), and an AND keeps that bit: 16 x bit, a byte
 *   vpdpbusd takes as it is, into the 1x accumulator with the nibbles;
 *   the -16 comes back through the activation's sums (2 x q4_0's corr).
 * The activation is cpu_r16_act_prep's, shared with q4_0/q4_1/q8_0.
 */
#include <string.h>

#include "cpu_impl.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VBMI__)
#include "act_avx512.h"

#define Q5_PF 4096   /* prefetch distance in bytes, as the other R16 kernels */

static inline int32_t q5_a4(const int8_t *a)
{
    int32_t v;
    memcpy(&v, a, 4);
    return v;
}

/* vpmultishiftqb control for piece c: byte j of the low dword of a qword (row
 * 2m) starts at bit base + 4c + j - 4 of it, of the high dword (row 2m + 1)
 * 32 bits further; offsets wrap mod 64, so bit 4 of every byte is qh bit
 * base + 4c + j of its own row. */
static inline __m512i q5_ctrl(int base, int c)
{
    uint64_t v = 0;
    for (int j = 0; j < 8; j++) v |= (uint64_t)((base + 4 * c + (j & 3) - 4 + (j >> 2) * 32) & 63) << (8 * j);
    return _mm512_set1_epi64((long long)v);
}

/* One q5_0 block of 16 rows (d at dq, qh words at qh, quants at q) into acc. */
static inline __attribute__((always_inline)) __m512 r16_q5_0(const uint8_t *q, const uint8_t *qh,
                                                             const uint8_t *dq, const int8_t *a,
                                                             const r16_act_blk *ab, __m512 acc)
{
    const __m512i lo = _mm512_set1_epi8(0x0f), hi = _mm512_set1_epi8((char)0xf0), b4 = _mm512_set1_epi8(0x10);
    const __m512i H = _mm512_loadu_si512(qh);
    __m512i sl = _mm512_setzero_si512(), sh = _mm512_set1_epi32(2 * ab->corr);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_loadu_si512(q + 64 * c);
        _mm_prefetch((const char *)q + 64 * c + Q5_PF, _MM_HINT_T0);
        __m512i al = _mm512_set1_epi32(q5_a4(a + 4 * c)), ah = _mm512_set1_epi32(q5_a4(a + 16 + 4 * c));
        __m512i bl = _mm512_and_si512(_mm512_multishift_epi64_epi8(q5_ctrl(0, c), H), b4);
        __m512i bh = _mm512_and_si512(_mm512_multishift_epi64_epi8(q5_ctrl(16, c), H), b4);
        sl = _mm512_dpbusd_epi32(sl, _mm512_and_si512(v, lo), al);
        sl = _mm512_dpbusd_epi32(sl, bl, al);
        sl = _mm512_dpbusd_epi32(sl, bh, ah);
        sh = _mm512_dpbusd_epi32(sh, _mm512_and_si512(v, hi), ah);
    }
    /* 16 x the dot: 16 sl + sh, the offset 16 x -16 x sum(q) = 2 corr started in sh */
    __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(sl, 4), sh));
    __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dq));
    return _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(ab->d16)), dw, acc);
}

void cpu_q5_0_r16_gemv_avx512vbmi(int64_t cols, const void *W, int64_t nr, const void *act, float *y)
{
    const int64_t nb = cols / 32;
    const int8_t *a = act;
    const r16_act_blk *ab = (const r16_act_blk *)(a + cols);
    const uint8_t *p = W;
    for (int64_t g = 0; g < nr / 16; g++) {
        __m512 acc = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, p += 32 * 22) {   /* d d | qh qh | qs qs */
            _mm_prefetch((const char *)p + Q5_PF, _MM_HINT_T0);
            _mm_prefetch((const char *)p + 64 + Q5_PF, _MM_HINT_T0);
            _mm_prefetch((const char *)p + 128 + Q5_PF, _MM_HINT_T0);
            acc = r16_q5_0(p + 192, p + 64, p, a + 32 * b, ab + b, acc);
            acc = r16_q5_0(p + 192 + 256, p + 128, p + 32, a + 32 * b + 32, ab + b + 1, acc);
        }
        if (b < nb) acc = r16_q5_0(p + 96, p + 32, p, a + 32 * b, ab + b, acc), p += 16 * 22;   /* d | qh | qs */
        _mm512_storeu_ps(y + 16 * g, acc);
    }
}

#else
/* Built without AVX-512 VBMI: cpu_r16_gemv_kernel never picks it. */
void cpu_q5_0_r16_gemv_avx512vbmi(int64_t cols, const void *W, int64_t nr, const void *act, float *y) {}
#endif
