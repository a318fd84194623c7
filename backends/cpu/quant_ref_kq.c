/* quant_ref_kq.c — round-to-nearest quantizers for the K-quants.
 *
 * Two steps, as in ggml's reference: choose a float scale (and minimum) per
 * group from the group's range, round those to the block's few bits against
 * one super-block scale, then round every value against the *rounded* group
 * scale (read back through f16 like a reader would). The group scale choice
 * is the plain range one (ggml searches for a lower-error one); the bit
 * layout is exactly GGUF's, see quant_ref_k.c for the formulas.
 */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

/* Nearest integer clamped to [lo, hi] (half to even, like ggml's nearest_int). */
static int near_clamp(float v, int lo, int hi)
{
    int r = (int)lrintf(v);
    return r < lo ? lo : r > hi ? hi : r;
}

/* Signed extreme (largest |v|) of n values. */
static float signed_extreme(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    return max;
}

/* Range scale and (positive) minimum of a group, min clamped to <= 0. */
static void group_range(const float *x, int n, int nmax, float *scale, float *min)
{
    float mn = x[0], mx = x[0];
    for (int j = 1; j < n; j++) mn = fminf(mn, x[j]), mx = fmaxf(mx, x[j]);
    if (mn > 0) mn = 0;
    *scale = (mx - mn) / nmax;
    *min = -mn;
}

/* Round ng non-negative values to [0, nmax] against their max; returns the step. */
static float round_to_bits(const float *v, int ng, int nmax, int *out)
{
    float mx = 0;
    for (int g = 0; g < ng; g++) mx = fmaxf(mx, v[g]);
    float inv = mx > 0 ? nmax / mx : 0;
    for (int g = 0; g < ng; g++) out[g] = near_clamp(inv * v[g], 0, nmax);
    return mx / nmax;
}

/* q2_K: 16 groups of 16, 2-bit values, 4-bit scale and min. */
void cpu_q2_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float sc[16], mn[16];
        int ls[16], lm[16];
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) group_range(x + 16 * g, 16, 3, &sc[g], &mn[g]);
        y[i].d = pl_f32_to_f16(round_to_bits(sc, 16, 15, ls));
        y[i].dmin = pl_f32_to_f16(round_to_bits(mn, 16, 15, lm));
        float d = pl_f16_to_f32(y[i].d), dmin = pl_f16_to_f32(y[i].dmin);
        for (int g = 0; g < 16; g++) {
            y[i].scales[g] = (uint8_t)(ls[g] | lm[g] << 4);
            float dl = d * ls[g], ml = dmin * lm[g];
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (uint8_t)(dl ? near_clamp((x[16 * g + l] + ml) / dl, 0, 3) : 0);
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *p = L + 128 * h + l;
                y[i].qs[32 * h + l] = (uint8_t)(p[0] | p[32] << 2 | p[64] << 4 | p[96] << 6);
            }
    }
}

/* Pack sixteen 6-bit q3_K scales (0..63) into 12 bytes. */
static void q3_pack_scales(const int ls[16], uint8_t s[12])
{
    memset(s, 0, 12);
    for (int g = 0; g < 16; g++) {
        if (g < 8) s[g] = (uint8_t)(ls[g] & 0xf);
        else s[g - 8] |= (uint8_t)((ls[g] & 0xf) << 4);
        s[8 + g % 4] |= (uint8_t)((ls[g] >> 4) << (2 * (g / 4)));
    }
}

/* q3_K: 16 groups of 16, values -4..3, 6-bit signed scales. */
void cpu_q3_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q3_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float sc[16];
        int ls[16];
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) sc[g] = signed_extreme(x + 16 * g, 16) / -4;
        float max_scale = signed_extreme(sc, 16);
        float iscale = max_scale ? -32 / max_scale : 0;
        for (int g = 0; g < 16; g++) ls[g] = near_clamp(iscale * sc[g], -32, 31) + 32;
        q3_pack_scales(ls, y[i].scales);
        y[i].d = pl_f32_to_f16(iscale ? 1 / iscale : 0);
        float d = pl_f16_to_f32(y[i].d);
        for (int g = 0; g < 16; g++) {
            float dl = d * (ls[g] - 32);
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (uint8_t)(dl ? near_clamp(x[16 * g + l] / dl, -4, 3) + 4 : 4);
        }
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            if (L[e] > 3) y[i].hmask[l] |= (uint8_t)(1 << (4 * h + j)), L[e] -= 4;
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *p = L + 128 * h + l;
                y[i].qs[32 * h + l] = (uint8_t)(p[0] | p[32] << 2 | p[64] << 4 | p[96] << 6);
            }
    }
}

/* Scales/mins of q4_K and q5_K: 8 groups of 32 rounded to 6 bits and packed. */
static void k4_choose_scales(const float *x, int nmax, uint8_t s[12], pl_f16 *d, pl_f16 *dmin,
                             float dl[8], float ml[8])
{
    float sc[8], mn[8];
    int ls[8], lm[8];
    for (int g = 0; g < 8; g++) group_range(x + 32 * g, 32, nmax, &sc[g], &mn[g]);
    *d = pl_f32_to_f16(round_to_bits(sc, 8, 63, ls));
    *dmin = pl_f32_to_f16(round_to_bits(mn, 8, 63, lm));
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] = (uint8_t)ls[j];
            s[j + 4] = (uint8_t)lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xf) | (lm[j] & 0xf) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    for (int g = 0; g < 8; g++) dl[g] = pl_f16_to_f32(*d) * ls[g], ml[g] = pl_f16_to_f32(*dmin) * lm[g];
}

/* Values of 8 groups of 32 against rounded scales: L = round((x + m)/d). */
static void k4_values(const float *x, const float dl[8], const float ml[8], int nmax, uint8_t *L)
{
    for (int e = 0; e < QK_K; e++) {
        float d = dl[e / 32];
        L[e] = (uint8_t)(d ? near_clamp((x[e] + ml[e / 32]) / d, 0, nmax) : 0);
    }
}

/* q4_K: 8 groups of 32, 4-bit values, 6-bit scale and min. */
void cpu_q4_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float dl[8], ml[8];
        uint8_t L[QK_K];
        k4_choose_scales(x, 15, y[i].scales, &y[i].d, &y[i].dmin, dl, ml);
        k4_values(x, dl, ml, 15, L);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * p + l] = (uint8_t)(L[64 * p + l] | L[64 * p + 32 + l] << 4);
    }
}

/* q5_K: 8 groups of 32, 5-bit values, 6-bit scale and min. */
void cpu_q5_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float dl[8], ml[8];
        uint8_t L[QK_K];
        k4_choose_scales(x, 31, y[i].scales, &y[i].d, &y[i].dmin, dl, ml);
        k4_values(x, dl, ml, 31, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * p + l], b = L[64 * p + 32 + l];
                y[i].qs[32 * p + l] = (uint8_t)((a & 0xf) | (b & 0xf) << 4);
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * p) | (b >> 4) << (2 * p + 1));
            }
    }
}

/* q6_K: 16 groups of 16, values -32..31, int8 scales. */
void cpu_q6_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float sc[16];
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) sc[g] = signed_extreme(x + 16 * g, 16) / -32;
        float max_scale = signed_extreme(sc, 16);
        float iscale = max_scale ? -128 / max_scale : 0;
        y[i].d = pl_f32_to_f16(iscale ? 1 / iscale : 0);
        float d = pl_f16_to_f32(y[i].d);
        for (int g = 0; g < 16; g++) {
            y[i].scales[g] = (int8_t)near_clamp(iscale * sc[g], -128, 127);
            float dl = d * y[i].scales[g];
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (uint8_t)(dl ? near_clamp(x[16 * g + l] / dl, -32, 31) + 32 : 32);
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *p = L + 128 * h + l;
                y[i].ql[64 * h + l] = (uint8_t)((p[0] & 0xf) | (p[64] & 0xf) << 4);
                y[i].ql[64 * h + l + 32] = (uint8_t)((p[32] & 0xf) | (p[96] & 0xf) << 4);
                y[i].qh[32 * h + l] = (uint8_t)(p[0] >> 4 | (p[32] >> 4) << 2 | (p[64] >> 4) << 4 |
                                                (p[96] >> 4) << 6);
            }
    }
}
