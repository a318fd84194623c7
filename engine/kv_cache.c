/* kv_cache.c — the paged KV pool: blocks, reference counts, copy-on-write.
 *
 * Why paged: a chat edits and regenerates; forking a sequence at a prefix
 * must not copy the prefix. Blocks of KV_BLOCK positions are shared between
 * sequences and copied only when a sharer writes into one (the last, partial
 * block of a fork). Truncation just drops table entries; context shift moves
 * later positions down and re-rotates their keys through a callback (the
 * cache knows nothing about RoPE).
 */
#include <stdlib.h>
#include <string.h>

#include "../backends/backend.h"
#include "kv_cache.h"

#define KV_SEQ_MAX 256

/* Pool bookkeeping up front; block memory comes later, on first use. */
kv_cache *kv_cache_new(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_status *st)
{
    kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) goto oom;
    kv->n_layer = n_layer;
    kv->kv_dim = kv_dim;
    kv->max_pos = max_pos;
    kv->max_blocks = max_blocks;
    kv->block_elems = (size_t)n_layer * 2 * KV_BLOCK * kv_dim;
    kv->mem = calloc(max_blocks, sizeof *kv->mem);
    kv->refs = calloc(max_blocks, sizeof *kv->refs);
    kv->free_ids = malloc(sizeof(int) * max_blocks);
    kv->n_seq_cap = 8;
    kv->seqs = calloc(kv->n_seq_cap, sizeof *kv->seqs);
    if (!kv->mem || !kv->refs || !kv->free_ids || !kv->seqs) goto oom;
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
    for (int i = 0; kv->mem && i < kv->max_blocks; i++) free(kv->mem[i]);
    for (int i = 0; kv->seqs && i < kv->n_seq_cap; i++) {
        free(kv->seqs[i].table);
        free(kv->seqs[i].tokens);
    }
    free(kv->mem);
    free(kv->refs);
    free(kv->free_ids);
    free(kv->seqs);
    free(kv);
}

/* Take a block id off the free list with memory behind it; -1 if none. */
static int kv_block_alloc(kv_cache *kv)
{
    if (kv->n_free == 0) return -1;
    int id = kv->free_ids[kv->n_free - 1];
    if (!kv->mem[id]) {
        kv->mem[id] = malloc(kv->block_elems * sizeof(pl_f16));
        if (!kv->mem[id]) return -1;
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
    int id = kv_block_alloc(kv);
    if (id < 0)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "KV cache pool is full (%d blocks of %d "
                             "positions in use)", kv->max_blocks, KV_BLOCK);
    if (exists) {   /* copy-on-write */
        memcpy(kv->mem[id], kv->mem[s->table[b]], kv->block_elems * sizeof(pl_f16));
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
    for (int b = s->n_pos / KV_BLOCK; b < kv_blocks_for(s->n_pos + n); b++)
        if (kv_block_own(kv, s, b, b < have, st)) return PL_ERR_CONTEXT_FULL;
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

/* Copy position src to dst in every layer, re-rotating K by dst - src. */
static void kv_move_pos(kv_cache *kv, kv_seq *s, int dst, int src, kv_rotate_fn rot, void *ud,
                        float *tmp)
{
    for (int il = 0; il < kv->n_layer; il++) {
        const pl_f16 *k = kv_k_row(kv, s, il, src);
        for (int i = 0; i < kv->kv_dim; i++) tmp[i] = pl_f16_to_f32(k[i]);
        rot(tmp, dst - src, ud);
        pl_f16 *kd = kv_k_row(kv, s, il, dst);
        for (int i = 0; i < kv->kv_dim; i++) kd[i] = pl_f32_to_f16(tmp[i]);
        memcpy(kv_v_row(kv, s, il, dst), kv_v_row(kv, s, il, src), sizeof(pl_f16) * kv->kv_dim);
    }
    s->tokens[dst] = s->tokens[src];
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
    for (int b = n_keep / KV_BLOCK; b < kv_blocks_for(n_new); b++)   /* written blocks */
        if (kv_block_own(kv, s, b, true, st)) return PL_ERR_CONTEXT_FULL;
    float *tmp = malloc(sizeof(float) * kv->kv_dim);
    if (!tmp) return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    for (int p = n_keep; p < n_new; p++) kv_move_pos(kv, s, p, p + n_discard, rot, ud, tmp);
    free(tmp);
    kv_seq_truncate(kv, seq, n_new);
    return 0;
}

int kv_cache_blocks_used(const kv_cache *kv) { return kv->max_blocks - kv->n_free; }
