/* context_impl.h — the run state of a context (engine-internal).
 *
 * pl_ctx owns the CPU backend (its thread pool and the scratch of its fused
 * paths), the paged KV cache, per-sequence logits, the model described as a
 * pl_decoder for the backends, and the activations of a chunk of up to
 * n_batch tokens on each backend that runs layers (allocated at its first
 * use, kept). pl_decode never mallocs once the shapes were seen (KV blocks
 * excepted: one per KV_BLOCK positions, recycled); pl_decode_batch allocates
 * its row lists per call and grows its logits slots on demand. context.c
 * orchestrates (sequences, chunking), batch.c batches; forward.c runs the
 * layers on their backends (forward_ops.c: op by op through the vtable).
 */
#ifndef PL_CONTEXT_IMPL_H
#define PL_CONTEXT_IMPL_H

#include "../backends/backend.h"
#include <stdatomic.h>

#include "kv_cache.h"
#include "model.h"

/* A backend's activations for a chunk of n_batch tokens, in its memory: x
 * always (the residual stream: one crosses per run boundary), the rest only
 * where layers run op by op (a backend's run_layers keeps its own scratch). */
typedef struct fw_acts {
    pl_backend *be;
    float *x;       /* (n_batch, n_embd) */
    float *xb;      /* (n_batch, n_embd) normed input / projection output */
    float *q, *att; /* (n_batch, n_q) */
    float *k, *v;   /* (n_batch, n_kv) */
    float *gate, *up; /* (n_batch, n_ff) */
} fw_acts;
#define FW_MAX_BACKENDS 4

struct pl_ctx {
    pl_model      *m;
    pl_ctx_params  p;
    int            n_ctx;      /* positions per sequence */
    int            n_batch;    /* tokens per forward chunk */
    int            n_threads;
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

    /* the forward (forward.c): the model as the backends run it, and each
     * backend's activations for a chunk of n_batch tokens */
    pl_decoder        dec;
    pl_decoder_layer *dec_layers;   /* (n_layer) refreshed at each chunk */
    fw_acts           acts[FW_MAX_BACKENDS];
    int               n_acts;
    float            *x_host;       /* (n_batch, n_embd) staging of x between two devices */
    bool              fw_ops_only;  /* tests: ignore run_layers, run every layer op by op */
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
 * KV blocks are reserved; write the last token's logits if logits != NULL.
 * 0, or a pl_code with st saying which layer, backend and op failed
 * (forward.c, every architecture). */
int  forward(pl_ctx *c, int seq, const int32_t *tokens, int nb, int pos0, float *logits, pl_status *st);
/* Logits of row `row` of the chunk forward just ran (from the residual
 * stream it left on the CPU backend). */
int  forward_logits_row(pl_ctx *c, int row, float *logits, pl_status *st);
/* The model as a pl_decoder (c->dec), and its layer entries again from the
 * placement (ctx_layer_backend / ctx_layer_weights) and the KV cache. */
int  ctx_decoder_new(pl_ctx *c);
void ctx_decoder_layers(pl_ctx *c);
/* Free the activations the context holds on every backend (they come back
 * at the next use): call it before freeing a backend that ran layers. */
void ctx_acts_free(pl_ctx *c);
/* Layers [l0, l1) of the chunk, op by op through be's vtable (forward_ops.c);
 * on failure *what names the op and *failed the layer. */
int  fw_ops_layers(const pl_ctx *c, const fw_acts *a, int l0, int l1, const int *kv_table, int nb, int pos0,
                   const char **what, int *failed);

/* Append n tokens to seq (validated, in chunks of n_batch); the logits of
 * rows want[0..n_want) (ascending indices into tokens) go to out[i] (context.c). */
int  ctx_decode_rows(pl_ctx *c, int seq, const int32_t *tokens, int n, const int *want,
                     float *const *out, int n_want, pl_status *st);

#endif
