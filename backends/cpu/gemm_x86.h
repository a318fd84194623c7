/* gemm_x86.h — 4-row kernels for the 32-element block types, written once and
 * compiled twice: by gemm_avx2.c (maddubs + madd) and by gemm_avx512.c
 * (AVX-512 VNNI vpdpbusd on 256-bit vectors). The includer defines
 * GEMM_SUFFIX and GEMM_DOT(acc, u8, i8) (acc + 4-byte dot sums, int32 lanes).
 *
 * Why 4 rows at once: in a matvec every weight row meets the same activation
 * row, so loading an activation block, converting its scale and computing its
 * correction term once per 4 weight rows removes half the work per block.
 * Weights are always fed as UNSIGNED bytes (nibbles, or q8_0 XOR 0x80) and the
 * offset is taken back with the activation block's byte sums:
 *   sum (u - k) * y = sum u*y - k * sum y,
 * so no per-row sign juggling is needed. The _1 types add m * s (Q8_1's s is
 * d*sum(qy)) from one f16 pair conversion of [d, m] x [d, s].
 */
#include <stdint.h>

#ifndef GEMM_PREFETCH
#define GEMM_PREFETCH 1024   /* bytes ahead in each weight row */
#endif

/* The r/c loops must be unrolled so the accumulators live in registers. */
#define GEMM_UNROLL _Pragma("GCC unroll 8")

#define GEMM_CAT2(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT2(a, b)

/* Sums of each 4 activation bytes (the correction base), as 8 int32 lanes. */
static inline __m256i gemm_y_sums(__m256i qy)
{
    return GEMM_DOT(_mm256_setzero_si256(), _mm256_set1_epi8(1), qy);
}

/* Unsigned weight bytes for each type (element order as in the y block). */
static inline __m256i gemm_u_q4_0(const void *b) { return simd_nibbles32(((const block_q4_0 *)b)->qs); }
static inline __m256i gemm_u_q4_1(const void *b) { return simd_nibbles32(((const block_q4_1 *)b)->qs); }
static inline __m256i gemm_u_q5_0(const void *b)
{
    const block_q5_0 *x = b;
    return _mm256_or_si256(simd_nibbles32(x->qs), _mm256_and_si256(simd_bits32(x->qh), _mm256_set1_epi8(0x10)));
}
static inline __m256i gemm_u_q5_1(const void *b)
{
    const block_q5_1 *x = b;
    return _mm256_or_si256(simd_nibbles32(x->qs), _mm256_and_si256(simd_bits32(x->qh), _mm256_set1_epi8(0x10)));
}
static inline __m256i gemm_u_q8_0(const void *b)
{
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)((const block_q8_0 *)b)->qs),
                            _mm256_set1_epi8((char)0x80));
}

/* Symmetric types x Q8_0: s[c*lds + r] for NR rows (stride bx bytes) x NC
 * activation rows (stride by bytes). SHIFT: log2 of the offset (8 -> 3,
 * 16 -> 4, 128 -> 7); the correction starts the accumulator, so it is free. */
#define GEMM_SYM(T, SHIFT, NR, NC, NAME)                                                     \
static void NAME(int n, float *s, int64_t lds, const uint8_t *x, int64_t bx,                 \
                 const uint8_t *yv, int64_t by)                                              \
{                                                                                            \
    int nb = n / 32;                                                                         \
    __m256 acc[NR][NC];                                                                      \
    for (int r = 0; r < NR; r++) for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps(); \
    for (int i = 0; i < nb; i++) {                                                           \
        __m256i qy[NC], corr[NC];                                                            \
        float dy[NC];                                                                        \
        GEMM_UNROLL for (int c = 0; c < NC; c++) {                                           \
            const block_q8_0 *yb = (const block_q8_0 *)(yv + c * by) + i;                    \
            qy[c] = _mm256_loadu_si256((const __m256i *)yb->qs);                             \
            corr[c] = _mm256_sub_epi32(_mm256_setzero_si256(),                               \
                                       _mm256_slli_epi32(gemm_y_sums(qy[c]), SHIFT));        \
            dy[c] = simd_f16(yb->d);                                                         \
        }                                                                                    \
        GEMM_UNROLL for (int r = 0; r < NR; r++) {                                           \
            const block_##T *xb = (const block_##T *)(x + r * bx) + i;                       \
            _mm_prefetch((const char *)xb + GEMM_PREFETCH, _MM_HINT_T0);                     \
            __m256i u = gemm_u_##T(xb);                                                      \
            float dx = simd_f16(xb->d);                                                      \
            GEMM_UNROLL for (int c = 0; c < NC; c++) {                                       \
                __m256i p = GEMM_DOT(corr[c], u, qy[c]);                                     \
                acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(dx * dy[c]), _mm256_cvtepi32_ps(p), acc[r][c]); \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < NR; r++) for (int c = 0; c < NC; c++) s[c * lds + r] = simd_hsum_ps(acc[r][c]); \
}

/* Asymmetric types x Q8_1: dx*dy*sum(u*qy) + mx*sy per block; [dx,mx] and
 * [dy,sy] are converted as pairs and multiplied in one go. */
#define GEMM_ASYM(T, NR, NC, NAME)                                                           \
static void NAME(int n, float *s, int64_t lds, const uint8_t *x, int64_t bx,                 \
                 const uint8_t *yv, int64_t by)                                              \
{                                                                                            \
    int nb = n / 32;                                                                         \
    __m256 acc[NR][NC];                                                                      \
    __m128 accm[NR][NC];                                                                     \
    for (int r = 0; r < NR; r++)                                                             \
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps(), accm[r][c] = _mm_setzero_ps(); \
    for (int i = 0; i < nb; i++) {                                                           \
        __m256i qy[NC];                                                                      \
        __m128 vy[NC];                                                                       \
        GEMM_UNROLL for (int c = 0; c < NC; c++) {                                           \
            const block_q8_1 *yb = (const block_q8_1 *)(yv + c * by) + i;                    \
            int32_t yds;                                                                     \
            memcpy(&yds, &yb->d, 4);                                                         \
            qy[c] = _mm256_loadu_si256((const __m256i *)yb->qs);                             \
            vy[c] = _mm_cvtph_ps(_mm_cvtsi32_si128(yds));              /* [dy, sy] */        \
        }                                                                                    \
        GEMM_UNROLL for (int r = 0; r < NR; r++) {                                           \
            const block_##T *xb = (const block_##T *)(x + r * bx) + i;                       \
            _mm_prefetch((const char *)xb + GEMM_PREFETCH, _MM_HINT_T0);                     \
            int32_t xdm;                                                                     \
            memcpy(&xdm, &xb->d, 4);                                                         \
            __m128 vx = _mm_cvtph_ps(_mm_cvtsi32_si128(xdm));              /* [dx, mx] */    \
            __m256i u = gemm_u_##T(xb);                                                      \
            GEMM_UNROLL for (int c = 0; c < NC; c++) {                                       \
                __m128 pr = _mm_mul_ps(vx, vy[c]);                      /* [dx*dy, mx*sy] */ \
                accm[r][c] = _mm_add_ps(accm[r][c], pr);                                     \
                __m256i p = GEMM_DOT(_mm256_setzero_si256(), u, qy[c]);                      \
                acc[r][c] = _mm256_fmadd_ps(_mm256_broadcastss_ps(pr), _mm256_cvtepi32_ps(p), acc[r][c]); \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < NR; r++)                                                             \
        for (int c = 0; c < NC; c++)                                                         \
            s[c * lds + r] = simd_hsum_ps(acc[r][c]) + _mm_cvtss_f32(_mm_movehdup_ps(accm[r][c])); \
}

#ifndef GEMM_NC
#define GEMM_NC 2            /* activation rows per prefill tile */
#endif
#define GEMM_K(T, R, C) GEMM_CAT(GEMM_CAT(cpu_##T##_k, R##x##C##_), GEMM_SUFFIX)

/* The four tile shapes of a type: 4xNC (body), 1xNC (row tail), 4x1 (decode
 * and column tail), 1x1 (corner). */
#define GEMM_SYM_ALL(T, SHIFT)                                                               \
    GEMM_SYM(T, SHIFT, 4, GEMM_NC, GEMM_K(T, 4, N)) GEMM_SYM(T, SHIFT, 1, GEMM_NC, GEMM_K(T, 1, N)) \
    GEMM_SYM(T, SHIFT, 4, 1, GEMM_K(T, 4, 1)) GEMM_SYM(T, SHIFT, 1, 1, GEMM_K(T, 1, 1))
#define GEMM_ASYM_ALL(T)                                                                     \
    GEMM_ASYM(T, 4, GEMM_NC, GEMM_K(T, 4, N)) GEMM_ASYM(T, 1, GEMM_NC, GEMM_K(T, 1, N))      \
    GEMM_ASYM(T, 4, 1, GEMM_K(T, 4, 1)) GEMM_ASYM(T, 1, 1, GEMM_K(T, 1, 1))

GEMM_SYM_ALL(q4_0, 3)
GEMM_SYM_ALL(q5_0, 4)
#ifndef GEMM_NO_Q8_0
GEMM_SYM_ALL(q8_0, 7)
#endif
GEMM_ASYM_ALL(q4_1)
GEMM_ASYM_ALL(q5_1)

/* Tiles over nr weight rows x ny activation rows: s[j*lds + r]. */
#define GEMM_DRIVER(T)                                                                       \
void GEMM_CAT(cpu_##T##_gemm_, GEMM_SUFFIX)(int n, float *s, int64_t lds, const void *x, int64_t bx, \
                                            int nr, const void *y, int64_t by, int ny)       \
{                                                                                            \
    const uint8_t *xp = x, *yp = y;                                                          \
    int j = 0;                                                                               \
    for (; j + GEMM_NC <= ny; j += GEMM_NC) {                                                \
        int r = 0;                                                                           \
        for (; r + 4 <= nr; r += 4) GEMM_K(T, 4, N)(n, s + j * lds + r, lds, xp + r * bx, bx, yp + j * by, by); \
        for (; r < nr; r++) GEMM_K(T, 1, N)(n, s + j * lds + r, lds, xp + r * bx, bx, yp + j * by, by); \
    }                                                                                        \
    for (; j < ny; j++) {                                                                    \
        int r = 0;                                                                           \
        for (; r + 4 <= nr; r += 4) GEMM_K(T, 4, 1)(n, s + j * lds + r, lds, xp + r * bx, bx, yp + j * by, by); \
        for (; r < nr; r++) GEMM_K(T, 1, 1)(n, s + j * lds + r, lds, xp + r * bx, bx, yp + j * by, by); \
    }                                                                                        \
}

GEMM_DRIVER(q4_0)
GEMM_DRIVER(q5_0)
#ifndef GEMM_NO_Q8_0
GEMM_DRIVER(q8_0)
#endif
GEMM_DRIVER(q4_1)
GEMM_DRIVER(q5_1)

/* Single-row entry with the vec_dot signature. */
#define GEMM_VEC_DOT(T, YT, NAME)                                                            \
void NAME(int n, float *s, const void *x, const void *y) { GEMM_K(T, 1, 1)(n, s, 0, x, 0, y, 0); }
