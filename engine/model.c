/* model.c — load a GGUF into a pl_model: hyper-parameters, weight views, vocab.
 *
 * Loading is all validation: the architecture must be in the table, every
 * tensor the table names must be present (unless optional), of a type the CPU
 * backend can compute with, and of exactly the shape the hyper-parameters
 * imply. Any failure names the file and the tensor. After that, the forward
 * pass never checks a shape again. Weights are views into the mmap'd file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/backend.h"
#include "model.h"
#include "vocab.h"

/* Defaults: everything on the CPU. */
pl_model_params pl_model_default_params(void)
{
    pl_model_params p = { .n_gpu_layers = 0, .mmap = false };
    return p;
}

/* Resolve a symbolic dimension against the hyper-parameters. */
static int64_t model_dim(const pl_hparams *hp, arch_dim d)
{
    switch (d) {
    case DIM_EMBD: return hp->n_embd;
    case DIM_Q: return (int64_t)hp->n_head * hp->head_dim;
    case DIM_KV: return (int64_t)hp->n_head_kv * hp->head_dim;
    case DIM_FF: return hp->n_ff;
    case DIM_VOCAB: return hp->n_vocab;
    case DIM_ROT_HALF: return hp->n_rot / 2;
    case DIM_HEAD: return hp->head_dim;
    default: return 0;
    }
}

/* Check one tensor's type and shape against the table entry; fill the view. */
static int model_bind_tensor(const pl_model *m, const gguf_tensor *t, const arch_tensor *spec,
                             const char *name, pl_weight *w, pl_status *st)
{
    const pl_hparams *hp = &m->hp;
    const pl_type_traits *tr = pl_type_traits_get(t->type);
    const char *tn = pl_type_name(t->type);
    if (!tr)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: tensor %s has type %s (id %d), "
                             "which parley cannot compute with", m->gguf->path, name,
                             tn ? tn : "unknown", (int)t->type);
    bool is_2d = spec->dims[1] != DIM_NONE;
    int64_t want0 = model_dim(hp, spec->dims[0]), want1 = is_2d ? model_dim(hp, spec->dims[1]) : 1;
    uint64_t got1 = t->n_dims >= 2 ? t->ne[1] : 1;
    bool extra = false;
    for (uint32_t i = 2; i < t->n_dims; i++) extra |= t->ne[i] != 1;
    if (t->ne[0] != (uint64_t)want0 || got1 != (uint64_t)want1 || extra)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tensor %s has shape [%llu, %llu], "
                             "expected [%lld, %lld] from the hyper-parameters",
                             m->gguf->path, name, (unsigned long long)t->ne[0],
                             (unsigned long long)got1, (long long)want0, (long long)want1);
    if (!is_2d && t->type != PL_TYPE_F32)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: tensor %s is %s; parley expects "
                             "1-D tensors (norms, rope factors) in f32", m->gguf->path, name, tn);
    if (want0 % tr->block_size)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tensor %s row length %lld is not a "
                             "multiple of %s's block size %d", m->gguf->path, name,
                             (long long)want0, tn, tr->block_size);
    *w = (pl_weight){ .data = t->data, .type = t->type, .rows = want1, .cols = want0 };
    return 0;
}

/* Bind every tensor the architecture names; required ones must exist. */
static int model_bind_all(pl_model *m, pl_status *st)
{
    char name[96];
    for (const arch_tensor *spec = m->arch->tensors; spec->name; spec++) {
        uint32_t n = spec->per_layer ? m->hp.n_layer : 1;
        for (uint32_t il = 0; il < n; il++) {
            snprintf(name, sizeof name, spec->name, (int)il);
            char *base = spec->per_layer ? (char *)&m->layers[il] : (char *)m;
            pl_weight *w = (pl_weight *)(base + spec->offset);
            const gguf_tensor *t = gguf_find_tensor(m->gguf, name);
            if (!t) {
                if (spec->optional) continue;
                return pl_status_set(st, PL_ERR_FORMAT, "%s: tensor %s is missing "
                                     "(required by architecture %s)", m->gguf->path, name,
                                     m->arch->name);
            }
            if (model_bind_tensor(m, t, spec, name, w, st)) return st ? st->code : PL_ERR_FORMAT;
        }
    }
    if (!m->output.data) m->output = m->tok_embd;   /* tied embeddings */
    return 0;
}

/* Per-dimension rope divisors: rope_freqs.weight, llama3 keys, or all 1. */
static int model_rope_setup(pl_model *m, pl_status *st)
{
    const pl_hparams *hp = &m->hp;
    int half = (int)hp->n_rot / 2;
    m->rope_div = malloc(sizeof(float) * (size_t)half);
    if (!m->rope_div) return pl_status_set(st, PL_ERR_NOMEM, "out of memory (rope table)");
    for (int i = 0; i < half; i++) m->rope_div[i] = 1.0f;
    if (m->rope_freqs.data) {
        memcpy(m->rope_div, m->rope_freqs.data, sizeof(float) * (size_t)half);
    } else {
        rope_llama3_factors(m->gguf, m->arch->name, hp, m->rope_div);
    }
    for (int i = 0; i < half; i++)
        if (!(m->rope_div[i] > 0.0f) || !isfinite(m->rope_div[i]))
            return pl_status_set(st, PL_ERR_FORMAT, "%s: rope frequency factor %d = %g is not "
                                 "a positive number", m->gguf->path, i, m->rope_div[i]);
    return 0;
}

/* Put each layer on a backend: the last n_gpu_layers go to the GPU once one exists. */
static void model_assign_backends(pl_model *m)
{
    for (uint32_t il = 0; il < m->hp.n_layer; il++) m->layers[il].backend = 0;   /* CPU */
}

/* One matrix into the layout the CPU backend chooses for it, in place (its
 * weight_prepare op decides from the type, shape and CPU level: no backend
 * instance exists before a context). */
static void model_repack_weight(pl_weight *w)
{
    const pl_backend_ops *cpu = pl_backend_find("cpu");
    if (w->data && cpu && cpu->weight_prepare)
        w->layout = cpu->weight_prepare(NULL, w->type, (void *)w->data, w->rows, w->cols);
}

/* The matrices of CPU layers and the output matrix into the layout the
 * decode kernels stream fastest (backends/cpu/r16.c). A tied output is the
 * embedding table: both views change together, and lookups read a row out
 * of its group (the embed op). Only in the resident copy: a file
 * mapping is read-only, and the copy is ours. Costs ~0.1 s per GB at load. */
static void model_repack(pl_model *m)
{
    if (!gguf_resident_writable(m->gguf, true)) return;
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        pl_layer *L = &m->layers[il];
        if (L->backend != 0) continue;
        pl_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) model_repack_weight(ws[k]);
    }
    model_repack_weight(&m->output);
    if (m->output.data == m->tok_embd.data) m->tok_embd.layout = m->output.layout;   /* tied */
    gguf_resident_writable(m->gguf, false);
}

/* The tokenizer's tokens and the embedding rows must be the same list. With
 * fewer tokens the sampler could pick an id with no text; with more, the
 * tokenizer could emit one with no embedding row. Refused, as llama.cpp does
 * (it checks token_embd against the token count), rather than warned about:
 * masking ids out of the logits would change the model's distribution. */
static int model_vocab_check(const pl_model *m, pl_status *st)
{
    int32_t n_tok = m->vocab->n_tokens;
    if ((uint32_t)n_tok == m->hp.n_vocab) return 0;
    return pl_status_set(st, PL_ERR_FORMAT, "%s: the tokenizer has %d tokens (tokenizer.ggml.tokens) but the "
                         "model has %u (%s.vocab_size / token_embd.weight rows): the file is inconsistent, "
                         "re-convert it", m->gguf->path, n_tok, m->hp.n_vocab, m->arch->name);
}

/* Name, template and vocab: the parts other rooms read through accessors. */
static int model_load_meta(pl_model *m, const char *path, pl_status *st)
{
    if (!gguf_get_cstr(m->gguf, "general.name", m->name, sizeof m->name)) {
        const char *slash = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", slash ? slash + 1 : path);
    }
    gguf_str tmpl = { 0 };
    if (gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl) && tmpl.len >= MODEL_TEMPLATE_MAX)
        m->chat_template_skipped = tmpl.len;   /* said in pl_model_info.warning and the template note */
    else if (tmpl.ptr) {
        m->chat_template = malloc(tmpl.len + 1);
        if (!m->chat_template) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
        memcpy(m->chat_template, tmpl.ptr, tmpl.len);
        m->chat_template[tmpl.len] = 0;
    }
    m->vocab = vocab_load(m->gguf, st);
    if (!m->vocab) return st ? st->code : PL_ERR_FORMAT;
    return model_vocab_check(m, st);
}

/* Vocabulary size: the key if present, else token_embd's row count. */
static int model_vocab_size(pl_model *m, pl_status *st)
{
    if (m->hp.n_vocab) return 0;
    const gguf_tensor *t = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!t || t->n_dims < 2 || t->ne[1] == 0 || t->ne[1] > (1u << 24))
        return pl_status_set(st, PL_ERR_FORMAT, "%s: cannot tell the vocabulary size "
                             "(no %s.vocab_size and no usable token_embd.weight)",
                             m->gguf->path, m->arch->name);
    m->hp.n_vocab = (uint32_t)t->ne[1];
    return 0;
}

/* Map, validate and bind a model file. */
pl_model *pl_model_load(const char *path, const pl_model_params *p, pl_status *st)
{
    pl_status_ok(st);
    pl_model *m = calloc(1, sizeof *m);
    if (!m) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); return NULL; }
    m->params = p ? *p : pl_model_default_params();
    m->gguf = gguf_open_ex(path, m->params.mmap ? 0 : GGUF_RESIDENT, st);
    if (!m->gguf) goto fail;
    char arch[64];
    if (!gguf_get_cstr(m->gguf, "general.architecture", arch, sizeof arch)) {
        pl_status_set(st, PL_ERR_FORMAT, "%s: key general.architecture is missing", path);
        goto fail;
    }
    m->arch = arch_find(arch, st);
    if (!m->arch) {
        if (st) {   /* prefix the file name */
            char why[sizeof st->msg];
            memcpy(why, st->msg, sizeof why);
            pl_status_set(st, st->code, "%.200s: %.300s", path, why);
        }
        goto fail;
    }
    if (model_hparams_load(m->gguf, arch, &m->hp, st) || model_vocab_size(m, st)) goto fail;
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); goto fail; }
    if (model_bind_all(m, st) || model_rope_setup(m, st) || model_load_meta(m, path, st))
        goto fail;
    model_assign_backends(m);
    model_repack(m);
    return m;
fail:
    pl_model_free(m);
    return NULL;
}

/* Release the vocab, tables and mapping. */
void pl_model_free(pl_model *m)
{
    if (!m) return;
    if (m->vocab) vocab_free(m->vocab);
    free(m->rope_div);
    free(m->layers);
    free(m->chat_template);
    gguf_close(m->gguf);
    free(m);
}

/* Parameter count and the weight type holding the most parameters. */
static void model_count(const pl_model *m, uint64_t *n_params, pl_type *dominant)
{
    uint64_t per_type[PL_TYPE_COUNT] = { 0 };
    *n_params = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
        *n_params += n;
        if (t->n_dims >= 2 && (unsigned)t->type < PL_TYPE_COUNT) per_type[t->type] += n;
    }
    *dominant = PL_TYPE_F32;
    for (int t = 0; t < PL_TYPE_COUNT; t++)
        if (per_type[t] > per_type[*dominant]) *dominant = (pl_type)t;
}

/* What the UI and `parley run --verbose` show about a model (general.name
 * comes from the file: made safe for a terminal). */
void pl_model_get_info(const pl_model *m, pl_model_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->arch, sizeof out->arch, "%s", m->arch->name);
    pl_term_sanitize_str(m->name, out->name, sizeof out->name);
    pl_type dom;
    model_count(m, &out->n_params, &dom);
    const char *tn = pl_type_name(dom);
    snprintf(out->ftype, sizeof out->ftype, "%s", tn ? tn : "?");
    out->file_size = m->gguf->size;
    out->resident = m->gguf->resident != NULL;
    out->repacked_bytes = pl_model_repacked_bytes(m);
    out->n_ctx_train = m->hp.n_ctx_train;
    out->n_layer = m->hp.n_layer;
    out->n_embd = m->hp.n_embd;
    out->n_head = m->hp.n_head;
    out->n_head_kv = m->hp.n_head_kv;
    out->n_vocab = m->hp.n_vocab;
    const char *tmpl = m->chat_template || m->arch->chat_template ? pl_chat_template_name(m, NULL)
                                                                  : "none";
    snprintf(out->chat_template, sizeof out->chat_template, "%s", tmpl ? tmpl : "unknown");
    if (m->chat_template_skipped)
        snprintf(out->warning, sizeof out->warning, "the model's chat template is %llu bytes, over the %u MiB "
                 "parley reads: it was ignored and %s is used (override with --chat-template NAME)",
                 (unsigned long long)m->chat_template_skipped, MODEL_TEMPLATE_MAX >> 20,
                 pl_chat_template_name(m, NULL));
}

const pl_vocab *model_vocab(const pl_model *m) { return m->vocab; }
const char *model_chat_template(const pl_model *m) { return m->chat_template; }
uint64_t model_chat_template_skipped(const pl_model *m) { return m->chat_template_skipped; }
const char *model_default_template(const pl_model *m) { return m->arch->chat_template; }
int pl_n_vocab(const pl_model *m) { return (int)m->hp.n_vocab; }
