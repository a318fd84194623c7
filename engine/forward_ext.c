/* forward_ext.c — the steps gemma3 and qwen2/qwen3 share (see forward_ext.h).
 *
 * Each is one loop over the chunk's rows, or one pool dispatch (matmuls,
 * attention). Attention takes a window so sliding-window layers are the same
 * code: token at position p sees cached positions (p - window, p], llama.cpp's
 * "standard" SWA mask. The score scale is a parameter because the families
 * differ in where they apply it (gemma scales the query before it is rounded
 * to f16, qwen scales the scores), and llama.cpp's results follow that order.
 * On an F16 cache, attention is computed the way llama.cpp's CPU path does
 * (softmax weights rounded to f16 before they meet the f16 values, the
 * backend's PL_ATTN_EXACT_F16): that keeps greedy answers identical to
 * llama.cpp's where the blocked flash-style kernel (f32 weights) parts from
 * them on Gemma 3 270M. Quantized KV caches go through the blocked kernel,
 * which reads every row type.
 */
#include <math.h>
#include <string.h>

#include "forward_ext.h"

/* Rows of the embedding table for the chunk's tokens, as floats, times scale. */
void fx_embed(pl_ctx *c, const int32_t *tokens, int nb, float scale)
{
    const int d = (int)c->m->hp.n_embd;
    for (int i = 0; i < nb; i++) {
        float *x = c->x + (size_t)i * d;
        model_embed(c->m, tokens[i], x);
        if (scale != 1.0f) pl_cpu_scale(x, scale, d);
    }
}

/* RMSNorm of nb rows of width d. */
void fx_rms_rows(float *out, const float *x, const pl_weight *w, int nb, int d, float eps)
{
    for (int i = 0; i < nb; i++)
        pl_cpu_rms_norm(x + (size_t)i * d, w->data, d, eps, out + (size_t)i * d);
}

/* RMSNorm of every head vector (q/k norms): rows of hd, one shared weight. */
void fx_rms_heads(float *x, const pl_weight *w, int n_rows, int hd, float eps)
{
    for (int r = 0; r < n_rows; r++)
        pl_cpu_rms_norm(x + (size_t)r * hd, w->data, hd, eps, x + (size_t)r * hd);
}

/* y += b on every row. */
void fx_add_bias(float *y, const pl_weight *b, int nb, int n)
{
    if (!b->data) return;
    for (int i = 0; i < nb; i++) pl_cpu_add(y + (size_t)i * n, b->data, n, y + (size_t)i * n);
}

/* Projections of one input in a single pool dispatch (X quantized once per type). */
void fx_matmul(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w, const float *x,
               int nb)
{
    pl_matmul_w ws[8];
    for (int k = 0; k < n_w; k++)
        ws[k] = (pl_matmul_w){ .W = w[k]->data, .type = w[k]->type, .rows = w[k]->rows, .Y = y[k],
                               .layout = w[k]->layout };
    pl_cpu_matmul_multi(c->pool, ws, n_w, w[0]->cols, x, nb);
}

/* cos/sin per token and pair for this layer's rope base and scale. */
void fx_rope_cache(pl_ctx *c, int nb, int pos0, float base, float scale, const float *div)
{
    const int n_rot = (int)c->m->hp.n_rot;
    for (int i = 0; i < nb; i++)
        pl_cpu_rope_cache(c->rope_cs + (size_t)i * n_rot, n_rot, (float)(pos0 + i), base, scale, div);
}

/* Rotate q (n_head heads) and k (n_head_kv heads) of each row. */
void fx_rope_qk(pl_ctx *c, int nb)
{
    const pl_hparams *hp = &c->m->hp;
    const int mode = c->m->arch->rope == ARCH_ROPE_NEOX ? PL_ROPE_NEOX : PL_ROPE_NORMAL;
    const int hd = (int)hp->head_dim, n_rot = (int)hp->n_rot, n_q = (int)(hp->n_head * hd);
    for (int i = 0; i < nb; i++) {
        const float *cs = c->rope_cs + (size_t)i * n_rot;
        pl_cpu_rope(c->q + (size_t)i * n_q, (int)hp->n_head, hd, n_rot, cs, mode);
        pl_cpu_rope(c->k + (size_t)i * c->kv->kv_dim, (int)hp->n_head_kv, hd, n_rot, cs, mode);
    }
}

/* The chunk's K and V rows into the cache, in its types (the backend's store). */
void fx_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    const pl_kv_view kv = kv_view(c->kv, s, il);
    pl_cpu_kv_store(&kv, nb, pos0, c->k, c->v);
}

/* Causal, optionally windowed attention of the chunk over the cache: an F16
 * cache gets llama.cpp's exact arithmetic (PL_ATTN_EXACT_F16); other KV types
 * the blocked kernel, which converts their rows to f32. */
void fx_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, int window,
                  float score_scale)
{
    const pl_hparams *hp = &c->m->hp;
    pl_attn_args a = { .kv = kv_view(c->kv, s, il), .nb = nb, .pos0 = pos0,
                       .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                       .hd = (int)hp->head_dim, .q = c->q, .out = c->att, .window = window,
                       .scale = score_scale, .math = PL_ATTN_EXACT_F16, .scratch = c->attn_scr,
                       .work = c->attn_work };
    pl_cpu_attention(c->pool, &a);
}

/* Final norm of the last row, the output projection, the optional soft cap. */
void fx_logits(pl_ctx *c, int nb, float *logits) { fx_logits_row(c, nb - 1, logits); }

/* The same for any row of the chunk just run (a batch asks for several). */
void fx_logits_row(pl_ctx *c, int row, float *logits)
{
    const pl_model *m = c->m;
    const int d = (int)m->hp.n_embd, nv = (int)m->hp.n_vocab;
    pl_cpu_rms_norm(c->x + (size_t)row * d, m->output_norm.data, d, m->hp.norm_eps, c->out_row);
    const pl_weight *w = &m->output;
    fx_matmul(c, &w, &logits, 1, c->out_row, 1);
    const float cap = m->hp.final_softcap;
    if (cap > 0.0f)   /* llama.cpp's order: scale by 1/cap, tanh, scale by cap */
        for (int i = 0; i < nv; i++) logits[i] = cap * tanhf(logits[i] * (1.0f / cap));
}
