/* context.c — contexts, sequences and pl_decode: the orchestration around forward.c.
 *
 * A context binds a model to a thread pool, a paged KV cache and scratch
 * buffers sized for n_batch tokens. pl_decode validates the tokens, splits
 * them into chunks of n_batch (prefill is matrix-matrix), reserves cache
 * blocks for each chunk (copy-on-write for forked sequences), runs the
 * forward pass (one for every architecture) and keeps the last token's logits per
 * sequence. Sequence calls are thin wrappers over kv_cache.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context_impl.h"

/* Defaults: model's context (capped), all cores, llama.cpp-sized batches, F16 cache. */
pl_ctx_params pl_ctx_default_params(void)
{
    pl_ctx_params p = { .n_ctx = 0, .n_threads = 0, .n_batch = 512,
                        .type_k = PL_TYPE_F16, .type_v = PL_TYPE_F16, .cpu_only = true };
    return p;
}

/* Threads to use: the request, or every online core. */
static int ctx_threads(int want)
{
    if (want > 0) return want;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* 0 if the cache can hold K in tk and V in tv for this model, else st says why. */
static int ctx_kv_types_check(const pl_model *m, pl_type tk, pl_type tv, pl_status *st)
{
    const pl_type t[2] = { tk, tv };
    for (int i = 0; i < 2; i++) {
        int rc = kv_cache_type_ok(t[i], (int)m->hp.head_dim, st);
        if (rc) return rc;
    }
    return 0;
}

/* The CPU backend with the context's threads: its pool is the context's
 * one pool (the forward's, and weight reading's: pl_ctx_read_weights_s). */
static int ctx_backend_cpu(pl_ctx *c, pl_status *st)
{
    const pl_backend_ops *cpu = pl_backend_find("cpu");
    const pl_backend_params bp = { .n_threads = c->n_threads };
    char err[200] = "cpu backend missing";
    c->be_cpu = cpu ? cpu->init(&bp, err, sizeof err) : NULL;
    return c->be_cpu ? 0 : pl_status_set(st, PL_ERR_NOMEM, "%s", err);
}

/* Context over model m: pool, KV pool, scratch. */
pl_ctx *pl_ctx_new(pl_model *m, const pl_ctx_params *p, pl_status *st)
{
    pl_status_ok(st);
    pl_ctx_params prm = p ? *p : pl_ctx_default_params();
    if (ctx_kv_types_check(m, prm.type_k, prm.type_v, st)) return NULL;
    if (prm.n_ctx < 0 || prm.n_batch < 0 || prm.n_threads < 0 || prm.n_threads > 512) {
        pl_status_set(st, PL_ERR_ARG, "context parameters out of range (n_ctx %d, n_batch %d, "
                      "threads %d)", prm.n_ctx, prm.n_batch, prm.n_threads);
        return NULL;
    }
    pl_ctx *c = calloc(1, sizeof *c);
    if (!c) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); return NULL; }
    c->m = m;
    c->p = prm;
    c->n_ctx = prm.n_ctx ? prm.n_ctx : (int)(m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096);
    c->n_batch = prm.n_batch ? prm.n_batch : 512;
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->n_threads = ctx_threads(prm.n_threads);
    int blocks_per_seq = (c->n_ctx + KV_BLOCK - 1) / KV_BLOCK + 1;
    c->kv = kv_cache_new_typed((int)m->hp.n_layer, (int)(m->hp.n_head_kv * m->hp.head_dim),
                               c->n_ctx, 4 * blocks_per_seq, prm.type_k, prm.type_v, st);
    if (!c->kv || ctx_backend_cpu(c, st) || ctx_decoder_new(c)) {
        if (st && st->code) { pl_ctx_free(c); return NULL; }
        pl_ctx_free(c);
        pl_status_set(st, PL_ERR_NOMEM, "out of memory (context of %d positions)", prm.n_ctx);
        return NULL;
    }
    return c;
}

/* Free everything the context allocated (the model stays). */
void pl_ctx_free(pl_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_logits_cap; i++) free(c->logits[i]);
    free(c->logits);
    free(c->has_logits);
    free(c->batch_slot);
    free(c->batch_logits);
    ctx_acts_free(c);
    free(c->dec_layers);
    if (c->be_cpu) c->be_cpu->ops->free(c->be_cpu);
    kv_cache_free(c->kv);
    ctx_place_free(c);   /* after the cache: its held blocks go back to their backends */
    free(c);
}

int pl_ctx_n_ctx(const pl_ctx *c) { return c->n_ctx; }

/* The CPU backend's pool replaced (between decodes); its scratch grows at
 * the next use. */
int pl_ctx_set_threads(pl_ctx *c, int n)
{
    n = ctx_threads(n);
    if (n == c->n_threads) return 0;
    if (c->be_cpu->ops->set_threads(c->be_cpu, n)) return -1;
    c->n_threads = n;
    return 0;
}

/* Live KV-type change between two decodes: the pool is re-typed in place,
 * block by block, so every sequence keeps its positions and logits. */
int pl_ctx_set_kv_types(pl_ctx *c, pl_type k, pl_type v, pl_status *st)
{
    pl_status_ok(st);
    int rc = ctx_kv_types_check(c->m, k, v, st);
    if (rc || (rc = kv_cache_convert(c->kv, k, v, st))) return rc;
    c->p.type_k = k, c->p.type_v = v;
    ctx_decoder_layers(c);
    return 0;
}

/* The flag another thread sets to stop a decode between chunks. */
void pl_ctx_set_abort(pl_ctx *c, atomic_int *flag) { c->abort_flag = flag; }

/* ---- sequences ---------------------------------------------------------- */

/* Logits buffer for slot seq (grown with the cache's slot array). */
static int ctx_logits_slot(pl_ctx *c, int seq, pl_status *st)
{
    if (seq >= c->n_logits_cap) {
        int cap = c->kv->n_seq_cap;
        float **l = realloc(c->logits, sizeof *l * cap);
        if (l) c->logits = l;
        bool *h = l ? realloc(c->has_logits, sizeof *h * cap) : NULL;
        if (!l || !h) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
        c->has_logits = h;
        for (int i = c->n_logits_cap; i < cap; i++) { c->logits[i] = NULL; h[i] = false; }
        c->n_logits_cap = cap;
    }
    if (!c->logits[seq]) c->logits[seq] = malloc(sizeof(float) * c->m->hp.n_vocab);
    if (!c->logits[seq]) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    c->has_logits[seq] = false;
    return 0;
}

int pl_seq_new(pl_ctx *c, pl_status *st)
{
    int seq = kv_seq_new(c->kv, st);
    if (seq < 0) return -1;
    if (ctx_logits_slot(c, seq, st)) { kv_seq_free(c->kv, seq); return -1; }
    return seq;
}

int pl_seq_fork(pl_ctx *c, int seq, pl_status *st)
{
    int id = kv_seq_fork(c->kv, seq, st);
    if (id < 0) return -1;
    if (ctx_logits_slot(c, id, st)) { kv_seq_free(c->kv, id); return -1; }
    if (c->has_logits[seq]) {
        memcpy(c->logits[id], c->logits[seq], sizeof(float) * c->m->hp.n_vocab);
        c->has_logits[id] = true;
    }
    return id;
}

void pl_seq_free(pl_ctx *c, int seq)
{
    if (!kv_seq_valid(c->kv, seq)) return;
    kv_seq_free(c->kv, seq);
    c->has_logits[seq] = false;
}

int pl_seq_len(const pl_ctx *c, int seq)
{
    return kv_seq_valid(c->kv, seq) ? c->kv->seqs[seq].n_pos : -1;
}

const int32_t *pl_seq_tokens(const pl_ctx *c, int seq)
{
    return kv_seq_valid(c->kv, seq) ? c->kv->seqs[seq].tokens : NULL;
}

/* Keep the first n positions; the logits no longer belong to the last token. */
int pl_seq_truncate(pl_ctx *c, int seq, int n)
{
    if (!kv_seq_valid(c->kv, seq) || n < 0) return -1;
    if (n < c->kv->seqs[seq].n_pos) c->has_logits[seq] = false;
    return kv_seq_truncate(c->kv, seq, n);
}

/* kv_rotate_fn: rotate a cached K row of layer il by delta positions, with
 * the rope that layer was written with (the decoder's: sliding-window layers
 * have their own base), by the CPU backend's rope op (the row is host floats). */
static void ctx_rerotate(float *k_row, int il, int delta, void *ud)
{
    pl_ctx *c = ud;
    const pl_decoder *d = &c->dec;
    if (c->be_cpu->ops->rope(c->be_cpu, k_row, 1, d->n_head_kv, d->head_dim, delta, &d->layers[il].rope))
        for (int i = 0; i < d->n_head_kv * d->head_dim; i++) k_row[i] = NAN;   /* not silently unrotated */
}

int pl_seq_shift(pl_ctx *c, int seq, int n_keep, int n_discard, pl_status *st)
{
    ctx_decoder_layers(c);
    return kv_seq_shift(c->kv, seq, n_keep, n_discard, ctx_rerotate, c, st);
}

/* ---- decoding ------------------------------------------------------------ */

/* Reject a call that cannot run before any state changes. */
static int ctx_decode_check(pl_ctx *c, int seq, const int32_t *tokens, int n, pl_status *st)
{
    if (!kv_seq_valid(c->kv, seq)) return pl_status_set(st, PL_ERR_ARG, "no sequence %d", seq);
    if (n <= 0 || !tokens) return pl_status_set(st, PL_ERR_ARG, "pl_decode: no tokens");
    int have = c->kv->seqs[seq].n_pos;
    if (have + n > c->n_ctx)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "%d tokens after %d already held "
                             "exceed the context of %d", n, have, c->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= (int32_t)c->m->hp.n_vocab)
            return pl_status_set(st, PL_ERR_ARG, "token %d at index %d is outside the "
                                 "vocabulary (0..%u)", tokens[i], i, c->m->hp.n_vocab - 1);
    return 0;
}

/* Append tokens to seq in chunks of n_batch (each chunk one batched forward);
 * logits of row want[i] (ascending) into out[i]. The last row of a chunk gets
 * them from the forward pass itself (the fused decode step for one token);
 * an earlier row from the residual stream the chunk leaves on the CPU.
 * A failed chunk is not committed: the sequence keeps what it had. Shared by
 * pl_decode (only the last row wanted) and pl_decode_batch. */
int ctx_decode_rows(pl_ctx *c, int seq, const int32_t *tokens, int n, const int *want,
                    float *const *out, int n_want, pl_status *st)
{
    int w = 0;
    for (int done = 0; done < n;) {
        if (c->abort_flag && atomic_load(c->abort_flag))
            return pl_status_set(st, PL_ERR_CANCELLED, "cancelled after %d of %d tokens", done, n);
        int nb = n - done < c->n_batch ? n - done : c->n_batch;
        if (kv_seq_reserve(c->kv, seq, nb, st)) return st ? st->code : PL_ERR_CONTEXT_FULL;
        int w_end = w;
        while (w_end < n_want && want[w_end] < done + nb) w_end++;
        const bool last = w_end > w && want[w_end - 1] == done + nb - 1;
        int rc = forward(c, seq, tokens + done, nb, c->kv->seqs[seq].n_pos, last ? out[w_end - 1] : NULL, st);
        for (; !rc && w < w_end - (last ? 1 : 0); w++) rc = forward_logits_row(c, want[w] - done, out[w], st);
        if (rc) return rc;
        w = w_end;
        kv_seq_commit(c->kv, seq, tokens + done, nb);
        done += nb;
    }
    return 0;
}

/* Append tokens to seq in chunks of n_batch; logits of the last one. */
int pl_decode(pl_ctx *c, int seq, const int32_t *tokens, int n, pl_status *st)
{
    pl_status_ok(st);
    if (ctx_decode_check(c, seq, tokens, n, st)) return st ? st->code : PL_ERR_ARG;
    c->has_logits[seq] = false;
    c->batch_n = 0;   /* rows of an earlier pl_decode_batch are gone */
    const int last = n - 1;
    int rc = ctx_decode_rows(c, seq, tokens, n, &last, &c->logits[seq], 1, st);
    if (rc) return rc;
    c->has_logits[seq] = true;
    return 0;
}

/* Logits of the last decoded token of seq; NULL before the first decode. */
const float *pl_logits(const pl_ctx *c, int seq)
{
    if (!kv_seq_valid(c->kv, seq) || !c->has_logits[seq]) return NULL;
    return c->logits[seq];
}
