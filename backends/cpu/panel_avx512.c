/* panel_avx512.c — prefill GEMM on 16-row weight panels with AVX-512 VNNI.
 *
 * Why: in prompt processing every weight row meets hundreds of activation
 * rows, so it pays to rewrite a few weight rows once into the layout the
 * hardware likes and then sweep all activations over them. A panel is 16
 * weight rows re-laid so that one 512-bit vector holds 4 consecutive weights
 * of each of the 16 rows (dword r = row r). One vpdpbusd with the matching
 * 4 activation bytes broadcast to all lanes then advances 16 row dot
 * products at once, and the per-group float scaling is one vector multiply-
 * add per 16 rows instead of a conversion and a horizontal sum per row.
 * Results come out as 16 lanes = 16 consecutive outputs: no reductions.
 *
 * Every weight type becomes the same thing in a panel: groups of G (32, or 16
 * for q2_K/q3_K/q6_K) unsigned bytes u with a float scale and offset per
 * group and row, value = d*u + m (q4_0: m = -8d, q8_0: u = q+128, m = -128d,
 * q4_K: d = d*sc, m = -dmin*mn, ...). So one kernel serves all types:
 *   y += d*dy * sum(u*q) + m * (dy*sum(q))
 * with (q, dy) the activation group; dy*sum(q) is computed once per
 * activation group when the activations are prepared (cpu_panel_act_prep).
 *
 * Panel memory (K = cols, ng = K/G):  u8 q[ng][G/4][16][4] | f32 d[ng][16] |
 * f32 m[ng][16] | u8 scratch[16][K] (rows unpacked before the transpose).
 * Prepared activations per column: i8 q[K] | f32 dy[ng] | f32 sy[ng].
 */
#include <string.h>

#include "cpu_impl.h"
#include "simd_x86.h"

#define PN 16   /* weight rows per panel */

/* Bytes of one panel of K columns in groups of G, with its unpack scratch. */
size_t cpu_panel_bytes(int64_t K, int group)
{
    int64_t ng = K / group;
    return (size_t)(PN * K + 2 * ng * PN * 4 + PN * K + 64);
}

/* Bytes of one prepared activation row (64-byte multiple). */
size_t cpu_panel_act_bytes(int64_t K, int group)
{
    return ((size_t)K + 8 * (size_t)(K / group) + 63) & ~(size_t)63;
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)

/* Unpack one weight row into u8 values and per-group d, m (stride PN). */
typedef void (*panel_unpack_fn)(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m);

/* ---- 32-element block types ------------------------------------------- */

static void up_q4_0(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q4_0 *b = (const block_q4_0 *)row;
    for (int64_t i = 0; i < K / 32; i++) {
        _mm256_storeu_si256((__m256i *)(u + 32 * i), simd_nibbles32(b[i].qs));
        float dd = simd_f16(b[i].d);
        d[PN * i] = dd, m[PN * i] = -8 * dd;
    }
}

static void up_q4_1(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q4_1 *b = (const block_q4_1 *)row;
    for (int64_t i = 0; i < K / 32; i++) {
        _mm256_storeu_si256((__m256i *)(u + 32 * i), simd_nibbles32(b[i].qs));
        d[PN * i] = simd_f16(b[i].d), m[PN * i] = simd_f16(b[i].m);
    }
}

/* Nibbles plus the fifth bit from qh as 0x10. */
static inline __m256i panel_u5(const uint8_t *qs, const uint8_t *qh)
{
    return _mm256_or_si256(simd_nibbles32(qs), _mm256_and_si256(simd_bits32(qh), _mm256_set1_epi8(0x10)));
}

static void up_q5_0(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q5_0 *b = (const block_q5_0 *)row;
    for (int64_t i = 0; i < K / 32; i++) {
        _mm256_storeu_si256((__m256i *)(u + 32 * i), panel_u5(b[i].qs, b[i].qh));
        float dd = simd_f16(b[i].d);
        d[PN * i] = dd, m[PN * i] = -16 * dd;
    }
}

static void up_q5_1(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q5_1 *b = (const block_q5_1 *)row;
    for (int64_t i = 0; i < K / 32; i++) {
        _mm256_storeu_si256((__m256i *)(u + 32 * i), panel_u5(b[i].qs, b[i].qh));
        d[PN * i] = simd_f16(b[i].d), m[PN * i] = simd_f16(b[i].m);
    }
}

static void up_q8_0(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q8_0 *b = (const block_q8_0 *)row;
    for (int64_t i = 0; i < K / 32; i++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)b[i].qs);
        _mm256_storeu_si256((__m256i *)(u + 32 * i), _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        float dd = simd_f16(b[i].d);
        d[PN * i] = dd, m[PN * i] = -128 * dd;
    }
}

/* ---- K-quants ---------------------------------------------------------- */

/* 6-bit scale and min of group j of q4_K/q5_K. */
static inline void panel_k4_sm(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) *sc = s[j] & 63, *mn = s[j + 4] & 63;
    else *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4), *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
}

/* Scales of one q4_K/q5_K super-block into 8 groups (d, m stride PN). */
static inline void panel_k4_scales(const uint8_t *s, pl_f16 hd, pl_f16 hmin, float *d, float *m)
{
    float dd = simd_f16(hd), dm = simd_f16(hmin);
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        panel_k4_sm(s, j, &sc, &mn);
        d[PN * j] = dd * (float)sc, m[PN * j] = -dm * (float)mn;
    }
}

static void up_q4_K(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q4_K *b = (const block_q4_K *)row;
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < K / QK_K; i++, u += QK_K, d += 8 * PN, m += 8 * PN) {
        panel_k4_scales(b[i].scales, b[i].d, b[i].dmin, d, m);
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * p));
            _mm256_storeu_si256((__m256i *)(u + 64 * p), _mm256_and_si256(q, low));
            _mm256_storeu_si256((__m256i *)(u + 64 * p + 32), _mm256_and_si256(_mm256_srli_epi16(q, 4), low));
        }
    }
}

/* Bytes of q whose bit b is set -> 16, else 0. */
static inline __m256i panel_bit16(__m256i q, int b)
{
    __m256i msk = _mm256_set1_epi8((char)(1 << b));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(q, msk), msk), _mm256_set1_epi8(16));
}

static void up_q5_K(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q5_K *b = (const block_q5_K *)row;
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < K / QK_K; i++, u += QK_K, d += 8 * PN, m += 8 * PN) {
        panel_k4_scales(b[i].scales, b[i].d, b[i].dmin, d, m);
        __m256i qh = _mm256_loadu_si256((const __m256i *)b[i].qh);
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * p));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low), panel_bit16(qh, 2 * p));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), panel_bit16(qh, 2 * p + 1));
            _mm256_storeu_si256((__m256i *)(u + 64 * p), lo);
            _mm256_storeu_si256((__m256i *)(u + 64 * p + 32), hi);
        }
    }
}

/* q6_K: u = 4 low bits | 2 high bits << 4 (0..63), groups of 16, m = -32 d. */
static void up_q6_K(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q6_K *b = (const block_q6_K *)row;
    const __m256i low = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < K / QK_K; i++, u += QK_K, d += 16 * PN, m += 16 * PN) {
        float dd = simd_f16(b[i].d);
        for (int g = 0; g < 16; g++) d[PN * g] = dd * (float)b[i].scales[g], m[PN * g] = -32 * d[PN * g];
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
            __m256i lo4[4] = { _mm256_and_si256(l0, low), _mm256_and_si256(l1, low),
                               _mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                               _mm256_and_si256(_mm256_srli_epi16(l1, 4), low) };
            for (int k = 0; k < 4; k++) {
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three);
                _mm256_storeu_si256((__m256i *)(u + 128 * h + 32 * k),
                                    _mm256_or_si256(lo4[k], _mm256_slli_epi16(hb, 4)));
            }
        }
    }
}

/* q2_K and q3_K (rare in models): element e = 128h + 32j + l uses bits 2j of
 * qs[32h + l]; groups of 16. */
static void up_q2_K(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q2_K *b = (const block_q2_K *)row;
    for (int64_t i = 0; i < K / QK_K; i++, u += QK_K, d += 16 * PN, m += 16 * PN) {
        float dd = simd_f16(b[i].d), dm = simd_f16(b[i].dmin);
        for (int g = 0; g < 16; g++) d[PN * g] = dd * (b[i].scales[g] & 0xf), m[PN * g] = -dm * (b[i].scales[g] >> 4);
        for (int e = 0; e < QK_K; e++) u[e] = (b[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    }
}

static void up_q3_K(const uint8_t *row, int64_t K, uint8_t *u, float *d, float *m)
{
    const block_q3_K *b = (const block_q3_K *)row;
    for (int64_t i = 0; i < K / QK_K; i++, u += QK_K, d += 16 * PN, m += 16 * PN) {
        float dd = simd_f16(b[i].d);
        for (int g = 0; g < 16; g++) {
            int lo = g < 8 ? b[i].scales[g] & 0xf : b[i].scales[g - 8] >> 4;
            int hi = (b[i].scales[8 + g % 4] >> (2 * (g / 4))) & 3;
            d[PN * g] = dd * (float)((lo | hi << 4) - 32), m[PN * g] = -4 * d[PN * g];
        }
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            u[e] = (uint8_t)(((b[i].qs[32 * h + l] >> (2 * j)) & 3) | ((b[i].hmask[l] >> (4 * h + j)) & 1) << 2);
        }
    }
}

/* Per weight type: group size and row unpacker. */
static const struct { pl_type t; int group; panel_unpack_fn unpack; } k_panel_types[] = {
    { PL_TYPE_Q4_0, 32, up_q4_0 }, { PL_TYPE_Q4_1, 32, up_q4_1 }, { PL_TYPE_Q5_0, 32, up_q5_0 },
    { PL_TYPE_Q5_1, 32, up_q5_1 }, { PL_TYPE_Q8_0, 32, up_q8_0 }, { PL_TYPE_Q2_K, 16, up_q2_K },
    { PL_TYPE_Q3_K, 16, up_q3_K }, { PL_TYPE_Q4_K, 32, up_q4_K }, { PL_TYPE_Q5_K, 32, up_q5_K },
    { PL_TYPE_Q6_K, 16, up_q6_K },
};

/* Row of k_panel_types for t, or -1. */
static int panel_find(pl_type t)
{
    for (int i = 0; i < (int)(sizeof k_panel_types / sizeof k_panel_types[0]); i++)
        if (k_panel_types[i].t == t) return i;
    return -1;
}

/* G of t's panel form, 0 if t has none. */
int cpu_panel_group_avx512(pl_type t)
{
    int i = panel_find(t);
    return i < 0 ? 0 : k_panel_types[i].group;
}

/* ---- packing ------------------------------------------------------------- */

/* Unpack nr (<= 16) rows of W into the panel; missing rows are zero. */
void cpu_panel_pack_avx512(pl_type t, const void *W, size_t w_row, int nr, int64_t K, void *panel)
{
    int ti = panel_find(t);
    int G = k_panel_types[ti].group;
    int64_t ng = K / G;
    uint8_t *q = panel;
    float *d = (float *)(q + PN * K), *m = d + ng * PN;
    uint8_t *tmp = (uint8_t *)(m + ng * PN);
    for (int r = 0; r < nr; r++)
        k_panel_types[ti].unpack((const uint8_t *)W + r * w_row, K, tmp + r * K, d + r, m + r);
    for (int r = nr; r < PN; r++) {
        memset(tmp + r * K, 0, (size_t)K);
        for (int64_t g = 0; g < ng; g++) d[g * PN + r] = 0, m[g * PN + r] = 0;
    }
    /* transpose: dword r of chunk (g, k) = bytes 4k..4k+3 of group g of row r */
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)K));
    for (int64_t c = 0; c < K / 4; c++)
        _mm512_storeu_si512(q + 64 * c, _mm512_i32gather_epi32(idx, tmp + 4 * c, 1));
}

/* The fifth bits of elements 4c..4c+3 of each row's block as 16 x bit in
 * bytes 0..3 of its lane, from the rows' qh words (one per lane) shifted
 * right by 4c (+16 for the high elements): the 4 bits are multiplied apart to
 * bits 4, 12, 20 and 28 (copies at shifts 4, 11, 18 and 25 never overlap). */
static inline __m512i panel_q5_bits(__m512i qh, int shift)
{
    __m512i x = _mm512_and_si512(_mm512_srl_epi32(qh, _mm_cvtsi32_si128(shift)), _mm512_set1_epi32(0xf));
    return _mm512_and_si512(_mm512_mullo_epi32(x, _mm512_set1_epi32(0x02040810)), _mm512_set1_epi32(0x10101010));
}

/* 16 rows of q4_0/q4_1/q5_0/q8_0 in R16 (r16.c) into the panel: the layout is
 * already transposed in pieces of 4 bytes, so this only splits the nibbles
 * (low: pieces 0..3, high: 4..7), adds q5_0's fifth bits and widens the
 * scales (q4_1: and mins); q8_0's bytes are already q + 128. */
void cpu_panel_pack_r16_avx512(pl_type t, const void *W, int64_t K, void *panel)
{
    const int64_t nb = K / 32;
    const int Q = t == PL_TYPE_Q8_0 ? 32 : 16, D = t == PL_TYPE_Q4_1 ? 4 : 2;   /* bytes per block and row */
    const int H = t == PL_TYPE_Q5_0 ? 4 : 0;                                    /* q5_0's qh word */
    const float off = t == PL_TYPE_Q4_0 ? -8.0f : t == PL_TYPE_Q5_0 ? -16.0f : -128.0f;
    const __m512i low = _mm512_set1_epi8(0x0f);
    uint8_t *q = panel;
    float *d = (float *)(q + PN * K), *m = d + nb * PN;
    const uint8_t *p = W;
    for (int64_t b = 0; b < nb; b += 2) {
        const int nbb = b + 1 < nb ? 2 : 1;
        const uint8_t *qs = p + PN * (D + H) * nbb;
        for (int k = 0; k < nbb; k++, qs += PN * Q) {
            uint8_t *o = q + (b + k) * 32 * PN;
            const uint8_t *dp = p + PN * D * k;
            if (D == 4) {   /* q4_1: (d, m) pairs */
                __m512i dm = _mm512_loadu_si512(dp);
                _mm512_storeu_ps(d + (b + k) * PN, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm)));
                _mm512_storeu_ps(m + (b + k) * PN, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))));
            } else {
                __m512 dd = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dp));
                _mm512_storeu_ps(d + (b + k) * PN, dd);
                _mm512_storeu_ps(m + (b + k) * PN, _mm512_mul_ps(dd, _mm512_set1_ps(off)));
            }
            const __m512i qh = H ? _mm512_loadu_si512(p + PN * D * nbb + PN * H * k) : _mm512_setzero_si512();
            for (int c = 0; c < Q / 4; c++) {
                __m512i v = _mm512_loadu_si512(qs + 64 * c);
                if (Q == 32) { _mm512_storeu_si512(o + 64 * c, v); continue; }
                __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                if (H) lo = _mm512_or_si512(lo, panel_q5_bits(qh, 4 * c)), hi = _mm512_or_si512(hi, panel_q5_bits(qh, 16 + 4 * c));
                _mm512_storeu_si512(o + 64 * c, lo);
                _mm512_storeu_si512(o + 64 * (c + 4), hi);
            }
        }
        p += (size_t)nbb * PN * (D + H + Q);
    }
}

/* ---- activations ----------------------------------------------------------- */

/* Sum of 32 signed bytes. */
static inline int panel_sum32(const int8_t *q)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)q);
    return simd_hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v), _mm256_set1_epi16(1)));
}

/* One activation row of type at (Q8_0, Q8_1 or Q8_K) into panel form for group G. */
void cpu_panel_act_prep_avx512(pl_type at, int G, const void *xq, int64_t K, void *out)
{
    int8_t *q = out;
    int64_t ng = K / G;
    float *dy = (float *)(q + K), *sy = dy + ng;
    if (at == PL_TYPE_Q8_0) {
        const block_q8_0 *b = xq;
        for (int64_t i = 0; i < K / 32; i++) {
            memcpy(q + 32 * i, b[i].qs, 32);
            dy[i] = simd_f16(b[i].d), sy[i] = dy[i] * (float)panel_sum32(b[i].qs);
        }
    } else if (at == PL_TYPE_Q8_1) {
        const block_q8_1 *b = xq;
        for (int64_t i = 0; i < K / 32; i++) {
            memcpy(q + 32 * i, b[i].qs, 32);
            dy[i] = simd_f16(b[i].d), sy[i] = simd_f16(b[i].s);
        }
    } else {
        const block_q8_K *b = xq;
        int per = QK_K / G;
        for (int64_t i = 0; i < K / QK_K; i++) {
            memcpy(q + QK_K * i, b[i].qs, QK_K);
            for (int g = 0; g < per; g++) {
                int s = G == 16 ? b[i].bsums[g] : b[i].bsums[2 * g] + b[i].bsums[2 * g + 1];
                dy[i * per + g] = b[i].d, sy[i * per + g] = b[i].d * (float)s;
            }
        }
    }
}

/* ---- kernel ---------------------------------------------------------------- */

/* NC activation columns x one panel: Y[c*ldy + r] for the rows in mask.
 * G/4 vpdpbusd per group and column, two integer chains for latency. */
#define PANEL_KERNEL(G, NC)                                                                       \
static void panel_k##G##_##NC(const uint8_t *pq, const float *pd, const float *pm, int64_t ng,    \
                              const uint8_t *act, size_t act_row, int64_t K, float *Y,            \
                              int64_t ldy, __mmask16 mask)                                        \
{                                                                                                 \
    __m512 acc[NC];                                                                               \
    const int8_t *yq[NC];                                                                         \
    const float *dy[NC], *sy[NC];                                                                 \
    for (int c = 0; c < NC; c++) {                                                                \
        acc[c] = _mm512_setzero_ps();                                                             \
        yq[c] = (const int8_t *)(act + c * act_row);                                              \
        dy[c] = (const float *)(yq[c] + K), sy[c] = dy[c] + ng;                                   \
    }                                                                                             \
    for (int64_t g = 0; g < ng; g++) {                                                            \
        __m512i w[G / 4];                                                                         \
        _Pragma("GCC unroll 8") for (int k = 0; k < G / 4; k++)                                   \
            w[k] = _mm512_loadu_si512(pq + (g * (G / 4) + k) * 64);                               \
        __m512 d = _mm512_loadu_ps(pd + g * PN), m = _mm512_loadu_ps(pm + g * PN);                \
        _Pragma("GCC unroll 8") for (int c = 0; c < NC; c++) {                                    \
            const int8_t *y = yq[c] + g * G;                                                      \
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();                     \
            _Pragma("GCC unroll 8") for (int k = 0; k < G / 4; k += 2) {                          \
                int32_t a0, a1;                                                                   \
                memcpy(&a0, y + 4 * k, 4), memcpy(&a1, y + 4 * k + 4, 4);                         \
                s0 = _mm512_dpbusd_epi32(s0, w[k], _mm512_set1_epi32(a0));                        \
                s1 = _mm512_dpbusd_epi32(s1, w[k + 1], _mm512_set1_epi32(a1));                    \
            }                                                                                     \
            __m512 t = _mm512_mul_ps(d, _mm512_set1_ps(dy[c][g]));                                \
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), t, acc[c]);    \
            acc[c] = _mm512_fmadd_ps(m, _mm512_set1_ps(sy[c][g]), acc[c]);                        \
        }                                                                                         \
    }                                                                                             \
    for (int c = 0; c < NC; c++) _mm512_mask_storeu_ps(Y + c * ldy, mask, acc[c]);                \
}

PANEL_KERNEL(32, 4)
PANEL_KERNEL(32, 1)
PANEL_KERNEL(16, 4)
PANEL_KERNEL(16, 1)

/* nc activation columns (stride act_row) x one packed panel of nr rows:
 * Y[c*ldy + r], r < nr. */
void cpu_panel_run_avx512(const void *panel, int group, int64_t K, const void *act, size_t act_row, int nc,
                          float *Y, int64_t ldy, int nr)
{
    int64_t ng = K / group;
    const uint8_t *pq = panel, *a = act;
    const float *pd = (const float *)(pq + PN * K), *pm = pd + ng * PN;
    __mmask16 mask = (__mmask16)((1u << nr) - 1);
    int c = 0;
    if (group == 32) {
        for (; c + 4 <= nc; c += 4) panel_k32_4(pq, pd, pm, ng, a + c * act_row, act_row, K, Y + c * ldy, ldy, mask);
        for (; c < nc; c++) panel_k32_1(pq, pd, pm, ng, a + c * act_row, act_row, K, Y + c * ldy, ldy, mask);
    } else {
        for (; c + 4 <= nc; c += 4) panel_k16_4(pq, pd, pm, ng, a + c * act_row, act_row, K, Y + c * ldy, ldy, mask);
        for (; c < nc; c++) panel_k16_1(pq, pd, pm, ng, a + c * act_row, act_row, K, Y + c * ldy, ldy, mask);
    }
}

#else
/* Built without AVX-512: no panel path (cpu_panel_group says 0, so these never run). */
int cpu_panel_group_avx512(pl_type t) { (void)t; return 0; }
void cpu_panel_pack_avx512(pl_type t, const void *W, size_t w_row, int nr, int64_t K, void *panel) {}
void cpu_panel_pack_r16_avx512(pl_type t, const void *W, int64_t K, void *panel) {}
void cpu_panel_act_prep_avx512(pl_type at, int G, const void *xq, int64_t K, void *out) {}
void cpu_panel_run_avx512(const void *panel, int group, int64_t K, const void *act, size_t act_row, int nc,
                          float *Y, int64_t ldy, int nr) {}
#endif
