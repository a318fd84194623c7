/* forward.c — the transformer forward pass of the llama family.
 *
 * Reads top to bottom like the math (llama2.c's forward()), but on a chunk of
 * nb tokens at once so the projections are matrix-matrix products (prefill)
 * and, for nb = 1, matrix-vector (decode). Keys and values go into the paged
 * cache first (in its row types); attention (attn_cpu.c) then reads positions
 * [0, pos] of the cache for each token, which is the causal mask.
 *
 * A token costs four pool dispatches per layer: Q/K/V in one, attention, the
 * output projection, gate/up in one, the down projection (five with the
 * attention). On a small model the per-dispatch sync, not arithmetic, is what
 * a token costs, so nothing else is dispatched: the element-wise steps (norm,
 * rope, cache store, SwiGLU, residual adds) are a few microseconds on the
 * calling thread.
 *
 * Numerics follow llama.cpp where it matters for agreement: the backend's
 * RMSNorm sums in double, rope angles come from ggml's float iteration, and
 * the query is rounded to f16 before its dot with f16 keys (ggml converts it
 * to the cache's type).
 */
#include <math.h>
#include <string.h>

#include "context_impl.h"

/* ---- rotary embeddings -------------------------------------------------- */

/* cos/sin of the n_rot/2 pair angles at position pos (backend's ggml-order rule). */
void model_rope_cache(const pl_model *m, float pos, float *cs)
{
    pl_cpu_rope_cache(cs, (int)m->hp.n_rot, pos, m->hp.rope_base, m->hp.rope_scale, m->rope_div);
}

/* Rotate every head of a (n_heads, head_dim) row in the architecture's style. */
void model_rope_apply(const pl_model *m, float *row, int n_heads, const float *cs)
{
    pl_cpu_rope(row, n_heads, (int)m->hp.head_dim, (int)m->hp.n_rot, cs,
                m->arch->rope == ARCH_ROPE_NEOX ? PL_ROPE_NEOX : PL_ROPE_NORMAL);
}

/* ---- weights ------------------------------------------------------------ */

/* Y(n, w.rows) = X(n, w.cols) . W^T */
static void fw_matmul(pl_ctx *c, const pl_weight *w, const float *x, int n, float *y)
{
    pl_cpu_matmul(c->pool, w->data, w->type, w->rows, w->cols, x, n, y);
}

/* Several projections of the same input (Q/K/V, gate/up) in one pool
 * dispatch: the activations are quantized once and the threads stream all
 * the weights with one barrier at the end. */
static void fw_matmul_group(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w,
                            const float *x, int n)
{
    pl_matmul_w ws[4];
    for (int i = 0; i < n_w; i++)
        ws[i] = (pl_matmul_w){ .W = w[i]->data, .type = w[i]->type, .rows = w[i]->rows, .Y = y[i] };
    for (int i = 0; i < n_w; i++) pl_cpu_matmul_multi(c->pool, &ws[i], 1, w[0]->cols, x, n);
}

/* Rows of the embedding table for the chunk's tokens, as floats. */
static void fw_embed(pl_ctx *c, const int32_t *tokens, int nb)
{
    const pl_weight *e = &c->m->tok_embd;
    const pl_type_traits *tr = pl_type_traits_get(e->type);
    const size_t row = pl_row_size(e->type, e->cols);
    for (int i = 0; i < nb; i++)
        tr->to_float((const char *)e->data + row * (size_t)tokens[i], c->x + (size_t)i * e->cols,
                     e->cols);
}

/* Causal attention of the chunk over the cache (attn_cpu.c). */
static void fw_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    const pl_hparams *hp = &c->m->hp;
    attn_args a = { .kv = c->kv, .s = s, .il = il, .nb = nb, .pos0 = pos0,
                    .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                    .hd = (int)hp->head_dim, .q = c->q, .out = c->att, .scratch = c->attn_scr,
                    .partial = c->attn_part, .pending = c->attn_pending };
    attn_run(c->pool, &a);
}

/* ---- the llama family --------------------------------------------------- */

/* RMSNorm of nb rows of width d. */
static void fw_rms_norm(float *out, const float *x, const pl_weight *w, int nb, int d, float eps)
{
    for (int i = 0; i < nb; i++)
        pl_cpu_rms_norm(x + (size_t)i * d, w->data, d, eps, out + (size_t)i * d);
}

/* Pre-norm decoder: x += Wo.attn(rope(Wq.n(x)), rope(Wk.n(x)), Wv.n(x));
 *                   x += Wd.(silu(Wg.n(x)) * Wu.n(x)); logits = Wout.n(x_last). */
void forward_llama(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const int d = (int)hp->n_embd, n_q = (int)(hp->n_head * hp->head_dim);
    const kv_seq *s = &c->kv->seqs[seq];
    fw_embed(c, tokens, nb);                                        /* x (nb, d) */
    for (int i = 0; i < nb; i++)                                    /* rope_cs (nb, n_rot) */
        model_rope_cache(m, (float)(pos0 + i), c->rope_cs + (size_t)i * hp->n_rot);
    for (int il = 0; il < (int)hp->n_layer; il++) {
        const pl_layer *L = &m->layers[il];
        fw_rms_norm(c->xb, c->x, &L->attn_norm, nb, d, hp->norm_eps);
        fw_matmul_group(c, (const pl_weight *[]){ &L->wq, &L->wk, &L->wv },
                        (float *[]){ c->q, c->k, c->v }, 3, c->xb, nb); /* q (nb, n_q), k, v (nb, n_kv) */
        for (int i = 0; i < nb; i++) {
            const float *cs = c->rope_cs + (size_t)i * hp->n_rot;
            model_rope_apply(m, c->q + (size_t)i * n_q, (int)hp->n_head, cs);
            model_rope_apply(m, c->k + (size_t)i * c->kv->kv_dim, (int)hp->n_head_kv, cs);
        }
        attn_store_kv(c->kv, s, il, nb, pos0, c->k, c->v);
        fw_attention(c, s, il, nb, pos0);                           /* att (nb, n_q) */
        fw_matmul(c, &L->wo, c->att, nb, c->xb);                    /* xb (nb, d) */
        pl_cpu_add(c->x, c->xb, nb * d, c->x);
        fw_rms_norm(c->xb, c->x, &L->ffn_norm, nb, d, hp->norm_eps);
        fw_matmul_group(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
                        (float *[]){ c->gate, c->up }, 2, c->xb, nb);  /* gate, up (nb, n_ff) */
        attn_silu_mul(c->gate, c->up, nb * (int)hp->n_ff, c->gate);
        fw_matmul(c, &L->ffn_down, c->gate, nb, c->xb);             /* xb (nb, d) */
        pl_cpu_add(c->x, c->xb, nb * d, c->x);
    }
    if (!logits) return;
    fw_rms_norm(c->out_row, c->x + (size_t)(nb - 1) * d, &m->output_norm, 1, d, hp->norm_eps);
    fw_matmul(c, &m->output, c->out_row, 1, logits);                /* (n_vocab) */
}
