/* gemv_avx512.c — decode (one activation row) kernels for the 32-element
 * block types: q4_0, q4_1, q5_0, q5_1, q8_0, with AVX-512 VNNI + VBMI + BITALG.
 *
 * Why a separate path: generating a token reads every weight once, so the
 * matrix-vector product must keep up with memory (~15-20 GB/s per core here),
 * which the 256-bit one-block-at-a-time dots do not for the 4/5-bit types. The
 * costly part of a block dot is not the multiply (one vpdpbusd per 64 bytes)
 * but the per-block work around it: unpacking nibbles and turning the block's
 * f16 scale into a vector lane. Here both are done for FOUR blocks at once:
 *   - two 64-byte loads cover four consecutive blocks (72..96 bytes; q8_0
 *     136 bytes, four loads); one vpermt2b gathers their 4 x 16 packed bytes
 *     into the four 128-bit lanes (block b in lane b), a second one gathers the
 *     four f16 scales (and mins) into the word order vcvtph2ps needs, and for
 *     q5 a third gathers the high-bit words, expanded to 0x10 bytes by
 *     vpshufbitqmb + a masked add;
 *   - low nibbles are elements 0..15 of a block and high nibbles 16..31, so
 *     the activation is laid out to match (lane b of Y0: y_b[0..15], of Y1:
 *     y_b[16..31]) and two vpdpbusd finish the integer dots of 4 blocks;
 *   - weights go in as unsigned bytes (nibbles, q8_0 XOR 0x80); the offset
 *     (8, 16, 128) comes back through the activation's byte sums, which start
 *     the accumulator: sum (u - k) y = sum u y - k sum y.
 * The activation is quantized ONCE per call (as Q8_0/Q8_1 would be, same
 * rounding and f16 scales, so results equal the reference up to float order)
 * into groups of 4 blocks: Y0 | Y1 | -sums per int32 lane | dy per lane |
 * dy*sum(q)/4 per lane (the q4_1/q5_1 min term). Four weight rows are done at
 * once so each activation group is loaded once per four rows, and the next
 * weight bytes of every row are prefetched GV_PF bytes ahead (past a row's end
 * the prefetch moves on to the row the next four-row step will read): without
 * it a core streams ~7 GB/s of q4_0 cold, with it ~13 (bench-matmul, 1 thread).
 * A partial last group (blocks % 4) is read with masked loads, never past the
 * row (the last row may end at the end of a mapping).
 */
#include "simd_x86.h"
#include "act_avx512.h"

#if defined(__AVX2__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
#include <cpuid.h>
#include <pthread.h>
#include <stdatomic.h>

#define GV_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx512bitalg,avx2,fma,f16c")))
#define GV_INLINE static inline __attribute__((always_inline)) GV_TARGET

#ifndef GV_PF
#define GV_PF 2048          /* prefetch distance in bytes of each weight row */
#endif
#ifndef GV_HINT
#define GV_HINT _MM_HINT_T0 /* prefetch into L1 */
#endif
#define GV_GROUP 320        /* prepared activation bytes per 4 blocks */

enum { GV_Q4_0, GV_Q4_1, GV_Q5_0, GV_Q5_1, GV_Q8_0, GV_NT };

/* Block bytes, offsets of qh and qs, whether the type has a min (m). */
static const struct { int S, qh, qs, asym; } gv_lay[GV_NT] = {
    [GV_Q4_0] = { 18, 0, 2, 0 }, [GV_Q4_1] = { 20, 0, 4, 1 }, [GV_Q5_0] = { 22, 2, 6, 0 },
    [GV_Q5_1] = { 24, 4, 8, 1 }, [GV_Q8_0] = { 34, 0, 2, 0 },
};
#define GV_S(T) ((T) == GV_Q4_0 ? 18 : (T) == GV_Q4_1 ? 20 : (T) == GV_Q5_0 ? 22 : (T) == GV_Q5_1 ? 24 : 34)
#define GV_SHIFT(T) ((T) == GV_Q4_0 ? 3 : (T) == GV_Q5_0 ? 4 : (T) == GV_Q8_0 ? 7 : 0)   /* log2 offset */
#define GV_ASYM(T) ((T) == GV_Q4_1 || (T) == GV_Q5_1)
#define GV_Q5(T) ((T) == GV_Q5_0 || (T) == GV_Q5_1)

/* vpermt2b indices per type: packed bytes (v0; q8_0 also v1 from the windows
 * 8 bytes on), scale words (d; then m), high-bit dwords (qh); and the bit
 * indices of elements 0..15 / 16..31 for vpshufbitqmb. */
typedef struct gv_tabs { uint8_t v0[64], v1[64], d[64], qh[64]; } gv_tabs;
static _Alignas(64) gv_tabs gv_tab[GV_NT];
static _Alignas(64) uint8_t gv_bits[2][64];
static pthread_once_t gv_once = PTHREAD_ONCE_INIT;

/* Fill the index tables (once). */
static void gv_tabs_init(void)
{
    for (int t = 0; t < GV_NT; t++) {
        int S = gv_lay[t].S;
        gv_tabs *tb = &gv_tab[t];
        for (int i = 0; i < 64; i++) {
            int b = i / 16, j = i % 16, w = (i / 2) % 16, half = i / 32, k = i % 2;
            tb->v0[i] = (uint8_t)(S * b + gv_lay[t].qs + j);
            tb->v1[i] = (uint8_t)(S * b + gv_lay[t].qs + 16 + j - 8);   /* q8_0: windows at +8 */
            tb->d[i] = (uint8_t)(S * (w / 4) + 2 * (half && gv_lay[t].asym) + k);
            tb->qh[i] = (uint8_t)(S * b + gv_lay[t].qh + i % 4);
        }
    }
    for (int i = 0; i < 64; i++) gv_bits[0][i] = (uint8_t)(i % 16), gv_bits[1][i] = (uint8_t)(16 + i % 16);
}

/* True when this CPU has the extensions beyond the AVX-512 level (VBMI, BITALG). */
bool cpu_gemv_avx512_supported(void)
{
    static atomic_int ok = -1;
    int v = atomic_load(&ok);
    if (v < 0) {
        unsigned a, b, c = 0, d;
        if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 0, a, b, c, d);
        v = (c & (1u << 1)) && (c & (1u << 12));
        if (v) pthread_once(&gv_once, gv_tabs_init);
        atomic_store(&ok, v);
    }
    return v;
}

/* Prepared activation bytes for cols columns. */
size_t cpu_gemv_act_bytes(int64_t cols) { return (size_t)((cols / 32 + 3) / 4) * GV_GROUP; }

/* Prepare x (cols floats) for the decode kernels, into act (64-byte aligned). */
GV_TARGET void cpu_gemv_act_prep_avx512(const float *x, int64_t cols, void *act)
{
    int64_t nb = cols / 32, ng = (nb + 3) / 4;
    uint8_t *a = act;
    enum { rne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };   /* a constant expression, as clang requires */
    const __m512i quad = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int64_t g = 0; g < ng; g++, a += GV_GROUP) {
        float d[4] = { 0 };
        int sum[4] = { 0 };
        for (int b = 0; b < 4; b++) {
            int64_t k = 4 * g + b;
            if (k < nb) sum[b] = act_q8_block(x + 32 * k, (int8_t *)a + 16 * b, (int8_t *)a + 64 + 16 * b, &d[b]);
            else memset(a + 16 * b, 0, 16), memset(a + 64 + 16 * b, 0, 16);
        }
        /* the scales as Q8_0/Q8_1 store them (f16, round to nearest even), each
         * spread over its block's four int32 lanes; the F16C round trip is the
         * one pl_f32_to_f16 does, four at once */
        __m128 dv = _mm_loadu_ps(d);
        __m128 dr = _mm_cvtph_ps(_mm_cvtps_ph(dv, rne));
        __m128 sr = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtps_ph(_mm_mul_ps(dv, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)sum))), rne)),
                               _mm_set1_ps(0.25f));
        _mm512_store_ps(a + 192, _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(dr)));
        _mm512_store_ps(a + 256, _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(sr)));
        const __m512i one = _mm512_set1_epi8(1);
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), one, _mm512_load_si512(a));
        s = _mm512_dpbusd_epi32(s, one, _mm512_load_si512(a + 64));
        _mm512_store_si512(a + 128, _mm512_sub_epi32(_mm512_setzero_si512(), s));
    }
}

/* Byte mask of the bytes [off, off+64) of a group that lie below valid. */
GV_INLINE __mmask64 gv_mask(int valid, int off)
{
    int n = valid - off;
    return n >= 64 ? ~(__mmask64)0 : n <= 0 ? 0 : ((__mmask64)1 << n) - 1;
}

/* One 4-block group of one weight row at p (valid bytes of it: valid). */
GV_INLINE void gv_group(const int T, const uint8_t *p, int valid, const gv_tabs *tb, __m512i y0, __m512i y1,
                        __m512i corr, __m512 dy, __m512 sy, __m512 *acc, __m512 *accm)
{
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i A = _mm512_maskz_loadu_epi8(gv_mask(valid, 0), p);
    __m512i B = _mm512_maskz_loadu_epi8(gv_mask(valid, 64), p + 64);
    __m512i w0, w1;
    if (T == GV_Q8_0) {
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        __m512i A2 = _mm512_maskz_loadu_epi8(gv_mask(valid, 8), p + 8);
        __m512i B2 = _mm512_maskz_loadu_epi8(gv_mask(valid, 72), p + 72);
        w0 = _mm512_xor_si512(_mm512_permutex2var_epi8(A, _mm512_load_si512(tb->v0), B), flip);
        w1 = _mm512_xor_si512(_mm512_permutex2var_epi8(A2, _mm512_load_si512(tb->v1), B2), flip);
    } else {
        __m512i v = _mm512_permutex2var_epi8(A, _mm512_load_si512(tb->v0), B);
        w0 = _mm512_and_si512(v, low);
        w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        if (GV_Q5(T)) {
            const __m512i c16 = _mm512_set1_epi8(16);
            __m512i qh = _mm512_permutex2var_epi8(A, _mm512_load_si512(tb->qh), B);
            w0 = _mm512_mask_add_epi8(w0, _mm512_bitshuffle_epi64_mask(qh, _mm512_load_si512(gv_bits[0])), w0, c16);
            w1 = _mm512_mask_add_epi8(w1, _mm512_bitshuffle_epi64_mask(qh, _mm512_load_si512(gv_bits[1])), w1, c16);
        }
    }
    __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(corr, w0, y0), w1, y1);
    __m512i dm = _mm512_permutex2var_epi8(A, _mm512_load_si512(tb->d), B);
    __m512 dx = _mm512_cvtph_ps(_mm512_castsi512_si256(dm));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, dy), *acc);
    if (GV_ASYM(T)) *accm = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(dm, 1)), sy, *accm);
}

/* Group g of R consecutive weight rows (valid: bytes of the group in a row). */
GV_INLINE void gv_step(const int T, const int R, int64_t g, int valid, const uint8_t *w, size_t w_row,
                       const uint8_t *act, const gv_tabs *tb, __m512 *acc, __m512 *accm)
{
    const int gb = 4 * GV_S(T);
    const uint8_t *a = act + g * GV_GROUP;
    __m512i y0 = _mm512_load_si512(a), y1 = _mm512_load_si512(a + 64);
    __m512i corr = GV_ASYM(T) ? _mm512_setzero_si512() : _mm512_slli_epi32(_mm512_load_si512(a + 128), GV_SHIFT(T));
    __m512 dy = _mm512_load_ps(a + 192), sy = GV_ASYM(T) ? _mm512_load_ps(a + 256) : dy;
    size_t off = (size_t)g * gb, pf = off + GV_PF;
    if (pf >= w_row) pf += (size_t)(R - 1) * w_row;   /* the next R-row step's rows */
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *p = w + r * w_row;
        _mm_prefetch((const char *)p + pf, GV_HINT);
        _mm_prefetch((const char *)p + pf + 64, GV_HINT);
        if (T == GV_Q8_0) _mm_prefetch((const char *)p + pf + 128, GV_HINT);
        gv_group(T, p + off, valid, tb, y0, y1, corr, dy, sy, &acc[r], &accm[r]);
    }
}

/* y[0..R) = R consecutive weight rows . the prepared activation. */
GV_INLINE void gv_rows(const int T, const int R, int64_t nb, const uint8_t *w, size_t w_row, const uint8_t *act,
                       float *y, const gv_tabs *tb)
{
    __m512 acc[4], accm[4];
    for (int r = 0; r < 4; r++) acc[r] = accm[r] = _mm512_setzero_ps();
    int64_t g = 0;
    for (; g < nb / 4; g++) gv_step(T, R, g, 4 * GV_S(T), w, w_row, act, tb, acc, accm);
    if (nb % 4) gv_step(T, R, g, (int)(nb % 4) * GV_S(T), w, w_row, act, tb, acc, accm);
    for (int r = 0; r < R; r++)
        y[r] = _mm512_reduce_add_ps(GV_ASYM(T) ? _mm512_add_ps(acc[r], accm[r]) : acc[r]);
}

/* The public kernels: nr rows, four at a time. */
#define GV_KERNEL(T, NAME)                                                                         \
    GV_TARGET void cpu_##NAME##_gemv_avx512(int64_t cols, const void *W, size_t w_row, int64_t nr, \
                                            const void *act, float *y)                           \
    {                                                                                            \
        const uint8_t *w = W;                                                                    \
        int64_t r = 0, nb = cols / 32;                                                           \
        for (; r + 4 <= nr; r += 4) gv_rows(T, 4, nb, w + r * w_row, w_row, act, y + r, &gv_tab[T]); \
        for (; r < nr; r++) gv_rows(T, 1, nb, w + r * w_row, w_row, act, y + r, &gv_tab[T]);      \
    }

GV_KERNEL(GV_Q4_0, q4_0)
GV_KERNEL(GV_Q4_1, q4_1)
GV_KERNEL(GV_Q5_0, q5_0)
GV_KERNEL(GV_Q5_1, q5_1)
GV_KERNEL(GV_Q8_0, q8_0)

#endif
