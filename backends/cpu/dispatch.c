/* dispatch.c — picks the activation quantizer and multi-row kernel per type.
 *
 * The type table (types.c) picks vec_dot; this file picks the two other
 * kernels the matmul uses, from the same CPU level, so forcing a level in a
 * test moves every kernel of a matmul together.
 */
#include "cpu_impl.h"

#if defined(__x86_64__) || defined(__i386__)
/* True when the AVX2 kernels may run. */
static bool dispatch_x86_avx2(void)
{
    int l = pl_cpu_level();
    return l == PL_CPU_AVX2 || l == PL_CPU_AVX512;
}
#else
/* Elsewhere the decode kernels of gemv_avx512.c do not exist; matmul.c still
 * names their helpers (behind cpu_gemv_uses_prep), so they answer "none". */
bool   cpu_gemv_avx512_supported(void) { return false; }
size_t cpu_gemv_act_bytes(int64_t cols) { (void)cols; return 0; }
#endif

/* Fastest quantizer for activations of type t (Q8_0, Q8_1, Q8_K, F16). */
pl_from_float_fn cpu_act_quantizer(pl_type t)
{
#if defined(__x86_64__) || defined(__i386__)
    if (dispatch_x86_avx2()) {
        if (t == PL_TYPE_Q8_0) return cpu_q8_0_from_float_avx2;
        if (t == PL_TYPE_Q8_1) return cpu_q8_1_from_float_avx2;
        if (t == PL_TYPE_Q8_K) return cpu_q8_K_from_float_avx2;
        if (t == PL_TYPE_F16) return cpu_f16_from_float_avx2;
    }
#endif
    const pl_type_traits *tr = pl_type_traits_get(t);
    return tr ? tr->from_float : NULL;
}

/* Multi-row kernel for weights of type t, or NULL (matmul uses vec_dot). */
cpu_gemm_fn cpu_gemm_kernel(pl_type t)
{
#if defined(__x86_64__) || defined(__i386__)
    static const struct { pl_type t; cpu_gemm_fn avx2, avx512; } k_gemm[] = {
        { PL_TYPE_Q4_0, cpu_q4_0_gemm_avx2, cpu_q4_0_gemm_avx512 },
        { PL_TYPE_Q4_1, cpu_q4_1_gemm_avx2, cpu_q4_1_gemm_avx512 },
        { PL_TYPE_Q5_0, cpu_q5_0_gemm_avx2, cpu_q5_0_gemm_avx512 },
        { PL_TYPE_Q5_1, cpu_q5_1_gemm_avx2, cpu_q5_1_gemm_avx512 },
        { PL_TYPE_Q8_0, NULL, cpu_q8_0_gemm_avx512 },
    };
    int level = pl_cpu_level();
    for (size_t i = 0; i < sizeof k_gemm / sizeof k_gemm[0]; i++) {
        if (k_gemm[i].t != t) continue;
        if (level == PL_CPU_AVX512) return k_gemm[i].avx512;
        if (level == PL_CPU_AVX2) return k_gemm[i].avx2;
    }
#endif
    (void)t;
    return NULL;
}

/* Panel group size of t for the prefill path, 0 when the level has none. */
int cpu_panel_group(pl_type t)
{
#if defined(__x86_64__) || defined(__i386__)
    if (pl_cpu_level() == PL_CPU_AVX512) return cpu_panel_group_avx512(t);
#endif
    (void)t;
    return 0;
}

/* Decode kernels: the 32-block ones read the prepared activation (and need
 * VBMI/BITALG beyond the AVX-512 level), the K-quant ones the Q8_K row. */
static const struct { pl_type t; cpu_gemv_fn fn; bool prep; } k_gemv[] = {
#if defined(__x86_64__) || defined(__i386__)
    { PL_TYPE_Q4_0, cpu_q4_0_gemv_avx512, true }, { PL_TYPE_Q4_1, cpu_q4_1_gemv_avx512, true },
    { PL_TYPE_Q5_0, cpu_q5_0_gemv_avx512, true }, { PL_TYPE_Q5_1, cpu_q5_1_gemv_avx512, true },
    { PL_TYPE_Q8_0, cpu_q8_0_gemv_avx512, true }, { PL_TYPE_Q4_K, cpu_q4_K_gemv_avx512, false },
    { PL_TYPE_Q6_K, cpu_q6_K_gemv_avx512, false },
#endif
    { PL_TYPE_F32, NULL, false },
};

/* Decode kernel for weights of type t, or NULL (matmul uses the gemm/dot path). */
cpu_gemv_fn cpu_gemv_kernel(pl_type t)
{
    if (pl_cpu_level() != PL_CPU_AVX512) return NULL;
    for (size_t i = 0; i < sizeof k_gemv / sizeof k_gemv[0]; i++)
        if (k_gemv[i].t == t && (!k_gemv[i].prep || cpu_gemv_avx512_supported())) return k_gemv[i].fn;
    return NULL;
}

/* True when t's decode kernel reads the cpu_gemv_act_prep layout (else its vec_dot_type row). */
bool cpu_gemv_uses_prep(pl_type t)
{
    for (size_t i = 0; i < sizeof k_gemv / sizeof k_gemv[0]; i++)
        if (k_gemv[i].t == t) return k_gemv[i].prep;
    return false;
}

/* Prepare one activation row for the decode kernels (x86 AVX-512 only). */
void cpu_gemv_act_prep(const float *x, int64_t cols, void *act)
{
#if defined(__x86_64__) || defined(__i386__)
    cpu_gemv_act_prep_avx512(x, cols, act);
#else
    (void)x, (void)cols, (void)act;
#endif
}

/* Decode kernel for weights of type t in the 16-row layout, or NULL. */
cpu_r16_fn cpu_r16_gemv_kernel(pl_type t)
{
#if defined(__x86_64__) || defined(__i386__)
    if (pl_cpu_level() == PL_CPU_AVX512) {   /* F+BW+VL+DQ+VNNI */
        if (t == PL_TYPE_Q4_0) return cpu_q4_0_r16_gemv_avx512;
        if (t == PL_TYPE_Q8_0) return cpu_q8_0_r16_gemv_avx512;
        if (t == PL_TYPE_Q4_1) return cpu_q4_1_r16_gemv_avx512;
        if (t == PL_TYPE_Q5_0 && cpu_has_avx512vbmi()) return cpu_q5_0_r16_gemv_avx512vbmi;
        if (t == PL_TYPE_Q4_K) return cpu_q4_K_r16_gemv_avx512;
        if (t == PL_TYPE_Q6_K) return cpu_q6_K_r16_gemv_avx512;
    }
#endif
    (void)t;
    return NULL;
}

/* True when t's R16 kernel reads cpu_r16_act_prep's layout (else its Q8_K row). */
bool cpu_r16_uses_prep(pl_type t)
{
    return t == PL_TYPE_Q4_0 || t == PL_TYPE_Q4_1 || t == PL_TYPE_Q5_0 || t == PL_TYPE_Q8_0;
}

/* True when the panel packer reads t in R16 itself (else tiles are unpacked first). */
bool cpu_panel_reads_r16(pl_type t)
{
    return t == PL_TYPE_Q4_0 || t == PL_TYPE_Q4_1 || t == PL_TYPE_Q5_0 || t == PL_TYPE_Q8_0;
}

/* Prepare one activation row for the R16 decode kernels (x86 AVX-512 only). */
void cpu_r16_act_prep(const float *x, int64_t cols, void *act)
{
#if defined(__x86_64__) || defined(__i386__)
    cpu_r16_act_prep_avx512(x, cols, act);
#else
    (void)x, (void)cols, (void)act;
#endif
}
