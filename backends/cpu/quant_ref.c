/* quant_ref.c — scalar reference kernels for float types and 32-element blocks.
 *
 * These are the truth every SIMD path is tested against, so they favour the
 * plain formula over speed. Each 32-block type is read through one "unpack"
 * function giving 32 small integers, a scale d and (for the _1 types) a
 * minimum m, so that value = d*q + m; dequantize and dot are then written
 * once for all of them. Quantizers follow ggml's reference quantizers
 * (round to nearest, same scale choice) so the files we write are read the
 * same way by llama.cpp.
 *
 * Formulas (ggml-quants.c): q4_0 q = nibble-8; q4_1 q = nibble, +m;
 * q5_0 q = (nibble | high bit<<4) - 16, high bit of element j is bit j of qh
 * and of element j+16 bit j+16; q5_1 same without -16, +m; q8_0 q = int8.
 * Element j of a block sits in the low nibble of qs[j], element j+16 in its
 * high nibble.
 */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

/* ---- float types ------------------------------------------------------- */

/* Copy floats (F32 "dequantize"). */
void cpu_f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
/* Copy floats (F32 "quantize"). */
void cpu_f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

/* F32 . F32, accumulated in double so the reference is not the weak link. */
void cpu_f32_dot_ref(int n, float *s, const void *x, const void *y)
{
    const float *a = x, *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)a[i] * b[i];
    *s = (float)acc;
}

/* Half row to floats. */
void cpu_f16_to_float(const void *src, float *dst, int64_t n)
{
    const pl_f16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = pl_f16_to_f32(h[i]);
}

/* Floats to half row (round to nearest even). */
void cpu_f16_from_float(const float *src, void *dst, int64_t n)
{
    pl_f16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = pl_f32_to_f16(src[i]);
}

/* F16 weights . F32 activations. */
void cpu_f16_dot_ref(int n, float *s, const void *x, const void *y)
{
    const pl_f16 *a = x;
    const float *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)pl_f16_to_f32(a[i]) * b[i];
    *s = (float)acc;
}

/* bfloat16 row to floats. */
void cpu_bf16_to_float(const void *src, float *dst, int64_t n)
{
    const pl_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = pl_bf16_to_f32(h[i]);
}

/* Floats to bfloat16 row. */
void cpu_bf16_from_float(const float *src, void *dst, int64_t n)
{
    pl_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = pl_f32_to_bf16(src[i]);
}

/* BF16 weights . F32 activations. */
void cpu_bf16_dot_ref(int n, float *s, const void *x, const void *y)
{
    const pl_bf16 *a = x;
    const float *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)pl_bf16_to_f32(a[i]) * b[i];
    *s = (float)acc;
}

/* ---- 32-element blocks: unpack to value = d*q + m -------------------- */

typedef struct q32 { int8_t q[32]; float d, m; } q32;
typedef void (*q32_unpack_fn)(const void *blk, q32 *out);

/* q4_0: nibbles minus 8. */
static void unpack_q4_0(const void *blk, q32 *o)
{
    const block_q4_0 *b = blk;
    for (int j = 0; j < 16; j++) {
        o->q[j] = (int8_t)((b->qs[j] & 0xf) - 8);
        o->q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
    }
    o->d = pl_f16_to_f32(b->d);
    o->m = 0;
}

/* q4_1: nibbles, plus the block minimum. */
static void unpack_q4_1(const void *blk, q32 *o)
{
    const block_q4_1 *b = blk;
    for (int j = 0; j < 16; j++) {
        o->q[j] = (int8_t)(b->qs[j] & 0xf);
        o->q[j + 16] = (int8_t)(b->qs[j] >> 4);
    }
    o->d = pl_f16_to_f32(b->d);
    o->m = pl_f16_to_f32(b->m);
}

/* Five-bit values from nibbles and the 32-bit high-bit mask. */
static void unpack_5bit(const uint8_t qh4[4], const uint8_t qs[16], int bias, int8_t q[32])
{
    uint32_t qh;
    memcpy(&qh, qh4, 4);   /* little-endian, as on disk */
    for (int j = 0; j < 16; j++) {
        int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
        q[j] = (int8_t)(((qs[j] & 0xf) | (h0 << 4)) - bias);
        q[j + 16] = (int8_t)(((qs[j] >> 4) | (h1 << 4)) - bias);
    }
}

/* q5_0: five bits minus 16. */
static void unpack_q5_0(const void *blk, q32 *o)
{
    const block_q5_0 *b = blk;
    unpack_5bit(b->qh, b->qs, 16, o->q);
    o->d = pl_f16_to_f32(b->d);
    o->m = 0;
}

/* q5_1: five bits, plus the block minimum. */
static void unpack_q5_1(const void *blk, q32 *o)
{
    const block_q5_1 *b = blk;
    unpack_5bit(b->qh, b->qs, 0, o->q);
    o->d = pl_f16_to_f32(b->d);
    o->m = pl_f16_to_f32(b->m);
}

/* q8_0: bytes. */
static void unpack_q8_0(const void *blk, q32 *o)
{
    const block_q8_0 *b = blk;
    memcpy(o->q, b->qs, 32);
    o->d = pl_f16_to_f32(b->d);
    o->m = 0;
}

/* q8_1: bytes (s is only used by dot products). */
static void unpack_q8_1(const void *blk, q32 *o)
{
    const block_q8_1 *b = blk;
    memcpy(o->q, b->qs, 32);
    o->d = pl_f16_to_f32(b->d);
    o->m = 0;
}

/* Dequantize nb blocks of a 32-block type. */
static void q32_to_float(q32_unpack_fn unpack, size_t bsize, const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    q32 u;
    for (int64_t i = 0; i < n / 32; i++, p += bsize, dst += 32) {
        unpack(p, &u);
        for (int j = 0; j < 32; j++) dst[j] = u.d * u.q[j] + u.m;
    }
}

/* Dot of a 32-block row with a Q8_0 (with_sum false) or Q8_1 row. */
static void q32_dot(q32_unpack_fn unpack, size_t bsize, bool with_sum, int n, float *s,
                    const void *x, const void *y)
{
    const uint8_t *p = x;
    float acc = 0;
    q32 u;
    for (int i = 0; i < n / 32; i++, p += bsize) {
        unpack(p, &u);
        const int8_t *yq;
        float yd, ys = 0;
        if (with_sum) {
            const block_q8_1 *b = (const block_q8_1 *)y + i;
            yq = b->qs, yd = pl_f16_to_f32(b->d), ys = pl_f16_to_f32(b->s);
        } else {
            const block_q8_0 *b = (const block_q8_0 *)y + i;
            yq = b->qs, yd = pl_f16_to_f32(b->d);
        }
        int isum = 0;
        for (int j = 0; j < 32; j++) isum += u.q[j] * yq[j];
        acc += u.d * yd * (float)isum + u.m * ys;
    }
    *s = acc;
}

#define Q32_FUNCS(T, BT, WITH_SUM)                                                \
    void cpu_##T##_to_float(const void *src, float *dst, int64_t n)               \
    { q32_to_float(unpack_##T, sizeof(BT), src, dst, n); }                        \
    void cpu_##T##_dot_ref(int n, float *s, const void *x, const void *y)          \
    { q32_dot(unpack_##T, sizeof(BT), WITH_SUM, n, s, x, y); }

Q32_FUNCS(q4_0, block_q4_0, false)
Q32_FUNCS(q4_1, block_q4_1, true)
Q32_FUNCS(q5_0, block_q5_0, false)
Q32_FUNCS(q5_1, block_q5_1, true)
Q32_FUNCS(q8_0, block_q8_0, false)
Q32_FUNCS(q8_1, block_q8_1, true)

/* ---- 32-element blocks: quantize (ggml's reference choices) ---------- */

/* Largest-magnitude value of a block, with its sign. */
static float block_absmax_signed(const float *x)
{
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    return max;
}

/* Min and max of a block. */
static void block_minmax(const float *x, float *mn, float *mx)
{
    *mn = x[0], *mx = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

/* Symmetric: d = max/-8, q = min(15, trunc(x/d + 8.5)). */
void cpu_q4_0_from_float(const float *x, void *dst, int64_t n)
{
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d = block_absmax_signed(x) / -8, id = d ? 1.0f / d : 0;
        y[i].d = pl_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int a = (int)(x[j] * id + 8.5f), b = (int)(x[j + 16] * id + 8.5f);
            y[i].qs[j] = (uint8_t)((a > 15 ? 15 : a) | (b > 15 ? 15 : b) << 4);
        }
    }
}

/* Asymmetric: d = (max-min)/15, m = min, q = min(15, trunc((x-min)/d + 0.5)). */
void cpu_q4_1_from_float(const float *x, void *dst, int64_t n)
{
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float mn, mx;
        block_minmax(x, &mn, &mx);
        float d = (mx - mn) / 15, id = d ? 1.0f / d : 0;
        y[i].d = pl_f32_to_f16(d);
        y[i].m = pl_f32_to_f16(mn);
        for (int j = 0; j < 16; j++) {
            int a = (int)((x[j] - mn) * id + 0.5f), b = (int)((x[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((a > 15 ? 15 : a) | (b > 15 ? 15 : b) << 4);
        }
    }
}

/* Pack 32 five-bit values into nibbles and the high-bit mask. */
static void pack_5bit(const int q[32], uint8_t qs[16], uint8_t qh4[4])
{
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    memcpy(qh4, &qh, 4);
}

/* Symmetric five bits: d = max/-16, q = min(31, trunc(x/d + 16.5)). */
void cpu_q5_0_from_float(const float *x, void *dst, int64_t n)
{
    block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d = block_absmax_signed(x) / -16, id = d ? 1.0f / d : 0;
        int q[32];
        for (int j = 0; j < 32; j++) {
            int v = (int)(x[j] * id + 16.5f);
            q[j] = v > 31 ? 31 : v;
        }
        y[i].d = pl_f32_to_f16(d);
        pack_5bit(q, y[i].qs, y[i].qh);
    }
}

/* Asymmetric five bits: d = (max-min)/31, q = trunc((x-min)/d + 0.5). */
void cpu_q5_1_from_float(const float *x, void *dst, int64_t n)
{
    block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float mn, mx;
        block_minmax(x, &mn, &mx);
        float d = (mx - mn) / 31, id = d ? 1.0f / d : 0;
        int q[32];
        for (int j = 0; j < 32; j++) {
            int v = (int)((x[j] - mn) * id + 0.5f);
            q[j] = v > 31 ? 31 : v;
        }
        y[i].d = pl_f32_to_f16(d);
        y[i].m = pl_f32_to_f16(mn);
        pack_5bit(q, y[i].qs, y[i].qh);
    }
}

/* Eight bits: d = amax/127, q = round(x/d); returns the integer sum. */
static int q8_block(const float *x, int8_t qs[32], float *d_out)
{
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127, id = d ? 1.0f / d : 0;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        qs[j] = (int8_t)roundf(x[j] * id);
        sum += qs[j];
    }
    *d_out = d;
    return sum;
}

/* Q8_0 reference quantizer. */
void cpu_q8_0_from_float(const float *x, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d;
        q8_block(x, y[i].qs, &d);
        y[i].d = pl_f32_to_f16(d);
    }
}

/* Q8_1 reference quantizer: also s = d * sum(q). */
void cpu_q8_1_from_float(const float *x, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d;
        int sum = q8_block(x, y[i].qs, &d);
        y[i].d = pl_f32_to_f16(d);
        y[i].s = pl_f32_to_f16(d * (float)sum);
    }
}
