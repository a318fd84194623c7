/* forward.c — the transformer forward pass of the llama family.
 *
 * Reads top to bottom like the math (llama2.c's forward()), but on a chunk of
 * nb tokens at once so the projections are matrix-matrix products (prefill)
 * and, for nb = 1, matrix-vector (decode). Keys and values go into the paged
 * cache first (in its row types); attention (the backend's) then reads positions
 * [0, pos] of the cache for each token, which is the causal mask.
 *
 * A chunk costs five pool dispatches per layer: Q/K/V in one, attention, the
 * output projection, gate/up in one, the down projection; the element-wise
 * steps (norm, rope, cache store, SwiGLU, residual adds) are cheap next to a
 * prefill's matmuls and run on the calling thread. A single token (decode)
 * goes to forward_decode.c instead: the whole step in one dispatch, because
 * there the per-dispatch sync, not arithmetic, is what a token costs.
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
    pl_matmul_w mw = { .W = w->data, .type = w->type, .rows = w->rows, .Y = y, .layout = w->layout };
    pl_cpu_matmul_multi(c->pool, &mw, 1, w->cols, x, n);
}

/* Several projections of the same input (Q/K/V, gate/up) in one pool
 * dispatch: the activations are quantized once and the threads stream all
 * the weights with one barrier at the end. */
static void fw_matmul_group(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w,
                            const float *x, int n)
{
    pl_matmul_w ws[4];
    for (int i = 0; i < n_w; i++)
        ws[i] = (pl_matmul_w){ .W = w[i]->data, .type = w[i]->type, .rows = w[i]->rows, .Y = y[i],
                               .layout = w[i]->layout };
    for (int i = 0; i < n_w; i++) pl_cpu_matmul_multi(c->pool, &ws[i], 1, w[0]->cols, x, n);
}

/* Row `token` of the embedding table as floats (either layout: a tied output
 * matrix shares it and may be repacked). */
void model_embed(const pl_model *m, int32_t token, float *out)
{
    const pl_weight *e = &m->tok_embd;
    pl_cpu_row_to_float(e->data, e->type, e->layout, e->cols, token, out);
}

/* Rows of the embedding table for the chunk's tokens, as floats. */
static void fw_embed(pl_ctx *c, const int32_t *tokens, int nb)
{
    for (int i = 0; i < nb; i++) model_embed(c->m, tokens[i], c->x + (size_t)i * c->m->hp.n_embd);
}

/* Causal attention of the chunk over the cache (the backend's blocked kernel). */
static void fw_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    const pl_hparams *hp = &c->m->hp;
    pl_attn_args a = { .kv = kv_view(c->kv, s, il), .nb = nb, .pos0 = pos0,
                       .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                       .hd = (int)hp->head_dim, .q = c->q, .out = c->att, .scratch = c->attn_scr,
                       .work = c->attn_work };
    pl_cpu_attention(c->pool, &a);
}

/* ---- the llama family --------------------------------------------------- */

/* RMSNorm of nb rows of width d. */
static void fw_rms_norm(float *out, const float *x, const pl_weight *w, int nb, int d, float eps)
{
    for (int i = 0; i < nb; i++)
        pl_cpu_rms_norm(x + (size_t)i * d, w->data, d, eps, out + (size_t)i * d);
}

/* The element-wise steps of a prefill, row by row on the pool (rows are
 * tokens, so each thread's rows are its own): the same calls, row for row,
 * as the fused decode step makes, so both give the same numbers. */
typedef enum fw_rows_step { FW_ROPE_STORE, FW_ADD_NORM, FW_SILU } fw_rows_step;

typedef struct fw_rows_job {
    pl_ctx       *c;
    const kv_seq *s;
    int           il, nb, pos0;
    fw_rows_step  step;
    bool          add;       /* FW_ADD_NORM: x += xb first */
    const float  *norm;      /* FW_ADD_NORM: xb = rmsnorm(x) * norm, NULL: no norm */
} fw_rows_job;

/* One row (token i) of a step. */
static void fw_row(const fw_rows_job *j, int i)
{
    pl_ctx *c = j->c;
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const size_t d = hp->n_embd, kvd = c->kv->kv_dim, ff = hp->n_ff;
    if (j->step == FW_ROPE_STORE) {
        const float *cs = c->rope_cs + (size_t)i * hp->n_rot;
        model_rope_apply(m, c->q + i * (size_t)hp->n_head * hp->head_dim, (int)hp->n_head, cs);
        model_rope_apply(m, c->k + i * kvd, (int)hp->n_head_kv, cs);
        const pl_kv_view kv = kv_view(c->kv, j->s, j->il);
        pl_cpu_kv_store(&kv, 1, j->pos0 + i, c->k + i * kvd, c->v + i * kvd);
    } else if (j->step == FW_ADD_NORM) {
        if (j->add) pl_cpu_add(c->x + i * d, c->xb + i * d, (int)d, c->x + i * d);
        if (j->norm) pl_cpu_rms_norm(c->x + i * d, j->norm, (int)d, hp->norm_eps, c->xb + i * d);
    } else {
        pl_cpu_silu_mul_fast(c->gate + i * ff, c->up + i * ff, (int)ff, c->gate + i * ff);
    }
}

/* Pool job: an even share of the rows per thread. */
static void fw_rows_worker(int ith, int nth, void *arg)
{
    const fw_rows_job *j = arg;
    for (int i = j->nb * ith / nth; i < j->nb * (ith + 1) / nth; i++) fw_row(j, i);
}

/* Run one element-wise step over the chunk's rows. */
static void fw_rows(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, fw_rows_step step,
                    bool add, const pl_weight *norm)
{
    fw_rows_job j = { c, s, il, nb, pos0, step, add, norm ? norm->data : NULL };
    pl_pool_run(c->pool, fw_rows_worker, &j);
}

/* Pre-norm decoder: x += Wo.attn(rope(Wq.n(x)), rope(Wk.n(x)), Wv.n(x));
 *                   x += Wd.(silu(Wg.n(x)) * Wu.n(x)); logits = Wout.n(x_last).
 * Each residual add is fused with the RMSNorm that follows it. */
void forward_llama(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const int d = (int)hp->n_embd, n_layer = (int)hp->n_layer;
    const kv_seq *s = &c->kv->seqs[seq];
    if (nb == 1) { forward_llama_decode(c, seq, tokens[0], pos0, logits); return; }
    fw_embed(c, tokens, nb);                                        /* x (nb, d) */
    for (int i = 0; i < nb; i++)                                    /* rope_cs (nb, n_rot) */
        model_rope_cache(m, (float)(pos0 + i), c->rope_cs + (size_t)i * hp->n_rot);
    fw_rows(c, s, 0, nb, pos0, FW_ADD_NORM, false, &m->layers[0].attn_norm);   /* xb = n(x) */
    for (int il = 0; il < n_layer; il++) {
        const pl_layer *L = &m->layers[il];
        fw_matmul_group(c, (const pl_weight *[]){ &L->wq, &L->wk, &L->wv },
                        (float *[]){ c->q, c->k, c->v }, 3, c->xb, nb); /* q (nb, n_q), k, v (nb, n_kv) */
        fw_rows(c, s, il, nb, pos0, FW_ROPE_STORE, false, NULL);   /* rope q, k; k, v -> cache */
        fw_attention(c, s, il, nb, pos0);                           /* att (nb, n_q) */
        fw_matmul(c, &L->wo, c->att, nb, c->xb);                    /* xb (nb, d) */
        fw_rows(c, s, il, nb, pos0, FW_ADD_NORM, true, &L->ffn_norm);   /* x += xb; xb = n(x) */
        fw_matmul_group(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
                        (float *[]){ c->gate, c->up }, 2, c->xb, nb);  /* gate, up (nb, n_ff) */
        fw_rows(c, s, il, nb, pos0, FW_SILU, false, NULL);          /* gate = silu(gate) * up */
        fw_matmul(c, &L->ffn_down, c->gate, nb, c->xb);             /* xb (nb, d) */
        fw_rows(c, s, il, nb, pos0, FW_ADD_NORM, true,              /* x += xb; xb = n(x) */
                il + 1 < n_layer ? &m->layers[il + 1].attn_norm : NULL);
    }
    if (!logits) return;
    fw_rms_norm(c->out_row, c->x + (size_t)(nb - 1) * d, &m->output_norm, 1, d, hp->norm_eps);
    fw_matmul(c, &m->output, c->out_row, 1, logits);                /* (n_vocab) */
}
