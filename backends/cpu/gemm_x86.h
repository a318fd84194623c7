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

#define GEMM_CAT2(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT2(a, b)
#define GEMM_NAME(T) GEMM_CAT(cpu_##T##_gemm4_, GEMM_SUFFIX)

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

/* Symmetric types x Q8_0: s[r] for 4 rows (stride bx bytes) against one y row.
 * SHIFT: log2 of the offset (8 -> 3, 16 -> 4, 128 -> 7). */
#define GEMM_SYM(T, SHIFT, NR, NAME)                                                         \
static void NAME(int n, float *s, const uint8_t *x, int64_t bx, const block_q8_0 *y)        \
{                                                                                            \
    int nb = n / 32;                                                                         \
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() }; \
    for (int i = 0; i < nb; i++) {                                                           \
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                           \
        __m256i corr = _mm256_slli_epi32(gemm_y_sums(qy), SHIFT);                            \
        float dy = simd_f16(y[i].d);                                                         \
        for (int r = 0; r < NR; r++) {                                                        \
            const block_##T *xb = (const block_##T *)(x + r * bx) + i;                       \
            _mm_prefetch((const char *)xb + GEMM_PREFETCH, _MM_HINT_T0);                     \
            __m256i p = GEMM_DOT(_mm256_setzero_si256(), gemm_u_##T(xb), qy);                \
            p = _mm256_sub_epi32(p, corr);                                                   \
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(simd_f16(xb->d) * dy), _mm256_cvtepi32_ps(p), acc[r]); \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < NR; r++) s[r] = simd_hsum_ps(acc[r]);                                 \
}

/* Asymmetric types x Q8_1: dx*dy*sum(u*qy) + mx*sy per block. */
#define GEMM_ASYM(T, NR, NAME)                                                               \
static void NAME(int n, float *s, const uint8_t *x, int64_t bx, const block_q8_1 *y)        \
{                                                                                            \
    int nb = n / 32;                                                                         \
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() }; \
    __m128 accm[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() }; \
    for (int i = 0; i < nb; i++) {                                                           \
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);                           \
        int32_t yds;                                                                         \
        memcpy(&yds, &y[i].d, 4);                                                            \
        __m128 vy = _mm_cvtph_ps(_mm_cvtsi32_si128(yds));          /* [dy, sy] */            \
        for (int r = 0; r < NR; r++) {                                                        \
            const block_##T *xb = (const block_##T *)(x + r * bx) + i;                       \
            _mm_prefetch((const char *)xb + GEMM_PREFETCH, _MM_HINT_T0);                     \
            int32_t xdm;                                                                     \
            memcpy(&xdm, &xb->d, 4);                                                         \
            __m128 pr = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(xdm)), vy);  /* [dx*dy, mx*sy] */ \
            accm[r] = _mm_add_ps(accm[r], pr);                                               \
            __m256i p = GEMM_DOT(_mm256_setzero_si256(), gemm_u_##T(xb), qy);                \
            acc[r] = _mm256_fmadd_ps(_mm256_broadcastss_ps(pr), _mm256_cvtepi32_ps(p), acc[r]); \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < NR; r++)                                                              \
        s[r] = simd_hsum_ps(acc[r]) + _mm_cvtss_f32(_mm_movehdup_ps(accm[r]));               \
}

#define GEMM_ONE(T) GEMM_CAT(cpu_##T##_gemm1_, GEMM_SUFFIX)
GEMM_SYM(q4_0, 3, 4, GEMM_NAME(q4_0))
GEMM_SYM(q5_0, 4, 4, GEMM_NAME(q5_0))
#ifndef GEMM_NO_Q8_0
GEMM_SYM(q8_0, 7, 4, GEMM_NAME(q8_0))
#endif
GEMM_ASYM(q4_1, 4, GEMM_NAME(q4_1))
GEMM_ASYM(q5_1, 4, GEMM_NAME(q5_1))
GEMM_SYM(q4_0, 3, 1, GEMM_ONE(q4_0))
GEMM_SYM(q5_0, 4, 1, GEMM_ONE(q5_0))
#ifndef GEMM_NO_Q8_0
GEMM_SYM(q8_0, 7, 1, GEMM_ONE(q8_0))
#endif
GEMM_ASYM(q4_1, 1, GEMM_ONE(q4_1))
GEMM_ASYM(q5_1, 1, GEMM_ONE(q5_1))

/* Dispatch: rows in blocks of 4 (tail rows with the type's vec_dot), each
 * against every activation row: s[j*lds + r]. */
#define GEMM_DRIVER(T, YT)                                                                   \
void GEMM_CAT(cpu_##T##_gemm_, GEMM_SUFFIX)(int n, float *s, int64_t lds, const void *x, int64_t bx, \
                                            int nr, const void *y, int64_t by, int ny)       \
{                                                                                            \
    const uint8_t *xp = x;                                                                   \
    for (int j = 0; j < ny; j++) {                                                           \
        const YT *yj = (const YT *)((const uint8_t *)y + j * by);                            \
        int r = 0;                                                                           \
        for (; r + 4 <= nr; r += 4) GEMM_NAME(T)(n, s + j * lds + r, xp + r * bx, bx, yj);  \
        for (; r < nr; r++) GEMM_ONE(T)(n, s + j * lds + r, xp + r * bx, bx, yj);           \
    }                                                                                        \
}

GEMM_DRIVER(q4_0, block_q8_0)
GEMM_DRIVER(q5_0, block_q8_0)
#ifndef GEMM_NO_Q8_0
GEMM_DRIVER(q8_0, block_q8_0)
#endif
GEMM_DRIVER(q4_1, block_q8_1)
GEMM_DRIVER(q5_1, block_q8_1)

/* Single-row entry with the vec_dot signature. */
#define GEMM_VEC_DOT(T, YT, NAME)                                                            \
void NAME(int n, float *s, const void *x, const void *y) { GEMM_ONE(T)(n, s, x, 0, y); }
