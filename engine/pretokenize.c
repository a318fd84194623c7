/* pretokenize.c — cut text into words before byte-level BPE merges.
 *
 * tokenizer.ggml.pre names a pre-tokenizer; each is a list of regexes applied
 * in turn, as llama.cpp does: regex k splits every piece left by regex k-1,
 * matches and the unmatched gaps between them both become pieces, and a
 * regex never looks across a piece boundary (each piece is its own subject).
 * The regexes are llama.cpp's (which adapt the HF tokenizer.json ones), run
 * through PCRE2 with UTF and Unicode properties (UCP), compiled once per
 * vocab and JIT-compiled where PCRE2 can. A compiled pretok is read-only
 * after pretok_new, so several threads may split with it at once.
 *
 * The table also carries the flags llama.cpp ties to a pre name: whether
 * detokenizing cleans spaces before punctuation, whether a whole word found
 * in the vocab skips the merges (llama3), and BOS defaults.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

#define MAX_REGEX 6

/* The GPT-2 regex; llama.cpp's own splitter for it also ends in \s+. */
#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RX_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RX_LLAMA3 RX_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN2 RX_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_UPPER "((?=[\\p{L}])([^a-z]))"
#define RX_LOWER "((?=[\\p{L}])([^A-Z]))"
#define RX_GPT4O "[^\\r\\n\\p{L}\\p{N}]?" RX_UPPER "*" RX_LOWER "+" RX_CONTRACT "?|[^\\r\\n\\p{L}\\p{N}]?" \
    RX_UPPER "+" RX_LOWER "*" RX_CONTRACT "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_TEKKEN "[^\\r\\n\\p{L}\\p{N}]?" RX_UPPER "*" RX_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RX_UPPER "+" \
    RX_LOWER "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* deepseek-llm: Latin/Greek/Cyrillic/... letter ranges, from its tokenizer.json */
#define RX_DS_LETTERS "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293" \
    "\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1" \
    "\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd" \
    "\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d" \
    "\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc" \
    "\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc" \
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139" \
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3" \
    "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06" \
    "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3" \
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df" \
    "\U0001e900-\U0001e943]+"
#define RX_CJK "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"

typedef enum rx_set {
    RX_SET_DEFAULT, RX_SET_GPT2, RX_SET_LLAMA3, RX_SET_QWEN2, RX_SET_STARCODER,
    RX_SET_FALCON, RX_SET_DS_LLM, RX_SET_DS_CODER, RX_SET_BLOOM, RX_SET_GPT4O, RX_SET_TEKKEN
} rx_set;

/* Regex lists per set, each NULL-terminated. */
static const char *const rx_sets[][MAX_REGEX + 1] = {
    [RX_SET_DEFAULT]   = { "[\\p{P}\\$\\+<=>\\^~\\|]+", RX_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL },
    [RX_SET_GPT2]      = { RX_GPT2, NULL },
    [RX_SET_LLAMA3]    = { RX_LLAMA3, NULL },
    [RX_SET_QWEN2]     = { RX_QWEN2, NULL },
    [RX_SET_STARCODER] = { "\\p{N}", RX_GPT2, NULL },
    [RX_SET_FALCON]    = { "[\\p{P}\\$\\+<=>\\^~\\|`]+", RX_GPT2, "[0-9][0-9][0-9]", NULL },
    [RX_SET_DS_LLM]    = { "[\\r\\n]", RX_DS_LETTERS,
                           "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                           "\\s+$", RX_CJK, "\\p{N}+", NULL },
    [RX_SET_DS_CODER]  = { "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RX_CJK, "\\p{N}", NULL },
    [RX_SET_BLOOM]     = { " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+", NULL },
    [RX_SET_GPT4O]     = { RX_GPT4O, NULL },
    [RX_SET_TEKKEN]    = { RX_TEKKEN, NULL },
};

typedef struct pretok_entry {
    const char *name;
    rx_set      set;
    pretok_info info;   /* clean_spaces, ignore_merges, force_add_bos, no_bos */
} pretok_entry;

#define CLEAN   { true, false, false, false }
#define NOCLEAN { false, false, false, false }
/* Pre names llama.cpp knows, with the flags it attaches to each. */
static const pretok_entry pretok_table[] = {
    { "default", RX_SET_DEFAULT, CLEAN },
    { "llama3", RX_SET_LLAMA3, { true, true, true, false } },
    { "llama-v3", RX_SET_LLAMA3, { true, true, true, false } },
    { "llama-bpe", RX_SET_LLAMA3, { true, true, true, false } },
    { "falcon3", RX_SET_LLAMA3, { true, true, true, false } },
    { "falcon-h1", RX_SET_LLAMA3, { true, true, true, false } },
    { "pixtral", RX_SET_LLAMA3, { true, true, true, false } },
    { "lfm2", RX_SET_LLAMA3, { true, true, true, false } },
    { "dbrx", RX_SET_LLAMA3, CLEAN },
    { "smaug-bpe", RX_SET_LLAMA3, CLEAN },
    { "chatglm-bpe", RX_SET_LLAMA3, { true, false, false, true } },
    { "glm4", RX_SET_LLAMA3, { true, false, false, true } },
    { "deepseek-llm", RX_SET_DS_LLM, NOCLEAN },
    { "deepseek-coder", RX_SET_DS_CODER, NOCLEAN },
    { "falcon", RX_SET_FALCON, CLEAN },
    { "gpt-2", RX_SET_GPT2, CLEAN }, { "phi-2", RX_SET_GPT2, CLEAN },
    { "mpt", RX_SET_GPT2, CLEAN }, { "olmo", RX_SET_GPT2, CLEAN },
    { "jais", RX_SET_GPT2, CLEAN }, { "gigachat", RX_SET_GPT2, CLEAN },
    { "jina-es", RX_SET_GPT2, CLEAN }, { "jina-de", RX_SET_GPT2, CLEAN },
    { "jina-v1-en", RX_SET_GPT2, CLEAN }, { "jina-v2-es", RX_SET_GPT2, CLEAN },
    { "jina-v2-de", RX_SET_GPT2, CLEAN }, { "jina-v2-code", RX_SET_GPT2, CLEAN },
    { "roberta-bpe", RX_SET_GPT2, CLEAN }, { "exaone4", RX_SET_GPT2, CLEAN },
    { "mellum", RX_SET_GPT2, CLEAN }, { "a.x-4.0", RX_SET_GPT2, CLEAN },
    { "trillion", RX_SET_GPT2, NOCLEAN }, { "granite-docling", RX_SET_GPT2, NOCLEAN },
    { "starcoder", RX_SET_STARCODER, CLEAN }, { "refact", RX_SET_STARCODER, CLEAN },
    { "codeshell", RX_SET_STARCODER, CLEAN }, { "exaone", RX_SET_STARCODER, CLEAN },
    { "minerva-7b", RX_SET_STARCODER, CLEAN },
    { "command-r", RX_SET_STARCODER, NOCLEAN }, { "smollm", RX_SET_STARCODER, NOCLEAN },
    { "qwen2", RX_SET_QWEN2, NOCLEAN }, { "deepseek-r1-qwen", RX_SET_QWEN2, NOCLEAN },
    { "hunyuan", RX_SET_QWEN2, NOCLEAN }, { "megrez", RX_SET_QWEN2, CLEAN },
    { "stablelm2", RX_SET_QWEN2, CLEAN },
    { "poro-chat", RX_SET_BLOOM, NOCLEAN }, { "bloom", RX_SET_BLOOM, CLEAN },
    { "gpt3-finnish", RX_SET_BLOOM, CLEAN },
    { "gpt-4o", RX_SET_GPT4O, NOCLEAN }, { "llama4", RX_SET_GPT4O, NOCLEAN },
    { "tekken", RX_SET_TEKKEN, { false, true, true, false } },
};
#define N_PRETOK (sizeof pretok_table / sizeof pretok_table[0])

struct pretok {
    int         n;
    pcre2_code *rx[MAX_REGEX];
};

/* The i-th supported name (for tests and messages), NULL past the end. */
const char *pretok_name(size_t i)
{
    return i < N_PRETOK ? pretok_table[i].name : NULL;
}

/* Compile the regex list of a known pre name. */
pretok *pretok_new(const char *name, pretok_info *info, pl_status *st)
{
    const pretok_entry *e = NULL;
    for (size_t i = 0; i < N_PRETOK && !e; i++)
        if (strcmp(pretok_table[i].name, name) == 0) e = &pretok_table[i];
    if (!e) {
        pl_status_set(st, PL_ERR_UNSUPPORTED,
                      "tokenizer.ggml.pre: unknown pre-tokenizer '%s' (supported: default, "
                      "llama3, llama-bpe, qwen2, smollm, starcoder, gpt-2, deepseek-llm, ...)", name);
        return NULL;
    }
    pretok *p = calloc(1, sizeof *p);
    if (!p) { pl_status_set(st, PL_ERR_NOMEM, "pre-tokenizer '%s': out of memory", name); return NULL; }
    for (const char *const *rx = rx_sets[e->set]; *rx; rx++) {
        int err; PCRE2_SIZE at;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)*rx, PCRE2_ZERO_TERMINATED,
                                      PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &at, NULL);
        if (!c) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof msg);
            pl_status_set(st, PL_ERR_UNSUPPORTED, "pre-tokenizer '%s': regex %d: %s at offset %zu",
                          name, p->n, (const char *)msg, (size_t)at);
            pretok_free(p);
            return NULL;
        }
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);   /* optional: falls back to the interpreter */
        p->rx[p->n++] = c;
    }
    if (info) *info = e->info;
    return p;
}

/* Release the compiled regexes. */
void pretok_free(pretok *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) pcre2_code_free(p->rx[i]);
    free(p);
}

/* A list of pieces (offset, length) into the text being split. */
typedef struct span_list { vocab_span *s; size_t n, cap; } span_list;

/* Append a non-empty piece; false on out of memory. */
static bool span_push(span_list *l, size_t off, size_t len)
{
    if (len == 0) return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        vocab_span *s = realloc(l->s, cap * sizeof *s);
        if (!s) return false;
        l->s = s; l->cap = cap;
    }
    l->s[l->n++] = (vocab_span){ (uint32_t)off, (uint32_t)len };
    return true;
}

/* Split one piece with one regex: matches and the gaps between them. */
static int split_piece(const pcre2_code *rx, pcre2_match_data *md, const char *text,
                       vocab_span piece, span_list *out)
{
    PCRE2_SPTR subj = (PCRE2_SPTR)(text + piece.off);
    size_t len = piece.len, pos = 0, prev = 0;
    while (pos <= len) {
        int rc = pcre2_match(rx, subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (!span_push(out, piece.off + prev, ms - prev)) return -1;   /* gap */
        if (!span_push(out, piece.off + ms, me - ms)) return -1;       /* match */
        prev = me;
        if (me > ms) { pos = me; continue; }
        if (me >= len) break;                         /* empty match at the end */
        pos = me + 1;                                 /* empty match: step one character */
        while (pos < len && (subj[pos] & 0xC0) == 0x80) pos++;
    }
    return span_push(out, piece.off + prev, len - prev) ? 0 : -1;
}

/* Run every regex in turn over the pieces, then hand each word to fn. */
int pretok_split(const pretok *p, const char *text, size_t len,
                 void (*fn)(const char *w, size_t n, void *ud), void *ud)
{
    if (len == 0) return 0;
    if (len > UINT32_MAX) return -1;
    span_list cur = { 0 }, next = { 0 };
    int rc = span_push(&cur, 0, len) ? 0 : -1;
    for (int r = 0; r < p->n && rc == 0; r++) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->rx[r], NULL);
        if (!md) { rc = -1; break; }
        next.n = 0;
        for (size_t i = 0; i < cur.n && rc == 0; i++)
            rc = split_piece(p->rx[r], md, text, cur.s[i], &next);
        pcre2_match_data_free(md);
        span_list t = cur; cur = next; next = t;
    }
    for (size_t i = 0; i < cur.n && rc == 0; i++) fn(text + cur.s[i].off, cur.s[i].len, ud);
    free(cur.s);
    free(next.s);
    return rc;
}
