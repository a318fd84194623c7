/* quant_avx2.c — AVX2/FMA/F16C kernels for float types and 32-element blocks.
 *
 * Same results as the scalar references up to float summation order. Integer
 * dots use maddubs (unsigned x signed bytes -> int16 pairs) then madd to
 * int32, one float multiply-add per block with the two block scales; two
 * blocks per iteration keep two independent accumulators in flight. Signed x
 * signed moves the sign of one operand onto the other first. q5_0's "minus
 * 16" is folded in by OR-ing 0xF0 into the bytes whose fifth bit is clear,
 * which is the two's complement of nibble - 16.
 * Compiled only with -mavx2 -mfma -mf16c (Makefile); used only when
 * pl_cpu_level() says the CPU has them.
 */
#include <math.h>

#include "simd_x86.h"

#if defined(__AVX2__)

/* F32 . F32, four accumulators. */
void cpu_f32_dot_avx2(int n, float *s, const void *x, const void *y)
{
    const float *a = x, *b = y;
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
    float r = simd_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) r += a[i] * b[i];
    *s = r;
}

/* F16 . F32 with F16C widening. */
void cpu_f16_dot_avx2(int n, float *s, const void *x, const void *y)
{
    *s = cpu_dot_f16_f32_avx2(x, y, n);
}

/* BF16 . F32 (bf16 widened by a 16-bit shift). */
void cpu_bf16_dot_avx2(int n, float *s, const void *x, const void *y)
{
    const pl_bf16 *a = x;
    const float *b = y;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(simd_load_bf16(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(simd_load_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float r = simd_hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) r += pl_bf16_to_f32(a[i]) * b[i];
    *s = r;
}

/* sum a[i]*b[i], a in f16. */
float cpu_dot_f16_f32_avx2(const pl_f16 *a, const float *b, int n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + i + 8), acc1);
    }
    float r = simd_hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) r += simd_f16(a[i]) * b[i];
    return r;
}

/* y += a * x, x in f16. */
void cpu_axpy_f16_f32_avx2(float *y, const pl_f16 *x, float a, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * simd_f16(x[i]);
}

/* f16 row to floats. */
void cpu_f16_to_float_avx2(const void *src, float *dst, int64_t n)
{
    const pl_f16 *h = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) dst[i] = simd_f16(h[i]);
}

/* floats to f16 row (round to nearest even). */
void cpu_f16_from_float_avx2(const float *src, void *dst, int64_t n)
{
    pl_f16 *h = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) h[i] = pl_f32_to_f16(src[i]);
}

/* ---- 32-blocks x Q8_0 / Q8_1 ----------------------------------------- */

/* Signed weight bytes of block i for each symmetric type. */
static inline __m256i q4_0_bytes(const block_q4_0 *b)
{
    return _mm256_sub_epi8(simd_nibbles32(b->qs), _mm256_set1_epi8(8));
}
static inline __m256i q5_0_bytes(const block_q5_0 *b)
{
    __m256i hi = _mm256_andnot_si256(simd_bits32(b->qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(simd_nibbles32(b->qs), hi);
}
static inline __m256i q8_0_bytes(const block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }

/* Unsigned weight bytes of the asymmetric types. */
static inline __m256i q4_1_bytes(const block_q4_1 *b) { return simd_nibbles32(b->qs); }
static inline __m256i q5_1_bytes(const block_q5_1 *b)
{
    __m256i hi = _mm256_and_si256(simd_bits32(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(simd_nibbles32(b->qs), hi);
}

/* Symmetric type x Q8_0: sum over blocks of dx*dy*sum(qx*qy). */
#define DOT_SYM_AVX2(T)                                                                  \
    void cpu_##T##_dot_avx2(int n, float *s, const void *vx, const void *vy)             \
    {                                                                                    \
        const block_##T *x = vx;                                                         \
        const block_q8_0 *y = vy;                                                        \
        int nb = n / 32, i = 0;                                                          \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                   \
        for (; i + 1 < nb; i += 2) {                                                     \
            __m256i p0 = simd_dot_i8i8(T##_bytes(&x[i]), _mm256_loadu_si256((const __m256i *)y[i].qs));         \
            __m256i p1 = simd_dot_i8i8(T##_bytes(&x[i + 1]), _mm256_loadu_si256((const __m256i *)y[i + 1].qs)); \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(simd_f16(x[i].d) * simd_f16(y[i].d)), _mm256_cvtepi32_ps(p0), acc0); \
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(simd_f16(x[i + 1].d) * simd_f16(y[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1); \
        }                                                                                \
        for (; i < nb; i++) {                                                            \
            __m256i p0 = simd_dot_i8i8(T##_bytes(&x[i]), _mm256_loadu_si256((const __m256i *)y[i].qs));         \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(simd_f16(x[i].d) * simd_f16(y[i].d)), _mm256_cvtepi32_ps(p0), acc0); \
        }                                                                                \
        *s = simd_hsum_ps(_mm256_add_ps(acc0, acc1));                                    \
    }

DOT_SYM_AVX2(q4_0)
DOT_SYM_AVX2(q5_0)
DOT_SYM_AVX2(q8_0)

/* Asymmetric type x Q8_1: dx*dy*sum(qx*qy) + mx*sy per block. */
#define DOT_ASYM_AVX2(T)                                                                 \
    void cpu_##T##_dot_avx2(int n, float *s, const void *vx, const void *vy)             \
    {                                                                                    \
        const block_##T *x = vx;                                                         \
        const block_q8_1 *y = vy;                                                        \
        int nb = n / 32;                                                                 \
        __m256 acc = _mm256_setzero_ps();                                                \
        float summs = 0;                                                                 \
        for (int i = 0; i < nb; i++) {                                                   \
            __m256i p = simd_dot_u8i8(T##_bytes(&x[i]), _mm256_loadu_si256((const __m256i *)y[i].qs)); \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(simd_f16(x[i].d) * simd_f16(y[i].d)), _mm256_cvtepi32_ps(p), acc); \
            summs += simd_f16(x[i].m) * simd_f16(y[i].s);                                \
        }                                                                                \
        *s = simd_hsum_ps(acc) + summs;                                                  \
    }

DOT_ASYM_AVX2(q4_1)
DOT_ASYM_AVX2(q5_1)

/* ---- activation quantizers ------------------------------------------- */

/* Round 32 floats by id and pack to int8 in order; returns the int32 sums vector. */
static inline __m256i q8_pack32(const float *x, __m256 id, int8_t *out)
{
    __m256i v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
    __m256i a = _mm256_packs_epi32(v[0], v[1]), b = _mm256_packs_epi32(v[2], v[3]);
    __m256i p = _mm256_packs_epi16(a, b);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, p);
    return sum;
}

/* Largest |x| of 32 floats. */
static inline float absmax32(const float *x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
    for (int k = 1; k < 4; k++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Q8_0 activations. */
void cpu_q8_0_from_float_avx2(const float *x, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d = absmax32(x) / 127.f;
        y[i].d = pl_f32_to_f16(d);
        q8_pack32(x, _mm256_set1_ps(d ? 1.0f / d : 0.0f), y[i].qs);
    }
}

/* Q8_1 activations (s = d * sum q). */
void cpu_q8_1_from_float_avx2(const float *x, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d = absmax32(x) / 127.f;
        int sum = simd_hsum_epi32(q8_pack32(x, _mm256_set1_ps(d ? 1.0f / d : 0.0f), y[i].qs));
        y[i].d = pl_f32_to_f16(d);
        y[i].s = pl_f32_to_f16(d * (float)sum);
    }
}

/* Q8_K activations: scale from the signed extreme, sums per 16. */
void cpu_q8_K_from_float_avx2(const float *x, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 mx = _mm256_loadu_ps(x), mn = mx;
        for (int k = 8; k < QK_K; k += 8) {
            __m256 v = _mm256_loadu_ps(x + k);
            mx = _mm256_max_ps(mx, v), mn = _mm256_min_ps(mn, v);
        }
        float hi[8], lo[8], vmax = -INFINITY, vmin = INFINITY;
        _mm256_storeu_ps(hi, mx), _mm256_storeu_ps(lo, mn);
        for (int k = 0; k < 8; k++) vmax = hi[k] > vmax ? hi[k] : vmax, vmin = lo[k] < vmin ? lo[k] : vmin;
        float max = -vmin > vmax ? vmin : vmax;
        if (max == 0) { memset(&y[i], 0, sizeof y[i]); continue; }
        float iscale = -127.f / max;
        __m256 id = _mm256_set1_ps(iscale);
        for (int g = 0; g < QK_K; g += 32) {
            __m256i sums = q8_pack32(x + g, id, y[i].qs + g);
            (void)sums;
        }
        for (int g = 0; g < 16; g++) {
            __m128i b = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(y[i].qs + 16 * g)));
            __m128i c = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(y[i].qs + 16 * g + 8)));
            __m128i t = _mm_madd_epi16(_mm_add_epi16(b, c), _mm_set1_epi16(1));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
            y[i].bsums[g] = (int16_t)_mm_cvtsi128_si32(t);
        }
        y[i].d = 1 / iscale;
    }
}

#endif
