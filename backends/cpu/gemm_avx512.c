/* gemm_avx512.c — the 4-row block kernels of gemm_x86.h with AVX-512 VNNI:
 * vpdpbusd does a 4-byte u8 x i8 dot straight into int32 lanes, one
 * instruction instead of maddubs + madd, and without int16 saturation, so
 * q8_0 can use the unsigned (x ^ 0x80) form too. Also the single-row
 * vec_dot entries of those types for the AVX-512 level. */
#include "simd_x86.h"

#if defined(__AVX2__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

#define GEMM_SUFFIX avx512
#define GEMM_DOT(acc, u, i) _mm256_dpbusd_epi32((acc), (u), (i))
#include "gemm_x86.h"

GEMM_VEC_DOT(q4_0, block_q8_0, cpu_q4_0_dot_avx512)
GEMM_VEC_DOT(q5_0, block_q8_0, cpu_q5_0_dot_avx512)
GEMM_VEC_DOT(q8_0, block_q8_0, cpu_q8_0_dot_avx512)
GEMM_VEC_DOT(q4_1, block_q8_1, cpu_q4_1_dot_avx512)
GEMM_VEC_DOT(q5_1, block_q8_1, cpu_q5_1_dot_avx512)

#endif
