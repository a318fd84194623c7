/* kv_cache.h — paged, reference-counted, layer-major KV cache (engine-internal).
 *
 * Blocks of KV_BLOCK positions; block ids are global and all sequences share
 * one id space, but every layer keeps its rows in its own pool (kv_layer):
 * layer il's rows of block b are one allocation of that layer's pool,
 *     layer block = [K: (KV_BLOCK, row_k bytes), V: (KV_BLOCK, row_v bytes)]
 * K in type_k and V in type_v (F16 by default; Q8_0, Q4_0, ... quantize each
 * row of kv_dim along its dimensions, so positions stay independent and a head
 * is a run of blocks). A layer's pool can thus live elsewhere than its
 * neighbours' (kv_layer.where: the host today, a backend's memory later).
 * kv_cache_convert re-types the live pool layer block by layer block (one
 * spare layer block of memory at a time), so a chat can change its KV type
 * without re-decoding. A sequence is a table of block ids plus its length and
 * tokens, the same table for every layer. Blocks are reference-counted:
 * pl_seq_fork copies the table and shares every block; a write into a shared
 * block first copies it in every layer (copy-on-write). Layer block memory is
 * allocated the first time a block is used and kept on a free list after.
 */
#ifndef PL_KV_CACHE_H
#define PL_KV_CACHE_H

#include "../backends/backend.h"
#include "engine.h"

#define KV_BLOCK 32

typedef struct kv_seq {
    bool     used;
    int      n_pos;     /* positions held */
    int     *table;     /* (max_pos / KV_BLOCK + 1) block ids */
    int32_t *tokens;    /* (max_pos) token at each position */
} kv_seq;

/* Who holds a layer's blocks when they are not plain host memory (a
 * backend's buffers, installed by the context: engine/placement.c). The
 * cache never reads or writes such a block's bytes itself: every access goes
 * through download/upload, so a device whose memory the host cannot address
 * works as it is. alloc's bytes are not zeroed; 0 or negative from the copies. */
typedef struct kv_holder {
    void *(*alloc)(void *ud, size_t bytes);
    void  (*release)(void *ud, void *buf);
    int   (*upload)(void *ud, void *dst, const void *host_src, size_t bytes);
    int   (*download)(void *ud, void *host_dst, const void *src, size_t bytes);
    void  *ud;
    const char *name;   /* for messages: "ref backend" */
} kv_holder;

/* One layer's slice of the pool. Who holds the memory is the layer's own
 * business: where == NULL means host memory from malloc; otherwise mem's
 * buffers are the holder's (reached only through it). */
typedef struct kv_layer {
    const kv_holder *where;   /* holder of this slice: NULL = host */
    uint8_t **mem;     /* (max_blocks) layer block of each block id: [K (KV_BLOCK, row_k),
                          V (KV_BLOCK, row_v)] bytes, NULL until first used */
} kv_layer;

typedef struct kv_cache {
    int      n_layer;
    int      kv_dim;       /* n_head_kv * head_dim */
    int      max_pos;      /* per sequence (n_ctx) */
    int      max_blocks;   /* pool limit */
    pl_type  type_k, type_v;
    size_t   row_k, row_v;   /* bytes of one position's K / V row (kv_dim elements) */
    size_t   block_bytes;    /* one layer block: KV_BLOCK * (row_k + row_v) */
    kv_layer *layers;        /* (n_layer) each layer's pool */
    int     *refs;         /* (max_blocks) sequences holding each block */
    int     *free_ids;     /* (max_blocks) stack of unreferenced block ids */
    int      n_free;
    kv_seq  *seqs;         /* (n_seq_cap) */
    int      n_seq_cap;
    uint8_t *stage;        /* (stage_n) host bytes a held layer's block passes through */
    size_t   stage_n;
} kv_cache;

/* Re-rotate one K row (kv_dim elements, f32) of layer il by delta positions
 * (the layer matters: gemma3's local layers use another rope base). */
typedef void (*kv_rotate_fn)(float *k_row, int il, int delta, void *ud);

/* An F16 cache (kv_cache_new) or one of the given types; types must have a
 * block size dividing kv_dim and converters (kv_cache_type_ok). */
kv_cache *kv_cache_new(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_status *st);
kv_cache *kv_cache_new_typed(int n_layer, int kv_dim, int max_pos, int max_blocks, pl_type tk,
                             pl_type tv, pl_status *st);
/* 0 if rows of type t can hold heads of head_dim elements, else PL_ERR_UNSUPPORTED with why. */
int       kv_cache_type_ok(pl_type t, int head_dim, pl_status *st);
/* Re-type every live block (K to tk, V to tv) through f32; free blocks drop
 * their memory. On failure (out of memory) the cache is unchanged. */
int       kv_cache_convert(kv_cache *kv, pl_type tk, pl_type tv, pl_status *st);
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

/* Layer il's K rows (KV_BLOCK, row_k bytes) of block id b; V rows follow them.
 * The pointer is in the layer's memory: host code reads or writes its bytes
 * only through kv_bytes_get / kv_bytes_put (a held layer's are not host's). */
static inline uint8_t *kv_block_k(const kv_cache *kv, int b, int il)
{
    return kv->layers[il].mem[b];
}
static inline uint8_t *kv_block_v(const kv_cache *kv, int b, int il)
{
    return kv_block_k(kv, b, il) + (size_t)KV_BLOCK * kv->row_k;
}
/* Bytes of one position's K / V row of layer il, in type_k / type_v. */
static inline uint8_t *kv_k_data(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    return kv_block_k(kv, s->table[pos / KV_BLOCK], il) + (size_t)(pos % KV_BLOCK) * kv->row_k;
}
static inline uint8_t *kv_v_data(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    return kv_block_v(kv, s->table[pos / KV_BLOCK], il) + (size_t)(pos % KV_BLOCK) * kv->row_v;
}
/* The same rows as f16 elements: only for a cache of type F16. */
static inline pl_f16 *kv_k_row(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    return (pl_f16 *)(void *)kv_k_data(kv, s, il, pos);
}
static inline pl_f16 *kv_v_row(const kv_cache *kv, const kv_seq *s, int il, int pos)
{
    return (pl_f16 *)(void *)kv_v_data(kv, s, il, pos);
}
/* Layer il of sequence s as the backends see it (pl_kv_view): the layer's
 * blocks through the sequence's table, both read at use; the types are
 * copied, so a view lives no longer than one forward step. */
static inline pl_kv_view kv_view(const kv_cache *kv, const kv_seq *s, int il)
{
    return (pl_kv_view){ .blocks = kv->layers[il].mem, .table = s->table, .block_size = KV_BLOCK,
                         .type_k = kv->type_k, .type_v = kv->type_v, .row_k = kv->row_k,
                         .row_v = kv->row_v, .kv_dim = kv->kv_dim };
}
/* n bytes at src in layer il's memory -> host dst, and host src -> dst in
 * layer il's memory: a memcpy for a host layer, the holder's copies else.
 * 0, or negative (the holder's error). */
int kv_bytes_get(const kv_cache *kv, int il, void *dst, const uint8_t *src, size_t n);
int kv_bytes_put(const kv_cache *kv, int il, uint8_t *dst, const void *src, size_t n);

/* Moving a layer's slice to another holder (NULL = host) in two steps, so a
 * move of several layers can be undone until its last step: copy_to makes
 * fresh[b] (max_blocks entries) a copy of each live block on `to`, changing
 * nothing (-1 with st if to runs out of memory or a copy fails; the copies
 * are then released); adopt releases the old blocks (live or not) and makes
 * the copies the layer's; drop releases copies that are not adopted. */
int  kv_layer_copy_to(kv_cache *kv, int il, const kv_holder *to, uint8_t **fresh, pl_status *st);
void kv_layer_adopt(kv_cache *kv, int il, const kv_holder *to, uint8_t **fresh);
void kv_layer_drop(const kv_cache *kv, const kv_holder *to, uint8_t **fresh);
/* Bytes of layer il's live blocks (referenced by a sequence): what a move copies. */
size_t kv_layer_live_bytes(const kv_cache *kv, int il);

/* Blocks in use (referenced by at least one sequence), for tests and stats. */
int kv_cache_blocks_used(const kv_cache *kv);
/* Bytes layer il's pool holds now (its allocated layer blocks), for memory
 * accounting before a layer moves. */
size_t kv_layer_bytes(const kv_cache *kv, int il);

#endif
