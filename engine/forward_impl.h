/* forward_impl.h — the pieces of the one decoder forward that its three files
 * share (engine-internal: forward.c, forward_decode.c, forward_attn.c).
 *
 * The batched prefill (forward.c) and the fused single-token decode
 * (forward_decode.c) call the same row functions below for every element-wise
 * step, so both give the same numbers for every architecture. Attention and
 * the KV store each have ONE entry (forward_attn.c): fw_attention and
 * fw_store_kv, the only places the forward touches attention kernels.
 */
#ifndef PL_FORWARD_IMPL_H
#define PL_FORWARD_IMPL_H

#include "context_impl.h"

/* ---- attention and the KV store (forward_attn.c) ------------------------ */

/* One layer's attention of a chunk, as work items a caller may run in its own
 * dispatch (the backend's plan: blocked tiles, or one (token, head) each). */
typedef struct fw_attn {
    pl_attn_args  a;       /* the chunk, its window, score scale and arithmetic */
    pl_attn_job  *j;       /* the plan, when asked for */
    int           n_items;
} fw_attn;

/* att (nb, n_q) = causal (windowed on sliding layers) attention of the chunk's
 * rotated queries over layer il of the cache. plan == NULL: run it on the pool
 * now; else only plan its items into *plan (run with fw_attn_item). */
void fw_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, fw_attn *plan);
/* Item k of a planned attention, on thread ith (any order, each once). */
void fw_attn_item(fw_attn *fa, int ith, int k);
/* K and V rows (nb, kv_dim) of layer il at positions pos0.. into the cache. */
void fw_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, const float *k,
                 const float *v);

/* ---- row steps (forward.c), one token's row each ------------------------- */

/* cos/sin of row i's rope for layer il (sliding layers have their own base). */
const float *fw_rope_cs(const pl_ctx *c, int il, int i);
/* Fill the rope tables for positions pos0.. of a chunk of nb tokens. */
void fw_rope_tables(pl_ctx *c, int nb, int pos0);
/* x (n_embd) = embedding row of token, times the architecture's scale. */
void fw_embed_row(const pl_model *m, int32_t token, float *x);
/* q, k of one token: biases (if bias), head norms, rope, query scale; then k, v
 * into the cache at pos. */
void fw_row_qkv(pl_ctx *c, const kv_seq *s, int il, int i, int pos, bool bias);
/* xb = post(xb) if post; x += xb if add; normed = rmsnorm(x) * norm if norm. */
void fw_row_residual(const pl_ctx *c, float *x, float *xb, const pl_weight *post, bool add,
                     const float *norm, float *normed);
/* gate = act(gate) * up over n values (arch_desc.act). */
void fw_act(const arch_desc *a, float *gate, const float *up, int n);
/* logits = cap * tanh(logits / cap) over n values (llama.cpp's order). */
void fw_softcap(float *logits, int n, float cap);

/* The single-token step in one pool dispatch (forward_decode.c). */
void forward_decode(pl_ctx *c, int seq, int32_t token, int pos, float *logits);

#endif
