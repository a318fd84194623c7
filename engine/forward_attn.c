/* forward_attn.c — the forward pass's one attention entry and one KV store.
 *
 * Every layer of every architecture stores its keys and values with
 * fw_store_kv and attends with fw_attention; nothing else in the forward calls
 * an attention kernel, so moving the kernels behind a backend interface is a
 * change here alone. fw_attention picks, from the architecture and the cache:
 *  - the window: a sliding layer's token at p sees cached positions
 *    (p - window, p], llama.cpp's "standard" SWA mask; other layers see [0, p];
 *  - the score scale: hp.attn_scale, or 1 when the architecture scaled the
 *    queries already (gemma, arch_desc.q_scale_first);
 *  - the arithmetic: attn_cpu.c's blocked flash-style kernel (f32 softmax
 *    weights, every KV type), or on an F16 cache, where arch_desc.attn asks,
 *    llama.cpp's own (softmax weights rounded to f16 before they meet the f16
 *    values): the blocked kernel's greedy answers part from llama.cpp's on
 *    Gemma 3 270M. The exact path keeps a row of scores per thread (c->attn_w).
 * Both are cut into work items so the fused decode runs them in its own
 * dispatch; an item's numbers never depend on which thread runs it.
 */
#include <math.h>
#include <string.h>

#include "forward_impl.h"

/* The chunk's K and V rows into the cache, in its types (attn_cpu.c). */
void fw_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, const float *k,
                 const float *v)
{
    attn_store_kv(c->kv, s, il, nb, pos0, k, v);
}

/* Score of cached position t for query head qh (f16-rounded) of KV head kvh. */
static inline float fw_exact_score(const fw_attn *fa, const float *qh, int kvh, int t)
{
    const attn_args *a = &fa->a;
    return pl_cpu_dot_f16_f32(kv_k_row(a->kv, a->s, a->il, t) + (size_t)kvh * a->hd, qh, a->hd)
           * a->scale;
}

/* One (token i, head h) over the n positions t0..pos it sees, on thread
 * ith's row of scores sc and exponentials e: pass 1 scores every key and
 * keeps the online max and sum of exponentials (the sum in double); pass 2
 * adds each value row with weight f16(exp(s - max) / sum). That weight is
 * llama.cpp's (softmax in f32, then rounded to f16 for the product with the
 * f16 values); rounding it like that brings f32 models from 1e-3 to 1e-5 of
 * llama.cpp. An exponential pass 1 took after the final max was found is the
 * same number pass 2 needs, so only those before it are taken again. */
static void fw_exact_one(const fw_attn *fa, int ith, int i, int h)
{
    const attn_args *a = &fa->a;
    const int hd = a->hd, pos = a->pos0 + i, kvh = h / (a->n_head / a->n_head_kv);
    const int t0 = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
    const int n = pos - t0 + 1;
    float *sc = fa->w + (size_t)ith * fa->w_stride, *e = sc + fa->w_stride / 2;
    float qh[1024];   /* head_dim <= 1024 (checked at load) */
    attn_round_f16(a->q + (size_t)i * a->n_head * hd + (size_t)h * hd, qh, hd);
    float mx = -INFINITY;
    double sum = 0.0;
    int at_max = 0;   /* e[u] for u >= at_max were taken with the final max */
    for (int u = 0; u < n; u++) {
        sc[u] = fw_exact_score(fa, qh, kvh, t0 + u);
        if (sc[u] > mx) {
            sum *= exp((double)mx - sc[u]);
            mx = sc[u];
            at_max = u;
        }
        e[u] = expf(sc[u] - mx);
        sum += e[u];
    }
    const float inv = (float)(1.0 / sum);
    for (int u = 0; u < n; u++) e[u] = (u < at_max ? expf(sc[u] - mx) : e[u]) * inv;
    attn_round_f16(e, e, n);
    float *out = a->out + (size_t)i * a->n_head * hd + (size_t)h * hd;
    memset(out, 0, sizeof(float) * hd);
    for (int u = 0; u < n; u++)
        pl_cpu_axpy_f16_f32(out, kv_v_row(a->kv, a->s, a->il, t0 + u) + (size_t)kvh * hd, e[u], hd);
}

/* Item k: (token k / n_head, head k % n_head) of the exact path, else the
 * blocked kernel's item k. */
void fw_attn_item(fw_attn *fa, int ith, int k)
{
    if (fa->exact) fw_exact_one(fa, ith, k / fa->a.n_head, k % fa->a.n_head);
    else attn_job_item(&fa->j, ith, k);
}

/* Pool worker of the exact path: items dealt round-robin. */
static void fw_exact_worker(int ith, int nth, void *arg)
{
    fw_attn *fa = arg;
    for (int k = ith; k < fa->n_items; k += nth) fw_exact_one(fa, ith, k / fa->a.n_head, k % fa->a.n_head);
}

/* Plan layer il's attention of the chunk (window, scale, arithmetic), and run
 * it on the pool unless the caller asked for the plan. */
void fw_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, fw_attn *plan)
{
    const pl_hparams *hp = &c->m->hp;
    const arch_desc *ad = c->m->arch;
    fw_attn local, *fa = plan ? plan : &local;
    fa->a = (attn_args){ .kv = c->kv, .s = s, .il = il, .nb = nb, .pos0 = pos0,
                         .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                         .hd = (int)hp->head_dim, .q = c->q, .out = c->att,
                         .window = hp_layer_is_swa(hp, il) ? (int)hp->n_swa : 0,
                         .scale = ad->q_scale_first ? 1.0f : hp->attn_scale,
                         .scratch = c->attn_scr, .partial = c->attn_part,
                         .pending = c->attn_pending };
    fa->exact = ad->attn == ARCH_ATTN_F16_EXACT && c->kv->type_k == PL_TYPE_F16 &&
                c->kv->type_v == PL_TYPE_F16;
    fa->w = c->attn_w, fa->w_stride = 2 * (size_t)c->n_ctx;
    if (fa->exact) {
        fa->n_items = nb * (int)hp->n_head;
        if (!plan) pl_pool_run(c->pool, fw_exact_worker, fa);
    } else if (plan) {
        attn_job_init(&fa->j, &fa->a);
        fa->n_items = fa->j.n_items;
    } else {
        attn_run(c->pool, &fa->a);
    }
}
