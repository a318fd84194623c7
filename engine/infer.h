/* infer.h — the inference core: models, contexts, sequences, decoding, state, sampling.
 *
 * Life cycle: pl_model_load -> pl_ctx_new -> pl_seq_new -> { pl_decode ->
 * pl_logits -> pl_sampler_sample } -> pl_ctx_free -> pl_model_free.
 * A context is used by one thread at a time (the worker owns it).
 */
#ifndef PL_ENGINE_INFER_H
#define PL_ENGINE_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model -------------------------------------------------------------- */

typedef struct pl_model pl_model;

typedef struct pl_model_params {
    int  n_gpu_layers;   /* layers to offload (0 = CPU only) */
    bool mmap;           /* read weights in place from the file mapping instead of
                            copying them into 2 MiB pages (less memory, slower tg) */
} pl_model_params;

typedef struct pl_model_info {
    char     arch[32];        /* general.architecture */
    char     name[128];       /* general.name or file name */
    char     ftype[16];       /* dominant weight type, e.g. "q4_1" */
    uint64_t n_params;
    uint64_t file_size;
    uint32_t n_ctx_train;
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_vocab;
    char     chat_template[32];  /* recognised template name, or "unknown"/"none" */
    bool     resident;           /* weights copied into private (huge-page) memory, not mapped */
    uint64_t repacked_bytes;     /* of those, matrices in the CPU's 16-row layout (PL_LAYOUT_R16) */
    char     warning[192];       /* something the user should know about the file ("" = none),
                                    e.g. a chat template too large to read */
} pl_model_info;

pl_model_params pl_model_default_params(void);
pl_model *pl_model_load(const char *path, const pl_model_params *p, pl_status *st);
void      pl_model_free(pl_model *m);
void      pl_model_get_info(const pl_model *m, pl_model_info *out);
/* Weight bytes one decode step reads (the bandwidth bound of generation). */
uint64_t  pl_model_weight_bytes_per_token(const pl_model *m);

/* ---- context and sequences ------------------------------------------- */

typedef struct pl_ctx pl_ctx;

typedef struct pl_ctx_params {
    int     n_ctx;       /* positions in the KV cache per context; 0 = model's train length, capped at 4096 */
    int     n_threads;   /* 0 = all cores */
    int     n_batch;     /* max tokens per prefill chunk */
    pl_type type_k, type_v;
    bool    cpu_only;
    size_t  ref_mem_limit;   /* bytes the "ref" backend may hold (0 = no limit): a small
                                device in tests, to see placement refuse with numbers */
} pl_ctx_params;

pl_ctx_params pl_ctx_default_params(void);
pl_ctx *pl_ctx_new(pl_model *m, const pl_ctx_params *p, pl_status *st);
void    pl_ctx_free(pl_ctx *c);
int     pl_ctx_n_ctx(const pl_ctx *c);
int     pl_ctx_set_threads(pl_ctx *c, int n);
/* Seconds a plain read (a sum, the context's threads, one job) of every
 * weight byte one decode step reads takes, or < 0 out of memory: the
 * memory-bandwidth yardstick `parley bench --bench-bw` times after each token. */
double  pl_ctx_read_weights_s(pl_ctx *c);
/* Live KV-cache types (f16, q8_0, q4_0, ...; K and V separately), between two
 * decodes: the cache is converted in place block by block, every sequence
 * keeps its positions, tokens and logits. 0, or a code with st (unsupported
 * type for this model; out of memory: the cache keeps its old types). */
int     pl_ctx_set_kv_types(pl_ctx *c, pl_type k, pl_type v, pl_status *st);

/* ---- layer placement (engine/placement.c) -----------------------------
 * Each layer (its weights, in its backend's layout, and its slice of the KV
 * cache) lives on one backend: "cpu" (the host; the model's own weights) or
 * "ref" (the scalar reference kernels with their own buffers: a second
 * backend on every machine; later a GPU). Between two decodes,
 * pl_ctx_place_layers moves layers [il0, il1] to a backend: it first adds
 * up what the target must hold (weight copies in its layout, the layers'
 * live KV blocks) and refuses, with the numbers and nothing moved, when the
 * target's free memory is less; a failure while copying undoes everything
 * (the context is exactly as before) and says why. Every sequence keeps its
 * positions and logits. The context starts the backends it needs (its
 * thread count; ref's limit: pl_ctx_params.ref_mem_limit) and frees them. */
int pl_ctx_place_layers(pl_ctx *c, int il0, int il1, const char *backend, pl_status *st);
/* "cpu", "ref", ...: the backend layer il is on; NULL for no such layer. */
const char *pl_ctx_layer_backend_name(const pl_ctx *c, int il);

/* What one backend holds for this context. */
typedef struct pl_backend_usage {
    const char *name;
    int      n_layers;        /* layers placed on it */
    uint64_t weight_bytes;    /* copies of their weights it holds (the CPU runs the model's own: 0) */
    uint64_t kv_bytes;        /* their live KV blocks */
    uint64_t mem_used, mem_total;   /* the backend's own count (its limit, or its memory); 0, 0 for the host */
} pl_backend_usage;
/* Fill out[0..max) (cpu first, then each backend started); returns how many. */
int pl_ctx_backend_usage(const pl_ctx *c, pl_backend_usage *out, int max);
/* One line for a status bar: "cpu 0-9,30-31 · ref 10-29 (52.3 MiB)"; returns buf. */
const char *pl_ctx_placement_str(const pl_ctx *c, char *buf, size_t n);

/* Sequences: independent token streams sharing the context's KV pool. */
int  pl_seq_new(pl_ctx *c, pl_status *st);             /* >= 0 id, -1 on error */
int  pl_seq_fork(pl_ctx *c, int seq, pl_status *st);   /* copy of seq's cache */
void pl_seq_free(pl_ctx *c, int seq);
int  pl_seq_len(const pl_ctx *c, int seq);              /* positions held */
const int32_t *pl_seq_tokens(const pl_ctx *c, int seq); /* the pl_seq_len tokens held */
int  pl_seq_truncate(pl_ctx *c, int seq, int n);        /* keep the first n positions */
/* Drop n_discard positions after the first n_keep, re-rotating later keys. */
int  pl_seq_shift(pl_ctx *c, int seq, int n_keep, int n_discard, pl_status *st);

/* Append n tokens to seq and run the model on them (batched prefill or one step).
 * Afterwards pl_logits(c, seq) holds the logits of the last token. */
int pl_decode(pl_ctx *c, int seq, const int32_t *tokens, int n, pl_status *st);
const float *pl_logits(const pl_ctx *c, int seq);

/* Batched decode: rows from several sequences in one call (engine/batch.c).
 * Each row is a token of one sequence at that sequence's next position: its
 * length before the call plus the rows of it earlier in the batch (no gaps,
 * no rewrites; rows of different sequences may interleave). Rows with
 * logits = true keep theirs, readable with pl_logits_row until the next
 * decode; afterwards pl_logits(c, seq) holds the logits of seq's last row
 * if that row asked for them (else NULL).
 * Everything is checked before anything runs: an empty batch, an unknown
 * sequence, a token outside the vocabulary, a position gap or a position past
 * the context is refused with st and changes nothing. A failure while running
 * (cancelled, cache pool full) leaves the sequences decoded so far advanced:
 * pl_seq_len says how far. */
typedef struct pl_batch_row {
    int32_t token;
    int     seq;
    int     pos;
    bool    logits;   /* keep this row's logits */
} pl_batch_row;

typedef struct pl_batch {
    const pl_batch_row *rows;
    int                 n;
} pl_batch;

int pl_decode_batch(pl_ctx *c, const pl_batch *b, pl_status *st);
/* Logits (n_vocab) of row i of the last pl_decode_batch; NULL if that row did
 * not ask for them, i is out of range, or another decode ran since. */
const float *pl_logits_row(const pl_ctx *c, int i);

/* Checked between chunks/tokens; set from another thread to cancel pl_decode. */
void pl_ctx_set_abort(pl_ctx *c, atomic_int *flag);

/* ---- state snapshots (engine/state.c) ---------------------------------
 * A sequence's tokens, its K/V rows in the cache's current types (recorded in
 * the payload) and its last logits, as bytes for a snapshot file (sessions/
 * wraps them in a checksummed header). Load checks every size and type before
 * touching the cache; a mismatch (other model shape, other K/V types: stale)
 * or a short read fails with st and leaves the sequence empty, so the caller
 * re-decodes. size: the payload bytes available in f. */
int  pl_state_save(pl_ctx *c, int seq, FILE *f, pl_status *st);
int  pl_state_load(pl_ctx *c, int seq, FILE *f, uint64_t size, pl_status *st);
/* The K and V types the cache holds now (what a snapshot records). */
void pl_state_kv_types(const pl_ctx *c, pl_type *k, pl_type *v);

/* ---- sampling -------------------------------------------------------- */

typedef struct pl_sampler_params {
    float    temp;            /* <= 0: greedy */
    int      top_k;           /* <= 0: off */
    float    top_p;           /* >= 1: off */
    float    min_p;           /* <= 0: off */
    float    repeat_penalty;  /* 1: off */
    float    freq_penalty, presence_penalty;
    int      penalty_last_n;  /* tokens looked back for penalties */
    uint64_t seed;
} pl_sampler_params;

typedef struct pl_sampler pl_sampler;

pl_sampler_params pl_sampler_default_params(void);
pl_sampler *pl_sampler_new(const pl_sampler_params *p);
void        pl_sampler_free(pl_sampler *s);
void        pl_sampler_reset(pl_sampler *s);                  /* forget history, re-seed */
void        pl_sampler_accept(pl_sampler *s, int32_t tok);    /* history for penalties */
int32_t     pl_sampler_sample(pl_sampler *s, const float *logits, int n_vocab);

/* seed value asking for a fresh seed from the clock (at new and each reset);
 * every other value, 0 included, is used as is (default 42: reproducible). */
#define PL_SEED_RANDOM UINT64_MAX

#ifdef __cplusplus
}
#endif
#endif
