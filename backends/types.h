/* types.h — the element types every room names: the GGUF type ids and their names.
 *
 * The smallest door of backends/: the engine's public header and the block
 * layouts (quant_blocks.h, compiled as C, CUDA and HIP) both take pl_type from
 * here, so a caller of the engine sees type ids without the block structs.
 */
#ifndef PL_TYPES_H
#define PL_TYPES_H

#ifdef __cplusplus
extern "C" {
#endif

/* GGUF tensor type ids (ggml_type). Gaps are types parley does not read. */
typedef enum pl_type {
    PL_TYPE_F32  = 0,
    PL_TYPE_F16  = 1,
    PL_TYPE_Q4_0 = 2,
    PL_TYPE_Q4_1 = 3,
    PL_TYPE_Q5_0 = 6,
    PL_TYPE_Q5_1 = 7,
    PL_TYPE_Q8_0 = 8,
    PL_TYPE_Q8_1 = 9,
    PL_TYPE_Q2_K = 10,
    PL_TYPE_Q3_K = 11,
    PL_TYPE_Q4_K = 12,
    PL_TYPE_Q5_K = 13,
    PL_TYPE_Q6_K = 14,
    PL_TYPE_Q8_K = 15,
    PL_TYPE_BF16 = 30,
    PL_TYPE_COUNT = 31
} pl_type;

const char *pl_type_name(pl_type t);           /* "q4_0", "f16", ... or NULL if unknown */
int         pl_type_from_name(const char *s);  /* -1 if unknown */

#ifdef __cplusplus
}
#endif
#endif
