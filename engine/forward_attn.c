/* forward_attn.c — the forward pass's one attention entry and one KV store.
 *
 * Every layer of every architecture stores its keys and values with
 * fw_store_kv and attends with fw_attention; nothing else in the forward calls
 * an attention kernel. fw_attention picks, from the architecture and the cache:
 *  - the window: a sliding layer's token at p sees cached positions
 *    (p - window, p], llama.cpp's "standard" SWA mask; other layers see [0, p];
 *  - the score scale: hp.attn_scale, or 1 when the architecture scaled the
 *    queries already (gemma, arch_desc.q_scale_first);
 *  - the arithmetic (arch_desc.attn): the blocked flash-style kernel (f32
 *    softmax weights, every KV type), or llama.cpp's own on an F16 cache
 *    (softmax weights rounded to f16 before they meet the f16 values): the
 *    blocked kernel's greedy answers part from llama.cpp's on Gemma 3 270M.
 * The kernels are the CPU backend's (backends/cpu/attn*.c), over a view of
 * the layer's slice of the cache; they come as work items so the fused decode
 * runs them in its own dispatch, and an item's numbers never depend on which
 * thread runs it.
 */
#include "forward_impl.h"

/* The chunk's K and V rows into the cache, in its types. */
void fw_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, const float *k,
                 const float *v)
{
    const pl_kv_view view = kv_view(c->kv, s, il);
    pl_cpu_kv_store(&view, nb, pos0, k, v);
}

/* Item k of a planned attention, on thread ith. */
void fw_attn_item(fw_attn *fa, int ith, int k) { pl_cpu_attn_job_item(fa->j, ith, k); }

/* Plan layer il's attention of the chunk (window, scale, arithmetic), and run
 * it on the pool unless the caller asked for the plan. */
void fw_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, fw_attn *plan)
{
    const pl_hparams *hp = &c->m->hp;
    const arch_desc *ad = c->m->arch;
    fw_attn local, *fa = plan ? plan : &local;
    fa->a = (pl_attn_args){ .kv = kv_view(c->kv, s, il), .nb = nb, .pos0 = pos0,
                            .n_head = (int)hp->n_head, .n_head_kv = (int)hp->n_head_kv,
                            .hd = (int)hp->head_dim, .q = c->q, .out = c->att,
                            .window = hp_layer_is_swa(hp, il) ? (int)hp->n_swa : 0,
                            .scale = ad->q_scale_first ? 1.0f : hp->attn_scale,
                            .math = ad->attn == ARCH_ATTN_F16_EXACT ? PL_ATTN_EXACT_F16 : PL_ATTN_BLOCKED,
                            .scratch = c->attn_scr, .work = c->attn_work };
    if (plan) {
        fa->j = pl_cpu_attn_job_init(&fa->a);
        fa->n_items = pl_cpu_attn_job_items(fa->j);
    } else {
        pl_cpu_attention(c->pool, &fa->a);
    }
}
