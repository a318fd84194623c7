/* quantize.h — `parley quantize`: a GGUF file converted to another weight type.
 */
#ifndef PL_ENGINE_QUANTIZE_H
#define PL_ENGINE_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- quantize (engine/quantize.c, engine/quantize_recipe.c) -----------
 * `parley quantize IN OUT TYPE`: every 2-D weight matrix is converted to the
 * type llama.cpp's recipe for TYPE gives it (Q4_K_M: more bits for attn_v and
 * ffn_down in some layers, Q6_K output, ...); other tensors and all metadata
 * are copied (general.file_type updated). Tensor order and alignment are kept.
 * The output is written atomically: on any failure no file is left behind. */

typedef struct pl_quant_event {
    int         index, total;   /* 1-based tensor number, tensors in the file */
    const char *name;           /* NUL-terminated, valid during the callback */
    uint32_t    n_dims;
    uint64_t    ne[4];
    pl_type     from, to;       /* to == from: copied as is */
    pl_type     wanted;         /* the recipe's type before a fallback */
    bool        converted;      /* data rewritten (else copied byte for byte) */
    bool        requantized;    /* converted from an already-quantized type */
    bool        fallback;       /* row length not a multiple of wanted's block */
} pl_quant_event;

typedef struct pl_quant_stats {
    uint64_t in_bytes, out_bytes;   /* file sizes */
    int      n_tensors, n_converted, n_copied, n_requantized, n_fallback;
    double   seconds;
} pl_quant_stats;

typedef void (*pl_quant_progress_fn)(void *ud, const pl_quant_event *ev);

/* The type names pl_quantize_file accepts ("Q4_K_M", ...), NULL-terminated. */
const char *const *pl_quantize_type_names(void);
/* True if type_name (case-insensitive) is one of them. */
bool pl_quantize_type_known(const char *type_name);
/* Convert in to out. n_threads 0 = all cores. progress (may be NULL) is called
 * once per tensor before its conversion; stats (may be NULL) filled on success. */
pl_code pl_quantize_file(const char *in, const char *out, const char *type_name, int n_threads,
                         pl_quant_progress_fn progress, void *ud, pl_quant_stats *stats,
                         pl_status *st);

#ifdef __cplusplus
}
#endif
#endif
