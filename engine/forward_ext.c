/* forward_ext.c — the steps gemma3 and qwen2/qwen3 share (see forward_ext.h).
 *
 * Each is one loop over the chunk's rows, or one pool dispatch (matmuls,
 * attention). Attention takes a window so sliding-window layers are the same
 * code: token at position p sees cached positions (p - window, p], llama.cpp's
 * "standard" SWA mask. The score scale is a parameter because the families
 * differ in where they apply it (gemma scales the query before it is rounded
 * to f16, qwen scales the scores), and llama.cpp's results follow that order.
 * On an F16 cache, attention is computed the way llama.cpp's CPU path does
 * (softmax weights rounded to f16 before they meet the f16 values): that
 * keeps greedy answers identical to llama.cpp's where the blocked flash-style
 * kernel of attn_cpu.c (f32 weights) parts from them on Gemma 3 270M. It needs
 * no scratch (two passes over the keys, see fx_attn_one). Quantized KV caches
 * go through attn_cpu.c's kernel, which reads every row type.
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

/* The chunk's K and V rows into the cache, in its types (attn_cpu.c). */
void fx_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
{
    attn_store_kv(c->kv, s, il, nb, pos0, c->k, c->v);
}

typedef struct fx_attn_job {
    pl_ctx *c;
    const kv_seq *s;
    int il, nb, pos0, window;
    float scale;
} fx_attn_job;

/* Score of cached position t for query head qh (f16-rounded) of KV head kvh. */
static inline float fx_score(const fx_attn_job *j, const float *qh, int kvh, int t)
{
    const int hd = (int)j->c->m->hp.head_dim;
    return pl_cpu_dot_f16_f32(kv_k_row(j->c->kv, j->s, j->il, t) + (size_t)kvh * hd, qh, hd)
           * j->scale;
}

/* One (token, head) over the positions it sees, t0..pos, without a buffer the
 * length of the context: pass 1 finds the max and the sum of exponentials
 * (online, the sum in double), pass 2 recomputes each score and adds its
 * value row with weight f16(exp(s - max) / sum). That weight is llama.cpp's
 * (softmax in f32, then rounded to f16 for the product with the f16 values);
 * rounding it like that brings f32 models from 1e-3 to 1e-5 of llama.cpp. */
static void fx_attn_one(const fx_attn_job *j, int i, int h)
{
    const pl_ctx *c = j->c;
    const pl_hparams *hp = &c->m->hp;
    const int hd = (int)hp->head_dim, pos = j->pos0 + i;
    const int kvh = h / (int)(hp->n_head / hp->n_head_kv);
    const int t0 = j->window > 0 && pos - j->window + 1 > 0 ? pos - j->window + 1 : 0;
    float qh[1024];   /* head_dim <= 1024 (checked at load) */
    const float *q = c->q + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) qh[d] = pl_f16_to_f32(pl_f32_to_f16(q[d]));
    float mx = -INFINITY;
    double sum = 0.0;
    for (int t = t0; t <= pos; t++) {
        const float s = fx_score(j, qh, kvh, t);
        if (s > mx) {
            sum *= exp((double)mx - s);
            mx = s;
        }
        sum += expf(s - mx);
    }
    const float inv = (float)(1.0 / sum);
    float *out = c->att + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    memset(out, 0, sizeof(float) * hd);
    for (int t = t0; t <= pos; t++) {
        const float p = pl_f16_to_f32(pl_f32_to_f16(expf(fx_score(j, qh, kvh, t) - mx) * inv));
        pl_cpu_axpy_f16_f32(out, kv_v_row(c->kv, j->s, j->il, t) + (size_t)kvh * hd, p, hd);
    }
}

/* Pool worker: (token, head) pairs dealt round-robin. */
static void fx_attn_worker(int ith, int nth, void *arg)
{
    const fx_attn_job *j = arg;
    const int n_head = (int)j->c->m->hp.n_head;
    for (int w = ith; w < j->nb * n_head; w += nth) fx_attn_one(j, w / n_head, w % n_head);
}

/* Causal, optionally windowed attention of the chunk over the cache: an F16
 * cache gets llama.cpp's exact arithmetic (above); other KV types the blocked
 * kernel of attn_cpu.c, which converts their rows to f32. */
void fx_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, int window,
                  float score_scale)
{
    if (c->kv->type_k == PL_TYPE_F16 && c->kv->type_v == PL_TYPE_F16) {
        fx_attn_job job = { c, s, il, nb, pos0, window, score_scale };
        pl_pool_run(c->pool, fx_attn_worker, &job);
        return;
    }
    const pl_hparams *hp = &c->m->hp;
    attn_args a = { .kv = c->kv, .s = s, .il = il, .nb = nb, .pos0 = pos0,
                    .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                    .hd = (int)hp->head_dim, .q = c->q, .out = c->att, .window = window,
                    .scale = score_scale, .scratch = c->attn_scr, .partial = c->attn_part,
                    .pending = c->attn_pending };
    attn_run(c->pool, &a);
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
