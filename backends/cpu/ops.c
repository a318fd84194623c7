/* ops.c — the small per-token CPU ops of a forward pass (norm, softmax,
 * SwiGLU, add, RoPE, f16 dot/axpy for attention over an F16 KV cache).
 *
 * They are cheap next to the matmuls, so they are plain loops the compiler
 * can vectorise; the f16 helpers have an F16C/AVX2 twin picked by CPU level
 * because attention calls them once per cached position and head.
 * RoPE follows ggml: the angle of pair i at position p is
 * freq_scale * p * base^(-2i/n_rot) / freq_factor[i], computed with the same
 * running product ggml uses, so results match llama.cpp to float rounding.
 */
#include <math.h>

#include "cpu_impl.h"

/* out = x / sqrt(mean(x^2) + eps) * w (w may be NULL; out may be x). */
void pl_cpu_rms_norm(const float *x, const float *w, int n, float eps, float *out)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    if (w) for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
    else for (int i = 0; i < n; i++) out[i] = x[i] * scale;
}

/* x = softmax(x), max-subtracted for range; an empty row is left alone. */
void pl_cpu_softmax_inplace(float *x, int n)
{
    if (n <= 0) return;
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* out = silu(gate) * up, silu(g) = g / (1 + e^-g) (out may alias either). */
void pl_cpu_silu_mul(const float *gate, const float *up, int n, float *out)
{
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* out = a + b (out may alias either). */
void pl_cpu_add(const float *a, const float *b, int n, float *out)
{
    for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* out = a * b elementwise (out may alias either). */
void pl_cpu_mul(const float *a, const float *b, int n, float *out)
{
    for (int i = 0; i < n; i++) out[i] = a[i] * b[i];
}

/* x *= s. */
void pl_cpu_scale(float *x, float s, int n)
{
    for (int i = 0; i < n; i++) x[i] *= s;
}

/* cos/sin of the n_rot/2 rotation angles at position pos into cs[2*i], cs[2*i+1]. */
void pl_cpu_rope_cache(float *cs, int n_rot, float pos, float theta_base, float freq_scale,
                       const float *freq_factors)
{
    float theta_scale = powf(theta_base, -2.0f / (float)n_rot);
    float theta = pos;
    for (int i = 0; i < n_rot / 2; i++) {
        float ff = freq_factors ? freq_factors[i] : 1.0f;
        float t = freq_scale * (theta / ff);
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

/* Rotate the first n_rot dims of each of n_head heads (head_dim apart) in place. */
void pl_cpu_rope(float *x, int n_head, int head_dim, int n_rot, const float *cs, int mode)
{
    int half = n_rot / 2;
    for (int h = 0; h < n_head; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            int a = mode == PL_ROPE_NEOX ? i : 2 * i, b = mode == PL_ROPE_NEOX ? i + half : 2 * i + 1;
            float c = cs[2 * i], s = cs[2 * i + 1], x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

/* Scalar f16 . f32. */
float cpu_dot_f16_f32_ref(const pl_f16 *a, const float *b, int n)
{
    float acc = 0;
    for (int i = 0; i < n; i++) acc += pl_f16_to_f32(a[i]) * b[i];
    return acc;
}

/* Scalar y += a * x, x in f16. */
void cpu_axpy_f16_f32_ref(float *y, const pl_f16 *x, float a, int n)
{
    for (int i = 0; i < n; i++) y[i] += a * pl_f16_to_f32(x[i]);
}

/* sum a[i]*b[i], a in f16 (a K-cache row), b in f32 (a query). */
float pl_cpu_dot_f16_f32(const pl_f16 *a, const float *b, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    int l = pl_cpu_level();
    if (l == PL_CPU_AVX2 || l == PL_CPU_AVX512) return cpu_dot_f16_f32_avx2(a, b, n);
#endif
    return cpu_dot_f16_f32_ref(a, b, n);
}

/* y += a * x, x in f16 (a V-cache row). */
void pl_cpu_axpy_f16_f32(float *y, const pl_f16 *x, float a, int n)
{
#if defined(__x86_64__) || defined(__i386__)
    int l = pl_cpu_level();
    if (l == PL_CPU_AVX2 || l == PL_CPU_AVX512) { cpu_axpy_f16_f32_avx2(y, x, a, n); return; }
#endif
    cpu_axpy_f16_f32_ref(y, x, a, n);
}
