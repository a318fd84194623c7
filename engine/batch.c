/* batch.c — pl_decode_batch: rows from several sequences in one call.
 *
 * A batch is a list of rows (token, sequence, position, want-logits). It is
 * checked whole before anything runs, so a bad row changes nothing. Then it
 * is decoded sequence by sequence, in the order sequences first appear: the
 * rows of one sequence, in batch order, go through ctx_decode_rows (context.c)
 * as one batched prefill in chunks of n_batch, exactly as pl_decode runs them,
 * so a sequence's rows are matrix-matrix products and a single row takes the
 * fused one-token decode step. The logits of the rows that ask are written
 * into slots kept by the context (grown on demand), read with pl_logits_row.
 *
 * Limit, said plainly: rows of DIFFERENT sequences do not share a forward
 * yet. A batch of k sequences runs k forwards, so many conversations decoded
 * together still stream the weights k times. One forward over the rows of
 * several sequences (per-row positions and block tables in attention) comes
 * with the one decoder forward (issue 13, item 3); this call's contract stays.
 */
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"

/* Room for n_rows rows and n_slots logits slots in the context's batch buffers. */
static int batch_reserve(pl_ctx *c, int n_rows, int n_slots, pl_status *st)
{
    if (n_rows > c->batch_cap) {
        int *s = realloc(c->batch_slot, sizeof *s * (size_t)n_rows);
        if (!s) return pl_status_set(st, PL_ERR_NOMEM, "out of memory (batch of %d rows)", n_rows);
        c->batch_slot = s;
        c->batch_cap = n_rows;
    }
    if (n_slots > c->batch_slots) {
        size_t nv = c->m->hp.n_vocab;
        float *l = realloc(c->batch_logits, sizeof *l * nv * (size_t)n_slots);
        if (!l)
            return pl_status_set(st, PL_ERR_NOMEM, "out of memory (logits of %d batch rows, "
                                 "%zu MiB)", n_slots, sizeof *l * nv * (size_t)n_slots >> 20);
        c->batch_logits = l;
        c->batch_slots = n_slots;
    }
    return 0;
}

/* One row against the sequence's next position (next[seq]): a message
 * naming the row when it cannot run. */
static int batch_check_row(const pl_ctx *c, const pl_batch_row *r, int i, int *next, pl_status *st)
{
    if (!kv_seq_valid(c->kv, r->seq))
        return pl_status_set(st, PL_ERR_ARG, "batch row %d: no sequence %d", i, r->seq);
    if (r->token < 0 || r->token >= (int32_t)c->m->hp.n_vocab)
        return pl_status_set(st, PL_ERR_ARG, "batch row %d: token %d is outside the vocabulary "
                             "(0..%u)", i, r->token, c->m->hp.n_vocab - 1);
    int want = c->kv->seqs[r->seq].n_pos + next[r->seq];
    if (r->pos != want)
        return pl_status_set(st, PL_ERR_ARG, "batch row %d: sequence %d at position %d, but its "
                             "next position is %d (rows must continue a sequence without gaps)",
                             i, r->seq, r->pos, want);
    if (r->pos >= c->n_ctx)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "batch row %d: position %d of sequence %d "
                             "is past the context of %d", i, r->pos, r->seq, c->n_ctx);
    next[r->seq]++;
    return 0;
}

/* Refuse a batch that cannot run; *n_slots = rows asking for logits. */
static int batch_check(const pl_ctx *c, const pl_batch *b, int *next, int *n_slots, pl_status *st)
{
    if (!b || b->n <= 0 || !b->rows)
        return pl_status_set(st, PL_ERR_ARG, "pl_decode_batch: empty batch (no rows)");
    *n_slots = 0;
    for (int i = 0; i < b->n; i++) {
        int rc = batch_check_row(c, &b->rows[i], i, next, st);
        if (rc) return rc;
        *n_slots += b->rows[i].logits;
    }
    return 0;
}

/* Decode the rows of sequence seq (rows from `first` on, in batch order).
 * tok, want, out: scratch of b->n entries. */
static int batch_run_seq(pl_ctx *c, const pl_batch *b, int seq, int first, int32_t *tok,
                         int *want, float **out, pl_status *st)
{
    const size_t nv = c->m->hp.n_vocab;
    int n = 0, n_want = 0;
    for (int i = first; i < b->n; i++) {
        const pl_batch_row *r = &b->rows[i];
        if (r->seq != seq) continue;
        if (r->logits) {
            want[n_want] = n;
            out[n_want++] = c->batch_logits + nv * (size_t)c->batch_slot[i];
        }
        tok[n++] = r->token;
    }
    c->has_logits[seq] = false;
    int rc = ctx_decode_rows(c, seq, tok, n, want, out, n_want, st);
    if (rc) return rc;
    if (n_want && want[n_want - 1] == n - 1) {   /* pl_logits(seq): its last row's */
        memcpy(c->logits[seq], out[n_want - 1], sizeof(float) * nv);
        c->has_logits[seq] = true;
    }
    return 0;
}

/* Check the whole batch, then run it one sequence (one batched prefill) at a time. */
int pl_decode_batch(pl_ctx *c, const pl_batch *b, pl_status *st)
{
    pl_status_ok(st);
    c->batch_n = 0;
    int n_slots = 0, rc;
    int *next = calloc((size_t)c->kv->n_seq_cap, sizeof *next);   /* rows per sequence so far */
    if (!next) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    if ((rc = batch_check(c, b, next, &n_slots, st)) || (rc = batch_reserve(c, b->n, n_slots, st))) {
        free(next);
        return rc;
    }
    int32_t *tok = malloc(sizeof *tok * (size_t)b->n);
    int *want = malloc(sizeof *want * (size_t)b->n);
    float **out = malloc(sizeof *out * (size_t)b->n);
    if (!tok || !want || !out) rc = pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    for (int i = 0, k = 0; !rc && i < b->n; i++) c->batch_slot[i] = b->rows[i].logits ? k++ : -1;
    for (int i = 0; !rc && i < b->n; i++) {
        int seq = b->rows[i].seq;
        if (next[seq] < 0) continue;   /* its rows already ran */
        next[seq] = -1;
        rc = batch_run_seq(c, b, seq, i, tok, want, out, st);
    }
    if (!rc) c->batch_n = b->n;
    free(tok), free(want), free(out), free(next);
    return rc;
}

/* Logits of row i of the last batch, if it asked for them. */
const float *pl_logits_row(const pl_ctx *c, int i)
{
    if (i < 0 || i >= c->batch_n || c->batch_slot[i] < 0) return NULL;
    return c->batch_logits + (size_t)c->m->hp.n_vocab * c->batch_slot[i];
}
