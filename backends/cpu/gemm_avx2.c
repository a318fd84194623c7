/* gemm_avx2.c — the 4-row block kernels of gemm_x86.h on plain AVX2:
 * a 4-byte dot is maddubs (u8 x i8 -> i16 pairs, no overflow for our < 8-bit
 * weights... except q8_0, whose u8 up to 255 could saturate, see below) then
 * madd to int32.
 *
 * q8_0 as unsigned (x ^ 0x80) would overflow maddubs' int16 pair sums
 * (255*127*2), so on AVX2 q8_0 keeps the sign trick in its own kernel. */
#include "simd_x86.h"

#if defined(__AVX2__)

#define GEMM_SUFFIX avx2
/* acc + sums of 4 u8*i8 products (int16 pair sums are exact below 8-bit weights). */
#define GEMM_DOT(acc, u, i) _mm256_add_epi32((acc), simd_dot_u8i8((u), (i)))
#define GEMM_NO_Q8_0
#include "gemm_x86.h"

#endif
