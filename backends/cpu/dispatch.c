/* dispatch.c — picks the activation quantizer and multi-row kernel per type.
 *
 * The type table (types.c) picks vec_dot; this file picks the two other
 * kernels the matmul uses, from the same CPU level, so forcing a level in a
 * test moves every kernel of a matmul together.
 */
#include "cpu_impl.h"

/* True when the AVX2 kernels may run. */
static bool dispatch_x86_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    int l = pl_cpu_level();
    return l == PL_CPU_AVX2 || l == PL_CPU_AVX512;
#else
    return false;
#endif
}

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
    (void)t;
    return NULL;
}
