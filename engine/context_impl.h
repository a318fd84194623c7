/* context_impl.h — the run state of a context (engine-internal).
 *
 * pl_ctx owns the thread pool, the paged KV cache, per-sequence logits and
 * every scratch buffer the forward pass needs for a chunk of up to n_batch
 * tokens. All of it is allocated in pl_ctx_new: pl_decode never mallocs
 * (KV blocks excepted: one per KV_BLOCK positions, recycled); pl_decode_batch
 * allocates its row lists per call and grows its logits slots on demand.
 * context.c orchestrates (sequences, chunking), batch.c batches; forward.c is
 * the math (one decoder for every architecture; forward_impl.h inside it).
 */
#ifndef PL_CONTEXT_IMPL_H
#define PL_CONTEXT_IMPL_H

#include "../backends/backend.h"
#include <stdatomic.h>

#include "kv_cache.h"
#include "model.h"

struct pl_ctx {
    pl_model      *m;
    pl_ctx_params  p;
    int            n_ctx;      /* positions per sequence */
    int            n_batch;    /* tokens per forward chunk */
    int            n_threads;
    pl_pool       *pool;
    kv_cache      *kv;
    float        **logits;     /* (n_seq_cap) each (n_vocab) or NULL */
    bool          *has_logits; /* (n_seq_cap) */
    int            n_logits_cap;
    atomic_int    *abort_flag;  /* set by another thread (the worker's cancel) */

    /* layer placement: which backend runs layer il and the layer's weights
     * as that backend holds them; NULL arrays mean every layer on be_cpu with
     * the model's own weights (ctx_layer_backend / ctx_layer_weights) */
    pl_backend    *be_cpu;      /* the host backend (backends/cpu), always there */
    pl_backend   **layer_be;    /* (n_layer) or NULL */
    pl_layer      *layer_w;     /* (n_layer) or NULL */
    struct ctx_place *place;    /* the backends placement started and each layer's (placement.c); NULL: none */

    /* the last pl_decode_batch (engine/batch.c): grown on demand, kept */
    int            batch_n;       /* its rows (0 after a pl_decode) */
    int           *batch_slot;    /* (batch_cap) row -> logits slot, -1: not asked for */
    int            batch_cap;
    float         *batch_logits;  /* (batch_slots, n_vocab) logits of the rows asked for */
    int            batch_slots;

    /* scratch for one chunk of nb <= n_batch tokens */
    float *x;       /* (n_batch, n_embd) residual stream */
    float *xb;      /* (n_batch, n_embd) normed input / projection output */
    float *q;       /* (n_batch, n_q) */
    float *k;       /* (n_batch, n_kv) */
    float *v;       /* (n_batch, n_kv) */
    float *att;     /* (n_batch, n_q) attention output */
    float *gate;    /* (n_batch, n_ff) */
    float *up;      /* (n_batch, n_ff) */
    float *rope_cs; /* (n_batch, n_rot/2, 2) cos, sin per token and pair */
    float *rope_cs_swa; /* (n_batch, n_rot/2, 2) the same for sliding-window layers (n_swa > 0) */
    float *out_row; /* (n_embd) normed last row for the logits */
    float *attn_scr;        /* (n_threads, pl_cpu_attn_scratch_floats) attention tiles per thread */
    void  *attn_work;       /* pl_cpu_attn_work_bytes: an attention's plan, partials, score rows */
    float *fd_norm;           /* (n_embd) normed input of the fused decode step */
    atomic_int *fd_sync;      /* (3, fd_n) per-phase next / done / ready of the decode step */
    int    fd_n;              /* phases of a decode step: n_layer * 5 + 1 */
};

/* The backend that runs layer il, and the weights it runs it with. */
static inline pl_backend *ctx_layer_backend(const pl_ctx *c, int il)
{
    return c->layer_be ? c->layer_be[il] : c->be_cpu;
}
static inline const pl_layer *ctx_layer_weights(const pl_ctx *c, int il)
{
    return c->layer_w ? &c->layer_w[il] : &c->m->layers[il];
}

/* placement.c: free the backends and weight copies placement made (after
 * the KV cache, whose held blocks it releases through them), and, for
 * tests, make the n-th allocation on a move's target fail (0: none). */
void ctx_place_free(pl_ctx *c);
void ctx_place_fail_at(pl_ctx *c, int n);

/* Run the model on tokens[0..nb) at positions [pos0, pos0 + nb) of seq, whose
 * KV blocks are reserved; write the last token's logits if logits != NULL
 * (forward.c, every architecture; one token takes the fused decode step). */
void forward(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits);
/* Logits of row `row` of the chunk forward just ran (its residual stream is
 * left in c->x (n_batch, n_embd)). */
void forward_logits_row(pl_ctx *c, int row, float *logits);

/* Append n tokens to seq (validated, in chunks of n_batch); the logits of
 * rows want[0..n_want) (ascending indices into tokens) go to out[i] (context.c). */
int  ctx_decode_rows(pl_ctx *c, int seq, const int32_t *tokens, int n, const int *want,
                     float *const *out, int n_want, pl_status *st);

/* cos/sin (n_rot/2, 2) of the rope angles at position pos (or a delta). */
void model_rope_cache(const pl_model *m, float pos, float *cs);
void model_embed(const pl_model *m, int32_t token, float *out);   /* embedding row as floats */
/* Rotate a (n_heads, head_dim) f32 row by cs in the architecture's style. */
void model_rope_apply(const pl_model *m, float *row, int n_heads, const float *cs);

#endif
