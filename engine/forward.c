/* forward.c — THE decoder forward pass (llama, qwen2, qwen3, gemma3): which
 * backend runs which layers, and what crosses between them.
 *
 * The model is handed to the backends as a pl_decoder (backend.h): plain
 * data with no engine type in it, built once per context from the
 * architecture table (rope style, activation, attention arithmetic, where the
 * score scale goes) and the model (hyper-parameters, the weights of each
 * layer as its backend holds them, optional tensors as NULL pointers). Its
 * layer entries are refreshed at each chunk: a live move of a layer or a
 * KV-type change only has to change the context, never this description.
 *
 * A chunk: the embedding rows on the CPU backend; then, for each maximal run
 * of consecutive layers on one backend, that backend's run_layers (the CPU:
 * its batched prefill, or its one-pool-job-per-token decode) or, without one,
 * the same layers op by op through its vtable (forward_ops.c); the residual
 * stream x crosses at run boundaries (one copy of nb rows). The final norm
 * and the output projection are the CPU's last run_layers' (its decode job's
 * last phase), else the CPU backend's logits op. Every failure is
 * a status naming the layer, backend and op: pl_decode's caller never gets
 * logits a failed op was supposed to write.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"

/* ---- the model as a pl_decoder ------------------------------------------ */

static pl_wview fw_wview(const pl_weight *w)
{
    return (pl_wview){ .data = w->data, .type = w->type, .rows = w->rows, .cols = w->cols, .layout = w->layout };
}

/* A vector tensor's floats, or NULL when the file has none. */
static const float *fw_vec(const pl_weight *w) { return w->data; }

/* The layer entries from the placement (each layer's weights as its backend
 * holds them), the KV cache's types and block arrays, and the rope each
 * layer was trained with (sliding layers: their own base, unscaled, as
 * llama.cpp's gemma3). Cheap (a few hundred bytes a layer), so it runs at
 * every chunk: no stale pointer survives a move or a KV-pool change. */
void ctx_decoder_layers(pl_ctx *c)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    pl_decoder *d = &c->dec;
    d->type_k = c->kv->type_k, d->type_v = c->kv->type_v;
    d->row_k = c->kv->row_k, d->row_v = c->kv->row_v, d->kv_block = KV_BLOCK;
    const int mode = m->arch->rope == ARCH_ROPE_NEOX ? PL_ROPE_NEOX : PL_ROPE_NORMAL;
    for (int il = 0; il < (int)hp->n_layer; il++) {
        const pl_layer *L = ctx_layer_weights(c, il);
        const bool swa = hp_layer_is_swa(hp, il);
        c->dec_layers[il] = (pl_decoder_layer){
            .attn_norm = fw_vec(&L->attn_norm), .wq = fw_wview(&L->wq), .wk = fw_wview(&L->wk),
            .wv = fw_wview(&L->wv), .wo = fw_wview(&L->wo), .ffn_norm = fw_vec(&L->ffn_norm),
            .ffn_gate = fw_wview(&L->ffn_gate), .ffn_up = fw_wview(&L->ffn_up), .ffn_down = fw_wview(&L->ffn_down),
            .bq = fw_vec(&L->bq), .bk = fw_vec(&L->bk), .bv = fw_vec(&L->bv),
            .q_norm = fw_vec(&L->attn_q_norm), .k_norm = fw_vec(&L->attn_k_norm),
            .attn_post_norm = fw_vec(&L->attn_post_norm), .ffn_post_norm = fw_vec(&L->ffn_post_norm),
            .window = swa ? (int)hp->n_swa : 0,
            .rope = swa ? (pl_rope_args){ (int)hp->n_rot, mode, hp->rope_base_swa, 1.0f, NULL }
                        : (pl_rope_args){ (int)hp->n_rot, mode, hp->rope_base, hp->rope_scale, m->rope_div },
            .kv_blocks = c->kv->layers[il].mem,
        };
    }
}

/* The decoder's shape and variants from the architecture table. */
int ctx_decoder_new(pl_ctx *c)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const arch_desc *a = m->arch;
    c->dec_layers = calloc(hp->n_layer, sizeof *c->dec_layers);
    if (!c->dec_layers) return -1;
    c->dec = (pl_decoder){
        .n_embd = (int)hp->n_embd, .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
        .head_dim = (int)hp->head_dim, .n_ff = (int)hp->n_ff, .n_layer = (int)hp->n_layer, .eps = hp->norm_eps,
        .glu = a->act == ARCH_ACT_GELU ? PL_GLU_GEGLU : a->act == ARCH_ACT_SILU_LIBM ? PL_GLU_SWIGLU
                                                                                      : PL_GLU_SWIGLU_FAST,
        .attn_math = a->attn == ARCH_ATTN_F16_EXACT ? PL_ATTN_EXACT_F16 : PL_ATTN_BLOCKED,
        .q_scale_first = a->q_scale_first, .attn_scale = hp->attn_scale, .layers = c->dec_layers,
        .out_norm = m->output_norm.data, .out = fw_wview(&m->output), .softcap = hp->final_softcap,
    };
    ctx_decoder_layers(c);
    return 0;
}

/* ---- activations on each backend ---------------------------------------- */

/* be's activations: x at the first use, the op-by-op buffers when asked. */
static fw_acts *fw_acts_get(pl_ctx *c, pl_backend *be, bool ops, pl_status *st)
{
    const pl_hparams *hp = &c->m->hp;
    fw_acts *a = NULL;
    for (int i = 0; i < c->n_acts && !a; i++)
        if (c->acts[i].be == be) a = &c->acts[i];
    if (!a) {
        if (c->n_acts == FW_MAX_BACKENDS) {
            pl_status_set(st, PL_ERR_UNSUPPORTED, "layers on more than %d backends", FW_MAX_BACKENDS);
            return NULL;
        }
        a = &c->acts[c->n_acts++];
        *a = (fw_acts){ .be = be };
    }
    const size_t nb = (size_t)c->n_batch, f = sizeof(float);
    const size_t n_q = (size_t)hp->n_head * hp->head_dim, n_kv = (size_t)hp->n_head_kv * hp->head_dim;
    struct { float **p; size_t bytes; } bufs[] = {
        { &a->x, nb * hp->n_embd * f }, { &a->xb, nb * hp->n_embd * f }, { &a->q, nb * n_q * f },
        { &a->att, nb * n_q * f }, { &a->k, nb * n_kv * f }, { &a->v, nb * n_kv * f },
        { &a->gate, nb * hp->n_ff * f }, { &a->up, nb * hp->n_ff * f },
    };
    for (size_t i = 0; i < (ops ? sizeof bufs / sizeof bufs[0] : 1); i++) {
        if (*bufs[i].p) continue;
        if (!(*bufs[i].p = be->ops->alloc(be, bufs[i].bytes))) {
            pl_status_set(st, PL_ERR_NOMEM, "%s backend: out of memory for the activations of %d tokens "
                          "(%zu bytes)", be->ops->name, c->n_batch, bufs[i].bytes);
            return NULL;
        }
    }
    return a;
}

void ctx_acts_free(pl_ctx *c)
{
    for (int i = 0; i < c->n_acts; i++) {
        fw_acts *a = &c->acts[i];
        float *bufs[] = { a->x, a->xb, a->q, a->att, a->k, a->v, a->gate, a->up };
        for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) a->be->ops->release(a->be, bufs[k]);
    }
    c->n_acts = 0;
    free(c->x_host);
    c->x_host = NULL;
}

/* ---- the chunk ----------------------------------------------------------- */

/* st = what failed where; returns its code. */
static int fw_fail(pl_status *st, const pl_backend *be, const char *what, int l0, int l1, int rc)
{
    const pl_code code = rc == PL_BACKEND_ENOMEM ? PL_ERR_NOMEM
                       : rc == PL_BACKEND_EUNSUPPORTED ? PL_ERR_UNSUPPORTED : PL_ERR_ARG;
    if (l0 < 0) return pl_status_set(st, code, "%s backend: %s: %s", be->ops->name, what, pl_backend_strerror(rc));
    if (l1 == l0 + 1)
        return pl_status_set(st, code, "layer %d on the %s backend: %s: %s", l0, be->ops->name, what,
                             pl_backend_strerror(rc));
    return pl_status_set(st, code, "layers %d-%d on the %s backend: %s: %s", l0, l1 - 1, be->ops->name, what,
                         pl_backend_strerror(rc));
}

/* x (nb rows) from one backend's activations to another's: the destination's
 * copy_from, else through the host. */
static int fw_move_x(pl_ctx *c, const fw_acts *from, const fw_acts *to, int nb)
{
    const size_t bytes = (size_t)nb * c->m->hp.n_embd * sizeof(float);
    if (to->be->ops->copy_from) return to->be->ops->copy_from(to->be, to->x, from->be, from->x, bytes);
    if (!c->x_host && !(c->x_host = malloc((size_t)c->n_batch * c->m->hp.n_embd * sizeof(float))))
        return PL_BACKEND_ENOMEM;
    int rc = from->be->ops->download(from->be, c->x_host, from->x, bytes);
    return rc ? rc : to->be->ops->upload(to->be, to->x, c->x_host, bytes);
}

/* x (nb, n_embd) on the CPU backend = embedding rows, times sqrt(n_embd)
 * where the architecture says so. */
static int fw_embed(pl_ctx *c, const fw_acts *xa, const int32_t *tokens, int nb, pl_status *st)
{
    const pl_model *m = c->m;
    const pl_weight *e = &m->tok_embd;
    const float scale = m->arch->embd_scale ? sqrtf((float)m->hp.n_embd) : 1.0f;
    int rc = c->be_cpu->ops->embed(c->be_cpu, e->data, e->type, e->layout, e->rows, e->cols, tokens, nb, scale, xa->x);
    return rc ? fw_fail(st, c->be_cpu, "embedding", -1, -1, rc) : 0;
}

int forward(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits, pl_status *st)
{
    const int n_layer = (int)c->m->hp.n_layer;
    const int *table = c->kv->seqs[seq].table;
    ctx_decoder_layers(c);
    fw_acts *xa = fw_acts_get(c, c->be_cpu, false, st), *cur = xa;
    if (!xa || fw_embed(c, xa, tokens, nb, st)) return st ? st->code : PL_ERR_NOMEM;
    for (int l0 = 0, l1; l0 < n_layer; l0 = l1) {
        pl_backend *be = ctx_layer_backend(c, l0);
        for (l1 = l0 + 1; l1 < n_layer && ctx_layer_backend(c, l1) == be;) l1++;
        const bool fused = be->ops->run_layers && !c->fw_ops_only;
        fw_acts *a = fw_acts_get(c, be, !fused, st);
        if (!a) return st ? st->code : PL_ERR_NOMEM;
        int rc = a == cur ? 0 : fw_move_x(c, cur, a, nb);
        if (rc) return fw_fail(st, be, "copying the residual stream in", l0, l0 + 1, rc);
        cur = a;
        /* the CPU's last run computes the logits itself (host memory: pl_decode's buffer is its own) */
        float *head = fused && l1 == n_layer && be == c->be_cpu ? logits : NULL;
        const char *what = "run_layers";
        int failed = -1;
        rc = fused ? be->ops->run_layers(be, &c->dec, l0, l1, table, nb, pos0, a->x, head)
                   : fw_ops_layers(c, a, l0, l1, table, nb, pos0, &what, &failed);
        if (rc) return failed >= 0 ? fw_fail(st, be, what, failed, failed + 1, rc) : fw_fail(st, be, what, l0, l1, rc);
        if (head) logits = NULL;
    }
    int rc = cur == xa ? 0 : fw_move_x(c, cur, xa, nb);
    if (rc) return fw_fail(st, cur->be, "copying the residual stream out", -1, -1, rc);
    return logits ? forward_logits_row(c, nb - 1, logits, st) : 0;
}

/* Final norm, output projection and soft cap of one row of the CPU's x. */
int forward_logits_row(pl_ctx *c, int row, float *logits, pl_status *st)
{
    const pl_model *m = c->m;
    const int d = (int)m->hp.n_embd;
    const fw_acts *xa = fw_acts_get(c, c->be_cpu, false, st);
    if (!xa) return st ? st->code : PL_ERR_NOMEM;
    const pl_matmul_w w = { .W = m->output.data, .type = m->output.type, .rows = m->output.rows, .Y = logits,
                            .layout = m->output.layout };
    int rc = c->be_cpu->ops->logits(c->be_cpu, xa->x + (size_t)row * d, m->output_norm.data, d, m->hp.norm_eps, &w,
                                    m->hp.final_softcap);
    return rc ? fw_fail(st, c->be_cpu, "logits", -1, -1, rc) : 0;
}
