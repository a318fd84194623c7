/* kv_cache.h — paged, reference-counted KV cache (engine-internal).
 *
 * A pool of blocks of KV_BLOCK positions; one block holds, for every layer,
 * the K rows and the V rows of its positions in F16:
 *     block = (n_layer, 2 [K then V], KV_BLOCK, kv_dim)
 * A sequence is a table of block ids plus its length and tokens. Blocks are
 * reference-counted: pl_seq_fork copies the table and shares every block; a
 * write into a shared block first copies it (copy-on-write). Block memory is
 * allocated the first time a block is used and kept on a free list after.
 */
#ifndef PL_KV_CACHE_H
#define PL_KV_CACHE_H

#include "engine.h"

#define KV_BLOCK 32

typedef struct kv_seq {
    bool     used;
    int      n_pos;     /* positions held */
    int     *table;     /* (max_pos / KV_BLOCK + 1) block ids */
    int32_t *tokens;    /* (max_pos) token at each position */
} kv_seq;

typedef struct kv_cache {
    int      n_layer;
    int      kv_dim;       /* n_head_kv * head_dim */
    int      max_pos;      /* per sequence (n_ctx) */
    int      max_blocks;   /* pool limit */
    size_t   block_elems;  /* n_layer * 2 * KV_BLOCK * kv_dim */
    pl_f16 **mem;          /* (max_blocks) block memory, NULL until first used */
    int     *refs;         /* (max_blocks) sequences holding each block */
    int     *free_ids;     /* (max_blocks) stack of unreferenced block ids */
    int      n_free;
    kv_seq  *seqs;         /* (n_seq_cap) */
    int      n_seq_cap;
} kv_cache;

/* Re-rotate one K row (kv_dim elements, f32) by delta positions. */
typedef void (*kv_rotate_fn)(float *k_row, int delta, void *ud);

kv_cache *kv_cache_new(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_status *st);
void      kv_cache_free(kv_cache *kv);

int  kv_seq_new(kv_cache *kv, pl_status *st);
int  kv_seq_fork(kv_cache *kv, int seq, pl_status *st);
void kv_seq_free(kv_cache *kv, int seq);
bool kv_seq_valid(const kv_cache *kv, int seq);
/* Make positions [n_pos, n_pos + n) writable: allocate, or copy shared blocks. */
int  kv_seq_reserve(kv_cache *kv, int seq, int n, pl_status *st);
/* Record n tokens written at [n_pos, n_pos + n) and advance n_pos. */
void kv_seq_commit(kv_cache *kv, int seq, const int32_t *tokens, int n);
int  kv_seq_truncate(kv_cache *kv, int seq, int n);
int  kv_seq_shift(kv_cache *kv, int seq, int n_keep, int n_discard, kv_rotate_fn rot,
                  void *ud, pl_status *st);

/* Rows of one position: K and V of layer il (kv_dim f16 each). */
static inline pl_f16 *kv_k_row(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    pl_f16 *b = kv->mem[s->table[pos / KV_BLOCK]];
    return b + ((size_t)(il * 2) * KV_BLOCK + pos % KV_BLOCK) * kv->kv_dim;
}
static inline pl_f16 *kv_v_row(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    pl_f16 *b = kv->mem[s->table[pos / KV_BLOCK]];
    return b + ((size_t)(il * 2 + 1) * KV_BLOCK + pos % KV_BLOCK) * kv->kv_dim;
}
/* Blocks in use (referenced by at least one sequence), for tests and stats. */
int kv_cache_blocks_used(const kv_cache *kv);

#endif
