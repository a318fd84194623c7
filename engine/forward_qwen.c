/* forward_qwen.c — the Qwen2 / Qwen3 decoder.
 *
 * Llama's pre-norm SwiGLU decoder with neox-style rope (pairs i, i + n_rot/2)
 * and one of two additions, both driven by which tensors the file has:
 *  - qwen2: biases on the q, k and v projections (attn_{q,k,v}.bias);
 *  - qwen3: an RMSNorm on each query and key head before rope
 *    (attn_q_norm / attn_k_norm), and head_dim may differ from n_embd/n_head.
 * Scores are q.k * 1/sqrt(head_dim) with the query rounded to f16 first
 * (llama.cpp applies this scale inside its softmax). Output tied or not.
 */
#include "forward_ext.h"

/* Attention block of layer il: x += Wo . attn(rope(q), rope(k), v) of norm(x). */
static void qwen_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    const pl_hparams *hp = &c->m->hp;
    const pl_layer *L = &c->m->layers[il];
    const int d = (int)hp->n_embd, hd = (int)hp->head_dim, n_kv = c->kv->kv_dim;
    fx_rms_rows(c->xb, c->x, &L->attn_norm, nb, d, hp->norm_eps);
    fx_matmul(c, (const pl_weight *[]){ &L->wq, &L->wk, &L->wv },
              (float *[]){ c->q, c->k, c->v }, 3, c->xb, nb);  /* q (nb, n_q), k, v (nb, n_kv) */
    fx_add_bias(c->q, &L->bq, nb, (int)hp->n_head * hd);
    fx_add_bias(c->k, &L->bk, nb, n_kv);
    fx_add_bias(c->v, &L->bv, nb, n_kv);
    if (L->attn_q_norm.data) fx_rms_heads(c->q, &L->attn_q_norm, nb * (int)hp->n_head, hd, hp->norm_eps);
    if (L->attn_k_norm.data) fx_rms_heads(c->k, &L->attn_k_norm, nb * (int)hp->n_head_kv, hd, hp->norm_eps);
    fx_rope_qk(c, nb);
    fx_store_kv(c, s, il, nb, pos0);
    fx_attention(c, s, il, nb, pos0, 0, hp->attn_scale);          /* att (nb, n_q) */
    fx_matmul(c, (const pl_weight *[]){ &L->wo }, (float *[]){ c->xb }, 1, c->att, nb);
    pl_cpu_add(c->x, c->xb, nb * d, c->x);
}

/* Feed-forward block of layer il: x += Wd . (silu(Wg n(x)) * Wu n(x)). */
static void qwen_ffn(pl_ctx *c, int il, int nb)
{
    const pl_hparams *hp = &c->m->hp;
    const pl_layer *L = &c->m->layers[il];
    const int d = (int)hp->n_embd;
    fx_rms_rows(c->xb, c->x, &L->ffn_norm, nb, d, hp->norm_eps);
    fx_matmul(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
              (float *[]){ c->gate, c->up }, 2, c->xb, nb);    /* gate, up (nb, n_ff) */
    pl_cpu_silu_mul(c->gate, c->up, nb * (int)hp->n_ff, c->gate);
    fx_matmul(c, (const pl_weight *[]){ &L->ffn_down }, (float *[]){ c->xb }, 1, c->gate, nb);
    pl_cpu_add(c->x, c->xb, nb * d, c->x);
}

/* x = embed(tokens); per layer: attention block, FFN block; logits of the last row. */
void forward_qwen(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits)
{
    const pl_model *m = c->m;
    const kv_seq *s = &c->kv->seqs[seq];
    fx_embed(c, tokens, nb, 1.0f);
    fx_rope_cache(c, nb, pos0, m->hp.rope_base, m->hp.rope_scale, m->rope_div);
    for (int il = 0; il < (int)m->hp.n_layer; il++) {
        qwen_attention(c, s, il, nb, pos0);
        qwen_ffn(c, il, nb);
    }
    if (logits) fx_logits(c, nb, logits);
}
