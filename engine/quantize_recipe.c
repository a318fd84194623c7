/* quantize_recipe.c — which type each tensor gets under a `parley quantize` TYPE.
 *
 * The facts follow llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for
 * the dense, non-IQ types; the code is ours: a rule table instead of a ladder.
 *
 * - Only weight matrices are converted: names ending in "weight" with at least
 *   2 dims, not norms, not a few small special matrices (kept_names below).
 * - F32/F16/BF16 targets convert every such matrix to that type, no rules.
 * - The output matrix (output.weight, or token_embd.weight when the model ties
 *   them) gets Q6_K, or Q8_0 when its rows do not split into the base type's
 *   blocks; under Q8_0 it stays Q8_0.
 * - Then the first rule matching (recipe, tensor class, condition) wins, e.g.
 *   Q4_K_M: attn_v and ffn_down get Q6_K in "more bits" layers (the first and
 *   last eighth and every third layer between).
 * - Fallback: a row length that is not a multiple of the chosen type's block
 *   (K-quants: 256) gets the nearest 32-block type (Q4_K -> Q5_0, Q5_K -> Q5_1,
 *   Q6_K -> Q8_0; Q2_K/Q3_K -> Q4_0 where llama.cpp uses IQ4_NL, which parley
 *   cannot write; both are 4.5 bits per weight), else F16.
 * Not modelled (parley runs none of them): Falcon, mixture-of-experts and
 * 70B-specific tweaks, importance matrices.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "quantize_impl.h"
#include "../backends/backend.h"

/* llama_ftype ids. */
enum {
    FT_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9,
    FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14,
    FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_BF16 = 32,
};

static const quant_recipe recipes[] = {
    {"Q8_0", FT_Q8_0, PL_TYPE_Q8_0},     {"Q4_0", FT_Q4_0, PL_TYPE_Q4_0},
    {"Q4_1", FT_Q4_1, PL_TYPE_Q4_1},     {"Q5_0", FT_Q5_0, PL_TYPE_Q5_0},
    {"Q5_1", FT_Q5_1, PL_TYPE_Q5_1},     {"Q2_K", FT_Q2_K, PL_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, PL_TYPE_Q3_K}, {"Q3_K_M", FT_Q3_K_M, PL_TYPE_Q3_K},
    {"Q3_K_L", FT_Q3_K_L, PL_TYPE_Q3_K}, {"Q4_K_S", FT_Q4_K_S, PL_TYPE_Q4_K},
    {"Q4_K_M", FT_Q4_K_M, PL_TYPE_Q4_K}, {"Q5_K_S", FT_Q5_K_S, PL_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, PL_TYPE_Q5_K}, {"Q6_K", FT_Q6_K, PL_TYPE_Q6_K},
    {"F16", FT_F16, PL_TYPE_F16},        {"BF16", FT_BF16, PL_TYPE_BF16},
    {"F32", FT_F32, PL_TYPE_F32},
};
#define N_RECIPES (int)(sizeof recipes / sizeof recipes[0])

/* llama-quantize's aliases: the bare K-quant name means its _M variant. */
static const struct { const char *alias, *name; } aliases[] = {
    {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"},
};

/* Tensor classes the rules tell apart, found by a name fragment (first wins). */
typedef enum { TC_OTHER, TC_ATTN_V, TC_ATTN_QKV, TC_FFN_DOWN, TC_ATTN_OUT } tclass;
static const struct { const char *frag; tclass cls; } classes[] = {
    {"attn_v.weight", TC_ATTN_V}, {"attn_qkv.weight", TC_ATTN_QKV},
    {"ffn_down", TC_FFN_DOWN},    {"attn_output.weight", TC_ATTN_OUT},
};

/* Conditions on the layer (i of n) or the model. */
typedef enum { C_ALWAYS, C_MORE_BITS, C_FIRST_8TH, C_FIRST_16TH, C_LAYER_LT2, C_LAYER_LT4, C_GQA4 } cond;

typedef struct rule { uint32_t ftype; tclass cls; cond c; pl_type type; } rule;

static const rule rules[] = {
    {FT_Q2_K,   TC_ATTN_V,   C_GQA4,       PL_TYPE_Q4_K},
    {FT_Q2_K,   TC_ATTN_V,   C_ALWAYS,     PL_TYPE_Q3_K},
    {FT_Q3_K_M, TC_ATTN_V,   C_LAYER_LT2,  PL_TYPE_Q5_K},
    {FT_Q3_K_M, TC_ATTN_V,   C_ALWAYS,     PL_TYPE_Q4_K},
    {FT_Q3_K_L, TC_ATTN_V,   C_ALWAYS,     PL_TYPE_Q5_K},
    {FT_Q4_K_M, TC_ATTN_V,   C_MORE_BITS,  PL_TYPE_Q6_K},
    {FT_Q5_K_M, TC_ATTN_V,   C_MORE_BITS,  PL_TYPE_Q6_K},
    {FT_Q4_K_S, TC_ATTN_V,   C_LAYER_LT4,  PL_TYPE_Q5_K},
    {FT_Q2_K,   TC_FFN_DOWN, C_ALWAYS,     PL_TYPE_Q3_K},
    {FT_Q3_K_M, TC_FFN_DOWN, C_FIRST_16TH, PL_TYPE_Q5_K},
    {FT_Q3_K_M, TC_FFN_DOWN, C_ALWAYS,     PL_TYPE_Q4_K},
    {FT_Q3_K_L, TC_FFN_DOWN, C_ALWAYS,     PL_TYPE_Q5_K},
    {FT_Q4_K_M, TC_FFN_DOWN, C_MORE_BITS,  PL_TYPE_Q6_K},
    {FT_Q5_K_M, TC_FFN_DOWN, C_MORE_BITS,  PL_TYPE_Q6_K},
    {FT_Q4_K_S, TC_FFN_DOWN, C_FIRST_8TH,  PL_TYPE_Q5_K},
    {FT_Q2_K,   TC_ATTN_OUT, C_ALWAYS,     PL_TYPE_Q3_K},
    {FT_Q3_K_M, TC_ATTN_OUT, C_ALWAYS,     PL_TYPE_Q4_K},
    {FT_Q3_K_L, TC_ATTN_OUT, C_ALWAYS,     PL_TYPE_Q5_K},
    {FT_Q3_K_M, TC_ATTN_QKV, C_ALWAYS,     PL_TYPE_Q4_K},
    {FT_Q3_K_L, TC_ATTN_QKV, C_ALWAYS,     PL_TYPE_Q4_K},
    {FT_Q4_K_M, TC_ATTN_QKV, C_ALWAYS,     PL_TYPE_Q5_K},
    {FT_Q5_K_M, TC_ATTN_QKV, C_ALWAYS,     PL_TYPE_Q6_K},
};

/* Type a row length that does not fit the K-quant block falls back to. */
static const struct { pl_type from, to; } fallbacks[] = {
    {PL_TYPE_Q2_K, PL_TYPE_Q4_0}, {PL_TYPE_Q3_K, PL_TYPE_Q4_0}, {PL_TYPE_Q4_K, PL_TYPE_Q5_0},
    {PL_TYPE_Q5_K, PL_TYPE_Q5_1}, {PL_TYPE_Q6_K, PL_TYPE_Q8_0},
};

/* Weight matrices that stay as they are (name fragments). */
static const char *const kept_names[] = {
    "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
    "position_embd.weight", "token_types.weight", "ssm_conv1d.weight",
    "shortconv.conv.weight", "attn_rel_b.weight",
};

/* Names for --help and error messages: the recipes, then the aliases. */
static const char *const type_names[] = {
    "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
    "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "F16", "BF16", "F32", "Q3_K", "Q4_K", "Q5_K", NULL,
};

const char *const *pl_quantize_type_names(void) { return type_names; }

bool pl_quantize_type_known(const char *name) { return quant_recipe_find(name) != NULL; }

const quant_recipe *quant_recipe_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0) name = aliases[i].name;
    for (int i = 0; name && i < N_RECIPES; i++)
        if (strcasecmp(name, recipes[i].name) == 0) return &recipes[i];
    return NULL;
}

/* llama.cpp's "use_more_bits": first and last eighth, and every third layer between. */
static bool more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Does condition c hold for layer i (-1: not in a block) of model m? */
static bool cond_holds(cond c, int i, const quant_model_facts *m)
{
    int n = m->n_layer;
    if (c == C_ALWAYS) return true;
    if (c == C_GQA4) return m->n_gqa >= 4;
    if (i < 0 || n <= 0) return false;
    switch (c) {
    case C_MORE_BITS:  return more_bits(i, n);
    case C_FIRST_8TH:  return i < n / 8;
    case C_FIRST_16TH: return i < n / 16;
    case C_LAYER_LT2:  return i < 2;
    case C_LAYER_LT4:  return i < 4;
    default:           return false;
    }
}

/* Is this tensor a weight matrix a recipe converts? */
static bool is_weight_matrix(const char *name, uint32_t n_dims)
{
    size_t len = strlen(name);
    if (n_dims < 2 || len < 6 || strcmp(name + len - 6, "weight") != 0) return false;
    for (size_t i = 0; i < sizeof kept_names / sizeof kept_names[0]; i++)
        if (strstr(name, kept_names[i])) return false;
    return true;
}

/* Elements per block of t (1 for float types). */
static int64_t block_of(pl_type t)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    return tr ? tr->block_size : 1;
}

static tclass class_of(const char *name)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strstr(name, classes[i].frag)) return classes[i].cls;
    return TC_OTHER;
}

/* The rule table's type for a non-output matrix (base when no rule matches). */
static pl_type rule_type(const quant_recipe *r, const quant_model_facts *m, const char *name)
{
    tclass cls = class_of(name);
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = -1;
    for (size_t i = 0; cls != TC_OTHER && i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].ftype == r->ftype && rules[i].cls == cls && cond_holds(rules[i].c, layer, m))
            return rules[i].type;
    return r->base;
}

/* The type the recipe wants before any fallback. */
static pl_type wanted_type(const quant_recipe *r, const quant_model_facts *m, const char *name,
                           int64_t row)
{
    const pl_type_traits *bt = pl_type_traits_get(r->base);
    if (!bt || !bt->quantized) return r->base;   /* F32/F16/BF16: no rules */
    bool output = strcmp(name, "output.weight") == 0 ||
                  (!m->has_output && strcmp(name, "token_embd.weight") == 0);
    if (output) {
        if (row % block_of(r->base)) return PL_TYPE_Q8_0;
        return r->base == PL_TYPE_Q8_0 ? PL_TYPE_Q8_0 : PL_TYPE_Q6_K;
    }
    return rule_type(r, m, name);
}

quant_pick quant_recipe_pick(const quant_recipe *r, const quant_model_facts *m, const char *name,
                             uint32_t n_dims, const uint64_t *ne)
{
    quant_pick p = { .quantize = false };
    if (!r || !name || !is_weight_matrix(name, n_dims)) return p;
    int64_t row = (int64_t)ne[0];
    p.quantize = true;
    p.wanted = p.type = wanted_type(r, m, name, row);
    if (row % block_of(p.type) == 0) return p;
    p.fallback = true;
    p.type = PL_TYPE_F16;
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
        if (fallbacks[i].from == p.wanted) p.type = fallbacks[i].to;
    if (row % block_of(p.type)) p.type = PL_TYPE_F16;
    return p;
}
