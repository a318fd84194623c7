/* state.c — a sequence's state as bytes: the payload of a KV snapshot.
 *
 * Resuming a long chat should not re-run the model over the whole transcript,
 * so the worker writes what the sequence holds — its tokens, every layer's
 * K and V rows in the cache's current types, and the last logits — and reads
 * it back later. The file around it (header, model fingerprint, checksum,
 * atomic rename) belongs to sessions/; this file only knows the engine.
 *
 * Nothing read is trusted: the payload header must match this context
 * exactly (layers, row width, K/V types, row bytes, vocabulary) and the size
 * must be exactly what the header implies before the cache is touched; a
 * failure half-way leaves the sequence empty, never half-restored. A type
 * mismatch (the cache was switched to q8_0 since) is "stale": the caller
 * re-decodes the transcript. Payload (little-endian host order, 4-byte words):
 *
 *     magic "PLKV", version, n_layer, kv_dim, type_k, type_v,
 *     k_row_bytes, v_row_bytes, n_pos, n_vocab, has_logits
 *     tokens (n_pos, i32)
 *     rows   (n_pos, n_layer, [K row, V row])
 *     logits (n_vocab, f32) if has_logits
 *
 * The payload names positions and layers, never blocks, so it does not
 * depend on how the cache lays rows out in memory: the block-major cache
 * before the layer-major one wrote this same version 1, and its payloads load
 * as they are (tests/fixtures/kv_state). A version this file does not know is
 * refused with its number, before anything is read.
 */
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"

#define STATE_MAGIC 0x564b4c50u   /* "PLKV" */
#define STATE_VERSION 1u

enum { H_MAGIC, H_VERSION, H_LAYERS, H_KVDIM, H_TYPE_K, H_TYPE_V, H_KBYTES, H_VBYTES, H_NPOS, H_VOCAB,
       H_LOGITS, H_COUNT };

/* The K and V types the context's cache holds now. */
void pl_state_kv_types(const pl_ctx *c, pl_type *k, pl_type *v)
{
    if (k) *k = c->kv->type_k;
    if (v) *v = c->kv->type_v;
}

/* The header this context would write for seq. */
static void state_header(const pl_ctx *c, int seq, uint32_t h[H_COUNT])
{
    const kv_cache *kv = c->kv;
    h[H_MAGIC] = STATE_MAGIC;
    h[H_VERSION] = STATE_VERSION;
    h[H_LAYERS] = (uint32_t)kv->n_layer;
    h[H_KVDIM] = (uint32_t)kv->kv_dim;
    h[H_TYPE_K] = (uint32_t)kv->type_k;
    h[H_TYPE_V] = (uint32_t)kv->type_v;
    h[H_KBYTES] = (uint32_t)kv->row_k;
    h[H_VBYTES] = (uint32_t)kv->row_v;
    h[H_NPOS] = (uint32_t)kv->seqs[seq].n_pos;
    h[H_VOCAB] = c->m->hp.n_vocab;
    h[H_LOGITS] = c->has_logits[seq] ? 1u : 0u;
}

/* Payload bytes a header implies. */
static uint64_t state_size(const uint32_t h[H_COUNT])
{
    uint64_t n = sizeof(uint32_t) * H_COUNT + sizeof(int32_t) * (uint64_t)h[H_NPOS];
    n += (uint64_t)h[H_NPOS] * h[H_LAYERS] * ((uint64_t)h[H_KBYTES] + h[H_VBYTES]);
    if (h[H_LOGITS]) n += sizeof(float) * (uint64_t)h[H_VOCAB];
    return n;
}

int pl_state_save(pl_ctx *c, int seq, FILE *f, pl_status *st)
{
    pl_status_ok(st);
    if (!c || !f || !kv_seq_valid(c->kv, seq)) return pl_status_set(st, PL_ERR_ARG, "state save: no sequence %d", seq), -1;
    uint32_t h[H_COUNT];
    state_header(c, seq, h);
    const kv_cache *kv = c->kv;
    const kv_seq *s = &kv->seqs[seq];
    size_t kb = h[H_KBYTES], vb = h[H_VBYTES];
    uint8_t *row = malloc(kb + vb);   /* rows pass through it: a layer may sit on a backend */
    if (!row) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), -1;
    bool ok = fwrite(h, sizeof h, 1, f) == 1, got = true;
    ok = ok && (s->n_pos == 0 || fwrite(s->tokens, sizeof(int32_t), (size_t)s->n_pos, f) == (size_t)s->n_pos);
    for (int p = 0; ok && got && p < s->n_pos; p++)
        for (int il = 0; ok && got && il < kv->n_layer; il++) {
            got = kv_bytes_get(kv, il, row, kv_k_data(kv, s, il, p), kb) == 0 &&
                  kv_bytes_get(kv, il, row + kb, kv_v_data(kv, s, il, p), vb) == 0;
            ok = got && fwrite(row, kb + vb, 1, f) == 1;
        }
    free(row);
    if (ok && h[H_LOGITS]) ok = fwrite(c->logits[seq], sizeof(float), h[H_VOCAB], f) == h[H_VOCAB];
    if (!got) return pl_status_set(st, PL_ERR_IO, "state save: reading the KV rows from their backend failed"), -1;
    if (!ok) return pl_status_set(st, PL_ERR_IO, "state save: write failed"), -1;
    return 0;
}

/* Does the saved header fit this context? A message naming the first difference if not. */
static int state_check(const pl_ctx *c, int seq, const uint32_t got[H_COUNT], uint64_t size, pl_status *st)
{
    uint32_t want[H_COUNT];
    state_header(c, seq, want);
    if (got[H_MAGIC] != STATE_MAGIC) return pl_status_set(st, PL_ERR_FORMAT, "state: not a parley KV state");
    if (got[H_VERSION] != STATE_VERSION)
        return pl_status_set(st, PL_ERR_FORMAT, "state: version %u (this parley reads %u)", got[H_VERSION], STATE_VERSION);
    if (got[H_TYPE_K] != want[H_TYPE_K] || got[H_TYPE_V] != want[H_TYPE_V])
        return pl_status_set(st, PL_ERR_FORMAT, "state is stale: K/V types %s/%s, the cache holds %s/%s",
                             pl_type_name((pl_type)got[H_TYPE_K]) ? pl_type_name((pl_type)got[H_TYPE_K]) : "?",
                             pl_type_name((pl_type)got[H_TYPE_V]) ? pl_type_name((pl_type)got[H_TYPE_V]) : "?",
                             pl_type_name(c->kv->type_k), pl_type_name(c->kv->type_v));
    static const char *const names[H_COUNT] = {[H_LAYERS] = "layers", [H_KVDIM] = "K/V width",
                                               [H_KBYTES] = "K row bytes", [H_VBYTES] = "V row bytes",
                                               [H_VOCAB] = "vocabulary"};
    for (int i = H_LAYERS; i < H_COUNT; i++)
        if (names[i] && got[i] != want[i])
            return pl_status_set(st, PL_ERR_FORMAT, "state: %s %u, this model has %u", names[i], got[i], want[i]);
    if (got[H_NPOS] > (uint32_t)c->n_ctx)
        return pl_status_set(st, PL_ERR_FORMAT, "state: %u positions, the context holds %d", got[H_NPOS], c->n_ctx);
    if (got[H_LOGITS] > 1) return pl_status_set(st, PL_ERR_FORMAT, "state: bad logits flag %u", got[H_LOGITS]);
    if (state_size(got) != size)
        return pl_status_set(st, PL_ERR_FORMAT, "state: %llu bytes, the header implies %llu",
                             (unsigned long long)size, (unsigned long long)state_size(got));
    return 0;
}

/* Tokens, rows and logits into seq (emptied first); -1 with st on failure. */
static int state_read_body(pl_ctx *c, int seq, FILE *f, const uint32_t h[H_COUNT], pl_status *st)
{
    kv_cache *kv = c->kv;
    int n = (int)h[H_NPOS];
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!toks) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), -1;
    if (n && fread(toks, sizeof(int32_t), (size_t)n, f) != (size_t)n) {
        free(toks);
        return pl_status_set(st, PL_ERR_IO, "state: read failed (tokens)"), -1;
    }
    for (int i = 0; i < n; i++)
        if (toks[i] < 0 || (uint32_t)toks[i] >= h[H_VOCAB]) {
            pl_status_set(st, PL_ERR_FORMAT, "state: token %d at %d is outside the vocabulary", toks[i], i);
            free(toks);
            return -1;
        }
    if (kv_seq_reserve(kv, seq, n, st)) { free(toks); return -1; }
    const size_t kb = h[H_KBYTES], vb = h[H_VBYTES];
    uint8_t *row = malloc(kb + vb);   /* rows pass through it: a layer may sit on a backend */
    bool ok = row != NULL;
    const kv_seq *s = &kv->seqs[seq];
    for (int p = 0; ok && p < n; p++)
        for (int il = 0; ok && il < kv->n_layer; il++)
            ok = fread(row, kb + vb, 1, f) == 1 && kv_bytes_put(kv, il, kv_k_data(kv, s, il, p), row, kb) == 0 &&
                 kv_bytes_put(kv, il, kv_v_data(kv, s, il, p), row + kb, vb) == 0;
    free(row);
    if (ok && h[H_LOGITS]) ok = fread(c->logits[seq], sizeof(float), h[H_VOCAB], f) == h[H_VOCAB];
    kv_seq_commit(kv, seq, toks, n);   /* also on failure: the caller's truncate then frees the blocks */
    if (!ok) { free(toks); return pl_status_set(st, PL_ERR_IO, "state: read failed (K/V rows)"), -1; }
    c->has_logits[seq] = h[H_LOGITS] != 0;
    free(toks);
    return 0;
}

int pl_state_load(pl_ctx *c, int seq, FILE *f, uint64_t size, pl_status *st)
{
    pl_status_ok(st);
    if (!c || !f || !kv_seq_valid(c->kv, seq)) return pl_status_set(st, PL_ERR_ARG, "state load: no sequence %d", seq), -1;
    uint32_t h[H_COUNT];
    if (size < sizeof h || fread(h, sizeof h, 1, f) != 1)
        return pl_status_set(st, PL_ERR_FORMAT, "state: %llu bytes, too short for its header", (unsigned long long)size), -1;
    if (state_check(c, seq, h, size, st)) return -1;
    pl_seq_truncate(c, seq, 0);
    if (state_read_body(c, seq, f, h, st) < 0) {
        pl_seq_truncate(c, seq, 0);   /* never half-restored */
        c->has_logits[seq] = false;
        return -1;
    }
    return 0;
}
