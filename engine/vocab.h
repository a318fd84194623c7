/* vocab.h — the tokenizer room's door (engine-internal).
 *
 * A pl_vocab is everything needed to turn text into token ids and back,
 * loaded once from the GGUF's tokenizer.* keys and then read-only (so many
 * threads may tokenize with one vocab at the same time). It copies what it
 * needs out of the file, so the gguf_file may be closed afterwards.
 *
 * Two models, as in llama.cpp:
 *   SPM ("llama"): SentencePiece-style; spaces become U+2581, adjacent pieces
 *       merge by best score, unknown characters fall back to <0xXX> tokens.
 *   BPE ("gpt2"):  byte-level BPE; a pre-tokenizer (PCRE2 regexes chosen by
 *       tokenizer.ggml.pre) cuts the text into words, each word's bytes are
 *       mapped to printable characters (GPT-2's byte-to-unicode table) and
 *       merged by rank.
 * Special tokens (CONTROL, USER_DEFINED, UNKNOWN types) are cut out of the
 * text first, longest first, when parse_special asks (USER_DEFINED always).
 *
 * The public wrappers (pl_tokenize, ...) are in tokenize_api.c.
 */
#ifndef PL_VOCAB_H
#define PL_VOCAB_H

#include "engine.h"
#include "gguf.h"

typedef struct pl_vocab pl_vocab;   /* also declared in model.h */

/* Token attributes (bit flags; GGUF token_type values are mapped onto them). */
enum {
    VOCAB_ATTR_UNDEFINED    = 0,
    VOCAB_ATTR_UNKNOWN      = 1 << 0,
    VOCAB_ATTR_UNUSED       = 1 << 1,
    VOCAB_ATTR_NORMAL       = 1 << 2,
    VOCAB_ATTR_CONTROL      = 1 << 3,
    VOCAB_ATTR_USER_DEFINED = 1 << 4,
    VOCAB_ATTR_BYTE         = 1 << 5,
};

typedef enum vocab_kind { VOCAB_SPM = 0, VOCAB_BPE = 1 } vocab_kind;

/* A byte span inside one of the vocab's arenas. */
typedef struct vocab_span { uint32_t off, len; } vocab_span;

typedef struct vocab_token {
    vocab_span text;    /* in text_arena */
    vocab_span piece;   /* in piece_arena: the bytes it decodes to */
    float      score;
    uint8_t    attr;
} vocab_token;

typedef struct vocab_merge {
    vocab_span left, right;   /* in merge_arena */
} vocab_merge;

typedef struct pretok pretok;       /* compiled pre-tokenizer (pretokenize.c) */
typedef struct vocab_trie vocab_trie;  /* special-token matcher (tokenize.c) */

struct pl_vocab {
    vocab_kind   kind;
    int32_t      n_tokens;
    vocab_token *toks;          /* (n_tokens) */
    char        *text_arena;
    char        *piece_arena;
    uint32_t    *tok_hash;      /* open addressing: id + 1, 0 = empty */
    uint32_t     tok_hash_mask;

    uint32_t     n_merges;
    vocab_merge *merges;        /* (n_merges), index = rank */
    char        *merge_arena;
    uint32_t    *merge_hash;    /* rank + 1, 0 = empty */
    uint32_t     merge_hash_mask;

    int32_t bos, eos, eot, eom, unk, pad, sep, nl;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    uint8_t *eog;               /* (n_tokens) 1 = ends generation */

    bool add_bos, add_eos, add_space_prefix, clean_spaces, ignore_merges;
    int32_t byte_tok[256];      /* token for a raw byte (fallback), -1 if none */

    char     model_name[32];    /* tokenizer.ggml.model */
    char     pre_name[64];      /* tokenizer.ggml.pre ("default" if absent) */
    pretok  *pre;               /* BPE only */

    int32_t    *special;        /* CONTROL|USER_DEFINED|UNKNOWN ids, longest text first */
    int32_t     n_special;
    vocab_trie *trie;           /* matches any special text at a position */
    int32_t    *special_rank;   /* (n_tokens) index into special[] or -1 */
};

/* ---- load / free (vocab.c) ------------------------------------------- */

/* Build the vocab from f's tokenizer.* keys. NULL + st on error. */
pl_vocab *vocab_load(const gguf_file *f, pl_status *st);
void      vocab_free(pl_vocab *v);

/* Id of the token whose text is exactly s[0..len), or -1. */
int32_t vocab_find(const pl_vocab *v, const char *s, size_t len);
/* Rank of the merge "left right", or -1. */
int32_t vocab_merge_rank(const pl_vocab *v, const char *l, size_t ll, const char *r, size_t rl);
/* Token text (not NUL-terminated) and its length. */
const char *vocab_text(const pl_vocab *v, int32_t id, uint32_t *len);
/* FNV-1a over bytes, continuing from h (start with VOCAB_HASH_SEED). */
#define VOCAB_HASH_SEED 2166136261u
uint32_t vocab_hash(uint32_t h, const char *s, size_t len);

/* ---- growable token list used while tokenizing ---------------------- */

typedef struct tok_vec { int32_t *v; size_t n, cap; bool oom; } tok_vec;
void tok_vec_push(tok_vec *tv, int32_t id);

/* ---- tokenizers ------------------------------------------------------ */

/* Text (valid UTF-8, no special tokens) -> ids appended to out; on out of
 * memory out->oom is set. space_prefix: SPM's leading-space rule. */
void spm_tokenize(const pl_vocab *v, const char *text, size_t len, bool space_prefix, tok_vec *out);
void bpe_tokenize(const pl_vocab *v, const char *text, size_t len, tok_vec *out);

/* Full pipeline: sanitize UTF-8, cut out special tokens, add BOS/EOS.
 * Returns the token count (as pl_tokenize); -1 on out of memory. */
int vocab_tokenize(const pl_vocab *v, const char *text, size_t len, int32_t *out, int max,
                   bool add_special, bool parse_special);

/* Special-token list and matcher (tokenize.c); 0 or -1 on out of memory. */
int  vocab_build_special(pl_vocab *v);
void vocab_trie_free(vocab_trie *t);

/* ---- pre-tokenizer (pretokenize.c) ------------------------------------ */

/* Per tokenizer.ggml.pre: regexes and the flags llama.cpp attaches to it. */
typedef struct pretok_info {
    bool clean_spaces, ignore_merges, force_add_bos, no_bos;
} pretok_info;

/* Compile the regexes for name; NULL + st if the name is unknown. */
pretok *pretok_new(const char *name, pretok_info *info, pl_status *st);
void    pretok_free(pretok *p);
/* Split text into words; calls fn(word, len, ud) for each in order.
 * Returns 0, or -1 on out of memory / regex failure. */
int pretok_split(const pretok *p, const char *text, size_t len,
                 void (*fn)(const char *w, size_t n, void *ud), void *ud);
/* The i-th supported pre-tokenizer name, NULL past the end. */
const char *pretok_name(size_t i);

/* ---- byte-level mapping (tokenize_bpe.c) ------------------------------ */

/* UTF-8 of the printable character GPT-2 uses for byte b; returns its length. */
int bpe_byte_to_utf8(uint8_t b, char out[2]);
/* Inverse for one code point; -1 if cp stands for no byte. */
int bpe_cp_to_byte(uint32_t cp);

/* ---- pieces (detokenize.c) ------------------------------------------ */

/* Fill every token's piece (called once by vocab_load). 0 or -1 on OOM. */
int  vocab_build_pieces(pl_vocab *v);
/* As pl_token_to_piece; lstrip drops up to that many leading spaces. */
int  vocab_token_to_piece(const pl_vocab *v, int32_t tok, char *buf, int len, int lstrip,
                          bool special);
/* llama_detokenize: concatenation of pieces, leading-space and clean-up rules
 * as llama.cpp; returns length or -(needed). */
int  vocab_detokenize(const pl_vocab *v, const int32_t *toks, int n, char *buf, int len,
                      bool remove_special, bool unparse_special);

/* ---- UTF-8 helpers (utf8.c) -------------------------------------------- */

/* Length of the well-formed sequence at s (1..4), or 0 if s[0] starts none. */
int utf8_seq_len(const unsigned char *s, size_t avail);
/* Decode the well-formed sequence at s of length n. */
uint32_t utf8_decode(const unsigned char *s, int n);
/* Encode cp (<= 0x10FFFF); returns bytes written (1..4). */
int utf8_encode(uint32_t cp, char out[4]);

/* ---- the model's side of the contract (engine/model.h) ----------------- */
const pl_vocab *model_vocab(const pl_model *m);

#endif
