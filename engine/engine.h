/* engine.h — the public door of parley's inference engine.
 *
 * Everything outside engine/ talks to the engine through this header only.
 * No call prints, exits or aborts on input: each fallible call fills a
 * pl_status with a code and a message a person can act on.
 *
 * Life cycle: pl_model_load -> pl_ctx_new -> pl_seq_new -> { pl_decode ->
 * pl_logits -> pl_sampler_sample } -> pl_ctx_free -> pl_model_free.
 * A context is used by one thread at a time (the worker owns it).
 */
#ifndef PL_ENGINE_H
#define PL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../backends/quant_blocks.h"   /* pl_type */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum pl_code {
    PL_OK = 0,
    PL_ERR_IO,           /* open/read/write/mmap failed */
    PL_ERR_FORMAT,       /* malformed, truncated or hostile file */
    PL_ERR_UNSUPPORTED,  /* valid but not supported (architecture, type, template) */
    PL_ERR_NOMEM,
    PL_ERR_ARG,          /* bad argument from the caller */
    PL_ERR_CONTEXT_FULL, /* tokens do not fit the context */
    PL_ERR_CANCELLED
} pl_code;

typedef struct pl_status {
    pl_code code;
    char msg[512];
} pl_status;

/* Fill st (if not NULL) with code and a printf-style message; returns code. */
pl_code pl_status_set(pl_status *st, pl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void pl_status_ok(pl_status *st) { if (st) { st->code = PL_OK; st->msg[0] = 0; } }

const char *pl_type_name(pl_type t);           /* "q4_0", "f16", ... or NULL if unknown */
int         pl_type_from_name(const char *s);  /* -1 if unknown */

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

/* ---- tokens ------------------------------------------------------------- */

/* Tokenize len bytes of text (invalid UTF-8 is replaced by U+FFFD first).
 * add_special: prepend BOS (and EOS) as the model's metadata asks.
 * parse_special: treat text such as "<|im_start|>" as the control token.
 * Returns the number of tokens; if larger than max, out holds the first max
 * and the caller may retry with a bigger buffer. Negative on error. */
int pl_tokenize(const pl_model *m, const char *text, size_t len, int32_t *out, int max,
                bool add_special, bool parse_special);

/* Bytes of the token's text into buf (not NUL-terminated); returns the length,
 * or -(needed) if len is too small. Control tokens render as empty unless special. */
int pl_token_to_piece(const pl_model *m, int32_t tok, char *buf, int len, bool special);

int32_t pl_token_bos(const pl_model *m);     /* -1 if none */
int32_t pl_token_eos(const pl_model *m);
bool    pl_token_is_eog(const pl_model *m, int32_t tok);  /* EOS, EOT, <|im_end|>, ... */
int     pl_n_vocab(const pl_model *m);

/* Concatenated pieces of n tokens, with llama.cpp's detokenize rules (the SPM
 * prefix space is dropped; remove_special drops the BOS/EOS the tokenizer adds;
 * unparse_special renders control tokens as their text). Not NUL-terminated;
 * returns the length, or -(needed) if len is too small. */
int pl_detokenize(const pl_model *m, const int32_t *toks, int n, char *buf, int len,
                  bool remove_special, bool unparse_special);

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the longest prefix of s that does not end inside an unfinished
 * character: show that much of a token stream, keep the rest for the next piece.
 * Ill-formed bytes count as complete (they display as U+FFFD). */
size_t pl_utf8_complete_len(const char *s, size_t len);
/* Copy in to out replacing each byte that does not begin a well-formed UTF-8
 * sequence by U+FFFD. Writes at most cap bytes (no NUL); returns the full
 * output length (<= 3 * len), so (NULL, 0) measures. */
size_t pl_utf8_sanitize(const char *in, size_t len, char *out, size_t cap);

/* ---- text bound for a terminal ------------------------------------------ */

/* True for the characters a terminal acts on instead of showing: C0 controls
 * other than '\n' and '\t', DEL, and C1 U+0080..U+009F. */
bool   pl_cp_is_control(uint32_t cp);
/* pl_utf8_sanitize that also turns each control character (pl_cp_is_control)
 * into U+FFFD: use it on every text parley did not write before it reaches a
 * terminal. Writes at most cap bytes (no NUL); returns the full length. */
size_t pl_term_sanitize(const char *in, size_t len, char *out, size_t cap);
/* The same for a C string, NUL-terminated in out and cut at a character
 * boundary if it does not fit; returns the length written. */
size_t pl_term_sanitize_str(const char *in, char *out, size_t cap);

/* Streamed text (model output in token pieces): a character split across two
 * pieces is held, not replaced. Zero-initialise; feed each piece, then end. */
typedef struct pl_term_stream {
    char   held[4];
    size_t n_held;
} pl_term_stream;
/* Output needs at most PL_TERM_STREAM_MAX(len) bytes for a piece of len. */
#define PL_TERM_STREAM_MAX(len) (3 * ((len) + 4))
/* Sanitized complete characters of held + in into out (at most cap bytes);
 * returns their full length. The bytes of an unfinished character are kept. */
size_t pl_term_stream_feed(pl_term_stream *s, const char *in, size_t len, char *out, size_t cap);
/* Flush at the end: an unfinished character becomes U+FFFD. */
size_t pl_term_stream_end(pl_term_stream *s, char *out, size_t cap);

/* ---- chat templates ---------------------------------------------------- */

typedef struct pl_chat_msg {
    const char *role;     /* "system" | "user" | "assistant" */
    const char *content;
} pl_chat_msg;

/* Render msgs with the model's template (or override by name: "chatml", "llama2",
 * "llama3", "gemma", "mistral-v7", "phi3", "deepseek", ... see pl_chat_template_list;
 * NULL = recognised from the GGUF's tokenizer.chat_template). Output is what
 * llama.cpp's built-in llama_chat_apply_template writes (no Jinja is run).
 * A template that is missing or not recognised falls back to ChatML: st->code
 * is PL_OK and st->msg says so. Writes at most len bytes incl. NUL; returns the
 * full length needed, or -1 on error (unknown override name: st lists names). */
int pl_chat_render(const pl_model *m, const char *tmpl_override, const pl_chat_msg *msgs, int n,
                   bool add_generation_prompt, char *buf, int len, pl_status *st);
const char *pl_chat_template_name(const pl_model *m, const char *tmpl_override);
const char *const *pl_chat_template_list(void);   /* NULL-terminated */

/* ---- context and sequences ------------------------------------------- */

typedef struct pl_ctx pl_ctx;

typedef struct pl_ctx_params {
    int     n_ctx;       /* positions in the KV cache per context; 0 = model's train length, capped at 4096 */
    int     n_threads;   /* 0 = all cores */
    int     n_batch;     /* max tokens per prefill chunk */
    pl_type type_k, type_v;
    bool    cpu_only;
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

/* Checked between chunks/tokens; set from another thread to cancel pl_decode. */
void pl_ctx_set_abort(pl_ctx *c, volatile int *flag);

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

/* ---- stop strings (engine/stop.c) -------------------------------------
 * Generated text passes through a stopper: text that could be the start of a
 * stop string is held back until it is known not to be one, so the caller
 * never shows a stop string or a piece of it. */

typedef struct pl_stopper pl_stopper;

/* stops: n strings (copied; empty ones ignored). NULL on out of memory. */
pl_stopper *pl_stopper_new(const char *const *stops, int n);
/* Add len bytes of generated text; writes the bytes now safe to show into out
 * (at most cap; the rest stays held and comes with the next feed or flush) and
 * returns how many. *stopped becomes true once a stop string is complete: out
 * then ends just before it, and later feeds return 0. cap >= len + the longest
 * stop string always suffices. -1 on bad arguments. */
int  pl_stopper_feed(pl_stopper *s, const char *piece, int len, char *out, int cap, bool *stopped);
/* End of generation: release what is still held (after a stop: only text
 * before the stop string that did not fit cap earlier). */
int  pl_stopper_flush(pl_stopper *s, char *out, int cap);
void pl_stopper_reset(pl_stopper *s);   /* forget held text and the stopped state */
void pl_stopper_free(pl_stopper *s);

/* ---- model catalog (engine/catalog.c, engine/catalog_sources.c) -------
 * The GGUF models on this machine, read in place from parley's models dir,
 * extra paths, Ollama's store, the Hugging Face hub cache, llama.cpp's cache
 * and LM Studio. Only headers are read (no model is loaded), so a scan of a
 * few dozen models takes milliseconds. Used by `parley models` and the TUI's
 * model picker (which greys out entries with supported == false). */

typedef struct pl_model_entry {
    char     path[1024];    /* the file to pl_model_load (first part of a split GGUF) */
    char     display[256];  /* relative file name, "org/repo/file.gguf" or Ollama "name:tag" */
    char     source[16];    /* "parley","path","ollama","hf","llama.cpp","lmstudio" */
    char     name[128];     /* general.name, "" if absent */
    char     arch[32];      /* general.architecture, "" if unreadable */
    char     quant[16];     /* "Q4_1", "Q4_K_M", "F16", ... ("" if unknown) */
    uint64_t n_params;      /* sum over tensors of their element counts */
    uint64_t file_size;     /* bytes, all parts of a split GGUF */
    uint64_t mem_need;      /* file_size + f16 KV cache for min(n_ctx_train, 4096) positions */
    uint32_t n_ctx_train;   /* <arch>.context_length, 0 if absent */
    bool     supported;     /* parley can load and run it */
    char     reason[128];   /* why not, e.g. "architecture 'mamba' is not supported" */
    bool     fits_ram;      /* mem_need < MemAvailable (true if MemAvailable is unknown) */
} pl_model_entry;

/* A directory the catalog looks in (exists: it is there now). */
typedef struct pl_catalog_root {
    char source[16];
    char dir[1024];
    bool exists;
} pl_catalog_root;

#define PL_CATALOG_MAX_ROOTS 32

/* The directories a scan visits, in order. models_dir NULL/"" = the default
 * ($PARLEY_MODELS or ~/.local/share/parley/models); extra_paths ':'-separated
 * (a leading ~/ is the home directory). Returns the count (<= max). */
int  pl_catalog_roots(const char *models_dir, const char *extra_paths,
                      pl_catalog_root *out, int max);
/* Scan every root: *out gets a malloc'd array (free with pl_catalog_free),
 * deduplicated by file identity, sorted by source then display name.
 * Returns the count (0: nothing found), or -1 with st on failure (out of memory).
 * A corrupt file is an entry with supported == false and the reader's reason. */
int  pl_catalog_scan(const char *models_dir, const char *extra_paths,
                     pl_model_entry **out, pl_status *st);
void pl_catalog_free(pl_model_entry *entries);
/* One file's entry (metadata only), e.g. to tell why `-m FILE` cannot run.
 * Returns 0; e->supported == false with e->reason when it cannot be used. */
int  pl_catalog_inspect(const char *path, pl_model_entry *e);

/* The file behind `-m MODEL` (malloc'd): MODEL itself when it exists or is
 * written as a path (/, ./, ../), else
 * the one catalog entry named MODEL as `parley models` lists it (file name
 * with or without .gguf, Ollama's "model:tag" or "model"). NULL with st when
 * no model or several have that name, or the one found cannot run. */
char *pl_catalog_resolve(const char *model, const char *models_dir, const char *extra_paths,
                         pl_status *st);

/* True if the engine has a forward pass for general.architecture == arch (engine/arch.c). */
bool pl_arch_supported(const char *arch);
/* llama.cpp's name of a general.file_type id ("Q4_K_M"), NULL if unknown. */
const char *pl_ftype_name(uint32_t ftype);
/* "135M", "1.1B", "7.2B"; "?" for 0. Returns buf. */
const char *pl_catalog_fmt_params(uint64_t n, char *buf, size_t len);
/* "94.1 MiB", "4.07 GiB". Returns buf. */
const char *pl_catalog_fmt_size(uint64_t bytes, char *buf, size_t len);
/* MemAvailable from /proc/meminfo in bytes; 0 if unknown. */
uint64_t pl_mem_available(void);

/* ---- quantize (engine/quantize.c, engine/quantize_recipe.c) -----------
 * `parley quantize IN OUT TYPE`: every 2-D weight matrix is converted to the
 * type llama.cpp's recipe for TYPE gives it (Q4_K_M: more bits for attn_v and
 * ffn_down in some layers, Q6_K output, ...); other tensors and all metadata
 * are copied (general.file_type updated). Tensor order and alignment are kept.
 * The output is written atomically: on any failure no file is left behind. */

typedef struct pl_quant_event {
    int         index, total;   /* 1-based tensor number, tensors in the file */
    const char *name;           /* NUL-terminated, valid during the callback */
    uint32_t    n_dims;
    uint64_t    ne[4];
    pl_type     from, to;       /* to == from: copied as is */
    pl_type     wanted;         /* the recipe's type before a fallback */
    bool        converted;      /* data rewritten (else copied byte for byte) */
    bool        requantized;    /* converted from an already-quantized type */
    bool        fallback;       /* row length not a multiple of wanted's block */
} pl_quant_event;

typedef struct pl_quant_stats {
    uint64_t in_bytes, out_bytes;   /* file sizes */
    int      n_tensors, n_converted, n_copied, n_requantized, n_fallback;
    double   seconds;
} pl_quant_stats;

typedef void (*pl_quant_progress_fn)(void *ud, const pl_quant_event *ev);

/* The type names pl_quantize_file accepts ("Q4_K_M", ...), NULL-terminated. */
const char *const *pl_quantize_type_names(void);
/* True if type_name (case-insensitive) is one of them. */
bool pl_quantize_type_known(const char *type_name);
/* Convert in to out. n_threads 0 = all cores. progress (may be NULL) is called
 * once per tensor before its conversion; stats (may be NULL) filled on success. */
pl_code pl_quantize_file(const char *in, const char *out, const char *type_name, int n_threads,
                         pl_quant_progress_fn progress, void *ud, pl_quant_stats *stats,
                         pl_status *st);

/* ---- worker thread (engine/worker.c) ---------------------------------
 * The worker owns the model and context on its own thread; the UI talks to it
 * only through a request queue, an event queue and a wake-up fd that becomes
 * readable when events are waiting (poll it beside stdin). Requests are typed
 * (LOAD, GENERATE, SET_KNOB, SAVE_STATE, RESTORE, QUIT); CANCEL is an atomic flag checked between
 * tokens and prefill chunks. Knob requests are applied between two tokens,
 * so a change lands mid-answer. Every request returns its id (0: out of
 * memory); every event carries the id of the request it answers. */

typedef struct pl_worker pl_worker;

typedef struct pl_load_params {
    const char     *path;          /* copied */
    pl_model_params model;
    pl_ctx_params   ctx;
} pl_load_params;

typedef struct pl_gen_params {
    pl_sampler_params  sampler;
    int                n_predict;      /* -1: until the end of the answer */
    const char *const *stop;           /* NULL-terminated stop strings or NULL; copied */
    const char        *tmpl_override;  /* NULL: the model's template; copied */
    bool               shift_on_full;  /* context full: drop oldest turns (true) or stop */
} pl_gen_params;

typedef enum pl_event_kind {
    PL_EV_LOAD_PROGRESS,  /* progress 0..1, or < 0 when unknown; text = stage */
    PL_EV_LOADED,         /* state */
    PL_EV_TOKEN,          /* text/len: complete UTF-8 only (partial sequences are held back) */
    PL_EV_DONE,           /* stats */
    PL_EV_ERROR,          /* text: a message a person can act on */
    PL_EV_NOTICE,         /* text, e.g. "context full: dropped 3 oldest turns" */
    PL_EV_KNOB,           /* text "name=value" as applied; state */
    PL_EV_RESTORE_PROGRESS, /* RESTORE re-decoding: progress 0..1 */
    PL_EV_RESTORED,       /* RESTORE done: stats (n_prompt, n_reused, n_restored), seconds;
                             text = why the snapshot was not used (NULL if used or absent) */
    PL_EV_STATE_SAVED     /* SAVE_STATE done: seconds; text = the error, NULL if saved */
} pl_event_kind;

typedef struct pl_gen_stats {
    int    n_prompt;          /* tokens of the rendered conversation */
    int    n_reused;          /* of which were already in the KV cache (common prefix) */
    int    n_gen;             /* tokens generated */
    double prefill_tps, gen_tps;
    int    n_ctx_used, n_ctx;
    int    n_dropped_turns;   /* oldest turns left out to fit the context */
    bool   cancelled, context_full, hit_limit;
    int    n_restored;        /* RESTORED: tokens read from the snapshot (0: none used) */
} pl_gen_stats;

typedef struct pl_engine_state {
    bool          loaded;
    pl_model_info info;
    int           n_ctx, n_ctx_used, n_threads, n_gpu_layers;
    pl_type       type_k, type_v;
} pl_engine_state;

typedef struct pl_event {
    pl_event_kind   kind;
    uint32_t        req_id;
    float           progress;
    char           *text;     /* NUL-terminated, owned by the event */
    size_t          len;
    pl_gen_stats    stats;
    pl_engine_state state;
    double          seconds;  /* RESTORED, STATE_SAVED: how long it took */
} pl_event;

pl_worker *pl_worker_new(pl_status *st);
void       pl_worker_free(pl_worker *w);          /* cancels, QUITs, joins */
int        pl_worker_event_fd(const pl_worker *w);
uint32_t   pl_worker_load(pl_worker *w, const pl_load_params *p);
uint32_t   pl_worker_generate(pl_worker *w, const pl_chat_msg *msgs, int n, const pl_gen_params *p);
uint32_t   pl_worker_set_knob(pl_worker *w, const char *name, const char *value);
/* Stop the answer being generated (what was sent stays sent) or the RESTORE
 * being decoded, and drop queued GENERATEs and RESTOREs. A dropped request is
 * still answered at once: DONE / RESTORED with stats.cancelled set. Every
 * request but QUIT ends with exactly one event carrying its id (DONE,
 * RESTORED, STATE_SAVED, LOADED or ERROR for a load, KNOB/ERROR/NOTICE for a
 * knob), even out of memory; pl_worker_free drops queued loads (ERROR). */
void       pl_worker_cancel(pl_worker *w);
/* Snapshots: the worker owns the context, so it writes and reads the state
 * itself, on its thread, through these callbacks (the TUI wraps them around
 * sessions/' atomic, checksummed snapshot files). key: what the request named
 * (a file path). write/read are handed to the callback to produce or consume
 * the payload (they call pl_state_save / pl_state_load). */
typedef struct pl_state_desc {
    const char *model_path;
    pl_type     type_k, type_v;
    int         n_tokens;
} pl_state_desc;
typedef int (*pl_state_write_fn)(void *wctx, FILE *f);
typedef int (*pl_state_read_fn)(void *rctx, FILE *f, uint64_t size);
typedef struct pl_snapshot_io {
    void *ud;
    /* 0 saved, -1 with msg. */
    int (*save)(void *ud, const char *key, const pl_state_desc *d, pl_state_write_fn write, void *wctx,
                char *msg, size_t len);
    /* 0 restored; 1 no snapshot (re-decode quietly); -1 rejected (stale, corrupt): msg says why. */
    int (*load)(void *ud, const char *key, const pl_state_desc *d, pl_state_read_fn read, void *rctx,
                char *msg, size_t len);
} pl_snapshot_io;

/* Set once, before requests that use it; io is copied. */
void       pl_worker_set_snapshot_io(pl_worker *w, const pl_snapshot_io *io);
/* SAVE_STATE: snapshot the conversation's sequence under key (-> STATE_SAVED). */
uint32_t   pl_worker_save_state(pl_worker *w, const char *key);
/* RESTORE: make the KV cache hold msgs (rendered without a generation prompt):
 * from the snapshot under key when it loads, then decode what is missing,
 * in the background with RESTORE_PROGRESS events (-> RESTORED). Cancel stops it;
 * a later GENERATE reuses whatever was decoded. */
uint32_t   pl_worker_restore(pl_worker *w, const char *key, const pl_chat_msg *msgs, int n, const pl_gen_params *p);
/* Pop one event (false: none left; the fd is drained). Free with pl_event_free. */
bool       pl_worker_next_event(pl_worker *w, pl_event *ev);
void       pl_event_free(pl_event *ev);

#ifdef __cplusplus
}
#endif
#endif
