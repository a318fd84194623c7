/* text.h — text in and out of a model: tokens, chat templates, UTF-8, terminal-safe text, stop strings.
 */
#ifndef PL_ENGINE_TEXT_H
#define PL_ENGINE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct pl_model pl_model;

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
