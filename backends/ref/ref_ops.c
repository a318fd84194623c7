/* ref_ops.c — the scalar reference ops of the forward pass (all but attention).
 *
 * Plain loops over f32 rows, one thread. Matmul is the definition the CPU's
 * kernels are tested against: each activation row quantized by the type's
 * reference quantizer (from_float of its vec_dot_type), then one reference
 * dot (vec_dot_ref) per output. RoPE angles use ggml's running product
 * (theta_i = p * base^(-2/n_rot) multiplied i times), so they are llama.cpp's
 * angles to the bit rather than a more exact pow per pair; RMSNorm and SwiGLU
 * round step by step as ggml does, because their rows are quantized next.
 * GeGLU is the tanh form of GELU computed in double, with no table and no f16
 * rounding.
 */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

/* Rows tokens[i] of a ROWS table as floats, times scale. */
int ref_embed(const void *table, pl_type t, pl_layout layout, int64_t n_rows, int64_t cols,
              const int32_t *tokens, int n, float scale, float *out)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    size_t rs = pl_row_size(t, cols);
    if (!tr || !tr->to_float || !rs || layout != PL_LAYOUT_ROWS) return PL_BACKEND_EUNSUPPORTED;
    if (!table || !tokens || !out || n < 0) return PL_BACKEND_EARG;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_rows) return PL_BACKEND_EARG;
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * cols;
        tr->to_float((const uint8_t *)table + (size_t)tokens[i] * rs, o, cols);
        for (int64_t c = 0; c < cols; c++) o[c] *= scale;
    }
    return 0;
}

/* out = x / sqrt(mean(x^2) + eps) (* w), row by row, in ggml's order: the
 * mean in double, the scale in float, (x * scale) * w rounded step by step.
 * Bit-exact matters here: the next matmul quantizes this row to 8 bits, and
 * structured rows (an embedding of q8_0 values times a norm) sit on rounding
 * ties, so one ulp here moved a real model's logits by 1e-2. */
int ref_rms_norm(const float *x, const float *w, int rows, int d, float eps, float *out)
{
    if (!x || !out || rows < 0 || d <= 0) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *o = out + (size_t)r * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        const float scale = 1.0f / sqrtf((float)(ss / d) + eps);
        for (int i = 0; i < d; i++) {
            const float y = xr[i] * scale;
            o[i] = w ? y * w[i] : y;
        }
    }
    return 0;
}

/* A weight this backend can multiply: a known type with a reference dot, ROWS, whole blocks. */
static bool ref_weight_ok(const pl_matmul_w *w, int64_t cols)
{
    const pl_type_traits *tr = pl_type_traits_get(w->type);
    return tr && tr->vec_dot_ref && w->layout == PL_LAYOUT_ROWS && w->rows > 0 && pl_row_size(w->type, cols) &&
           pl_row_size(tr->vec_dot_type, cols);
}

/* Y_k = X . W_k^T by the reference quantizer and reference dot; checks all weights first. */
int ref_matmul(const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n)
{
    if (nw <= 0 || nw > 8 || cols <= 0 || n <= 0 || !X || cols > INT32_MAX) return PL_BACKEND_EARG;
    for (int k = 0; k < nw; k++) {
        if (!ws[k].W || !ws[k].Y) return PL_BACKEND_EARG;
        if (!ref_weight_ok(&ws[k], cols)) return PL_BACKEND_EUNSUPPORTED;
    }
    for (int k = 0; k < nw; k++) {
        const pl_type_traits *tw = pl_type_traits_get(ws[k].type), *tx = pl_type_traits_get(tw->vec_dot_type);
        size_t w_row = pl_row_size(ws[k].type, cols), x_row = pl_row_size(tw->vec_dot_type, cols);
        uint8_t *xq = malloc(x_row);
        if (!xq) return PL_BACKEND_ENOMEM;
        for (int64_t c = 0; c < n; c++) {
            tx->from_float(X + c * cols, xq, cols);
            for (int64_t r = 0; r < ws[k].rows; r++)
                tw->vec_dot_ref((int)cols, &ws[k].Y[c * ws[k].rows + r], (const uint8_t *)ws[k].W + r * w_row, xq);
        }
        free(xq);
    }
    return 0;
}

/* Rotate the first n_rot dims of every head of each row; row i at pos0 + i. */
int ref_rope(float *x, int n, int n_head, int head_dim, int pos0, const pl_rope_args *r)
{
    if (!x || !r || n < 0 || n_head <= 0 || r->n_rot <= 0 || r->n_rot % 2 || r->n_rot > head_dim)
        return PL_BACKEND_EARG;
    if (r->mode != PL_ROPE_NORMAL && r->mode != PL_ROPE_NEOX) return PL_BACKEND_EUNSUPPORTED;
    const int half = r->n_rot / 2;
    const float theta_scale = powf(r->base, -2.0f / (float)r->n_rot);
    for (int i = 0; i < n; i++) {
        float theta = (float)(pos0 + i);
        for (int p = 0; p < half; p++, theta *= theta_scale) {
            const float ff = r->freq_factors ? r->freq_factors[p] : 1.0f;
            const double ang = (double)(r->freq_scale * (theta / ff));
            const double c = cos(ang), s = sin(ang);
            const int a = r->mode == PL_ROPE_NEOX ? p : 2 * p, b = r->mode == PL_ROPE_NEOX ? p + half : 2 * p + 1;
            for (int h = 0; h < n_head; h++) {
                float *v = x + ((size_t)i * n_head + h) * head_dim;
                const double x0 = v[a], x1 = v[b];
                v[a] = (float)(x0 * c - x1 * s);
                v[b] = (float)(x0 * s + x1 * c);
            }
        }
    }
    return 0;
}

/* out = act(gate) * up. SwiGLU in ggml's float steps, silu(g) = g / (1 + e^-g)
 * (its output is quantized next, so rounding like llama.cpp matters, as in
 * ref_rms_norm); GeGLU by the tanh form of GELU in double (ggml's CPU reads
 * an f16 table instead: the two differ by about 2^-11). */
int ref_glu(pl_glu act, const float *gate, const float *up, int64_t n, float *out)
{
    if (!gate || !up || !out || n < 0) return PL_BACKEND_EARG;
    if (act != PL_GLU_SWIGLU && act != PL_GLU_GEGLU) return PL_BACKEND_EUNSUPPORTED;
    for (int64_t i = 0; i < n; i++) {
        if (act == PL_GLU_SWIGLU) {
            const float g = gate[i];
            out[i] = g / (1.0f + expf(-g)) * up[i];
            continue;
        }
        const double g = gate[i];
        out[i] = (float)(0.5 * g * (1.0 + tanh(0.7978845608028654 * (g + 0.044715 * g * g * g))) * up[i]);
    }
    return 0;
}

/* out = a + b, b one row per row of a, or one row for all (a bias). */
int ref_add(const float *a, const float *b, int rows, int b_rows, int d, float *out)
{
    if (!a || !b || !out || rows < 0 || d <= 0 || (b_rows != 1 && b_rows != rows)) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++) {
        const float *br = b + (size_t)(b_rows == 1 ? 0 : r) * d;
        for (int i = 0; i < d; i++) out[(size_t)r * d + i] = a[(size_t)r * d + i] + br[i];
    }
    return 0;
}

int ref_scale(float *x, int64_t n, float s)
{
    if (!x || n < 0) return PL_BACKEND_EARG;
    for (int64_t i = 0; i < n; i++) x[i] *= s;
    return 0;
}

/* Each row to softmax: max-subtracted, the sum in double. */
int ref_softmax(float *x, int rows, int d)
{
    if (!x || rows < 0 || d <= 0) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++) {
        float *v = x + (size_t)r * d;
        float mx = v[0];
        for (int i = 1; i < d; i++) mx = v[i] > mx ? v[i] : mx;
        double sum = 0;
        for (int i = 0; i < d; i++) sum += exp((double)v[i] - mx);
        for (int i = 0; i < d; i++) v[i] = (float)(exp((double)v[i] - mx) / sum);
    }
    return 0;
}

/* Final norm of one row, the output matmul, then cap * tanh(logit / cap). */
int ref_logits(const float *x, const float *norm_w, int d, float eps, const pl_matmul_w *w_out, float softcap)
{
    if (!x || !w_out || d <= 0) return PL_BACKEND_EARG;
    float *xn = malloc(sizeof(float) * (size_t)d);
    if (!xn) return PL_BACKEND_ENOMEM;
    int rc = ref_rms_norm(x, norm_w, 1, d, eps, xn);
    if (!rc) rc = ref_matmul(w_out, 1, d, xn, 1);
    free(xn);
    if (rc || softcap <= 0.0f) return rc;
    for (int64_t i = 0; i < w_out->rows; i++) w_out->Y[i] = (float)(softcap * tanh((double)w_out->Y[i] / softcap));
    return 0;
}
