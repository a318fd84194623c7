/* quant_ref_k.c — scalar reference kernels for the K-quants (256-element
 * super-blocks) and their Q8_K activations.
 *
 * Every K-quant is read through one "unpack" giving 256 small integers q,
 * an integer scale sc and integer minimum mn per group of 16, and the two
 * float super-scales d, dmin: value = d*sc[g]*q - dmin*mn[g] (g = index/16).
 * Dequantize and the dot with Q8_K are then written once; the dot keeps
 * integer sums per group and applies d and dmin at the end, like ggml, using
 * Q8_K's bsums (sums of 16 activations) for the minimum term.
 *
 * Layouts (ggml-quants.c): q2_K/q3_K/q6_K have one scale per 16 values,
 * q4_K/q5_K one 6-bit scale and min per 32 packed in 12 bytes (see
 * k4_scale_min). In q2_K/q3_K element e = 128*h + 32*j + l takes bits 2j..2j+1
 * of qs[32*h + l]; q3_K's third bit is bit 4h+j of hmask[l] (clear = -4).
 * q4_K/q5_K element 64*p + l is the low nibble of qs[32*p + l], 64*p + 32 + l
 * its high nibble, q5_K's fifth bits are bits 2p and 2p+1 of qh[l].
 * q6_K element 128*h + 32*k + l: low 4 bits from ql[64*h + l + 32*(k&1)]
 * (high nibble when k >= 2), 2 high bits (2k) of qh[32*h + l], minus 32.
 *
 * The quantizers (quant_ref_kq.c) are ggml's error-minimising scale searches
 * and give the bytes llama.cpp's reference quantizers give.
 */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

typedef struct kq { int8_t q[QK_K]; int16_t sc[16], mn[16]; float d, dmin; } kq;
typedef void (*kq_unpack_fn)(const void *blk, kq *o);

/* 6-bit scale and min of group j (0..7) from q4_K/q5_K's 12 packed bytes. */
static void k4_scale_min(int j, const uint8_t *s, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* q2_K: 2-bit values, 4-bit scale and min per 16. */
static void unpack_q2_K(const void *blk, kq *o)
{
    const block_q2_K *b = blk;
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        o->q[e] = (int8_t)((b->qs[32 * h + l] >> (2 * j)) & 3);
    }
    for (int g = 0; g < 16; g++) o->sc[g] = b->scales[g] & 0xf, o->mn[g] = b->scales[g] >> 4;
    o->d = pl_f16_to_f32(b->d);
    o->dmin = pl_f16_to_f32(b->dmin);
}

/* q3_K: 2 bits + a high bit (clear means -4), 6-bit signed scales per 16. */
static void unpack_q3_K(const void *blk, kq *o)
{
    const block_q3_K *b = blk;
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        int v = (b->qs[32 * h + l] >> (2 * j)) & 3;
        o->q[e] = (int8_t)(v - ((b->hmask[l] >> (4 * h + j)) & 1 ? 0 : 4));
    }
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? b->scales[g] & 0xf : b->scales[g - 8] >> 4;
        int hi = (b->scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        o->sc[g] = (int16_t)((lo | hi << 4) - 32);
        o->mn[g] = 0;
    }
    o->d = pl_f16_to_f32(b->d);
    o->dmin = 0;
}

/* Scales and mins of q4_K/q5_K, spread to groups of 16. */
static void unpack_k4_scales(const uint8_t *s, kq *o)
{
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(j, s, &sc, &m);
        o->sc[2 * j] = o->sc[2 * j + 1] = (int16_t)sc;
        o->mn[2 * j] = o->mn[2 * j + 1] = (int16_t)m;
    }
}

/* q4_K: nibbles, 6-bit scale and min per 32. */
static void unpack_q4_K(const void *blk, kq *o)
{
    const block_q4_K *b = blk;
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            o->q[64 * p + l] = (int8_t)(b->qs[32 * p + l] & 0xf);
            o->q[64 * p + 32 + l] = (int8_t)(b->qs[32 * p + l] >> 4);
        }
    unpack_k4_scales(b->scales, o);
    o->d = pl_f16_to_f32(b->d);
    o->dmin = pl_f16_to_f32(b->dmin);
}

/* q5_K: nibbles + a fifth bit from qh, 6-bit scale and min per 32. */
static void unpack_q5_K(const void *blk, kq *o)
{
    const block_q5_K *b = blk;
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            int h0 = (b->qh[l] >> (2 * p)) & 1, h1 = (b->qh[l] >> (2 * p + 1)) & 1;
            o->q[64 * p + l] = (int8_t)((b->qs[32 * p + l] & 0xf) | h0 << 4);
            o->q[64 * p + 32 + l] = (int8_t)((b->qs[32 * p + l] >> 4) | h1 << 4);
        }
    unpack_k4_scales(b->scales, o);
    o->d = pl_f16_to_f32(b->d);
    o->dmin = pl_f16_to_f32(b->dmin);
}

/* q6_K: 4 low bits + 2 high bits minus 32, int8 scale per 16. */
static void unpack_q6_K(const void *blk, kq *o)
{
    const block_q6_K *b = blk;
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        uint8_t lb = b->ql[64 * h + l + 32 * (k & 1)];
        int lo = k >= 2 ? lb >> 4 : lb & 0xf;
        int hi = (b->qh[32 * h + l] >> (2 * k)) & 3;
        o->q[e] = (int8_t)((lo | hi << 4) - 32);
    }
    for (int g = 0; g < 16; g++) o->sc[g] = b->scales[g], o->mn[g] = 0;
    o->d = pl_f16_to_f32(b->d);
    o->dmin = 0;
}

/* Dequantize a row of super-blocks. */
static void kq_to_float(kq_unpack_fn unpack, size_t bsize, const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    kq u;
    for (int64_t i = 0; i < n / QK_K; i++, p += bsize, dst += QK_K) {
        unpack(p, &u);
        for (int e = 0; e < QK_K; e++)
            dst[e] = u.d * (float)u.sc[e / 16] * u.q[e] - u.dmin * (float)u.mn[e / 16];
    }
}

/* Dot of a K-quant row with a Q8_K row. */
static void kq_dot(kq_unpack_fn unpack, size_t bsize, int n, float *s, const void *x, const void *y)
{
    const uint8_t *p = x;
    const block_q8_K *yb = y;
    float acc = 0;
    kq u;
    for (int i = 0; i < n / QK_K; i++, p += bsize) {
        unpack(p, &u);
        int32_t sumq = 0, summ = 0;
        for (int g = 0; g < 16; g++) {
            int32_t gs = 0;
            for (int l = 0; l < 16; l++) gs += u.q[16 * g + l] * yb[i].qs[16 * g + l];
            sumq += u.sc[g] * gs;
            summ += u.mn[g] * yb[i].bsums[g];
        }
        acc += yb[i].d * (u.d * (float)sumq - u.dmin * (float)summ);
    }
    *s = acc;
}

#define KQ_FUNCS(T)                                                            \
    void cpu_##T##_to_float(const void *src, float *dst, int64_t n)            \
    { kq_to_float(unpack_##T, sizeof(block_##T), src, dst, n); }               \
    void cpu_##T##_dot_ref(int n, float *s, const void *x, const void *y)       \
    { kq_dot(unpack_##T, sizeof(block_##T), n, s, x, y); }

KQ_FUNCS(q2_K)
KQ_FUNCS(q3_K)
KQ_FUNCS(q4_K)
KQ_FUNCS(q5_K)
KQ_FUNCS(q6_K)

/* ---- Q8_K activations -------------------------------------------------- */

/* Q8_K: d = max/-127 (signed extreme), q = round(x/d), sums per 16 (ggml's choice). */
void cpu_q8_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0) continue;
        float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = (int)lrintf(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        }
        y[i].d = 1 / iscale;
    }
}

/* Q8_K to floats. */
void cpu_q8_K_to_float(const void *src, float *dst, int64_t n)
{
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++) dst[i * QK_K + j] = b[i].d * b[i].qs[j];
}

/* Q8_K is an activation type only. */
void cpu_q8_K_dot_ref(int n, float *s, const void *x, const void *y) { *s = 0; }
