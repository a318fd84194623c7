/* forward_ext.h — forward passes of the families beyond llama, and the steps
 * they share (engine-internal).
 *
 * forward.c holds the llama family and is tuned on its own; gemma3
 * (forward_gemma.c) and qwen2/qwen3 (forward_qwen.c) are llama's decoder with
 * extra steps (biases, per-head norms, post-norms, GELU, a sliding window,
 * per-layer rope bases). Their common steps live in forward_ext.c, so each
 * family's function still reads top to bottom like the math. Numerics of
 * llama.cpp's CPU path: f16 KV cache, the query rounded to f16 before q.k,
 * double-summed RMSNorm (the backend's).
 */
#ifndef PL_FORWARD_EXT_H
#define PL_FORWARD_EXT_H

#include "context_impl.h"

/* Same contract as forward_llama (context_impl.h). */
void forward_gemma(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits);
void forward_qwen(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits);

/* ---- shared steps (forward_ext.c) ---------------------------------------- */

/* x (nb, n_embd) = rows of the embedding table times scale. */
void fx_embed(pl_ctx *c, const int32_t *tokens, int nb, float scale);
/* out (nb, d) = RMSNorm(x) * w, row by row (out may be x). */
void fx_rms_rows(float *out, const float *x, const pl_weight *w, int nb, int d, float eps);
/* RMSNorm of each of n_rows head vectors of width hd in place, times w (hd). */
void fx_rms_heads(float *x, const pl_weight *w, int n_rows, int hd, float eps);
/* y (nb, n) += b (n) on every row; no-op when b is absent. */
void fx_add_bias(float *y, const pl_weight *b, int nb, int n);
/* Y_k (nb, w_k.rows) = X (nb, cols) . W_k^T for up to 8 weights in one dispatch. */
void fx_matmul(pl_ctx *c, const pl_weight *const *w, float *const *y, int n_w, const float *x,
               int nb);
/* c->rope_cs (nb, n_rot) for positions pos0.. with this base and linear scale. */
void fx_rope_cache(pl_ctx *c, int nb, int pos0, float base, float scale, const float *div);
/* Rotate every head of c->q and c->k (nb rows) by c->rope_cs. */
void fx_rope_qk(pl_ctx *c, int nb);
/* K and V rows of the chunk (f32 -> f16) into the cache at pos0... */
void fx_store_kv(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0);
/* c->att (nb, n_q) = softmax(score_scale * q.K^T) V over the cached positions
 * each token sees: all up to its own, or the last `window` when window > 0. */
void fx_attention(pl_ctx *c, const kv_seq *s, int il, int nb, int pos0, int window,
                  float score_scale);
/* logits (n_vocab) = Wout . RMSNorm(x[nb - 1]), soft-capped when hp.final_softcap > 0. */
void fx_logits(pl_ctx *c, int nb, float *logits);
/* logits of row `row` of the chunk the forward pass just ran: every family
 * leaves the final residual stream of its rows in c->x (n_batch, n_embd). */
void fx_logits_row(pl_ctx *c, int row, float *logits);

#endif
