/* quant_ref_kq.c — error-minimising quantizers for the K-quants.
 *
 * Same algorithm as ggml's reference quantizers (ggml-quants.c, read for the
 * method; this is our own code), so a file parley writes is as good as one
 * llama-quantize writes without an importance matrix:
 *   1. per group, search the scale (and minimum) that minimise a weighted
 *      error instead of taking the plain range:
 *      - q6_K: try 19 scales around max/-32, keep the one maximising
 *        (sum w x l)^2 / sum w l^2 with w = x^2 (least-squares scale);
 *      - q3_K: start from max/-4, then move single values one step at a time
 *        while the least-squares fit improves (w = x^2, up to 5 sweeps);
 *      - q2_K/q4_K/q5_K (asymmetric): for candidate steps nmax+rmin+k*rdelta
 *        over the range, round, then solve the weighted 2x2 least squares for
 *        (scale, min) and keep the lowest weighted error (q2_K: absolute
 *        error, w = |x|; q4_K/q5_K: squared error, w = rms(group) + |x|);
 *   2. round the group scales/mins to their few bits against one super-block
 *      scale (f16);
 *   3. re-round every value against the rounded group scale it will be read
 *      back with.
 * The bit layouts are GGUF's; quant_ref_k.c describes them.
 */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

#define KQ_EPS 1e-15f   /* a group whose largest |x| is below this is zero */

/* Nearest integer, half to even (ggml's nearest_int). */
static int near_int(float v) { return (int)lrintf(v); }

/* Nearest integer clamped to [lo, hi]. */
static int near_clamp(float v, int lo, int hi)
{
    int r = near_int(v);
    return r < lo ? lo : r > hi ? hi : r;
}

/* Signed extreme (the value of largest |v|) of n values. */
static float signed_extreme(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    return max;
}

/* ---- symmetric groups (q6_K, q3_K) ---------------------------------------- */

/* Weighted sums of one candidate inverse scale: sum w*x*l and sum w*l^2, w = x^2. */
static void sym_sums(const float *x, int n, int nmax, float iscale, float *sumlx, float *suml2)
{
    float a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        int l = near_clamp(iscale * x[i], -nmax, nmax - 1);
        float w = x[i] * x[i];
        a += w * x[i] * l;
        b += w * l * l;
    }
    *sumlx = a, *suml2 = b;
}

/* q6_K group scale: values l in [-nmax, nmax), L = l + nmax; the best of 19
 * inverse scales around -nmax/max by the least-squares criterion. */
static float sym_search_scale(const float *x, int n, int nmax, uint8_t *L)
{
    float max = signed_extreme(x, n);
    if (fabsf(max) < KQ_EPS) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float best_is = -nmax / max, sumlx, suml2;
    sym_sums(x, n, nmax, best_is, &sumlx, &suml2);
    float scale = sumlx / suml2, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        float iscale = -(nmax + 0.1f * is) / max;
        sym_sums(x, n, nmax, iscale, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2)
            best_is = iscale, scale = sumlx / suml2, best = scale * sumlx;
    }
    for (int i = 0; i < n; i++) L[i] = (uint8_t)(near_clamp(best_is * x[i], -nmax, nmax - 1) + nmax);
    return scale;
}

/* q3_K group scale: round against -nmax/max, then move single values while the
 * weighted least-squares fit improves (at most 5 sweeps). L = l + nmax. */
static float sym_refine_scale(const float *x, int n, int nmax, uint8_t *L)
{
    float max = signed_extreme(x, n);
    if (max == 0) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    int l[32];
    for (int i = 0; i < n; i++) {
        l[i] = near_clamp(iscale * x[i], -nmax, nmax - 1);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l[i];
        suml2 += w * l[i] * l[i];
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i], slx = sumlx - w * x[i] * l[i];
            if (slx <= 0) continue;
            float sl2 = suml2 - w * l[i] * l[i];
            int nl = near_clamp(x[i] * sl2 / slx, -nmax, nmax - 1);
            if (nl == l[i]) continue;
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                l[i] = nl, sumlx = slx, suml2 = sl2, changed++;
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (uint8_t)(l[i] + nmax);
    return sumlx / suml2;
}

/* ---- asymmetric groups (q2_K, q4_K, q5_K) --------------------------------- */

/* Search parameters of one asymmetric type. */
typedef struct asym_search {
    int   nmax;          /* values 0..nmax */
    float rmin, rdelta;  /* candidate steps: (nmax + rmin + k*rdelta) over the range */
    int   nstep;
    int   use_mad;       /* 1: weighted absolute error, 0: weighted squared error */
} asym_search;

/* Weighted error of x against scale*L + min. */
static float asym_error(const float *x, const float *w, const uint8_t *L, int n, float scale, float min, int mad)
{
    float e = 0;
    for (int i = 0; i < n; i++) {
        float d = scale * L[i] + min - x[i];
        e += w[i] * (mad ? fabsf(d) : d * d);
    }
    return e;
}

/* Group (scale, -min) minimising the weighted error: for every candidate step
 * round the values, then fit scale and min by weighted least squares (min
 * kept <= 0). Returns the scale, *neg_min = -min, L the values 0..nmax. */
static float asym_search_scale(const float *x, const float *w, int n, const asym_search *p, uint8_t *L,
                               float *neg_min)
{
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        min = fminf(min, x[i]), max = fmaxf(max, x[i]);
        sum_w += w[i], sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0;
    }
    float iscale = p->nmax / (max - min), scale = 1 / iscale;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)near_clamp(iscale * (x[i] - min), 0, p->nmax);
    float best = asym_error(x, w, L, n, scale, min, p->use_mad);
    uint8_t La[32];
    for (int is = 0; is <= p->nstep; is++) {
        iscale = (p->rmin + p->rdelta * is + p->nmax) / (max - min);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = near_clamp(iscale * (x[i] - min), 0, p->nmax);
            La[i] = (uint8_t)l;
            sl += w[i] * l, sl2 += w[i] * l * l, sxl += w[i] * l * x[i];
        }
        float D = sum_w * sl2 - sl * sl;
        if (D <= 0) continue;
        float s = (sum_w * sxl - sum_x * sl) / D, m = (sl2 * sum_x - sl * sxl) / D;
        if (m > 0) m = 0, s = sxl / sl2;
        float e = asym_error(x, w, La, n, s, m, p->use_mad);
        if (e < best) memcpy(L, La, (size_t)n), best = e, scale = s, min = m;
    }
    *neg_min = -min;
    return scale;
}

/* Pack 256 two-bit values: element 128h + 32j + l -> bits 2j of qs[32h + l]. */
static void pack_crumbs(const uint8_t *L, uint8_t *qs)
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *p = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)((p[0] & 3) | (p[32] & 3) << 2 | (p[64] & 3) << 4 | (p[96] & 3) << 6);
        }
}

/* ---- q2_K ---------------------------------------------------------------- */

/* Round 16 non-negative group values to 4 bits against their max; returns the step. */
static float round_to_4bits(const float *v, int *out)
{
    float mx = 0;
    for (int g = 0; g < 16; g++) mx = fmaxf(mx, v[g]);
    float inv = mx > 0 ? 15 / mx : 0;
    for (int g = 0; g < 16; g++) out[g] = near_clamp(inv * v[g], 0, 15);
    return mx / 15;
}

/* q2_K: 16 groups of 16, 2-bit values, 4-bit scale and min. */
void cpu_q2_K_from_float(const float *x, void *dst, int64_t n)
{
    static const asym_search k_q2 = { 3, -0.5f, 0.1f, 15, 1 };
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float sc[16], mn[16], w[16];
        int ls[16], lm[16];
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * g + l]);
            sc[g] = asym_search_scale(x + 16 * g, w, 16, &k_q2, L + 16 * g, &mn[g]);
        }
        y[i].d = pl_f32_to_f16(round_to_4bits(sc, ls));
        y[i].dmin = pl_f32_to_f16(round_to_4bits(mn, lm));
        float d = pl_f16_to_f32(y[i].d), dmin = pl_f16_to_f32(y[i].dmin);
        for (int g = 0; g < 16; g++) {
            y[i].scales[g] = (uint8_t)(ls[g] | lm[g] << 4);
            float dl = d * ls[g], ml = dmin * lm[g];
            if (dl == 0) continue;   /* keep the search's values */
            for (int l = 0; l < 16; l++) L[16 * g + l] = (uint8_t)near_clamp((x[16 * g + l] + ml) / dl, 0, 3);
        }
        pack_crumbs(L, y[i].qs);
    }
}

/* ---- q3_K ---------------------------------------------------------------- */

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
        int ls[16] = { 0 };
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) sc[g] = sym_refine_scale(x + 16 * g, 16, 4, L + 16 * g);
        float max_scale = signed_extreme(sc, 16);
        float iscale = max_scale ? -32 / max_scale : 0;
        for (int g = 0; g < 16; g++) ls[g] = max_scale ? near_clamp(iscale * sc[g], -32, 31) + 32 : 0;
        q3_pack_scales(ls, y[i].scales);
        if (!max_scale) memset(y[i].scales, 0, 12);
        y[i].d = pl_f32_to_f16(max_scale ? 1 / iscale : 0);
        float d = pl_f16_to_f32(y[i].d);
        for (int g = 0; g < 16; g++) {
            float dl = d * (ls[g] - 32);
            if (dl == 0) continue;
            for (int l = 0; l < 16; l++) L[16 * g + l] = (uint8_t)(near_clamp(x[16 * g + l] / dl, -4, 3) + 4);
        }
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            if (L[e] > 3) y[i].hmask[l] |= (uint8_t)(1 << (4 * h + j)), L[e] -= 4;
        }
        pack_crumbs(L, y[i].qs);
    }
}

/* ---- q4_K / q5_K ----------------------------------------------------------- */

/* Search 8 groups of 32 (weights rms(group) + |x|), then round scales and
 * mins to 6 bits, pack them, and re-round the values: L in 0..nmax. */
static void k4_quantize(const float *x, const asym_search *p, uint8_t s[12], pl_f16 *d, pl_f16 *dmin,
                        uint8_t *L)
{
    float sc[8], mn[8], w[32], max_sc = 0, max_mn = 0;
    for (int g = 0; g < 8; g++) {
        const float *xg = x + 32 * g;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xg[l] * xg[l];
        float av = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(xg[l]);
        sc[g] = asym_search_scale(xg, w, 32, p, L + 32 * g, &mn[g]);
        max_sc = fmaxf(max_sc, sc[g]), max_mn = fmaxf(max_mn, mn[g]);
    }
    float inv_sc = max_sc > 0 ? 63 / max_sc : 0, inv_mn = max_mn > 0 ? 63 / max_mn : 0;
    int ls[8], lm[8];
    for (int g = 0; g < 8; g++) ls[g] = near_clamp(inv_sc * sc[g], 0, 63), lm[g] = near_clamp(inv_mn * mn[g], 0, 63);
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
    *d = pl_f32_to_f16(max_sc / 63);
    *dmin = pl_f32_to_f16(max_mn / 63);
    for (int g = 0; g < 8; g++) {
        float dl = pl_f16_to_f32(*d) * ls[g], ml = pl_f16_to_f32(*dmin) * lm[g];
        if (dl == 0) continue;
        for (int l = 0; l < 32; l++) L[32 * g + l] = (uint8_t)near_clamp((x[32 * g + l] + ml) / dl, 0, p->nmax);
    }
}

/* q4_K: 8 groups of 32, 4-bit values, 6-bit scale and min. */
void cpu_q4_K_from_float(const float *x, void *dst, int64_t n)
{
    static const asym_search k_q4 = { 15, -1.0f, 0.1f, 20, 0 };
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        k4_quantize(x, &k_q4, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * p + l] = (uint8_t)(L[64 * p + l] | L[64 * p + 32 + l] << 4);
    }
}

/* q5_K: 8 groups of 32, 5-bit values, 6-bit scale and min. */
void cpu_q5_K_from_float(const float *x, void *dst, int64_t n)
{
    static const asym_search k_q5 = { 31, -0.5f, 0.1f, 15, 0 };
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        k4_quantize(x, &k_q5, y[i].scales, &y[i].d, &y[i].dmin, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * p + l], b = L[64 * p + 32 + l];
                y[i].qs[32 * p + l] = (uint8_t)((a & 0xf) | (b & 0xf) << 4);
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * p) | (b >> 4) << (2 * p + 1));
            }
    }
}

/* ---- q6_K ---------------------------------------------------------------- */

/* q6_K: 16 groups of 16, values -32..31, int8 scales. */
void cpu_q6_K_from_float(const float *x, void *dst, int64_t n)
{
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float sc[16];
        uint8_t L[QK_K];
        for (int g = 0; g < 16; g++) sc[g] = sym_search_scale(x + 16 * g, 16, 32, L + 16 * g);
        float max_scale = signed_extreme(sc, 16);
        if (fabsf(max_scale) < KQ_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128 / max_scale;
        y[i].d = pl_f32_to_f16(1 / iscale);
        float d = pl_f16_to_f32(y[i].d);
        for (int g = 0; g < 16; g++) {
            y[i].scales[g] = (int8_t)near_clamp(iscale * sc[g], -128, 127);
            float dl = d * y[i].scales[g];
            if (dl == 0) continue;
            for (int l = 0; l < 16; l++) L[16 * g + l] = (uint8_t)(near_clamp(x[16 * g + l] / dl, -32, 31) + 32);
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
