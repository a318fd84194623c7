/* forward_ops.c — a run of layers op by op through a backend's vtable.
 *
 * The path for a backend without run_layers (the "ref" backend, later a
 * device's first steps) and, in tests, for any backend: the same decoder as
 * backends/cpu/decode_prefill.c, one vtable op per step on the backend's own
 * activations (fw_acts). On the CPU backend its numbers are the fused
 * path's (same kernels, same order per output). Every op's code is checked;
 * the first failure stops the run and names the op.
 */
#include "context_impl.h"

#define FO(op, name) do { int rc_ = (op); if (rc_) { *what = (name); return rc_; } } while (0)

/* A weight of the layer as a matmul operand writing Y. */
static pl_matmul_w fo_w(const pl_wview *w, float *y)
{
    return (pl_matmul_w){ .W = w->data, .type = w->type, .rows = w->rows, .Y = y, .layout = w->layout };
}

/* x += [post-norm] xb over the chunk's rows. */
static int fo_residual(pl_backend *be, const pl_decoder *d, const fw_acts *a, const float *post, int nb,
                       const char **what)
{
    if (post) FO(be->ops->rms_norm(be, a->xb, post, nb, d->n_embd, d->eps, a->xb), "post-norm");
    FO(be->ops->add(be, a->x, a->xb, nb, nb, d->n_embd, a->x), "residual add");
    return 0;
}

/* q, k, v of the chunk: projections, biases, head norms, rope, query scale,
 * and k, v into the cache. */
static int fo_qkv(pl_backend *be, const pl_decoder *d, const fw_acts *a, int il, const int *kv_table, int nb,
                  int pos0, const char **what)
{
    const pl_backend_ops *o = be->ops;
    const pl_decoder_layer *L = &d->layers[il];
    const int hd = d->head_dim, n_q = d->n_head * hd, n_kv = d->n_head_kv * hd;
    const pl_matmul_w qkv[3] = { fo_w(&L->wq, a->q), fo_w(&L->wk, a->k), fo_w(&L->wv, a->v) };
    FO(o->rms_norm(be, a->x, L->attn_norm, nb, d->n_embd, d->eps, a->xb), "attention norm");
    FO(o->matmul(be, qkv, 3, d->n_embd, a->xb, nb), "q/k/v projection");
    if (L->bq) FO(o->add(be, a->q, L->bq, nb, 1, n_q, a->q), "q bias");
    if (L->bk) FO(o->add(be, a->k, L->bk, nb, 1, n_kv, a->k), "k bias");
    if (L->bv) FO(o->add(be, a->v, L->bv, nb, 1, n_kv, a->v), "v bias");
    if (L->q_norm) FO(o->rms_norm(be, a->q, L->q_norm, nb * d->n_head, hd, d->eps, a->q), "q head norm");
    if (L->k_norm) FO(o->rms_norm(be, a->k, L->k_norm, nb * d->n_head_kv, hd, d->eps, a->k), "k head norm");
    FO(o->rope(be, a->q, nb, d->n_head, hd, pos0, &L->rope), "rope q");
    FO(o->rope(be, a->k, nb, d->n_head_kv, hd, pos0, &L->rope), "rope k");
    if (d->q_scale_first) FO(o->scale(be, a->q, (int64_t)nb * n_q, d->attn_scale), "q scale");
    const pl_kv_view kv = pl_decoder_kv(d, il, kv_table);
    FO(o->kv_store(be, &kv, pos0, nb, a->k, a->v), "kv store");
    return 0;
}

int fw_ops_layers(const pl_ctx *c, const fw_acts *a, int l0, int l1, const int *kv_table, int nb, int pos0,
                  const char **what, int *failed)
{
    const pl_decoder *d = &c->dec;
    pl_backend *be = a->be;
    const pl_backend_ops *o = be->ops;
    for (int il = l0; il < l1; il++) {
        const pl_decoder_layer *L = &d->layers[il];
        *failed = il;
        int rc = fo_qkv(be, d, a, il, kv_table, nb, pos0, what);
        if (rc) return rc;
        const pl_attn_args at = { .kv = pl_decoder_kv(d, il, kv_table), .nb = nb, .pos0 = pos0,
                                  .n_head = d->n_head, .n_head_kv = d->n_head_kv, .hd = d->head_dim,
                                  .q = a->q, .out = a->att, .window = L->window,
                                  .scale = d->q_scale_first ? 1.0f : d->attn_scale, .math = d->attn_math };
        FO(o->attention(be, &at), "attention");                                         /* att (nb, n_q) */
        const pl_matmul_w wo = fo_w(&L->wo, a->xb);
        FO(o->matmul(be, &wo, 1, (int64_t)d->n_head * d->head_dim, a->att, nb), "output projection");
        if ((rc = fo_residual(be, d, a, L->attn_post_norm, nb, what))) return rc;
        FO(o->rms_norm(be, a->x, L->ffn_norm, nb, d->n_embd, d->eps, a->xb), "feed-forward norm");
        const pl_matmul_w gu[2] = { fo_w(&L->ffn_gate, a->gate), fo_w(&L->ffn_up, a->up) };
        FO(o->matmul(be, gu, 2, d->n_embd, a->xb, nb), "gate/up projection");          /* (nb, n_ff) */
        FO(o->glu(be, d->glu, a->gate, a->up, (int64_t)nb * d->n_ff, a->gate), "gated activation");
        const pl_matmul_w dn = fo_w(&L->ffn_down, a->xb);
        FO(o->matmul(be, &dn, 1, d->n_ff, a->gate, nb), "down projection");             /* xb (nb, d) */
        if ((rc = fo_residual(be, d, a, L->ffn_post_norm, nb, what))) return rc;
    }
    return 0;
}
