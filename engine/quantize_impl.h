/* quantize_impl.h — inside the quantize room: the recipe (which tensor gets
 * which type) that engine/quantize.c applies and tests/unit/test_quantize.c
 * checks tensor by tensor without writing a file.
 */
#ifndef PL_QUANTIZE_IMPL_H
#define PL_QUANTIZE_IMPL_H

#include "engine.h"

/* One `parley quantize` TYPE: its name, llama.cpp's ftype id (general.file_type)
 * and the type most weights get. */
typedef struct quant_recipe {
    const char *name;     /* "Q4_K_M" */
    uint32_t    ftype;    /* llama_ftype id */
    pl_type     base;
} quant_recipe;

/* Facts about the model the rules look at. */
typedef struct quant_model_facts {
    int  n_layer;      /* <arch>.block_count (or highest blk.N + 1) */
    int  n_gqa;        /* head_count / head_count_kv (1 if unknown) */
    bool has_output;   /* false: token_embd doubles as the output matrix */
} quant_model_facts;

/* What the recipe does with one tensor. */
typedef struct quant_pick {
    bool    quantize;  /* a weight matrix the recipe converts */
    pl_type type;      /* final type (after fallback) */
    pl_type wanted;    /* the rule's type before fallback */
    bool    fallback;  /* row length not a multiple of wanted's block size */
} quant_pick;

/* The recipe named name (case-insensitive), NULL if unknown. */
const quant_recipe *quant_recipe_find(const char *name);
/* Type of tensor name (n_dims, ne) under recipe r. */
quant_pick quant_recipe_pick(const quant_recipe *r, const quant_model_facts *m, const char *name,
                             uint32_t n_dims, const uint64_t *ne);

#endif
