/* attn_avx2.c — AVX2/FMA/F16C twins of the attention helpers (attn_impl.h).
 *
 * The tile kernel keeps the keys transposed (hd, ATTN_BLOCK) so the 32 scores
 * of a query row are four 8-lane accumulators (one broadcast and four FMAs
 * per dimension, no horizontal sums); positions a row may not see are masked
 * by blends, never by arithmetic, so garbage cannot leak in. Values are
 * accumulated 32 dimensions at a time with one broadcast weight per position.
 * exp is a Cephes-style polynomial (range reduction by ln 2, degree-6
 * polynomial, exponent built in the integer unit): about 2 ulp.
 * Tested against the scalar references in attn.c (tests/unit/test_attn.c).
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#include "attn_impl.h"

/* e^x for 8 lanes; x clamped to [-87.3, 88] (below: ~1e-38, never 0). */
static inline __m256 attn_exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* Sum / max of the 8 lanes. */
static inline float attn_hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
static inline float attn_hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

void attn_exp_avx2(const float *x, int n, float *out)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, attn_exp8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = expf(x[i]);
}

/* The 32 scaled scores of query row q, positions outside [j0, n) masked to -inf. */
static inline void attn_scores8x4(const attn_tile *t, const float *q, int j0, int n, __m256 s[4])
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < t->hd; k++) {
        const __m256 qk = _mm256_broadcast_ss(q + k);
        const float *kr = t->kt + k * ATTN_BLOCK;
        a0 = _mm256_fmadd_ps(qk, _mm256_loadu_ps(kr), a0);
        a1 = _mm256_fmadd_ps(qk, _mm256_loadu_ps(kr + 8), a1);
        a2 = _mm256_fmadd_ps(qk, _mm256_loadu_ps(kr + 16), a2);
        a3 = _mm256_fmadd_ps(qk, _mm256_loadu_ps(kr + 24), a3);
    }
    const __m256 sc = _mm256_set1_ps(t->scale), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i nv = _mm256_set1_epi32(n), lov = _mm256_set1_epi32(j0 - 1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 acc[4] = { a0, a1, a2, a3 };
    for (int i = 0; i < 4; i++) {
        const __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * i));
        const __m256 keep = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(nv, idx),
                                                                 _mm256_cmpgt_epi32(idx, lov)));
        s[i] = _mm256_blendv_ps(ninf, _mm256_mul_ps(acc[i], sc), keep);
    }
}

/* acc row (hd) = acc * corr + sum_{j0 <= j < n} p[j] * v[j]. */
static inline void attn_accumulate(const attn_tile *t, const float *p, int j0, int n, float corr,
                                   float *ar)
{
    const int hd = t->hd;
    const __m256 c = _mm256_set1_ps(corr);
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(ar + d), c);
        __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(ar + d + 8), c);
        __m256 a2 = _mm256_mul_ps(_mm256_loadu_ps(ar + d + 16), c);
        __m256 a3 = _mm256_mul_ps(_mm256_loadu_ps(ar + d + 24), c);
        for (int j = j0; j < n; j++) {
            const __m256 pj = _mm256_broadcast_ss(p + j);
            const float *vr = t->v + j * hd + d;
            a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr), a0);
            a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 8), a1);
            a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 16), a2);
            a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 24), a3);
        }
        _mm256_storeu_ps(ar + d, a0), _mm256_storeu_ps(ar + d + 8, a1);
        _mm256_storeu_ps(ar + d + 16, a2), _mm256_storeu_ps(ar + d + 24, a3);
    }
    for (; d < hd; d += 8) {
        __m256 a = _mm256_mul_ps(_mm256_loadu_ps(ar + d), c);
        for (int j = j0; j < n; j++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(t->v + j * hd + d), a);
        _mm256_storeu_ps(ar + d, a);
    }
}

/* Scores of two query rows at once (eight independent FMA chains instead of
 * four); each row's arithmetic is exactly that of attn_scores8x4. */
static inline void attn_scores8x4x2(const attn_tile *t, const float *q0, const float *q1, int j0,
                                    int n, __m256 s0[4], __m256 s1[4])
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int k = 0; k < t->hd; k++) {
        const float *kr = t->kt + k * ATTN_BLOCK;
        const __m256 k0 = _mm256_loadu_ps(kr), k1 = _mm256_loadu_ps(kr + 8);
        const __m256 k2 = _mm256_loadu_ps(kr + 16), k3 = _mm256_loadu_ps(kr + 24);
        const __m256 x = _mm256_broadcast_ss(q0 + k), y = _mm256_broadcast_ss(q1 + k);
        a0 = _mm256_fmadd_ps(x, k0, a0), a1 = _mm256_fmadd_ps(x, k1, a1);
        a2 = _mm256_fmadd_ps(x, k2, a2), a3 = _mm256_fmadd_ps(x, k3, a3);
        b0 = _mm256_fmadd_ps(y, k0, b0), b1 = _mm256_fmadd_ps(y, k1, b1);
        b2 = _mm256_fmadd_ps(y, k2, b2), b3 = _mm256_fmadd_ps(y, k3, b3);
    }
    const __m256 sc = _mm256_set1_ps(t->scale), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i nv = _mm256_set1_epi32(n), lov = _mm256_set1_epi32(j0 - 1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 a[4] = { a0, a1, a2, a3 }, b[4] = { b0, b1, b2, b3 };
    for (int i = 0; i < 4; i++) {
        const __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * i));
        const __m256 keep = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(nv, idx),
                                                                 _mm256_cmpgt_epi32(idx, lov)));
        s0[i] = _mm256_blendv_ps(ninf, _mm256_mul_ps(a[i], sc), keep);
        s1[i] = _mm256_blendv_ps(ninf, _mm256_mul_ps(b[i], sc), keep);
    }
}

/* Softmax step of one row: new max, weights p (0 where masked), running sum;
 * returns the factor that rescales the row's old accumulator. */
static inline float attn_softmax_step(const __m256 s[4], float *m, float *l, float *p)
{
    const float mx = fmaxf(*m, attn_hmax8(_mm256_max_ps(_mm256_max_ps(s[0], s[1]),
                                                        _mm256_max_ps(s[2], s[3]))));
    const __m256 mv = _mm256_set1_ps(mx), zero = _mm256_setzero_ps();
    __m256 sum = zero;
    for (int i = 0; i < 4; i++) {
        const __m256 keep = _mm256_cmp_ps(s[i], _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ);
        const __m256 e = _mm256_blendv_ps(zero, attn_exp8(_mm256_sub_ps(s[i], mv)), keep);
        _mm256_storeu_ps(p + 8 * i, e);
        sum = _mm256_add_ps(sum, e);
    }
    const float corr = expf(*m - mx);
    *l = *l * corr + attn_hsum8(sum);
    *m = mx;
    return corr;
}

/* attn_accumulate for two rows seeing the same positions, per row the same
 * FMA sequence as attn_accumulate. */
static inline void attn_accumulate2(const attn_tile *t, const float *p0, const float *p1, int j0,
                                    int n, float c0, float c1, float *r0, float *r1)
{
    const int hd = t->hd;
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        const __m256 x0 = _mm256_set1_ps(c0), y0 = _mm256_set1_ps(c1);
        __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(r0 + d), x0);
        __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(r0 + d + 8), x0);
        __m256 a2 = _mm256_mul_ps(_mm256_loadu_ps(r0 + d + 16), x0);
        __m256 a3 = _mm256_mul_ps(_mm256_loadu_ps(r0 + d + 24), x0);
        __m256 b0 = _mm256_mul_ps(_mm256_loadu_ps(r1 + d), y0);
        __m256 b1 = _mm256_mul_ps(_mm256_loadu_ps(r1 + d + 8), y0);
        __m256 b2 = _mm256_mul_ps(_mm256_loadu_ps(r1 + d + 16), y0);
        __m256 b3 = _mm256_mul_ps(_mm256_loadu_ps(r1 + d + 24), y0);
        for (int j = j0; j < n; j++) {
            const __m256 x = _mm256_broadcast_ss(p0 + j), y = _mm256_broadcast_ss(p1 + j);
            const float *vr = t->v + j * hd + d;
            __m256 v = _mm256_loadu_ps(vr);
            a0 = _mm256_fmadd_ps(x, v, a0), b0 = _mm256_fmadd_ps(y, v, b0);
            v = _mm256_loadu_ps(vr + 8);
            a1 = _mm256_fmadd_ps(x, v, a1), b1 = _mm256_fmadd_ps(y, v, b1);
            v = _mm256_loadu_ps(vr + 16);
            a2 = _mm256_fmadd_ps(x, v, a2), b2 = _mm256_fmadd_ps(y, v, b2);
            v = _mm256_loadu_ps(vr + 24);
            a3 = _mm256_fmadd_ps(x, v, a3), b3 = _mm256_fmadd_ps(y, v, b3);
        }
        _mm256_storeu_ps(r0 + d, a0), _mm256_storeu_ps(r0 + d + 8, a1);
        _mm256_storeu_ps(r0 + d + 16, a2), _mm256_storeu_ps(r0 + d + 24, a3);
        _mm256_storeu_ps(r1 + d, b0), _mm256_storeu_ps(r1 + d + 8, b1);
        _mm256_storeu_ps(r1 + d + 16, b2), _mm256_storeu_ps(r1 + d + 24, b3);
    }
    for (int e = d; e < hd; e += 8) {   /* the last hd % 32 dimensions */
        __m256 a = _mm256_mul_ps(_mm256_loadu_ps(r0 + e), _mm256_set1_ps(c0));
        __m256 b = _mm256_mul_ps(_mm256_loadu_ps(r1 + e), _mm256_set1_ps(c1));
        for (int j = j0; j < n; j++) {
            const __m256 v = _mm256_loadu_ps(t->v + j * hd + e);
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(p0 + j), v, a);
            b = _mm256_fmadd_ps(_mm256_broadcast_ss(p1 + j), v, b);
        }
        _mm256_storeu_ps(r0 + e, a), _mm256_storeu_ps(r1 + e, b);
    }
}

/* Tile kernel (hd a multiple of 8): see attn_rows_ref for the math. Rows that
 * see the same positions (the heads of one token) go two at a time; a row's
 * numbers do not depend on whether it was paired. */
void attn_rows_avx2(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                    float *l, float *acc)
{
    float p[2][ATTN_BLOCK];
    const int hd = t->hd;
    for (int r = 0; r < nq;) {
        const int n = lim[2 * r + 1] < t->nt ? lim[2 * r + 1] : t->nt;
        const int j0 = lim[2 * r] > 0 ? lim[2 * r] : 0;
        if (n <= j0) { r++; continue; }
        __m256 s0[4], s1[4];
        if (r + 1 < nq && lim[2 * r + 2] == lim[2 * r] && lim[2 * r + 3] == lim[2 * r + 1]) {
            attn_scores8x4x2(t, q + (size_t)r * hd, q + (size_t)(r + 1) * hd, j0, n, s0, s1);
            const float c0 = attn_softmax_step(s0, &m[r], &l[r], p[0]);
            const float c1 = attn_softmax_step(s1, &m[r + 1], &l[r + 1], p[1]);
            attn_accumulate2(t, p[0], p[1], j0, n, c0, c1, acc + (size_t)r * hd, acc + (size_t)(r + 1) * hd);
            r += 2;
            continue;
        }
        attn_scores8x4(t, q + (size_t)r * hd, j0, n, s0);
        const float c0 = attn_softmax_step(s0, &m[r], &l[r], p[0]);
        attn_accumulate(t, p[0], j0, n, c0, acc + (size_t)r * hd);
        r++;
    }
}

/* out = g / (1 + e^-g) * up. */
void attn_silu_mul_avx2(const float *gate, const float *up, int n, float *out)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = attn_exp8(_mm256_sub_ps(zero, g));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)),
                                                _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void attn_f16_to_f32_avx2(const pl_f16 *src, float *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
    for (; i < n; i++) dst[i] = pl_f16_to_f32(src[i]);
}

void attn_f32_to_f16_avx2(const float *src, pl_f16 *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = pl_f32_to_f16(src[i]);
}

void attn_round_f16_avx2(const float *src, float *dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                                                  _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) dst[i] = pl_f16_to_f32(pl_f32_to_f16(src[i]));
}

/* 8x8 blocks: unpack pairs, shuffle quads, swap 128-bit halves. */
void attn_transpose_avx2(const float *src, int rows, int cols, float *dst)
{
    for (int r0 = 0; r0 < rows; r0 += 8)
        for (int c0 = 0; c0 < cols; c0 += 8) {
            __m256 x[8], t[8], u[8];
            for (int i = 0; i < 8; i++) x[i] = _mm256_loadu_ps(src + (size_t)(r0 + i) * cols + c0);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
                u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
            }
            for (int i = 0; i < 4; i++) {
                _mm256_storeu_ps(dst + (size_t)(c0 + i) * rows + r0, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
                _mm256_storeu_ps(dst + (size_t)(c0 + i + 4) * rows + r0, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
            }
        }
}
#else
typedef int attn_avx2_unused;   /* ISO C: a translation unit must not be empty */
#endif
