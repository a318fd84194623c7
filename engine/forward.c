/* forward.c — the transformer forward pass, one function per architecture family.
 *
 * Reads top to bottom like the math (llama2.c's forward()), but on a chunk of
 * nb tokens at once so the projections are matrix-matrix products (prefill)
 * and, for nb = 1, matrix-vector (decode). Keys and values go into the paged
 * F16 cache first; attention then reads positions [0, pos] of the cache for
 * each token, which is the causal mask. Thread-pool dispatches per layer are
 * the matmuls and one attention dispatch; the cheap element-wise steps run on
 * the calling thread.
 *
 * Numerics follow llama.cpp where it matters for agreement: the backend's
 * RMSNorm and softmax sum in double, rope angles come from ggml's float
 * iteration, and the query is rounded to f16 before its dot with the f16
 * keys (ggml converts it to the cache's type).
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

/* ---- attention over the paged cache ---------------------------------- */

typedef struct attn_job {
    pl_ctx *c;
    const kv_seq *s;
    int il, nb, pos0;
} attn_job;

/* One (token, head): softmax(q . K[0..pos] / sqrt(hd)) . V[0..pos]. */
static void attn_one(const attn_job *j, int i, int h, float *sc, float *qh)
{
    const pl_ctx *c = j->c;
    const pl_hparams *hp = &c->m->hp;
    const int hd = (int)hp->head_dim, pos = j->pos0 + i;
    const int kvh = h / (int)(hp->n_head / hp->n_head_kv);
    const float *q = c->q + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) qh[d] = pl_f16_to_f32(pl_f32_to_f16(q[d]));
    const float scale = 1.0f / sqrtf((float)hd);
    for (int t = 0; t <= pos; t++)
        sc[t] = pl_cpu_dot_f16_f32(kv_k_row(c->kv, j->s, j->il, t) + (size_t)kvh * hd, qh, hd) * scale;
    pl_cpu_softmax_inplace(sc, pos + 1);
    float *out = c->att + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    memset(out, 0, sizeof(float) * hd);
    for (int t = 0; t <= pos; t++)
        pl_cpu_axpy_f16_f32(out, kv_v_row(c->kv, j->s, j->il, t) + (size_t)kvh * hd, sc[t], hd);
}

/* Pool worker: (token, head) pairs dealt round-robin (later tokens cost more). */
static void attn_worker(int ith, int nth, void *arg)
{
    const attn_job *j = arg;
    const int n_head = (int)j->c->m->hp.n_head;
    float *sc = j->c->scores + (size_t)ith * j->c->n_ctx;
    float *qh = j->c->qh + (size_t)ith * j->c->m->hp.head_dim;
    for (int w = ith; w < j->nb * n_head; w += nth) attn_one(j, w / n_head, w % n_head, sc, qh);
}

/* Store the chunk's K and V rows (f32 -> f16) at their positions. */
static void fw_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    const int kv_dim = c->kv->kv_dim;
    for (int i = 0; i < nb; i++) {
        pl_f16 *kd = kv_k_row(c->kv, s, il, pos0 + i), *vd = kv_v_row(c->kv, s, il, pos0 + i);
        const float *kr = c->k + (size_t)i * kv_dim, *vr = c->v + (size_t)i * kv_dim;
        for (int d = 0; d < kv_dim; d++) {
            kd[d] = pl_f32_to_f16(kr[d]);
            vd[d] = pl_f32_to_f16(vr[d]);
        }
    }
}

/* ---- weights ------------------------------------------------------------ */

/* Y(n, w.rows) = X(n, w.cols) . W^T */
static void fw_matmul(pl_ctx *c, const pl_weight *w, const float *x, int n, float *y)
{
    pl_cpu_matmul(c->pool, w->data, w->type, w->rows, w->cols, x, n, y);
}

/* Several projections of the same input (Q/K/V, gate/up). One place to fuse
 * them into a single pool dispatch (one activation quantization, one barrier)
 * once the backend offers a multi-weight matmul; today one dispatch each. */
static void fw_matmul_group(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w,
                            const float *x, int n)
{
    for (int i = 0; i < n_w; i++) fw_matmul(c, w[i], x, n, y[i]);
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
        fw_store_kv(c, s, il, nb, pos0);
        attn_job job = { c, s, il, nb, pos0 };
        pl_pool_run(c->pool, attn_worker, &job);                    /* att (nb, n_q) */
        fw_matmul(c, &L->wo, c->att, nb, c->xb);                    /* xb (nb, d) */
        pl_cpu_add(c->x, c->xb, nb * d, c->x);
        fw_rms_norm(c->xb, c->x, &L->ffn_norm, nb, d, hp->norm_eps);
        fw_matmul_group(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
                        (float *[]){ c->gate, c->up }, 2, c->xb, nb);  /* gate, up (nb, n_ff) */
        pl_cpu_silu_mul(c->gate, c->up, nb * (int)hp->n_ff, c->gate);
        fw_matmul(c, &L->ffn_down, c->gate, nb, c->xb);             /* xb (nb, d) */
        pl_cpu_add(c->x, c->xb, nb * d, c->x);
    }
    if (!logits) return;
    fw_rms_norm(c->out_row, c->x + (size_t)(nb - 1) * d, &m->output_norm, 1, d, hp->norm_eps);
    fw_matmul(c, &m->output, c->out_row, 1, logits);                /* (n_vocab) */
}
