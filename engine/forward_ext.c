/* forward_ext.c — the steps gemma3 and qwen2/qwen3 share (see forward_ext.h).
 *
 * Each is one loop over the chunk's rows, or one pool dispatch (matmuls,
 * attention). Attention takes a window so sliding-window layers are the same
 * code: token at position p sees cached positions (p - window, p], llama.cpp's
 * "standard" SWA mask. The score scale is a parameter because the families
 * differ in where they apply it (gemma scales the query before it is rounded
 * to f16, qwen scales the scores), and llama.cpp's results follow that order.
 * Attention keeps its own state on the stack (online softmax per block of
 * KV_BLOCK positions), independent of forward.c's attention scratch.
 */
#include <math.h>
#include <string.h>

#include "forward_ext.h"

/* Rows of the embedding table for the chunk's tokens, as floats, times scale. */
void fx_embed(pl_ctx *c, const int32_t *tokens, int nb, float scale)
{
    const pl_weight *e = &c->m->tok_embd;
    const pl_type_traits *tr = pl_type_traits_get(e->type);
    const size_t row = pl_row_size(e->type, e->cols);
    for (int i = 0; i < nb; i++) {
        float *x = c->x + (size_t)i * e->cols;
        tr->to_float((const char *)e->data + row * (size_t)tokens[i], x, e->cols);
        if (scale != 1.0f) pl_cpu_scale(x, scale, (int)e->cols);
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
        ws[k] = (pl_matmul_w){ .W = w[k]->data, .type = w[k]->type, .rows = w[k]->rows, .Y = y[k] };
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

/* Store the chunk's K and V rows (f32 -> f16) at their positions. */
void fx_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0)
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

typedef struct fx_attn_job {
    pl_ctx *c;
    const kv_seq *s;
    int il, nb, pos0, window;
    float scale;
} fx_attn_job;

/* One (token, head) over the positions it sees, t0..pos, a KV block at a time
 * with a running max and sum (online softmax): no buffer the length of the
 * context, only the query, the accumulator and one block of scores. */
static void fx_attn_one(const fx_attn_job *j, int i, int h)
{
    const pl_ctx *c = j->c;
    const pl_hparams *hp = &c->m->hp;
    const int hd = (int)hp->head_dim, pos = j->pos0 + i;
    const int kvh = h / (int)(hp->n_head / hp->n_head_kv);
    const int t0 = j->window > 0 && pos - j->window + 1 > 0 ? pos - j->window + 1 : 0;
    float qh[1024], acc[1024], sc[KV_BLOCK];   /* head_dim <= 1024 (checked at load) */
    const float *q = c->q + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) qh[d] = pl_f16_to_f32(pl_f32_to_f16(q[d]));
    memset(acc, 0, sizeof(float) * hd);
    float mx = -INFINITY, sum = 0.0f;
    for (int b0 = t0; b0 <= pos;) {
        int b1 = (b0 / KV_BLOCK + 1) * KV_BLOCK - 1;   /* end of b0's block, or pos */
        if (b1 > pos) b1 = pos;
        float bmx = mx;
        for (int t = b0; t <= b1; t++) {
            sc[t - b0] = pl_cpu_dot_f16_f32(kv_k_row(c->kv, j->s, j->il, t) + (size_t)kvh * hd, qh, hd)
                         * j->scale;
            bmx = sc[t - b0] > bmx ? sc[t - b0] : bmx;
        }
        if (bmx > mx) {   /* rescale what was summed under the old max */
            const float r = expf(mx - bmx);
            for (int d = 0; d < hd; d++) acc[d] *= r;
            sum *= r;
            mx = bmx;
        }
        for (int t = b0; t <= b1; t++) {
            const float p = expf(sc[t - b0] - mx);
            sum += p;
            pl_cpu_axpy_f16_f32(acc, kv_v_row(c->kv, j->s, j->il, t) + (size_t)kvh * hd, p, hd);
        }
        b0 = b1 + 1;
    }
    float *out = c->att + (size_t)i * hp->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) out[d] = acc[d] / sum;
}

/* Pool worker: (token, head) pairs dealt round-robin. */
static void fx_attn_worker(int ith, int nth, void *arg)
{
    const fx_attn_job *j = arg;
    const int n_head = (int)j->c->m->hp.n_head;
    for (int w = ith; w < j->nb * n_head; w += nth) fx_attn_one(j, w / n_head, w % n_head);
}

/* Causal (optionally windowed) attention of the chunk over the cache. */
void fx_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, int window,
                  float score_scale)
{
    fx_attn_job job = { c, s, il, nb, pos0, window, score_scale };
    pl_pool_run(c->pool, fx_attn_worker, &job);
}

/* Final norm of the last row, the output projection, the optional soft cap. */
void fx_logits(pl_ctx *c, int nb, float *logits)
{
    const pl_model *m = c->m;
    const int d = (int)m->hp.n_embd, nv = (int)m->hp.n_vocab;
    pl_cpu_rms_norm(c->x + (size_t)(nb - 1) * d, m->output_norm.data, d, m->hp.norm_eps, c->out_row);
    pl_cpu_matmul(c->pool, m->output.data, m->output.type, m->output.rows, m->output.cols,
                  c->out_row, 1, logits);
    const float cap = m->hp.final_softcap;
    if (cap > 0.0f)   /* llama.cpp's order: scale by 1/cap, tanh, scale by cap */
        for (int i = 0; i < nv; i++) logits[i] = cap * tanhf(logits[i] * (1.0f / cap));
}
