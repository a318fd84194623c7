/* cpu_impl.h — internals of the CPU backend, shared by backends/ only.
 *
 * Every element type has a scalar reference (quant_ref.c, quant_ref_k.c) and
 * optional SIMD twins (quant_avx2.c, quant_avx512.c, quant_neon.c) with the
 * same signature. types.c holds the table that picks one per type from the
 * CPU level; nothing outside backends/ sees these names.
 *
 * Naming: cpu_<type>_<what>_<path>, e.g. cpu_q4_0_dot_ref, cpu_q4_0_dot_avx2.
 * A dot's y operand is of the type's vec_dot_type (see types.c).
 */
#ifndef PL_CPU_IMPL_H
#define PL_CPU_IMPL_H

#include <stdint.h>

#include "../backend.h"

/* Declare the to_float / from_float / dot_ref triple of a type. */
#define CPU_DECL_REF(T)                                                   \
    void cpu_##T##_to_float(const void *src, float *dst, int64_t n);      \
    void cpu_##T##_from_float(const float *src, void *dst, int64_t n);    \
    void cpu_##T##_dot_ref(int n, float *s, const void *x, const void *y);

CPU_DECL_REF(f32)
CPU_DECL_REF(f16)
CPU_DECL_REF(bf16)
CPU_DECL_REF(q4_0)
CPU_DECL_REF(q4_1)
CPU_DECL_REF(q5_0)
CPU_DECL_REF(q5_1)
CPU_DECL_REF(q8_0)
CPU_DECL_REF(q8_1)
CPU_DECL_REF(q2_K)
CPU_DECL_REF(q3_K)
CPU_DECL_REF(q4_K)
CPU_DECL_REF(q5_K)
CPU_DECL_REF(q6_K)
CPU_DECL_REF(q8_K)

/* SIMD paths: same signatures; defined only where the ISA exists. */
#define CPU_DECL_DOT(T, ISA) void cpu_##T##_dot_##ISA(int n, float *s, const void *x, const void *y);
#define CPU_DECL_DOTS(ISA)                                                 \
    CPU_DECL_DOT(f32, ISA) CPU_DECL_DOT(f16, ISA) CPU_DECL_DOT(bf16, ISA)  \
    CPU_DECL_DOT(q4_0, ISA) CPU_DECL_DOT(q4_1, ISA) CPU_DECL_DOT(q5_0, ISA)  \
    CPU_DECL_DOT(q5_1, ISA) CPU_DECL_DOT(q8_0, ISA) CPU_DECL_DOT(q2_K, ISA)  \
    CPU_DECL_DOT(q3_K, ISA) CPU_DECL_DOT(q4_K, ISA) CPU_DECL_DOT(q5_K, ISA)  \
    CPU_DECL_DOT(q6_K, ISA)
CPU_DECL_DOTS(avx2)
CPU_DECL_DOTS(avx512)
CPU_DECL_DOTS(neon)

/* Fast activation quantizers (round half to even, may differ from the
 * reference by one step on exact ties). */
void cpu_q8_0_from_float_avx2(const float *src, void *dst, int64_t n);
void cpu_q8_1_from_float_avx2(const float *src, void *dst, int64_t n);
void cpu_q8_K_from_float_avx2(const float *src, void *dst, int64_t n);
void cpu_f16_to_float_avx2(const void *src, float *dst, int64_t n);
void cpu_f16_from_float_avx2(const float *src, void *dst, int64_t n);

/* The quantizer the matmul uses for activations of type t (fastest path). */
pl_from_float_fn cpu_act_quantizer(pl_type t);

/* Multi-row kernel: s[j*lds + r] = dot(weight row r, activation row j) for nr
 * weight rows spaced bx bytes apart and ny activation rows spaced by bytes.
 * NULL when a type has none; matmul then loops over vec_dot. */
typedef void (*cpu_gemm_fn)(int n, float *s, int64_t lds, const void *x, int64_t bx,
                            int nr, const void *y, int64_t by, int ny);
cpu_gemm_fn cpu_gemm_kernel(pl_type t);
#define CPU_DECL_GEMM(T, ISA) void cpu_##T##_gemm_##ISA(int n, float *s, int64_t lds, const void *x, \
                                                         int64_t bx, int nr, const void *y, int64_t by, int ny);
CPU_DECL_GEMM(q4_0, avx2) CPU_DECL_GEMM(q4_1, avx2) CPU_DECL_GEMM(q5_0, avx2) CPU_DECL_GEMM(q5_1, avx2)
CPU_DECL_GEMM(q4_0, avx512) CPU_DECL_GEMM(q4_1, avx512) CPU_DECL_GEMM(q5_0, avx512)
CPU_DECL_GEMM(q5_1, avx512) CPU_DECL_GEMM(q8_0, avx512)

/* Decode (one activation row) kernels: y[r] = W row r . x for nr rows spaced
 * w_row bytes apart. The 32-block types (gemv_avx512.c) read x prepared once
 * per call by cpu_gemv_act_prep into cpu_gemv_act_bytes(cols) bytes
 * (64-aligned; cpu_gemv_uses_prep), q4_K/q6_K (gemv_k_avx512.c) the Q8_K row.
 * cpu_gemv_kernel: NULL when t has none at the current CPU level. */
typedef void (*cpu_gemv_fn)(int64_t cols, const void *W, size_t w_row, int64_t nr, const void *act, float *y);
cpu_gemv_fn cpu_gemv_kernel(pl_type t);
bool   cpu_gemv_uses_prep(pl_type t);
size_t cpu_gemv_act_bytes(int64_t cols);
void   cpu_gemv_act_prep(const float *x, int64_t cols, void *act);
void   cpu_gemv_act_prep_avx512(const float *x, int64_t cols, void *act);
bool   cpu_gemv_avx512_supported(void);
#define CPU_DECL_GEMV(T) void cpu_##T##_gemv_avx512(int64_t cols, const void *W, size_t w_row, int64_t nr, \
                                                    const void *act, float *y);
CPU_DECL_GEMV(q4_0) CPU_DECL_GEMV(q4_1) CPU_DECL_GEMV(q5_0) CPU_DECL_GEMV(q5_1) CPU_DECL_GEMV(q8_0)
CPU_DECL_GEMV(q4_K) CPU_DECL_GEMV(q6_K)

/* Decode kernels for weights in the 16-row layout (PL_LAYOUT_R16, r16.c,
 * gemv_r16_avx512.c): y[0..nr) for nr rows (a multiple of 16) at W, reading
 * the activation prepared by cpu_r16_act_prep into cpu_r16_act_bytes(cols)
 * bytes. cpu_r16_gemv_kernel: NULL when t has none at the current level. */
typedef void (*cpu_r16_fn)(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
cpu_r16_fn cpu_r16_gemv_kernel(pl_type t);
size_t cpu_r16_act_bytes(int64_t cols);
void   cpu_r16_act_prep(const float *x, int64_t cols, void *act);
void   cpu_r16_act_prep_avx512(const float *x, int64_t cols, void *act);
void   cpu_q4_0_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
void   cpu_q8_0_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
void   cpu_q4_1_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
/* q5_0 needs VBMI as well (gemv_r16_q5_avx512vbmi.c): only when cpu_has_avx512vbmi. */
void   cpu_q5_0_r16_gemv_avx512vbmi(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
bool   cpu_has_avx512vbmi(void);
/* q4_K/q6_K (gemv_r16k_avx512.c) read the Q8_K row instead of a prepared one. */
bool   cpu_r16_uses_prep(pl_type t);
void   cpu_q4_K_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y);
void   cpu_q6_K_r16_gemv_avx512(int64_t cols, const void *W, int64_t nr, const void *act, float *y);

/* Prefill on 16-row weight panels (panel_avx512.c, AVX-512 VNNI): weights
 * unpacked to groups of G unsigned bytes (value = d*u + m per group and row)
 * and transposed so one vpdpbusd advances 16 rows; activations prepared once
 * per call as i8 q[K] | f32 dy[K/G] | f32 dy*sum(q)[K/G].
 * cpu_panel_group: G (16 or 32) when t has a panel path at the current CPU
 * level, else 0. */
int    cpu_panel_group(pl_type t);
int    cpu_panel_group_avx512(pl_type t);
size_t cpu_panel_bytes(int64_t cols, int group);       /* one panel + its scratch */
size_t cpu_panel_act_bytes(int64_t cols, int group);   /* one prepared activation row */
void   cpu_panel_pack_avx512(pl_type t, const void *W, size_t w_row, int nr, int64_t cols, void *panel);
void   cpu_panel_pack_r16_avx512(pl_type t, const void *W, int64_t cols, void *panel);   /* 16 rows in R16 */
bool   cpu_panel_reads_r16(pl_type t);   /* q4_0, q4_1, q5_0, q8_0: the packer above reads them */
void   cpu_panel_act_prep_avx512(pl_type at, int group, const void *xq, int64_t cols, void *out);
void   cpu_panel_run_avx512(const void *panel, int group, int64_t cols, const void *act, size_t act_row,
                            int nc, float *Y, int64_t ldy, int nr);

/* f16 helpers for attention over an F16 KV cache (scalar / SIMD). */
float cpu_dot_f16_f32_ref(const pl_f16 *a, const float *b, int n);
void  cpu_axpy_f16_f32_ref(float *y, const pl_f16 *x, float a, int n);
float cpu_dot_f16_f32_avx2(const pl_f16 *a, const float *b, int n);
void  cpu_axpy_f16_f32_avx2(float *y, const pl_f16 *x, float a, int n);

/* Which CPU level types.c last built its table for (for lazy re-selection). */
void cpu_traits_reselect(int level);

/* Can a matmul run this weight with cols columns (type, layout, shape)? (matmul.c) */
bool cpu_matmul_valid(const pl_matmul_w *w, int64_t cols);

#endif
