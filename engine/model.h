/* model.h — the loaded model as the engine sees it (engine-internal).
 *
 * Three parts, like llama2.c: the hyper-parameters, the weights, and (in
 * context.c) the run state. Weights are views into the GGUF's data section
 * (the resident copy, or the mapping with --mmap): a pl_weight is a pointer,
 * a type, a shape and a layout. In the resident copy, the matrices of CPU
 * layers are rewritten at load into the layout the CPU backend chooses
 * (the CPU backend's weight_prepare, model_repack); with --mmap they stay as in the file. Every shape below is
 * written (rows, cols) with cols contiguous, i.e. GGUF's ne = {cols, rows}.
 * model.c checks presence, type and exact shape of every tensor at load time,
 * so the forward pass can trust them.
 *
 * The architecture table (arch.c) says how a family names its keys and
 * tensors and which variants it uses (norm, rope style, activation, biases);
 * the one forward pass (forward.c) reads these fields and the presence of the
 * optional tensors, never the family.
 */
#ifndef PL_MODEL_H
#define PL_MODEL_H

#include "engine.h"
#include "gguf.h"
#include "../backends/backend.h"

typedef struct pl_vocab pl_vocab;

/* ---- architecture table --------------------------------------------- */

/* A label for tests and llama.cpp's per-family hyper-parameter rules; the
 * forward pass does not branch on it. */
typedef enum arch_family {
    ARCH_FAMILY_LLAMA = 0,
    ARCH_FAMILY_GEMMA,   /* gemma3 */
    ARCH_FAMILY_QWEN,    /* qwen2, qwen3 */
} arch_family;
typedef enum arch_rope { ARCH_ROPE_NORMAL = 0, ARCH_ROPE_NEOX } arch_rope;
/* The gated activation: SiLU with the vectorised exp (PL_GLU_SWIGLU_FAST), SiLU with
 * libm's expf (PL_GLU_SWIGLU, whose numbers the qwen fixtures were checked
 * with), or GELU from ggml's table of all f16 inputs. */
typedef enum arch_act { ARCH_ACT_SILU = 0, ARCH_ACT_SILU_LIBM, ARCH_ACT_GELU } arch_act;
/* Attention arithmetic on an F16 cache: the blocked flash-style kernel
 * (attn_cpu.c, f32 softmax weights), or llama.cpp's exact one (weights rounded
 * to f16, two passes), which Gemma 3 270M's greedy answers need. Quantized
 * caches always take the blocked kernel. */
typedef enum arch_attn { ARCH_ATTN_BLOCKED = 0, ARCH_ATTN_F16_EXACT } arch_attn;

/* Symbolic tensor dimensions, resolved from the hyper-parameters. */
typedef enum arch_dim {
    DIM_NONE = 0, DIM_EMBD, DIM_Q, DIM_KV, DIM_FF, DIM_VOCAB, DIM_ROT_HALF,
    DIM_HEAD    /* head_dim: per-head q/k norms */
} arch_dim;

/* Where a tensor's view goes in pl_model / pl_layer (byte offset). */
typedef struct arch_tensor {
    const char *name;      /* "blk.%d.attn_q.weight" or "output_norm.weight" */
    size_t      offset;    /* offsetof(pl_layer, ...) or offsetof(pl_model, ...) */
    arch_dim    dims[2];   /* GGUF ne[0], ne[1]; DIM_NONE for 1-D */
    bool        per_layer;
    bool        optional;
} arch_tensor;

typedef struct arch_desc {
    const char  *name;          /* general.architecture */
    arch_family  family;        /* label only (see above) */
    arch_rope    rope;
    arch_act     act;
    arch_attn    attn;
    bool         q_scale_first; /* queries times hp.attn_scale after rope, scores unscaled (gemma:
                                   llama.cpp scales q before its f16 rounding); else scores scaled */
    const arch_tensor *tensors; /* terminated by name == NULL */
    uint32_t     swa_pattern;   /* sliding window on layers il % n < n - 1 (gemma3: 6); 0 = none */
    bool         embd_scale;    /* embeddings times sqrt(n_embd) (gemma) */
    const char  *chat_template; /* built-in template when the GGUF has none, or NULL */
} arch_desc;

/* NULL if unknown; st then names the architecture and lists supported ones. */
const arch_desc *arch_find(const char *name, pl_status *st);

/* ---- hyper-parameters ------------------------------------------------ */

typedef struct pl_hparams {
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;        /* model width */
    uint32_t n_layer;
    uint32_t n_head;        /* query heads */
    uint32_t n_head_kv;     /* key/value heads (GQA: n_head % n_head_kv == 0) */
    uint32_t head_dim;      /* n_embd / n_head unless the file says otherwise */
    uint32_t n_ff;          /* feed-forward hidden width */
    uint32_t n_rot;         /* rotary dimensions per head (<= head_dim) */
    float    norm_eps;
    float    rope_base;     /* theta base, 10000 for Llama 2 */
    float    rope_scale;    /* linear position scale (1 / rope.scaling.factor) */
    uint32_t n_swa;         /* sliding window in positions; 0 = every layer attends to all */
    uint32_t swa_pattern;   /* with n_swa: layer il is local iff il % swa_pattern < swa_pattern - 1
                               (0: every layer is local), llama.cpp's rule */
    float    rope_base_swa; /* theta base of the local layers (their scale is 1) */
    float    attn_scale;    /* q.k multiplier: 1 / sqrt(head_dim) unless the family says otherwise */
    float    final_softcap; /* logits = c * tanh(logits / c) when > 0 */
} pl_hparams;

/* ---- weights: views into the mapping ------------------------------- */

typedef struct pl_weight {
    const void *data;   /* NULL if an optional tensor is absent */
    pl_type     type;
    int64_t     rows, cols;
    pl_layout   layout; /* ROWS as in the file; R16 once model_repack made it the CPU's */
} pl_weight;

typedef struct pl_layer {
    pl_weight attn_norm;   /* (n_embd) */
    pl_weight wq;          /* (n_head*head_dim, n_embd) */
    pl_weight wk;          /* (n_head_kv*head_dim, n_embd) */
    pl_weight wv;          /* (n_head_kv*head_dim, n_embd) */
    pl_weight wo;          /* (n_embd, n_head*head_dim) */
    pl_weight ffn_norm;    /* (n_embd) */
    pl_weight ffn_gate;    /* (n_ff, n_embd) */
    pl_weight ffn_up;      /* (n_ff, n_embd) */
    pl_weight ffn_down;    /* (n_embd, n_ff) */
    /* variants (data == NULL when the architecture has none) */
    pl_weight bq, bk, bv;  /* (n_q), (n_kv), (n_kv) f32 projection biases (qwen2) */
    pl_weight attn_q_norm; /* (head_dim) RMSNorm of each query head (gemma3, qwen3) */
    pl_weight attn_k_norm; /* (head_dim) RMSNorm of each key head */
    pl_weight attn_post_norm; /* (n_embd) RMSNorm of the attention output (gemma3) */
    pl_weight ffn_post_norm;  /* (n_embd) RMSNorm of the feed-forward output (gemma3) */
    int       backend;     /* 0 = CPU; set in one place: model_assign_backends */
} pl_layer;

struct pl_model {
    gguf_file        *gguf;
    pl_vocab         *vocab;
    const arch_desc  *arch;
    pl_hparams        hp;
    pl_weight         tok_embd;     /* (n_vocab, n_embd) */
    pl_weight         output_norm;  /* (n_embd) */
    pl_weight         output;       /* (n_vocab, n_embd); == tok_embd when tied */
    pl_weight         rope_freqs;   /* (n_rot/2) f32 divisors, optional */
    float            *rope_div;     /* (n_rot/2) owned frequency divisors (1 = none) */
    pl_layer         *layers;       /* (n_layer) */
    char             *chat_template;/* NUL-terminated copy, or NULL */
    uint64_t          chat_template_skipped; /* bytes of a template too large to read (0 = none) */
    char              name[128];
    pl_model_params   params;
};

/* The longest tokenizer.chat_template copied (real ones are a few KiB). */
#define MODEL_TEMPLATE_MAX (16u << 20)

/* Engine-internal accessors used by the tokenizer and the chat templates. */
const pl_vocab *model_vocab(const pl_model *m);
const char     *model_chat_template(const pl_model *m);   /* NULL if the GGUF has none */
uint64_t        model_chat_template_skipped(const pl_model *m); /* its size when too large to read, else 0 */
const char     *model_default_template(const pl_model *m); /* arch's built-in name, or NULL */

/* The matrices and norms a decode step reads whole (model_stats.c): fills
 * out (model_token_weights_max entries), returns the count. */
int      model_token_weights_max(const pl_model *m);
int      model_token_weights(const pl_model *m, const pl_weight **out);
uint64_t model_weight_bytes(const pl_weight *w);
/* Read the hyper-parameters "<arch>.block_count" etc. into hp (arch.c). */
int model_hparams_load(const gguf_file *f, const char *arch, pl_hparams *hp, pl_status *st);
/* Llama 3.1 rope divisors (n_rot/2) from rope.scaling.* keys; false unless type "llama3". */
bool rope_llama3_factors(const gguf_file *f, const char *arch, const pl_hparams *hp, float *out);
/* Bytes of the matrices in the CPU's 16-row layout (model_stats.c). */
uint64_t pl_model_repacked_bytes(const pl_model *m);
/* Does layer il use the sliding window (and the local rope base)? */
static inline bool hp_layer_is_swa(const pl_hparams *hp, int il)
{
    return hp->n_swa > 0 &&
           (hp->swa_pattern == 0 || (uint32_t)il % hp->swa_pattern < hp->swa_pattern - 1);
}

#endif
