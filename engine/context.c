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

/* Floats of one thread's attention scratch. */
static size_t ctx_attn_scratch(const pl_model *m)
{
    return pl_cpu_attn_scratch_floats((int)m->hp.head_dim, (int)(m->hp.n_head / m->hp.n_head_kv));
}

/* Bytes of the attention's work buffer for n_threads threads. */
static size_t ctx_attn_work_bytes(const pl_ctx *c, int n_threads)
{
    const pl_hparams *hp = &c->m->hp;
    return pl_cpu_attn_work_bytes((int)hp->n_head, (int)hp->n_head_kv, (int)hp->head_dim, c->n_ctx, n_threads);
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

/* Every scratch buffer of the forward pass, sized for n_batch tokens. */
static int ctx_alloc_scratch(pl_ctx *c)
{
    const pl_hparams *hp = &c->m->hp;
    const size_t nb = (size_t)c->n_batch, n_q = (size_t)hp->n_head * hp->head_dim;
    const size_t n_kv = (size_t)hp->n_head_kv * hp->head_dim;
    struct { float **buf; size_t n; } bufs[] = {
        { &c->x, nb * hp->n_embd }, { &c->xb, nb * hp->n_embd },
        { &c->q, nb * n_q }, { &c->k, nb * n_kv }, { &c->v, nb * n_kv }, { &c->att, nb * n_q },
        { &c->gate, nb * hp->n_ff }, { &c->up, nb * hp->n_ff }, { &c->rope_cs, nb * hp->n_rot },
        { &c->rope_cs_swa, nb * hp->n_rot }, { &c->out_row, hp->n_embd },
        { &c->attn_scr, (size_t)c->n_threads * ctx_attn_scratch(c->m) },
        { &c->fd_norm, hp->n_embd },
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        *bufs[i].buf = malloc(sizeof(float) * bufs[i].n);
        if (!*bufs[i].buf) return -1;
    }
    c->attn_work = malloc(ctx_attn_work_bytes(c, c->n_threads));
    c->fd_n = (int)hp->n_layer * 5 + 1;
    c->fd_sync = malloc(sizeof(atomic_int) * 3 * c->fd_n);
    return c->attn_work && c->fd_sync ? 0 : -1;
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
    c->pool = pl_pool_new(c->n_threads);
    if (!c->kv || !c->pool || ctx_alloc_scratch(c)) {
        if (!c->kv && st && st->code) { pl_ctx_free(c); return NULL; }
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
    float **bufs[] = { &c->x, &c->xb, &c->q, &c->k, &c->v, &c->att, &c->gate, &c->up,
                       &c->rope_cs, &c->rope_cs_swa, &c->out_row, &c->attn_scr, &c->fd_norm };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(*bufs[i]);
    for (int i = 0; i < c->n_logits_cap; i++) free(c->logits[i]);
    free(c->logits);
    free(c->has_logits);
    free(c->batch_slot);
    free(c->batch_logits);
    free(c->attn_work);
    free(c->fd_sync);
    if (c->pool) pl_pool_free(c->pool);
    kv_cache_free(c->kv);
    ctx_place_free(c);   /* after the cache: its held blocks go back to their backends */
    free(c);
}

int pl_ctx_n_ctx(const pl_ctx *c) { return c->n_ctx; }

/* Replace the pool (between decodes); the per-thread scratch grows if needed. */
int pl_ctx_set_threads(pl_ctx *c, int n)
{
    n = ctx_threads(n);
    if (n == c->n_threads) return 0;
    float *as = malloc(sizeof(float) * (size_t)n * ctx_attn_scratch(c->m));
    void *aw = malloc(ctx_attn_work_bytes(c, n));
    pl_pool *pool = pl_pool_new(n);
    if (!as || !aw || !pool) {
        free(as); free(aw);
        if (pool) pl_pool_free(pool);
        return -1;
    }
    free(c->attn_scr); free(c->attn_work);
    pl_pool_free(c->pool);
    c->attn_scr = as; c->attn_work = aw; c->pool = pool; c->n_threads = n;
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
 * the rope that layer was written with (sliding-window layers: their own
 * base, unscaled, as the forward pass does: fw_rope_tables). */
static void ctx_rerotate(float *k_row, int il, int delta, void *ud)
{
    const pl_model *m = ud;
    float cs[1024];   /* n_rot <= head_dim <= 1024 (checked at load) */
    if (hp_layer_is_swa(&m->hp, il) && m->hp.rope_base_swa > 0)
        pl_cpu_rope_cache(cs, (int)m->hp.n_rot, (float)delta, m->hp.rope_base_swa, 1.0f, NULL);
    else
        model_rope_cache(m, (float)delta, cs);
    model_rope_apply(m, k_row, (int)m->hp.n_head_kv, cs);
}

int pl_seq_shift(pl_ctx *c, int seq, int n_keep, int n_discard, pl_status *st)
{
    return kv_seq_shift(c->kv, seq, n_keep, n_discard, ctx_rerotate, c->m, st);
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
 * an earlier row from the residual stream the chunk leaves in c->x. Shared by
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
        forward(c, seq, tokens + done, nb, c->kv->seqs[seq].n_pos, last ? out[w_end - 1] : NULL);
        for (; w < w_end - (last ? 1 : 0); w++) forward_logits_row(c, want[w] - done, out[w]);
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
