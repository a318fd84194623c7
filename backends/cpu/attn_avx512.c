/* attn_avx512.c — the AVX-512 twin of the attention tile kernel (attn_impl.h).
 *
 * Same scheme as attn_avx2.c at twice the width: a query row's 32 scores are
 * two 16-lane accumulators, its value sum four per 64 dimensions. Rows that
 * see the same positions (the query heads of one token sharing a KV head) go
 * up to four at a time, so one load of a key or value vector feeds up to four
 * FMA chains; a row's arithmetic is the same whatever its company, so a
 * prefill and a token-by-token decode give the same bits. Masks are __mmask16,
 * never arithmetic. Tested against attn_rows_ref (tests/unit/test_attn.c).
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#include "attn_impl.h"

/* e^x for 16 lanes (same polynomial as attn_exp8), x clamped to [-87.3, 88]. */
static inline __m512 attn_exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.0f));
    const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* Lanes [j0, n) of the 32 positions, as two 16-lane masks. */
static inline void attn_masks(int j0, int n, __mmask16 k[2])
{
    const uint32_t hi = n >= 32 ? 0xffffffffu : (1u << n) - 1, lo = j0 <= 0 ? 0 : (1u << j0) - 1;
    const uint32_t m = hi & ~lo;
    k[0] = (__mmask16)(m & 0xffff), k[1] = (__mmask16)(m >> 16);
}

/* Softmax step of one row from its two masked score vectors; p gets the
 * weights (0 where masked); returns the factor for the old accumulator. */
static inline float attn_step16(__m512 s0, __m512 s1, const __mmask16 k[2], float *m, float *l,
                                float *p)
{
    const float mx = fmaxf(*m, _mm512_reduce_max_ps(_mm512_max_ps(s0, s1)));
    const __m512 mv = _mm512_set1_ps(mx);
    const __m512 e0 = _mm512_maskz_mov_ps(k[0], attn_exp16(_mm512_sub_ps(s0, mv)));
    const __m512 e1 = _mm512_maskz_mov_ps(k[1], attn_exp16(_mm512_sub_ps(s1, mv)));
    _mm512_storeu_ps(p, e0), _mm512_storeu_ps(p + 16, e1);
    const float corr = expf(*m - mx);
    *l = *l * corr + _mm512_reduce_add_ps(_mm512_add_ps(e0, e1));
    *m = mx;
    return corr;
}

/* R rows (1..4) that see the same positions [j0, n): scores, softmax, values. */
#define ATTN_ROWS_R(R)                                                                       \
static void attn_rows##R(const attn_tile *t, const float *q, int j0, int n, float *m, float *l, \
                         float *acc)                                                         \
{                                                                                            \
    const int hd = t->hd;                                                                    \
    __m512 s0[R], s1[R];                                                                     \
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm512_setzero_ps(); \
    for (int k = 0; k < hd; k++) {                                                           \
        const __m512 k0 = _mm512_loadu_ps(t->kt + k * ATTN_BLOCK);                           \
        const __m512 k1 = _mm512_loadu_ps(t->kt + k * ATTN_BLOCK + 16);                      \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                               \
            const __m512 x = _mm512_set1_ps(q[r * hd + k]);                                 \
            s0[r] = _mm512_fmadd_ps(x, k0, s0[r]), s1[r] = _mm512_fmadd_ps(x, k1, s1[r]);    \
        }                                                                                    \
    }                                                                                        \
    __mmask16 mk[2];                                                                         \
    attn_masks(j0, n, mk);                                                                   \
    const __m512 sc = _mm512_set1_ps(t->scale), ninf = _mm512_set1_ps(-INFINITY);            \
    float p[R][ATTN_BLOCK], corr[R];                                                         \
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                     \
        corr[r] = attn_step16(_mm512_mask_mul_ps(ninf, mk[0], s0[r], sc),                    \
                              _mm512_mask_mul_ps(ninf, mk[1], s1[r], sc), mk, &m[r], &l[r], p[r]); \
    int d = 0;                                                                               \
    for (; d + 64 <= hd; d += 64) {                                                          \
        __m512 a0[R], a1[R], a2[R], a3[R];                                                   \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                               \
            const __m512 c = _mm512_set1_ps(corr[r]);                                        \
            const float *ar = acc + r * hd + d;                                              \
            a0[r] = _mm512_mul_ps(_mm512_loadu_ps(ar), c);                                   \
            a1[r] = _mm512_mul_ps(_mm512_loadu_ps(ar + 16), c);                              \
            a2[r] = _mm512_mul_ps(_mm512_loadu_ps(ar + 32), c);                              \
            a3[r] = _mm512_mul_ps(_mm512_loadu_ps(ar + 48), c);                              \
        }                                                                                    \
        for (int j = j0; j < n; j++) {                                                       \
            const float *vr = t->v + j * hd + d;                                             \
            const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);           \
            const __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);      \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                           \
                const __m512 x = _mm512_set1_ps(p[r][j]);                                    \
                a0[r] = _mm512_fmadd_ps(x, v0, a0[r]), a1[r] = _mm512_fmadd_ps(x, v1, a1[r]); \
                a2[r] = _mm512_fmadd_ps(x, v2, a2[r]), a3[r] = _mm512_fmadd_ps(x, v3, a3[r]); \
            }                                                                                \
        }                                                                                    \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                               \
            float *ar = acc + r * hd + d;                                                    \
            _mm512_storeu_ps(ar, a0[r]), _mm512_storeu_ps(ar + 16, a1[r]);                   \
            _mm512_storeu_ps(ar + 32, a2[r]), _mm512_storeu_ps(ar + 48, a3[r]);              \
        }                                                                                    \
    }                                                                                        \
    for (; d < hd; d += 16) {   /* the last hd % 64 dimensions */                            \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                               \
            __m512 a = _mm512_mul_ps(_mm512_loadu_ps(acc + r * hd + d), _mm512_set1_ps(corr[r])); \
            for (int j = j0; j < n; j++)                                                     \
                a = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), _mm512_loadu_ps(t->v + j * hd + d), a); \
            _mm512_storeu_ps(acc + r * hd + d, a);                                           \
        }                                                                                    \
    }                                                                                        \
}
ATTN_ROWS_R(1)
ATTN_ROWS_R(2)
ATTN_ROWS_R(3)
ATTN_ROWS_R(4)

typedef void (*attn_rows_r_fn)(const attn_tile *, const float *, int, int, float *, float *, float *);

/* Tile kernel (hd a multiple of 16): runs of up to four rows with equal
 * position ranges go together. See attn_rows_ref for the math. */
void attn_rows_avx512(const attn_tile *t, int nq, const float *q, const int *lim, float *m,
                      float *l, float *acc)
{
    static const attn_rows_r_fn by_r[5] = { NULL, attn_rows1, attn_rows2, attn_rows3, attn_rows4 };
    const int hd = t->hd;
    for (int r = 0; r < nq;) {
        const int n = lim[2 * r + 1] < t->nt ? lim[2 * r + 1] : t->nt;
        const int j0 = lim[2 * r] > 0 ? lim[2 * r] : 0;
        if (n <= j0) { r++; continue; }
        int run = 1;
        while (run < 4 && r + run < nq && lim[2 * (r + run)] == lim[2 * r] &&
               lim[2 * (r + run) + 1] == lim[2 * r + 1])
            run++;
        by_r[run](t, q + (size_t)r * hd, j0, n, m + r, l + r, acc + (size_t)r * hd);
        r += run;
    }
}
#else
typedef int attn_avx512_unused;   /* ISO C: a translation unit must not be empty */
#endif
