/* quant_neon.c — ARM NEON dot products for float types and 32-element blocks.
 *
 * Tested by `make test-neon`: the backends/ unit tests cross-compiled for
 * aarch64 (ARMv8.0, and ARMv8.2 with the dot-product extension) and run under
 * qemu-user against the scalar reference; that proves the results, not the
 * speed, which no ARM machine here has measured.
 * Byte dots use vdotq_s32 where the dot-product extension is present, else
 * the ARMv8.0 widening multiply + pairwise add. K-quants use the scalar path
 * on ARM for now.
 */
#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "cpu_impl.h"

/* Half bits to float through the native __fp16 type. */
static inline float neon_f16(pl_f16 h)
{
    __fp16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

/* acc + 4-byte dot sums of a and b (signed). */
static inline int32x4_t neon_dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t p1 = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, p0), p1);
#endif
}

/* F32 . F32. */
void cpu_f32_dot_neon(int n, float *s, const void *x, const void *y)
{
    const float *a = x, *b = y;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float r = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) r += a[i] * b[i];
    *s = r;
}

/* F16 . F32 (weights widened four at a time). */
void cpu_f16_dot_neon(int n, float *s, const void *x, const void *y)
{
    const pl_f16 *a = x;
    const float *b = y;
    float32x4_t acc = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float16x4_t h = vreinterpret_f16_u16(vld1_u16(a + i));
        acc = vfmaq_f32(acc, vcvt_f32_f16(h), vld1q_f32(b + i));
    }
    float r = vaddvq_f32(acc);
    for (; i < n; i++) r += neon_f16(a[i]) * b[i];
    *s = r;
}

/* Elements 0..15 (low nibbles) and 16..31 (high nibbles) as unsigned bytes. */
static inline void neon_nibbles(const uint8_t *qs, uint8x16_t *lo, uint8x16_t *hi)
{
    uint8x16_t v = vld1q_u8(qs);
    *lo = vandq_u8(v, vdupq_n_u8(0x0f));
    *hi = vshrq_n_u8(v, 4);
}

/* 0x10 for each element whose fifth bit is set in qh (bits j and j+16). */
static inline void neon_fifth_bits(const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi)
{
    static const uint8_t bits[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
    uint8x16_t m = vld1q_u8(bits), k = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), m), k);
    *hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), m), k);
}

/* Signed weight bytes of one block of each type. */
static inline void w_q4_0(const void *b, int8x16_t *lo, int8x16_t *hi)
{
    uint8x16_t l, h;
    neon_nibbles(((const block_q4_0 *)b)->qs, &l, &h);
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(8));
}
static inline void w_q4_1(const void *b, int8x16_t *lo, int8x16_t *hi)
{
    uint8x16_t l, h;
    neon_nibbles(((const block_q4_1 *)b)->qs, &l, &h);
    *lo = vreinterpretq_s8_u8(l), *hi = vreinterpretq_s8_u8(h);
}
static inline void w_q5_0(const void *b, int8x16_t *lo, int8x16_t *hi)
{
    const block_q5_0 *x = b;
    uint8x16_t l, h, bl, bh;
    neon_nibbles(x->qs, &l, &h);
    neon_fifth_bits(x->qh, &bl, &bh);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l, bl)), vdupq_n_s8(16));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(h, bh)), vdupq_n_s8(16));
}
static inline void w_q5_1(const void *b, int8x16_t *lo, int8x16_t *hi)
{
    const block_q5_1 *x = b;
    uint8x16_t l, h, bl, bh;
    neon_nibbles(x->qs, &l, &h);
    neon_fifth_bits(x->qh, &bl, &bh);
    *lo = vreinterpretq_s8_u8(vorrq_u8(l, bl)), *hi = vreinterpretq_s8_u8(vorrq_u8(h, bh));
}
static inline void w_q8_0(const void *b, int8x16_t *lo, int8x16_t *hi)
{
    const block_q8_0 *x = b;
    *lo = vld1q_s8(x->qs), *hi = vld1q_s8(x->qs + 16);
}

/* Symmetric type x Q8_0. */
#define DOT_SYM_NEON(T)                                                                \
    void cpu_##T##_dot_neon(int n, float *s, const void *vx, const void *vy)           \
    {                                                                                  \
        const block_##T *x = vx;                                                       \
        const block_q8_0 *y = vy;                                                      \
        float32x4_t acc = vdupq_n_f32(0);                                              \
        for (int i = 0; i < n / 32; i++) {                                             \
            int8x16_t lo, hi;                                                          \
            w_##T(&x[i], &lo, &hi);                                                    \
            int32x4_t p = neon_dot16(vdupq_n_s32(0), lo, vld1q_s8(y[i].qs));           \
            p = neon_dot16(p, hi, vld1q_s8(y[i].qs + 16));                             \
            acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), neon_f16(x[i].d) * neon_f16(y[i].d)); \
        }                                                                              \
        *s = vaddvq_f32(acc);                                                          \
    }

/* Asymmetric type x Q8_1 (+ m * s per block). */
#define DOT_ASYM_NEON(T)                                                               \
    void cpu_##T##_dot_neon(int n, float *s, const void *vx, const void *vy)           \
    {                                                                                  \
        const block_##T *x = vx;                                                       \
        const block_q8_1 *y = vy;                                                      \
        float32x4_t acc = vdupq_n_f32(0);                                              \
        float summs = 0;                                                               \
        for (int i = 0; i < n / 32; i++) {                                             \
            int8x16_t lo, hi;                                                          \
            w_##T(&x[i], &lo, &hi);                                                    \
            int32x4_t p = neon_dot16(vdupq_n_s32(0), lo, vld1q_s8(y[i].qs));           \
            p = neon_dot16(p, hi, vld1q_s8(y[i].qs + 16));                             \
            acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), neon_f16(x[i].d) * neon_f16(y[i].d)); \
            summs += neon_f16(x[i].m) * neon_f16(y[i].s);                              \
        }                                                                              \
        *s = vaddvq_f32(acc) + summs;                                                  \
    }

DOT_SYM_NEON(q4_0)
DOT_SYM_NEON(q5_0)
DOT_SYM_NEON(q8_0)
DOT_ASYM_NEON(q4_1)
DOT_ASYM_NEON(q5_1)

#endif
