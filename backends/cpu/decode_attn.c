/* decode_attn.c — run_layers' one attention entry and one KV store.
 *
 * Every layer of every architecture stores its keys and values with
 * cpu_store_kv and attends with cpu_attention_layer; nothing else in the
 * CPU's decoder calls an attention kernel. The decoder says:
 *  - the window: a sliding layer's token at p sees cached positions
 *    (p - window, p], llama.cpp's "standard" SWA mask; other layers see [0, p];
 *  - the score scale: attn_scale, or 1 when the queries were scaled already
 *    (gemma, q_scale_first);
 *  - the arithmetic: the blocked flash-style kernel (f32 softmax weights,
 *    every KV type), or llama.cpp's own on an F16 cache (softmax weights
 *    rounded to f16 before they meet the f16 values), which Gemma 3 needs.
 * The kernels (attn*.c) come as work items so the fused decode runs them in
 * its own dispatch; an item's numbers never depend on which thread runs it.
 */
#include "decode_impl.h"

/* The chunk's K and V rows into the cache, in its types. */
void cpu_store_kv(cpu_run *r, int il, int nb, int pos0, const float *k, const float *v)
{
    const pl_kv_view view = pl_decoder_kv(r->d, il, r->kv_table);
    pl_cpu_kv_store(&view, nb, pos0, k, v);
}

/* Item k of a planned attention, on thread ith. */
void cpu_attn_item(cpu_attn *fa, int ith, int k) { pl_cpu_attn_job_item(fa->j, ith, k); }

/* Plan layer il's attention of the chunk (window, scale, arithmetic), and run
 * it on the pool unless the caller asked for the plan. */
void cpu_attention_layer(cpu_run *r, int il, int nb, int pos0, cpu_attn *plan)
{
    const pl_decoder *d = r->d;
    cpu_decode *s = &r->c->dec;
    cpu_attn local, *fa = plan ? plan : &local;
    fa->a = (pl_attn_args){ .kv = pl_decoder_kv(d, il, r->kv_table), .nb = nb, .pos0 = pos0,
                            .n_head = d->n_head, .n_head_kv = d->n_head_kv, .hd = d->head_dim,
                            .q = s->q, .out = s->att, .window = d->layers[il].window,
                            .scale = d->q_scale_first ? 1.0f : d->attn_scale, .math = d->attn_math,
                            .scratch = s->attn_scr, .work = s->attn_work };
    if (plan) {
        fa->j = pl_cpu_attn_job_init(&fa->a);
        fa->n_items = pl_cpu_attn_job_items(fa->j);
    } else {
        pl_cpu_attention(r->c->pool, &fa->a);
    }
}
