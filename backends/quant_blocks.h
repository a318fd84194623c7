/* quant_blocks.h — weight and KV-cache element types, bit-identical to GGUF/ggml.
 *
 * Compiled as C, CUDA and HIP: plain structs and a type enum, nothing else.
 * Type ids are the GGUF on-disk ids, so a tensor's type field indexes this enum
 * directly. Each block struct is followed by a size check and its bits/weight.
 */
#ifndef PL_QUANT_BLOCKS_H
#define PL_QUANT_BLOCKS_H

#include <stdint.h>

#include "types.h"

#ifdef __cplusplus
#define PL_STATIC_ASSERT static_assert
#else
#define PL_STATIC_ASSERT _Static_assert
#endif

typedef uint16_t pl_f16;   /* IEEE half, stored as bits */
typedef uint16_t pl_bf16;  /* bfloat16, stored as bits */

/* pl_type (the GGUF type ids) lives in types.h. */

#define QK4_0 32
typedef struct { pl_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;            /* 4.5 bpw */
PL_STATIC_ASSERT(sizeof(block_q4_0) == 2 + QK4_0 / 2, "block_q4_0 size");

#define QK4_1 32
typedef struct { pl_f16 d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;         /* 5.0 bpw */
PL_STATIC_ASSERT(sizeof(block_q4_1) == 4 + QK4_1 / 2, "block_q4_1 size");

#define QK5_0 32
typedef struct { pl_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;   /* 5.5 bpw */
PL_STATIC_ASSERT(sizeof(block_q5_0) == 2 + 4 + QK5_0 / 2, "block_q5_0 size");

#define QK5_1 32
typedef struct { pl_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1; /* 6.0 bpw */
PL_STATIC_ASSERT(sizeof(block_q5_1) == 4 + 4 + QK5_1 / 2, "block_q5_1 size");

#define QK8_0 32
typedef struct { pl_f16 d; int8_t qs[QK8_0]; } block_q8_0;                  /* 8.5 bpw */
PL_STATIC_ASSERT(sizeof(block_q8_0) == 2 + QK8_0, "block_q8_0 size");

#define QK8_1 32
typedef struct { pl_f16 d, s; int8_t qs[QK8_1]; } block_q8_1;              /* activations: s = d * sum(qs) */
PL_STATIC_ASSERT(sizeof(block_q8_1) == 4 + QK8_1, "block_q8_1 size");

/* K-quants: super-blocks of 256 weights. */
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; pl_f16 d, dmin; } block_q2_K;  /* 2.625 bpw */
PL_STATIC_ASSERT(sizeof(block_q2_K) == 2 * 2 + QK_K / 16 + QK_K / 4, "block_q2_K size");

typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; pl_f16 d; } block_q3_K; /* 3.4375 bpw */
PL_STATIC_ASSERT(sizeof(block_q3_K) == 2 + QK_K / 4 + QK_K / 8 + 12, "block_q3_K size");

typedef struct { pl_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K; /* 4.5 bpw */
PL_STATIC_ASSERT(sizeof(block_q4_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2, "block_q4_K size");

typedef struct { pl_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K; /* 5.5 bpw */
PL_STATIC_ASSERT(sizeof(block_q5_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8, "block_q5_K size");

typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; pl_f16 d; } block_q6_K; /* 6.5625 bpw */
PL_STATIC_ASSERT(sizeof(block_q6_K) == 2 + QK_K / 16 + 3 * QK_K / 4, "block_q6_K size");

/* Activations for K-quant dot products: float scale, sums of groups of 16. */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;
PL_STATIC_ASSERT(sizeof(block_q8_K) == 4 + QK_K + QK_K / 16 * 2, "block_q8_K size");

#endif
