/* forward_gemma.c — the Gemma 3 decoder.
 *
 * Llama's pre-norm decoder with four changes (llama.cpp's gemma3 graph and
 * Google's reference agree on each):
 *  - embeddings are multiplied by sqrt(n_embd);
 *  - each query and key head is RMS-normalised (attn_q_norm / attn_k_norm)
 *    before rope, and the query is scaled by hp.attn_scale before the dot;
 *  - the attention output and the FFN output are RMS-normalised again
 *    (post_attention_norm / post_ffw_norm) before they join the residual;
 *  - the FFN is GELU-gated: down(gelu(gate x) * up x).
 * Five layers of six are local: they attend to the last n_swa positions only
 * and rotate with rope base hp.rope_base_swa (10000) unscaled; every sixth is
 * global with rope.freq_base (1e6) and the file's rope scaling.
 * Norm weights need no "+1": the GGUF converter stores Gemma's (1 + w).
 *
 * GELU is the tanh approximation looked up in a table of all f16 inputs, as
 * ggml's CPU backend does (the input rounded to f16, the output stored as f16):
 * same values as llama.cpp and cheaper than tanhf per element.
 */
#include <math.h>
#include <pthread.h>

#include "forward_ext.h"

static pl_f16 gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

/* gelu(x) ~ 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for every f16 x. */
static void gelu_table_fill(void)
{
    const float sqrt_2_over_pi = 0.79788456080286535588f, coef_a = 0.044715f;
    for (int i = 0; i < 1 << 16; i++) {
        float x = pl_f16_to_f32((pl_f16)i);
        float g = 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + coef_a * x * x)));
        gelu_table[i] = isfinite(x) ? pl_f32_to_f16(g) : (pl_f16)i;
    }
}

/* gate = gelu(gate) * up over n values (ggml's f16-table GELU). */
static void gemma_gelu_mul(float *gate, const float *up, int n)
{
    pthread_once(&gelu_once, gelu_table_fill);
    for (int i = 0; i < n; i++) {
        float x = gate[i], g;
        if (x <= -10.0f) g = 0.0f;
        else if (x >= 10.0f) g = x;
        else g = pl_f16_to_f32(gelu_table[pl_f32_to_f16(x)]);
        gate[i] = g * up[i];
    }
}

/* Attention block of layer il: x += post_norm(Wo . attn(norm(x))). *rope_base
 * is the base c->rope_cs holds (0: none yet); it changes only at global layers. */
static void gemma_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, float *rope_base)
{
    const pl_hparams *hp = &c->m->hp;
    const pl_layer *L = &c->m->layers[il];
    const int d = (int)hp->n_embd, hd = (int)hp->head_dim, n_q = (int)(hp->n_head * hd);
    const bool local = hp_layer_is_swa(hp, il);
    fx_rms_rows(c->xb, c->x, &L->attn_norm, nb, d, hp->norm_eps);
    fx_matmul(c, (const pl_weight *[]){ &L->wq, &L->wk, &L->wv },
              (float *[]){ c->q, c->k, c->v }, 3, c->xb, nb);  /* q (nb, n_q), k, v (nb, n_kv) */
    fx_rms_heads(c->q, &L->attn_q_norm, nb * (int)hp->n_head, hd, hp->norm_eps);
    fx_rms_heads(c->k, &L->attn_k_norm, nb * (int)hp->n_head_kv, hd, hp->norm_eps);
    const float base = local ? hp->rope_base_swa : -hp->rope_base;   /* sign tells them apart */
    if (base != *rope_base)
        fx_rope_cache(c, nb, pos0, fabsf(base), local ? 1.0f : hp->rope_scale, NULL);
    *rope_base = base;
    fx_rope_qk(c, nb);
    pl_cpu_scale(c->q, hp->attn_scale, nb * n_q);
    fx_store_kv(c, s, il, nb, pos0);
    fx_attention(c, s, il, nb, pos0, local ? (int)hp->n_swa : 0, 1.0f); /* att (nb, n_q) */
    fx_matmul(c, (const pl_weight *[]){ &L->wo }, (float *[]){ c->xb }, 1, c->att, nb);
    fx_rms_rows(c->xb, c->xb, &L->attn_post_norm, nb, d, hp->norm_eps);
    pl_cpu_add(c->x, c->xb, nb * d, c->x);
}

/* Feed-forward block of layer il: x += post_norm(Wd . (gelu(Wg n(x)) * Wu n(x))). */
static void gemma_ffn(pl_ctx *c, int il, int nb)
{
    const pl_hparams *hp = &c->m->hp;
    const pl_layer *L = &c->m->layers[il];
    const int d = (int)hp->n_embd;
    fx_rms_rows(c->xb, c->x, &L->ffn_norm, nb, d, hp->norm_eps);
    fx_matmul(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
              (float *[]){ c->gate, c->up }, 2, c->xb, nb);    /* gate, up (nb, n_ff) */
    gemma_gelu_mul(c->gate, c->up, nb * (int)hp->n_ff);
    fx_matmul(c, (const pl_weight *[]){ &L->ffn_down }, (float *[]){ c->xb }, 1, c->gate, nb);
    fx_rms_rows(c->xb, c->xb, &L->ffn_post_norm, nb, d, hp->norm_eps);
    pl_cpu_add(c->x, c->xb, nb * d, c->x);
}

/* x = sqrt(d) embed(tokens); per layer: attention block, FFN block; logits of the last row. */
void forward_gemma(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits)
{
    const pl_model *m = c->m;
    const kv_seq *s = &c->kv->seqs[seq];
    fx_embed(c, tokens, nb, m->arch->embd_scale ? sqrtf((float)m->hp.n_embd) : 1.0f);
    float rope_base = 0.0f;
    for (int il = 0; il < (int)m->hp.n_layer; il++) {
        gemma_attention(c, s, il, nb, pos0, &rope_base);
        gemma_ffn(c, il, nb);
    }
    if (logits) fx_logits(c, nb, logits);
}
