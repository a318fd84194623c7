/* forward.c — THE decoder forward pass: llama, qwen2, qwen3 and gemma3.
 *
 * Reads top to bottom like the math (llama2.c's forward()), on a chunk of nb
 * tokens at once so the projections are matrix-matrix products (prefill). A
 * single token (decode) goes to forward_decode.c: the same steps in one pool
 * dispatch, because there the per-dispatch sync, not arithmetic, is what a
 * token costs. Keys and values go into the paged cache first; attention then
 * reads positions [0, pos] (or a sliding window) of the cache for each token,
 * which is the causal mask (forward_attn.c: the one attention entry).
 *
 * One pre-norm decoder; each optional step is data, never a family test:
 *  - an optional tensor that the file has is a step: q/k/v biases (qwen2),
 *    per-head q/k RMSNorms (qwen3, gemma3), post-attention and post-FFN
 *    RMSNorms before the residual add (gemma3);
 *  - arch_desc: rope style, activation (SiLU / GELU), attention arithmetic,
 *    whether the query is scaled before attention (gemma) or the scores are,
 *    embeddings times sqrt(n_embd);
 *  - hyper-parameters: sliding-window layers with their own rope base
 *    (hp_layer_is_swa, rope_base_swa), the final logit soft cap.
 * Adding a family (phi3 next): a row in arch.c's table with its tensor names
 * and variant fields; a new kind of step only if it has one no family has yet
 * (phi3's fused attn_qkv and gate+up tensors are one: a split of the matmul
 * output here and in forward_decode.c's items; element-wise steps become a
 * row function both the prefill and the decode call); and
 * fixture tests against llama.cpp (tests/e2e/test_arch.c) plus the batch ==
 * token-by-token test (tests/unit/test_forward.c).
 *
 * A chunk costs five matmul dispatches per layer (Q/K/V, attention, output
 * projection, gate/up, down) plus the element-wise steps, run row by row on
 * the pool (fw_rows: rows are tokens, each thread its own). Both paths call
 * the same row functions, so a prefill and token-by-token decoding give the
 * same numbers. Numerics follow llama.cpp where it matters for agreement: the
 * backend's RMSNorm sums in double, rope angles come from ggml's float
 * iteration, the query is rounded to f16 before its dot with f16 keys, GELU
 * is ggml's f16 table.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "forward_impl.h"

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

/* rope_cs (nb, n_rot) for the global layers; rope_cs_swa for sliding ones,
 * whose base is rope_base_swa, unscaled (llama.cpp's gemma3). */
void fw_rope_tables(pl_ctx *c, int nb, int pos0)
{
    const pl_hparams *hp = &c->m->hp;
    for (int i = 0; i < nb; i++) {
        model_rope_cache(c->m, (float)(pos0 + i), c->rope_cs + (size_t)i * hp->n_rot);
        if (hp->n_swa)
            pl_cpu_rope_cache(c->rope_cs_swa + (size_t)i * hp->n_rot, (int)hp->n_rot,
                              (float)(pos0 + i), hp->rope_base_swa, 1.0f, NULL);
    }
}

/* Row i's rope table for layer il. */
const float *fw_rope_cs(const pl_ctx *c, int il, int i)
{
    const pl_hparams *hp = &c->m->hp;
    return (hp_layer_is_swa(hp, il) ? c->rope_cs_swa : c->rope_cs) + (size_t)i * hp->n_rot;
}

/* ---- weights ------------------------------------------------------------ */

/* Y_k(n, w_k.rows) = X(n, cols) . W_k^T for n_w <= 3 weights of one input, in
 * one pool dispatch (X prepared once per weight type). */
static void fw_matmul_n(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w,
                        const float *x, int n)
{
    pl_matmul_w ws[3];
    for (int k = 0; k < n_w; k++)
        ws[k] = (pl_matmul_w){ .W = w[k]->data, .type = w[k]->type, .rows = w[k]->rows, .Y = y[k],
                               .layout = w[k]->layout };
    pl_cpu_matmul_multi(c->pool, ws, n_w, w[0]->cols, x, n);
}

/* Y(n, w.rows) = X(n, w.cols) . W^T */
static void fw_matmul(pl_ctx *c, const pl_weight *w, const float *x, int n, float *y)
{
    fw_matmul_n(c, &w, &y, 1, x, n);
}

/* Row `token` of the embedding table as floats (either layout: a tied output
 * matrix shares it and may be repacked). */
void model_embed(const pl_model *m, int32_t token, float *out)
{
    const pl_weight *e = &m->tok_embd;
    pl_cpu_row_to_float(e->data, e->type, e->layout, e->cols, token, out);
}

/* The embedding row, times sqrt(n_embd) where the architecture says so. */
void fw_embed_row(const pl_model *m, int32_t token, float *x)
{
    model_embed(m, token, x);
    if (m->arch->embd_scale) pl_cpu_scale(x, sqrtf((float)m->hp.n_embd), (int)m->hp.n_embd);
}

/* ---- row steps: the same calls in a prefill and in the fused decode ------ */

/* Token i's q and k: biases (qwen2), per-head norms (qwen3, gemma3), rope with
 * the layer's table, the query scale (gemma); then k, v into the cache. */
void fw_row_qkv(pl_ctx *c, const kv_seq *s, int il, int i, int pos, bool bias)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const pl_layer *L = &m->layers[il];
    const int hd = (int)hp->head_dim, n_q = (int)hp->n_head * hd, kvd = c->kv->kv_dim;
    float *q = c->q + (size_t)i * n_q, *k = c->k + (size_t)i * kvd, *v = c->v + (size_t)i * kvd;
    if (bias && L->bq.data) pl_cpu_add(q, L->bq.data, n_q, q);
    if (bias && L->bk.data) pl_cpu_add(k, L->bk.data, kvd, k);
    if (bias && L->bv.data) pl_cpu_add(v, L->bv.data, kvd, v);
    if (L->attn_q_norm.data)
        for (int h = 0; h < (int)hp->n_head; h++)
            pl_cpu_rms_norm(q + h * hd, L->attn_q_norm.data, hd, hp->norm_eps, q + h * hd);
    if (L->attn_k_norm.data)
        for (int h = 0; h < (int)hp->n_head_kv; h++)
            pl_cpu_rms_norm(k + h * hd, L->attn_k_norm.data, hd, hp->norm_eps, k + h * hd);
    const float *cs = fw_rope_cs(c, il, i);
    model_rope_apply(m, q, (int)hp->n_head, cs);
    model_rope_apply(m, k, (int)hp->n_head_kv, cs);
    if (m->arch->q_scale_first) pl_cpu_scale(q, hp->attn_scale, n_q);
    fw_store_kv(c, s, il, 1, pos, k, v);
}

/* The residual join of a block's output xb: its post-norm (gemma3), the add,
 * and the next block's input norm. */
void fw_row_residual(const pl_ctx *c, float *x, float *xb, const pl_weight *post, bool add,
                     const float *norm, float *normed)
{
    const pl_hparams *hp = &c->m->hp;
    const int d = (int)hp->n_embd;
    if (post && post->data) pl_cpu_rms_norm(xb, post->data, d, hp->norm_eps, xb);
    if (add) pl_cpu_add(x, xb, d, x);
    if (norm) pl_cpu_rms_norm(x, norm, d, hp->norm_eps, normed);
}

static pl_f16 gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

/* gelu(x) ~ 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for every f16 x,
 * stored as f16: ggml's CPU GELU, same values as llama.cpp, cheaper than tanhf. */
static void gelu_table_fill(void)
{
    const float sqrt_2_over_pi = 0.79788456080286535588f, coef_a = 0.044715f;
    for (int i = 0; i < 1 << 16; i++) {
        float x = pl_f16_to_f32((pl_f16)i);
        float g = 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + coef_a * x * x)));
        gelu_table[i] = isfinite(x) ? pl_f32_to_f16(g) : (pl_f16)i;
    }
}

/* gate = gelu(gate) * up over n values (input rounded to f16, as ggml). */
static void fw_gelu_mul(float *gate, const float *up, int n)
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

/* The gated activation of the feed-forward, element by element. */
void fw_act(const arch_desc *a, float *gate, const float *up, int n)
{
    if (a->act == ARCH_ACT_GELU) fw_gelu_mul(gate, up, n);
    else if (a->act == ARCH_ACT_SILU_LIBM) pl_cpu_silu_mul(gate, up, n, gate);
    else pl_cpu_silu_mul_fast(gate, up, n, gate);
}

/* Final logit soft cap (gemma2-style), element by element. */
void fw_softcap(float *logits, int n, float cap)
{
    for (int i = 0; i < n; i++) logits[i] = cap * tanhf(logits[i] * (1.0f / cap));
}

/* ---- the element-wise steps of a prefill on the pool --------------------- */

typedef enum fw_rows_step { FW_QKV, FW_RESIDUAL, FW_ACT } fw_rows_step;

typedef struct fw_rows_job {
    pl_ctx          *c;
    const kv_seq    *s;
    int              il, nb, pos0;
    fw_rows_step     step;
    const pl_weight *post;   /* FW_RESIDUAL: post-norm of xb, or NULL */
    bool             add;    /* FW_RESIDUAL: x += xb */
    const float     *norm;   /* FW_RESIDUAL: xb = rmsnorm(x) * norm, NULL: no norm */
} fw_rows_job;

/* Pool job: an even share of the rows (tokens) per thread. */
static void fw_rows_worker(int ith, int nth, void *arg)
{
    const fw_rows_job *j = arg;
    pl_ctx *c = j->c;
    const size_t d = c->m->hp.n_embd, ff = c->m->hp.n_ff;
    for (int i = j->nb * ith / nth; i < j->nb * (ith + 1) / nth; i++) {
        if (j->step == FW_QKV) fw_row_qkv(c, j->s, j->il, i, j->pos0 + i, true);
        else if (j->step == FW_RESIDUAL)
            fw_row_residual(c, c->x + i * d, c->xb + i * d, j->post, j->add, j->norm, c->xb + i * d);
        else fw_act(c->m->arch, c->gate + i * ff, c->up + i * ff, (int)ff);
    }
}

/* Run one element-wise step over the chunk's rows. */
static void fw_rows(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, fw_rows_step step,
                    const pl_weight *post, bool add, const pl_weight *norm)
{
    fw_rows_job j = { c, s, il, nb, pos0, step, post, add, norm ? norm->data : NULL };
    pl_pool_run(c->pool, fw_rows_worker, &j);
}

/* ---- the decoder --------------------------------------------------------- */

/* x += [post_norm] Wo.attn(rope(Wq.n(x)), rope(Wk.n(x)), Wv.n(x));
 * x += [post_norm] Wd.(act(Wg.n(x)) * Wu.n(x)); logits = Wout.n(x_last).
 * Each residual add is fused with the norm that follows it. */
void forward(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits)
{
    const pl_model *m = c->m;
    const pl_hparams *hp = &m->hp;
    const int d = (int)hp->n_embd, n_layer = (int)hp->n_layer;
    const kv_seq *s = &c->kv->seqs[seq];
    if (nb == 1) { forward_decode(c, seq, tokens[0], pos0, logits); return; }
    for (int i = 0; i < nb; i++) fw_embed_row(m, tokens[i], c->x + (size_t)i * d);  /* x (nb, d) */
    fw_rope_tables(c, nb, pos0);                                    /* rope_cs (nb, n_rot) */
    fw_rows(c, s, 0, nb, pos0, FW_RESIDUAL, NULL, false, &m->layers[0].attn_norm); /* xb = n(x) */
    for (int il = 0; il < n_layer; il++) {
        const pl_layer *L = &m->layers[il];
        fw_matmul_n(c, (const pl_weight *[]){ &L->wq, &L->wk, &L->wv },
                    (float *[]){ c->q, c->k, c->v }, 3, c->xb, nb); /* q (nb, n_q), k, v (nb, n_kv) */
        fw_rows(c, s, il, nb, pos0, FW_QKV, NULL, false, NULL);     /* bias, norms, rope; k, v -> cache */
        fw_attention(c, s, il, nb, pos0, NULL);                     /* att (nb, n_q) */
        fw_matmul(c, &L->wo, c->att, nb, c->xb);                    /* xb (nb, d) */
        fw_rows(c, s, il, nb, pos0, FW_RESIDUAL, &L->attn_post_norm, true, &L->ffn_norm);
        fw_matmul_n(c, (const pl_weight *[]){ &L->ffn_gate, &L->ffn_up },
                    (float *[]){ c->gate, c->up }, 2, c->xb, nb);   /* gate, up (nb, n_ff) */
        fw_rows(c, s, il, nb, pos0, FW_ACT, NULL, false, NULL);     /* gate = act(gate) * up */
        fw_matmul(c, &L->ffn_down, c->gate, nb, c->xb);             /* xb (nb, d) */
        fw_rows(c, s, il, nb, pos0, FW_RESIDUAL, &L->ffn_post_norm, true,
                il + 1 < n_layer ? &m->layers[il + 1].attn_norm : NULL);
    }
    if (logits) forward_logits_row(c, nb - 1, logits);
}

/* Logits of row `row` of the chunk just run, from the residual stream it left
 * in c->x: final norm, output projection, soft cap. */
void forward_logits_row(pl_ctx *c, int row, float *logits)
{
    const pl_model *m = c->m;
    const int d = (int)m->hp.n_embd;
    pl_cpu_rms_norm(c->x + (size_t)row * d, m->output_norm.data, d, m->hp.norm_eps, c->out_row);
    fw_matmul(c, &m->output, c->out_row, 1, logits);                /* (n_vocab) */
    if (m->hp.final_softcap > 0.0f) fw_softcap(logits, (int)m->hp.n_vocab, m->hp.final_softcap);
}
