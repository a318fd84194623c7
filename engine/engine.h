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
    int n_gpu_layers;   /* layers to offload (0 = CPU only) */
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
} pl_model_info;

pl_model_params pl_model_default_params(void);
pl_model *pl_model_load(const char *path, const pl_model_params *p, pl_status *st);
void      pl_model_free(pl_model *m);
void      pl_model_get_info(const pl_model *m, pl_model_info *out);

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

/* ---- chat templates ---------------------------------------------------- */

typedef struct pl_chat_msg {
    const char *role;     /* "system" | "user" | "assistant" */
    const char *content;
} pl_chat_msg;

/* Render msgs with the model's template (or override: "chatml", "llama2", "llama3",
 * "gemma", "mistral", "phi3", "deepseek", ...; NULL = from the GGUF).
 * Writes at most len bytes incl. NUL; returns the full length needed, or -1 on
 * error (unknown override name, no template). */
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

#ifdef __cplusplus
}
#endif
#endif
