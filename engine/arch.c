/* arch.c — the architecture table and the hyper-parameter keys.
 *
 * An architecture is data, not code: which tensors it has (name pattern,
 * where the view goes, symbolic shape), its rope style, activation, attention
 * arithmetic and where the score scale goes. One forward (forward.c) runs them
 * all: an optional tensor that is present is a step (biases, q/k head norms,
 * post-norms), the hyper-parameters give the rest (windows, per-layer rope
 * bases, logit cap). Llama-family GGUFs (SmolLM2, TinyLlama, Llama 2/3,
 * Mistral 7B) all say "llama"; then qwen2/qwen3 and gemma3. phi3 is still to come.
 *
 * Hyper-parameters use llama.cpp's key names, "<arch>.block_count" and so on;
 * the optional ones get llama.cpp's defaults so both engines agree.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "model.h"

#define L(field) offsetof(pl_layer, field)
#define M(field) offsetof(pl_model, field)

/* Llama: pre-norm RMSNorm, rotary (adjacent pairs), SwiGLU, optional tied output. */
static const arch_tensor llama_tensors[] = {
    { "token_embd.weight",        M(tok_embd),    { DIM_EMBD, DIM_VOCAB }, false, false },
    { "output_norm.weight",       M(output_norm), { DIM_EMBD, DIM_NONE },  false, false },
    { "output.weight",            M(output),      { DIM_EMBD, DIM_VOCAB }, false, true  },
    { "rope_freqs.weight",        M(rope_freqs),  { DIM_ROT_HALF, DIM_NONE }, false, true },
    { "blk.%d.attn_norm.weight",  L(attn_norm),   { DIM_EMBD, DIM_NONE },  true, false },
    { "blk.%d.attn_q.weight",     L(wq),          { DIM_EMBD, DIM_Q },     true, false },
    { "blk.%d.attn_k.weight",     L(wk),          { DIM_EMBD, DIM_KV },    true, false },
    { "blk.%d.attn_v.weight",     L(wv),          { DIM_EMBD, DIM_KV },    true, false },
    { "blk.%d.attn_output.weight", L(wo),         { DIM_Q, DIM_EMBD },     true, false },
    { "blk.%d.ffn_norm.weight",   L(ffn_norm),    { DIM_EMBD, DIM_NONE },  true, false },
    { "blk.%d.ffn_gate.weight",   L(ffn_gate),    { DIM_EMBD, DIM_FF },    true, false },
    { "blk.%d.ffn_up.weight",     L(ffn_up),      { DIM_EMBD, DIM_FF },    true, false },
    { "blk.%d.ffn_down.weight",   L(ffn_down),    { DIM_FF, DIM_EMBD },    true, false },
    { NULL, 0, { DIM_NONE, DIM_NONE }, false, false },
};

/* The llama tensors every family below shares (names, views, shapes). */
#define COMMON_TENSORS \
    { "token_embd.weight",        M(tok_embd),    { DIM_EMBD, DIM_VOCAB }, false, false }, \
    { "output_norm.weight",       M(output_norm), { DIM_EMBD, DIM_NONE },  false, false }, \
    { "output.weight",            M(output),      { DIM_EMBD, DIM_VOCAB }, false, true  }, \
    { "blk.%d.attn_norm.weight",  L(attn_norm),   { DIM_EMBD, DIM_NONE },  true, false }, \
    { "blk.%d.attn_q.weight",     L(wq),          { DIM_EMBD, DIM_Q },     true, false }, \
    { "blk.%d.attn_k.weight",     L(wk),          { DIM_EMBD, DIM_KV },    true, false }, \
    { "blk.%d.attn_v.weight",     L(wv),          { DIM_EMBD, DIM_KV },    true, false }, \
    { "blk.%d.attn_output.weight", L(wo),         { DIM_Q, DIM_EMBD },     true, false }, \
    { "blk.%d.ffn_norm.weight",   L(ffn_norm),    { DIM_EMBD, DIM_NONE },  true, false }, \
    { "blk.%d.ffn_gate.weight",   L(ffn_gate),    { DIM_EMBD, DIM_FF },    true, false }, \
    { "blk.%d.ffn_up.weight",     L(ffn_up),      { DIM_EMBD, DIM_FF },    true, false }, \
    { "blk.%d.ffn_down.weight",   L(ffn_down),    { DIM_FF, DIM_EMBD },    true, false }
#define QK_NORM_TENSORS \
    { "blk.%d.attn_q_norm.weight", L(attn_q_norm), { DIM_HEAD, DIM_NONE }, true, false }, \
    { "blk.%d.attn_k_norm.weight", L(attn_k_norm), { DIM_HEAD, DIM_NONE }, true, false }
#define TABLE_END { NULL, 0, { DIM_NONE, DIM_NONE }, false, false }

/* Qwen2: llama with biases on the q/k/v projections, neox rope. */
static const arch_tensor qwen2_tensors[] = {
    COMMON_TENSORS,
    { "blk.%d.attn_q.bias", L(bq), { DIM_Q, DIM_NONE },  true, true },
    { "blk.%d.attn_k.bias", L(bk), { DIM_KV, DIM_NONE }, true, true },
    { "blk.%d.attn_v.bias", L(bv), { DIM_KV, DIM_NONE }, true, true },
    TABLE_END,
};

/* Qwen3: llama with an RMSNorm on each query and key head, neox rope. */
static const arch_tensor qwen3_tensors[] = { COMMON_TENSORS, QK_NORM_TENSORS, TABLE_END };

/* Gemma 3: q/k head norms, norms after attention and after the FFN, GELU. The
 * converter stores the norm weights as (1 + w), so every norm is plain x * w. */
static const arch_tensor gemma3_tensors[] = {
    COMMON_TENSORS, QK_NORM_TENSORS,
    { "blk.%d.post_attention_norm.weight", L(attn_post_norm), { DIM_EMBD, DIM_NONE }, true, false },
    { "blk.%d.post_ffw_norm.weight",       L(ffn_post_norm),  { DIM_EMBD, DIM_NONE }, true, false },
    TABLE_END,
};

static const arch_desc arch_table[] = {
    { .name = "llama", .family = ARCH_FAMILY_LLAMA, .rope = ARCH_ROPE_NORMAL, .act = ARCH_ACT_SILU,
      .tensors = llama_tensors },
    { .name = "qwen2", .family = ARCH_FAMILY_QWEN, .rope = ARCH_ROPE_NEOX, .act = ARCH_ACT_SILU_LIBM,
      .attn = ARCH_ATTN_F16_EXACT, .tensors = qwen2_tensors },
    { .name = "qwen3", .family = ARCH_FAMILY_QWEN, .rope = ARCH_ROPE_NEOX, .act = ARCH_ACT_SILU_LIBM,
      .attn = ARCH_ATTN_F16_EXACT, .tensors = qwen3_tensors },
    { .name = "gemma3", .family = ARCH_FAMILY_GEMMA, .rope = ARCH_ROPE_NEOX, .act = ARCH_ACT_GELU,
      .attn = ARCH_ATTN_F16_EXACT, .q_scale_first = true, .tensors = gemma3_tensors,
      .swa_pattern = 6, .embd_scale = true, .chat_template = "gemma" },
};
#define N_ARCH (sizeof arch_table / sizeof arch_table[0])

/* Look an architecture up by its general.architecture name. */
const arch_desc *arch_find(const char *name, pl_status *st)
{
    for (size_t i = 0; i < N_ARCH; i++)
        if (strcmp(arch_table[i].name, name) == 0) return &arch_table[i];
    char list[256] = "";
    for (size_t i = 0; i < N_ARCH; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, arch_table[i].name, sizeof list - strlen(list) - 1);
    }
    pl_status_set(st, PL_ERR_UNSUPPORTED,
                  "architecture '%s' is not supported (supported: %s)", name, list);
    return NULL;
}

/* "<arch>.<suffix>" into buf. */
static const char *hp_key(char *buf, size_t len, const char *arch, const char *suffix)
{
    snprintf(buf, len, "%s.%s", arch, suffix);
    return buf;
}

/* A required u32 key; error names the key. */
static int hp_u32(const gguf_file *f, const char *arch, const char *suffix, uint32_t *out,
                  pl_status *st)
{
    char key[128];
    if (gguf_get_u32(f, hp_key(key, sizeof key, arch, suffix), out)) return 0;
    return pl_status_set(st, PL_ERR_FORMAT, "%s: missing or invalid key %s", f->path, key);
}

/* An optional key of either kind; leaves *out alone when absent. */
static void hp_u32_opt(const gguf_file *f, const char *arch, const char *suffix, uint32_t *out)
{
    char key[128];
    gguf_get_u32(f, hp_key(key, sizeof key, arch, suffix), out);
}
static void hp_f32_opt(const gguf_file *f, const char *arch, const char *suffix, float *out)
{
    char key[128];
    gguf_get_f32(f, hp_key(key, sizeof key, arch, suffix), out);
}

/* Linear rope scaling: llama.cpp reads rope.scaling.factor (or rope.scale_linear). */
static int hp_rope_scaling(const gguf_file *f, const char *arch, pl_hparams *hp, pl_status *st)
{
    char key[128], type[32] = "";
    gguf_get_cstr(f, hp_key(key, sizeof key, arch, "rope.scaling.type"), type, sizeof type);
    if (type[0] && strcmp(type, "none") && strcmp(type, "linear") && strcmp(type, "llama3"))
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: %s = '%s' is not supported "
                             "(supported: none, linear, llama3)", f->path, key, type);
    float factor = 0.0f;
    if (strcmp(type, "llama3") != 0) {   /* llama3's factor lives in rope_freqs, not here */
        hp_f32_opt(f, arch, "rope.scaling.factor", &factor);
        if (factor == 0.0f) hp_f32_opt(f, arch, "rope.scale_linear", &factor);
    }
    if (!(factor >= 0.0f) || !isfinite(factor))
        return pl_status_set(st, PL_ERR_FORMAT, "%s: rope scaling factor %g is invalid",
                             f->path, factor);
    hp->rope_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
    return 0;
}

/* Range checks so later size arithmetic cannot overflow or divide by zero. */
static int hp_validate(const gguf_file *f, const pl_hparams *hp, pl_status *st)
{
    const char *bad = NULL;
    if (hp->n_layer == 0 || hp->n_layer > 1024) bad = "block_count";
    else if (hp->n_embd == 0 || hp->n_embd > 65536) bad = "embedding_length";
    else if (hp->n_head == 0 || hp->n_head > 1024) bad = "attention.head_count";
    else if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv) bad = "attention.head_count_kv";
    else if (hp->head_dim == 0 || hp->head_dim > 1024 || hp->head_dim % 2) bad = "attention.key_length";
    else if (hp->n_rot == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2) bad = "rope.dimension_count";
    else if (hp->n_ff == 0 || hp->n_ff > 1 << 20) bad = "feed_forward_length";
    else if (!(hp->norm_eps > 0.0f) || !(hp->rope_base > 0.0f)) bad = "layer_norm_rms_epsilon/rope.freq_base";
    else if (!(hp->rope_base_swa > 0.0f)) bad = "rope.freq_base_swa";
    else if (!(hp->final_softcap >= 0.0f) || !isfinite(hp->final_softcap)) bad = "final_logit_softcapping";
    if (!bad) return 0;
    return pl_status_set(st, PL_ERR_FORMAT, "%s: hyper-parameter %s is out of range "
                         "(layers %u, embd %u, heads %u/%u, head_dim %u, rot %u, ff %u)",
                         f->path, bad, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv,
                         hp->head_dim, hp->n_rot, hp->n_ff);
}

/* Sliding window, attention scale and logit cap, with llama.cpp's defaults:
 * gemma3 slides a window of attention.sliding_window positions on 5 layers of 6,
 * whose rope base is 10000 unscaled; its 27B scales queries by
 * 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim) (query_pre_attn_scalar). */
static int hp_variants(const gguf_file *f, const char *arch, pl_hparams *hp, pl_status *st)
{
    const arch_desc *d = arch_find(arch, NULL);
    hp->attn_scale = hp->head_dim ? 1.0f / sqrtf((float)hp->head_dim) : 1.0f;
    hp->rope_base_swa = 10000.0f;
    if (d && d->swa_pattern) {
        hp_u32_opt(f, arch, "attention.sliding_window", &hp->n_swa);
        hp->swa_pattern = d->swa_pattern;
        char key[128];
        hp_key(key, sizeof key, arch, "attention.sliding_window_pattern");
        if (gguf_find_kv(f, key) && !gguf_get_u32(f, key, &hp->swa_pattern))
            return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: %s is not a single number (per-layer "
                                 "patterns are not supported yet)", f->path, key);
        hp_f32_opt(f, arch, "rope.freq_base_swa", &hp->rope_base_swa);
    }
    hp_f32_opt(f, arch, "final_logit_softcapping", &hp->final_softcap);
    uint32_t v_len = hp->head_dim;
    hp_u32_opt(f, arch, "attention.value_length", &v_len);
    if (v_len != hp->head_dim)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: value heads of %u != key heads of %u "
                             "are not supported", f->path, v_len, hp->head_dim);
    if (d && d->family == ARCH_FAMILY_GEMMA && hp->n_layer == 62 && hp->n_head)
        hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    return 0;
}

/* Read "<arch>.*" hyper-parameters with llama.cpp's defaults for the optional ones. */
int model_hparams_load(const gguf_file *f, const char *arch, pl_hparams *hp, pl_status *st)
{
    memset(hp, 0, sizeof *hp);
    if (hp_u32(f, arch, "block_count", &hp->n_layer, st) ||
        hp_u32(f, arch, "embedding_length", &hp->n_embd, st) ||
        hp_u32(f, arch, "feed_forward_length", &hp->n_ff, st) ||
        hp_u32(f, arch, "attention.head_count", &hp->n_head, st))
        return st ? st->code : PL_ERR_FORMAT;
    hp->n_head_kv = hp->n_head;
    hp_u32_opt(f, arch, "attention.head_count_kv", &hp->n_head_kv);
    hp->n_ctx_train = 2048;
    hp_u32_opt(f, arch, "context_length", &hp->n_ctx_train);
    hp->head_dim = hp->n_head ? hp->n_embd / hp->n_head : 0;
    hp_u32_opt(f, arch, "attention.key_length", &hp->head_dim);
    hp->n_rot = hp->head_dim;
    hp_u32_opt(f, arch, "rope.dimension_count", &hp->n_rot);
    hp->norm_eps = 1e-5f;
    hp_f32_opt(f, arch, "attention.layer_norm_rms_epsilon", &hp->norm_eps);
    hp->rope_base = 10000.0f;
    hp_f32_opt(f, arch, "rope.freq_base", &hp->rope_base);
    hp_u32_opt(f, arch, "vocab_size", &hp->n_vocab);  /* else from token_embd */
    if (hp_rope_scaling(f, arch, hp, st)) return st ? st->code : PL_ERR_FORMAT;
    if (hp_variants(f, arch, hp, st)) return st ? st->code : PL_ERR_UNSUPPORTED;
    return hp_validate(f, hp, st);
}

/* Llama 3.1 frequency divisors from rope.scaling.* keys (type "llama3"), for files
 * that carry the keys but not the rope_freqs.weight tensor converters usually
 * write. Same formula as Meta's reference: long wavelengths are slowed by
 * `factor`, short ones kept, the band between blended. false if not llama3. */
bool rope_llama3_factors(const gguf_file *f, const char *arch, const pl_hparams *hp, float *out)
{
    char key[128], type[32] = "";
    gguf_get_cstr(f, hp_key(key, sizeof key, arch, "rope.scaling.type"), type, sizeof type);
    if (strcmp(type, "llama3") != 0) return false;
    float factor = 8.0f, lo = 1.0f, hi = 4.0f;
    uint32_t orig = 8192;
    hp_f32_opt(f, arch, "rope.scaling.factor", &factor);
    hp_f32_opt(f, arch, "rope.scaling.low_freq_factor", &lo);
    hp_f32_opt(f, arch, "rope.scaling.high_freq_factor", &hi);
    hp_u32_opt(f, arch, "rope.scaling.original_context_length", &orig);
    if (!(factor > 0.0f) || !(hi > lo) || orig == 0) return false;
    double lo_wavelen = orig / (double)lo, hi_wavelen = orig / (double)hi;
    for (uint32_t i = 0; i < hp->n_rot / 2; i++) {
        double freq = pow((double)hp->rope_base, -2.0 * i / hp->n_rot);
        double wavelen = 2.0 * M_PI / freq;
        if (wavelen < hi_wavelen) out[i] = 1.0f;
        else if (wavelen > lo_wavelen) out[i] = factor;
        else {
            double smooth = (orig / wavelen - lo) / (hi - lo);
            out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
    return true;
}

/* For the model catalog: can the engine run general.architecture == arch? */
bool pl_arch_supported(const char *arch)
{
    return arch && arch_find(arch, NULL) != NULL;
}
