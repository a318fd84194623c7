/* kv_cache.c — the paged KV pool: blocks, reference counts, copy-on-write.
 *
 * Why paged: a chat edits and regenerates; forking a sequence at a prefix
 * must not copy the prefix. Why layer-major: each layer's rows are its own
 * pool (kv_layer), so one layer's cache can later sit on another device while
 * every layer still follows the one block table of each sequence. Blocks of KV_BLOCK positions are shared between
 * sequences and copied only when a sharer writes into one (the last, partial
 * block of a fork). Truncation just drops table entries; context shift moves
 * later positions down and re-rotates their keys through a callback (the
 * cache knows nothing about RoPE). Rows are typed (F16, Q8_0, Q4_0, ...);
 * converting the pool to other types goes layer block by layer block through
 * f32, so the extra memory is one layer block and every sequence keeps its
 * positions.
 */
#include <stdlib.h>
#include <string.h>

#include "../backends/backend.h"
#include "kv_cache.h"

#define KV_SEQ_MAX 256

/* ---- layer memory: host (malloc) or a holder's, reached only through it ---- */

/* Host bytes (at least n) a held layer's block passes through; NULL out of memory. */
static uint8_t *kv_stage(kv_cache *kv, size_t n)
{
    if (n <= kv->stage_n) return kv->stage;
    uint8_t *p = realloc(kv->stage, n);
    if (!p) return NULL;
    kv->stage = p, kv->stage_n = n;
    return p;
}

static int kv_holder_get(const kv_holder *h, void *dst, const uint8_t *src, size_t n)
{
    if (h) return h->download(h->ud, dst, src, n);
    memcpy(dst, src, n);
    return 0;
}

static int kv_holder_put(const kv_holder *h, uint8_t *dst, const void *src, size_t n)
{
    if (h) return h->upload(h->ud, dst, src, n);
    memcpy(dst, src, n);
    return 0;
}

int kv_bytes_get(const kv_cache *kv, int il, void *dst, const uint8_t *src, size_t n)
{
    return kv_holder_get(kv->layers[il].where, dst, src, n);
}

int kv_bytes_put(const kv_cache *kv, int il, uint8_t *dst, const void *src, size_t n)
{
    return kv_holder_put(kv->layers[il].where, dst, src, n);
}

/* A zeroed layer block of `bytes` on h (unwritten rows stay finite); NULL out of memory. */
static uint8_t *kv_lblock_new(kv_cache *kv, const kv_holder *h, size_t bytes)
{
    if (!h) return calloc(1, bytes);
    uint8_t *z = kv_stage(kv, bytes), *m = z ? h->alloc(h->ud, bytes) : NULL;
    if (!m) return NULL;
    memset(z, 0, bytes);
    if (h->upload(h->ud, m, z, bytes)) { h->release(h->ud, m); return NULL; }
    return m;
}

static void kv_lblock_free(const kv_holder *h, uint8_t *m)
{
    if (!h) free(m);
    else if (m) h->release(h->ud, m);
}

/* dst <- src, two blocks of layer il (copy-on-write): through the stage for a held layer. */
static int kv_lblock_copy(kv_cache *kv, int il, uint8_t *dst, const uint8_t *src)
{
    const kv_holder *h = kv->layers[il].where;
    if (!h) { memcpy(dst, src, kv->block_bytes); return 0; }
    uint8_t *t = kv_stage(kv, kv->block_bytes);
    if (!t) return -1;
    return h->download(h->ud, t, src, kv->block_bytes) || h->upload(h->ud, dst, t, kv->block_bytes) ? -1 : 0;
}

/* 0 if rows of type t can be stored and sliced into heads of head_dim elements. */
int kv_cache_type_ok(pl_type t, int head_dim, pl_status *st)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    const char *name = pl_type_name(t) ? pl_type_name(t) : "?";
    if (!tr || !tr->to_float || !tr->from_float || t == PL_TYPE_Q8_1 || t == PL_TYPE_Q8_K)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "KV cache type %s is not supported "
                             "(use f16, f32, bf16, q8_0, q4_0, q4_1, q5_0 or q5_1)", name);
    if (head_dim % tr->block_size)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "KV cache type %s needs a head size that "
                             "is a multiple of %d; this model's is %d", name, tr->block_size,
                             head_dim);
    return 0;
}

/* Sizes that follow from the row types. */
static void kv_set_types(kv_cache *kv, pl_type tk, pl_type tv)
{
    kv->type_k = tk, kv->type_v = tv;
    kv->row_k = pl_row_size(tk, kv->kv_dim);
    kv->row_v = pl_row_size(tv, kv->kv_dim);
    kv->block_bytes = (size_t)KV_BLOCK * (kv->row_k + kv->row_v);
}

/* An F16 cache. */
kv_cache *kv_cache_new(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_status *st)
{
    return kv_cache_new_typed(n_layer, kv_dim, max_pos, max_blocks, PL_TYPE_F16, PL_TYPE_F16, st);
}

/* Pool bookkeeping up front; block memory comes later, on first use. */
kv_cache *kv_cache_new_typed(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_type tk,
                             pl_type tv, pl_status *st)
{
    if (kv_cache_type_ok(tk, kv_dim, st) || kv_cache_type_ok(tv, kv_dim, st)) return NULL;
    kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) goto oom;
    kv->n_layer = n_layer;
    kv->kv_dim = kv_dim;
    kv->max_pos = max_pos;
    kv->max_blocks = max_blocks;
    kv_set_types(kv, tk, tv);
    kv->layers = calloc(n_layer, sizeof *kv->layers);
    for (int il = 0; kv->layers && il < n_layer; il++)
        if (!(kv->layers[il].mem = calloc(max_blocks, sizeof *kv->layers[il].mem))) goto oom;
    kv->refs = calloc(max_blocks, sizeof *kv->refs);
    kv->free_ids = malloc(sizeof(int) * max_blocks);
    kv->n_seq_cap = 8;
    kv->seqs = calloc(kv->n_seq_cap, sizeof *kv->seqs);
    if (!kv->layers || !kv->refs || !kv->free_ids || !kv->seqs) goto oom;
    for (int i = 0; i < max_blocks; i++) kv->free_ids[i] = max_blocks - 1 - i;
    kv->n_free = max_blocks;
    return kv;
oom:
    kv_cache_free(kv);
    pl_status_set(st, PL_ERR_NOMEM, "out of memory (KV cache)");
    return NULL;
}

/* Free every block and sequence. */
void kv_cache_free(kv_cache *kv)
{
    if (!kv) return;
    for (int il = 0; kv->layers && il < kv->n_layer; il++) {
        for (int i = 0; kv->layers[il].mem && i < kv->max_blocks; i++)
            kv_lblock_free(kv->layers[il].where, kv->layers[il].mem[i]);
        free(kv->layers[il].mem);
    }
    for (int i = 0; kv->seqs && i < kv->n_seq_cap; i++) {
        free(kv->seqs[i].table);
        free(kv->seqs[i].tokens);
    }
    free(kv->layers);
    free(kv->refs);
    free(kv->free_ids);
    free(kv->seqs);
    free(kv->stage);
    free(kv);
}

/* Take a block id off the free list with memory behind it in every layer;
 * -1 if none is free, -2 out of memory in layer *bad (layer blocks allocated
 * before a failure stay for the next try). */
static int kv_block_alloc(kv_cache *kv, int *bad)
{
    if (kv->n_free == 0) return -1;
    int id = kv->free_ids[kv->n_free - 1];
    for (int il = 0; il < kv->n_layer; il++) {
        uint8_t **m = &kv->layers[il].mem[id];
        if (!*m && !(*m = kv_lblock_new(kv, kv->layers[il].where, kv->block_bytes))) return *bad = il, -2;
    }
    kv->n_free--;
    kv->refs[id] = 1;
    return id;
}

/* Drop one reference; the last one returns the block to the free list. */
static void kv_block_release(kv_cache *kv, int id)
{
    if (--kv->refs[id] == 0) kv->free_ids[kv->n_free++] = id;
}

bool kv_seq_valid(const kv_cache *kv, int seq)
{
    return seq >= 0 && seq < kv->n_seq_cap && kv->seqs[seq].used;
}

/* A free sequence slot, growing the slot array when all are taken. */
static int kv_seq_slot(kv_cache *kv, pl_status *st)
{
    for (int i = 0; i < kv->n_seq_cap; i++)
        if (!kv->seqs[i].used) return i;
    if (kv->n_seq_cap >= KV_SEQ_MAX) {
        pl_status_set(st, PL_ERR_ARG, "too many sequences (at most %d)", KV_SEQ_MAX);
        return -1;
    }
    kv_seq *grown = realloc(kv->seqs, sizeof *grown * kv->n_seq_cap * 2);
    if (!grown) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); return -1; }
    memset(grown + kv->n_seq_cap, 0, sizeof *grown * kv->n_seq_cap);
    kv->seqs = grown;
    kv->n_seq_cap *= 2;
    return kv_seq_slot(kv, st);
}

/* An empty sequence (its table and token buffer are sized for max_pos). */
int kv_seq_new(kv_cache *kv, pl_status *st)
{
    int id = kv_seq_slot(kv, st);
    if (id < 0) return -1;
    kv_seq *s = &kv->seqs[id];
    if (!s->table) s->table = malloc(sizeof(int) * (kv->max_pos / KV_BLOCK + 1));
    if (!s->tokens) s->tokens = malloc(sizeof(int32_t) * (kv->max_pos + 1));
    if (!s->table || !s->tokens) {
        pl_status_set(st, PL_ERR_NOMEM, "out of memory");
        return -1;
    }
    s->used = true;
    s->n_pos = 0;
    return id;
}

/* Blocks covering n positions. */
static int kv_blocks_for(int n) { return (n + KV_BLOCK - 1) / KV_BLOCK; }

/* A new sequence sharing every block of seq. */
int kv_seq_fork(kv_cache *kv, int seq, pl_status *st)
{
    if (!kv_seq_valid(kv, seq)) {
        pl_status_set(st, PL_ERR_ARG, "no sequence %d", seq);
        return -1;
    }
    int id = kv_seq_new(kv, st);
    if (id < 0) return -1;
    kv_seq *src = &kv->seqs[seq], *dst = &kv->seqs[id];   /* after a possible realloc */
    int nb = kv_blocks_for(src->n_pos);
    memcpy(dst->table, src->table, sizeof(int) * nb);
    memcpy(dst->tokens, src->tokens, sizeof(int32_t) * src->n_pos);
    for (int i = 0; i < nb; i++) kv->refs[dst->table[i]]++;
    dst->n_pos = src->n_pos;
    return id;
}

/* Release the sequence's blocks and its slot (buffers are kept for reuse). */
void kv_seq_free(kv_cache *kv, int seq)
{
    if (!kv_seq_valid(kv, seq)) return;
    kv_seq_truncate(kv, seq, 0);
    kv->seqs[seq].used = false;
}

/* Ensure table entry b is a block this sequence owns alone. */
static int kv_block_own(kv_cache *kv, kv_seq *s, int b, bool exists, pl_status *st)
{
    if (exists && kv->refs[s->table[b]] == 1) return 0;
    int bad = 0, id = kv_block_alloc(kv, &bad);
    const kv_holder *h = id == -2 ? kv->layers[bad].where : NULL;
    if (id == -2)
        return pl_status_set(st, PL_ERR_NOMEM, "out of memory (%s) for layer %d's next KV block of %d positions "
                             "(%zu bytes)", h && h->name ? h->name : "host", bad, KV_BLOCK, kv->block_bytes);
    if (id < 0)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "KV cache pool is full (%d blocks of %d "
                             "positions in use)", kv->max_blocks, KV_BLOCK);
    if (exists) {   /* copy-on-write, layer by layer */
        for (int il = 0; il < kv->n_layer; il++)
            if (kv_lblock_copy(kv, il, kv->layers[il].mem[id], kv->layers[il].mem[s->table[b]])) {
                kv_block_release(kv, id);
                return pl_status_set(st, PL_ERR_NOMEM, "copy-on-write of a KV block failed (layer %d)", il);
            }
        kv_block_release(kv, s->table[b]);
    }
    s->table[b] = id;
    return 0;
}

/* Make [n_pos, n_pos + n) writable. */
int kv_seq_reserve(kv_cache *kv, int seq, int n, pl_status *st)
{
    kv_seq *s = &kv->seqs[seq];
    if (s->n_pos + n > kv->max_pos)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "sequence would hold %d positions; "
                             "the context has %d", s->n_pos + n, kv->max_pos);
    if (n <= 0) return 0;
    int have = kv_blocks_for(s->n_pos);
    for (int b = s->n_pos / KV_BLOCK; b < kv_blocks_for(s->n_pos + n); b++) {
        int rc = kv_block_own(kv, s, b, b < have, st);
        if (rc) return rc;
    }
    return 0;
}

/* Positions were written: remember their tokens. */
void kv_seq_commit(kv_cache *kv, int seq, const int32_t *tokens, int n)
{
    kv_seq *s = &kv->seqs[seq];
    memcpy(s->tokens + s->n_pos, tokens, sizeof(int32_t) * n);
    s->n_pos += n;
}

/* Keep the first n positions; blocks past them are released. */
int kv_seq_truncate(kv_cache *kv, int seq, int n)
{
    if (!kv_seq_valid(kv, seq) || n < 0) return -1;
    kv_seq *s = &kv->seqs[seq];
    if (n >= s->n_pos) return 0;
    for (int b = kv_blocks_for(n); b < kv_blocks_for(s->n_pos); b++)
        kv_block_release(kv, s->table[b]);
    s->n_pos = n;
    return 0;
}

/* Copy position src to dst in every layer, re-rotating K by dst - src; the
 * rows pass through row (host) so a held layer works the same. */
static int kv_move_pos(kv_cache *kv, kv_seq *s, int dst, int src, kv_rotate_fn rot, void *ud,
                       float *tmp, uint8_t *row)
{
    const pl_type_traits *tk = pl_type_traits_get(kv->type_k);
    int rc = 0;
    for (int il = 0; il < kv->n_layer && !rc; il++) {
        rc = kv_bytes_get(kv, il, row, kv_k_data(kv, s, il, src), kv->row_k);
        tk->to_float(row, tmp, kv->kv_dim);
        rot(tmp, il, dst - src, ud);
        tk->from_float(tmp, row, kv->kv_dim);
        rc = rc || kv_bytes_put(kv, il, kv_k_data(kv, s, il, dst), row, kv->row_k);
        rc = rc || kv_bytes_get(kv, il, row, kv_v_data(kv, s, il, src), kv->row_v);
        rc = rc || kv_bytes_put(kv, il, kv_v_data(kv, s, il, dst), row, kv->row_v);
    }
    s->tokens[dst] = s->tokens[src];
    return rc;
}

/* Drop positions [n_keep, n_keep + n_discard); later positions move down. */
int kv_seq_shift(kv_cache *kv, int seq, int n_keep, int n_discard, kv_rotate_fn rot, void *ud,
                 pl_status *st)
{
    if (!kv_seq_valid(kv, seq))
        return pl_status_set(st, PL_ERR_ARG, "no sequence %d", seq);
    kv_seq *s = &kv->seqs[seq];
    if (n_keep < 0 || n_discard < 0 || n_keep + n_discard > s->n_pos)
        return pl_status_set(st, PL_ERR_ARG, "shift: keep %d + discard %d exceeds %d positions",
                             n_keep, n_discard, s->n_pos);
    if (n_discard == 0) return 0;
    int n_new = s->n_pos - n_discard;
    for (int b = n_keep / KV_BLOCK; b < kv_blocks_for(n_new); b++) {   /* written blocks */
        int rc = kv_block_own(kv, s, b, true, st);
        if (rc) return rc;
    }
    float *tmp = malloc(sizeof(float) * kv->kv_dim);
    uint8_t *row = malloc(kv->row_k > kv->row_v ? kv->row_k : kv->row_v);
    int rc = tmp && row ? 0 : pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    for (int p = n_keep; p < n_new && !rc; p++)
        if (kv_move_pos(kv, s, p, p + n_discard, rot, ud, tmp, row))
            rc = pl_status_set(st, PL_ERR_NOMEM, "context shift: a KV row copy failed");
    free(tmp);
    free(row);
    if (!rc) kv_seq_truncate(kv, seq, n_new);
    return rc;
}

int kv_cache_blocks_used(const kv_cache *kv) { return kv->max_blocks - kv->n_free; }

/* Allocated layer blocks of layer il times their size. */
size_t kv_layer_bytes(const kv_cache *kv, int il)
{
    size_t n = 0;
    for (int b = 0; b < kv->max_blocks; b++) n += kv->layers[il].mem[b] != NULL;
    return n * kv->block_bytes;
}

/* Byte offset of row r (K or V, position) of a layer block laid out as kv says. */
static size_t kv_row_offset(const kv_cache *kv, int r, pl_type *type, size_t *size)
{
    const int is_v = r / KV_BLOCK, p = r % KV_BLOCK;
    *type = is_v ? kv->type_v : kv->type_k;
    *size = is_v ? kv->row_v : kv->row_k;
    return (is_v ? (size_t)KV_BLOCK * kv->row_k : 0) + (size_t)p * *size;
}

/* Rewrite one layer block's rows from layout o to layout n inside m (big enough for
 * both). Every row shrinks (or keeps its size) or every row grows: shrinking
 * rows are visited front to back, growing ones back to front, so a row is
 * always read (into tmp) before anything is written over it. */
static void kv_block_relayout(uint8_t *m, const kv_cache *o, const kv_cache *n, float *tmp)
{
    const int n_rows = 2 * KV_BLOCK;
    const bool grow = n->block_bytes > o->block_bytes;
    for (int i = 0; i < n_rows; i++) {
        const int r = grow ? n_rows - 1 - i : i;
        pl_type tf, tt;
        size_t sf, gt;
        const size_t of = kv_row_offset(o, r, &tf, &sf), ot = kv_row_offset(n, r, &tt, &gt);
        if (tf == tt) {
            memmove(m + ot, m + of, sf);
            continue;
        }
        pl_type_traits_get(tf)->to_float(m + of, tmp, o->kv_dim);
        pl_type_traits_get(tt)->from_float(tmp, m + ot, o->kv_dim);
    }
}

/* The same for a block of a held layer: its bytes pass through the stage (big
 * enough for both layouts); a growing block moves to a new buffer, a
 * shrinking one is rewritten in its own buffer, which keeps its size until
 * the step has succeeded (an undo grows blocks back in place; kv_held_compact). */
static bool kv_lblock_retype_held(kv_cache *kv, const kv_cache *o, const kv_holder *h, uint8_t **mp,
                                  float *tmp)
{
    const bool grow = kv->block_bytes > o->block_bytes;
    uint8_t *t = kv_stage(kv, grow ? kv->block_bytes : o->block_bytes);
    if (!t || h->download(h->ud, t, *mp, o->block_bytes)) return false;
    kv_block_relayout(t, o, kv, tmp);
    uint8_t *m = grow ? h->alloc(h->ud, kv->block_bytes) : *mp;
    if (!m) return false;
    if (h->upload(h->ud, m, t, kv->block_bytes)) {
        if (m != *mp) h->release(h->ud, m);
        return false;
    }
    if (m != *mp) h->release(h->ud, *mp);
    *mp = m;
    return true;
}

/* Re-type one layer block *mp of layer il from layout o to kv's; an
 * unreferenced one drops its memory instead. false if it could not grow
 * (out of memory). */
static bool kv_lblock_retype(kv_cache *kv, const kv_cache *o, int il, uint8_t **mp, bool live,
                             float *tmp)
{
    const kv_holder *h = kv->layers[il].where;
    if (!*mp) return true;
    if (!live) { kv_lblock_free(h, *mp); *mp = NULL; return true; }
    if (h) return kv_lblock_retype_held(kv, o, h, mp, tmp);
    const bool grow = kv->block_bytes > o->block_bytes;
    uint8_t *m = grow ? realloc(*mp, kv->block_bytes) : *mp;
    if (!m) return false;
    *mp = m;
    kv_block_relayout(m, o, kv, tmp);
    if (kv->block_bytes < o->block_bytes && (m = realloc(m, kv->block_bytes))) *mp = m;
    return true;
}

/* Put the layer blocks converted before (il_end, b_end) back in o's layout
 * (they shrink back: no memory needed) and the cache back to o's types. */
static void kv_retype_undo(kv_cache *kv, const kv_cache *o, int il_end, int b_end, float *tmp)
{
    for (int il = 0; il <= il_end; il++)
        for (int b = 0; b < (il == il_end ? b_end : kv->max_blocks); b++) {
            uint8_t *m = kv->layers[il].mem[b];
            const kv_holder *h = kv->layers[il].where;
            if (!m) continue;
            if (!h) { kv_block_relayout(m, kv, o, tmp); continue; }
            /* held: in its own buffer, big enough for both layouts; the stage already is */
            if (h->download(h->ud, kv->stage, m, kv->block_bytes) == 0) {
                kv_block_relayout(kv->stage, kv, o, tmp);
                h->upload(h->ud, m, kv->stage, o->block_bytes);
            }
        }
    kv_set_types(kv, o->type_k, o->type_v);
}

/* After a step that shrank every block: held blocks move into buffers of
 * their new size (one that finds no memory keeps its larger buffer). */
static void kv_held_compact(kv_cache *kv)
{
    for (int il = 0; il < kv->n_layer; il++) {
        const kv_holder *h = kv->layers[il].where;
        for (int b = 0; h && b < kv->max_blocks; b++) {
            uint8_t **mp = &kv->layers[il].mem[b], *m = *mp ? h->alloc(h->ud, kv->block_bytes) : NULL;
            if (!m) continue;
            if (kv_lblock_copy(kv, il, m, *mp)) { h->release(h->ud, m); continue; }
            h->release(h->ud, *mp);
            *mp = m;
        }
    }
}

/* One step of a conversion in which K or V (not both) changes type, so all
 * rows grow or all shrink, layer by layer. A layer block that cannot grow (out
 * of memory) undoes the ones before it and reports it. */
static int kv_retype(kv_cache *kv, pl_type tk, pl_type tv, float *tmp, pl_status *st)
{
    const kv_cache o = *kv;
    kv_set_types(kv, tk, tv);
    for (int il = 0; il < kv->n_layer; il++)
        for (int b = 0; b < kv->max_blocks; b++) {
            if (kv_lblock_retype(kv, &o, il, &kv->layers[il].mem[b], kv->refs[b] > 0, tmp)) continue;
            kv_retype_undo(kv, &o, il, b, tmp);
            return pl_status_set(st, PL_ERR_NOMEM, "out of memory converting the KV cache to "
                                 "k=%s v=%s", pl_type_name(tk), pl_type_name(tv));
        }
    if (kv->block_bytes < o.block_bytes) kv_held_compact(kv);
    return 0;
}

/* Re-type every layer's pool in place, layer block by layer block: K first, then V, each step
 * growing or shrinking every row. Unreferenced blocks drop their memory
 * (allocated again, in the new size, when next used). Rows past a sequence's
 * end convert to garbage, which nothing reads. */
int kv_cache_convert(kv_cache *kv, pl_type tk, pl_type tv, pl_status *st)
{
    if (kv_cache_type_ok(tk, kv->kv_dim, st) || kv_cache_type_ok(tv, kv->kv_dim, st))
        return st ? st->code : PL_ERR_UNSUPPORTED;
    if (tk == kv->type_k && tv == kv->type_v) return 0;
    float *tmp = malloc(sizeof(float) * kv->kv_dim);
    if (!tmp) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    const pl_type old_k = kv->type_k;
    int rc = tk == old_k ? 0 : kv_retype(kv, tk, kv->type_v, tmp, st);
    if (!rc && tv != kv->type_v && (rc = kv_retype(kv, tk, tv, tmp, st)) && tk != old_k)
        kv_retype(kv, old_k, kv->type_v, tmp, NULL);   /* V failed: put K back too */
    free(tmp);
    return rc;
}

/* ---- moving a layer's slice to another holder ---------------------------- */

size_t kv_layer_live_bytes(const kv_cache *kv, int il)
{
    size_t n = 0;
    for (int b = 0; b < kv->max_blocks; b++) n += kv->layers[il].mem[b] && kv->refs[b] > 0;
    return n * kv->block_bytes;
}

void kv_layer_drop(const kv_cache *kv, const kv_holder *to, uint8_t **fresh)
{
    for (int b = 0; b < kv->max_blocks; b++) {
        kv_lblock_free(to, fresh[b]);
        fresh[b] = NULL;
    }
}

/* Each live block of layer il copied onto `to` through the stage; unreferenced
 * ones are not moved (adopt drops them). */
int kv_layer_copy_to(kv_cache *kv, int il, const kv_holder *to, uint8_t **fresh, pl_status *st)
{
    const kv_holder *from = kv->layers[il].where;
    uint8_t *t = kv_stage(kv, kv->block_bytes);
    memset(fresh, 0, sizeof *fresh * kv->max_blocks);
    if (!t) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), -1;
    for (int b = 0; b < kv->max_blocks; b++) {
        const uint8_t *m = kv->layers[il].mem[b];
        if (!m || kv->refs[b] == 0) continue;
        fresh[b] = to ? to->alloc(to->ud, kv->block_bytes) : malloc(kv->block_bytes);
        if (!fresh[b]) {
            kv_layer_drop(kv, to, fresh);
            return pl_status_set(st, PL_ERR_NOMEM, "out of memory for layer %d's KV block %d (%zu bytes)",
                                 il, b, kv->block_bytes), -1;
        }
        if (kv_holder_get(from, t, m, kv->block_bytes) || kv_holder_put(to, fresh[b], t, kv->block_bytes)) {
            kv_layer_drop(kv, to, fresh);
            return pl_status_set(st, PL_ERR_NOMEM, "copying layer %d's KV block %d failed", il, b), -1;
        }
    }
    return 0;
}

void kv_layer_adopt(kv_cache *kv, int il, const kv_holder *to, uint8_t **fresh)
{
    kv_layer *L = &kv->layers[il];
    for (int b = 0; b < kv->max_blocks; b++) {
        kv_lblock_free(L->where, L->mem[b]);
        L->mem[b] = fresh[b];
        fresh[b] = NULL;
    }
    L->where = to;
}
