/* vocab.c — load a tokenizer from GGUF metadata.
 *
 * Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges}, the
 * special token ids and the add_* flags, and derives what tokenizing needs:
 * a text -> id hash, a (left, right) -> merge rank hash, byte fallback ids,
 * the set of end-of-generation tokens and the special-token list. Defaults
 * and the text-based guesses (EOT/EOG/FIM tokens named "<|im_end|>" etc.)
 * follow llama.cpp's llama-vocab.cpp so both tokenize a file the same way.
 * All strings are copied: the vocab does not keep the gguf_file.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

/* FNV-1a, continued from h. */
uint32_t vocab_hash(uint32_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) { h ^= (uint8_t)s[i]; h *= 16777619u; }
    return h;
}

/* Smallest power of two >= 2n (at least 16). */
static uint32_t hash_cap(uint32_t n)
{
    uint32_t c = 16;
    while (c < 2 * (uint64_t)n) c <<= 1;
    return c;
}

const char *vocab_text(const pl_vocab *v, int32_t id, uint32_t *len)
{
    *len = v->toks[id].text.len;
    return v->text_arena + v->toks[id].text.off;
}

/* Id whose text is exactly s, or -1. */
int32_t vocab_find(const pl_vocab *v, const char *s, size_t len)
{
    uint32_t i = vocab_hash(VOCAB_HASH_SEED, s, len) & v->tok_hash_mask;
    for (uint32_t e; (e = v->tok_hash[i]) != 0; i = (i + 1) & v->tok_hash_mask) {
        const vocab_span *t = &v->toks[e - 1].text;
        if (t->len == len && memcmp(v->text_arena + t->off, s, len) == 0) return (int32_t)e - 1;
    }
    return -1;
}

/* Hash of a merge pair: left bytes, a separator, right bytes. */
static uint32_t merge_hash(const char *l, size_t ll, const char *r, size_t rl)
{
    return vocab_hash(vocab_hash(VOCAB_HASH_SEED, l, ll) ^ 0x20u, r, rl);
}

/* Rank of merge (l, r), or -1. */
int32_t vocab_merge_rank(const pl_vocab *v, const char *l, size_t ll, const char *r, size_t rl)
{
    if (!v->merge_hash) return -1;
    uint32_t i = merge_hash(l, ll, r, rl) & v->merge_hash_mask;
    for (uint32_t e; (e = v->merge_hash[i]) != 0; i = (i + 1) & v->merge_hash_mask) {
        const vocab_merge *m = &v->merges[e - 1];
        if (m->left.len == ll && m->right.len == rl &&
            memcmp(v->merge_arena + m->left.off, l, ll) == 0 &&
            memcmp(v->merge_arena + m->right.off, r, rl) == 0) return (int32_t)e - 1;
    }
    return -1;
}

/* GGUF token_type value -> attribute bits (index = type). */
static const uint8_t toktype_attr[7] = {
    VOCAB_ATTR_UNDEFINED, VOCAB_ATTR_NORMAL, VOCAB_ATTR_UNKNOWN, VOCAB_ATTR_CONTROL,
    VOCAB_ATTR_USER_DEFINED, VOCAB_ATTR_UNUSED, VOCAB_ATTR_BYTE,
};

/* Copy the token strings, scores and types; build the text hash. */
static int vocab_load_tokens(pl_vocab *v, const gguf_file *f, pl_status *st)
{
    const gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || !kv->strs)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.tokens missing or not a string array", f->path);
    if (kv->arr_n == 0 || kv->arr_n > INT32_MAX / 2)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.tokens: bad count %llu", f->path, (unsigned long long)kv->arr_n);
    uint32_t n = (uint32_t)kv->arr_n;
    uint64_t n_sc = 0, n_tt = 0;
    const void *sc = NULL, *tt = NULL;
    bool sc_int = false;
    if (gguf_find_kv(f, "tokenizer.ggml.scores")) {
        if (!gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_FLOAT32, &n_sc, &sc)) {
            sc_int = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_INT32, &n_sc, &sc);
            if (!sc_int) return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.scores: not an f32/i32 array", f->path);
        }
        if (n_sc < n) return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.scores: %llu entries for %u tokens", f->path, (unsigned long long)n_sc, n);
    }
    if (gguf_find_kv(f, "tokenizer.ggml.token_type")) {
        if (!gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_INT32, &n_tt, &tt))
            return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.token_type: not an i32 array", f->path);
        if (n_tt < n) return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.token_type: %llu entries for %u tokens", f->path, (unsigned long long)n_tt, n);
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += kv->strs[i].len ? kv->strs[i].len : 20;
    if (total > UINT32_MAX) return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.tokens: too much text", f->path);
    v->n_tokens = (int32_t)n;
    v->toks = calloc(n, sizeof *v->toks);
    v->text_arena = malloc(total + 1);
    v->tok_hash_mask = hash_cap(n) - 1;
    v->tok_hash = calloc(v->tok_hash_mask + 1, sizeof *v->tok_hash);
    if (!v->toks || !v->text_arena || !v->tok_hash)
        return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory for %u tokens", f->path, n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        vocab_token *t = &v->toks[i];
        uint32_t len = (uint32_t)kv->strs[i].len;
        if (len) memcpy(v->text_arena + off, kv->strs[i].ptr, len);
        else len = (uint32_t)snprintf(v->text_arena + off, 21, "[EMPTY_%u]", i);   /* as llama.cpp */
        t->text = (vocab_span){ off, len };
        off += len;
        float s = 0.0f;                 /* metadata arrays are not aligned: memcpy */
        int32_t si, ty = 1;
        if (sc && sc_int) { memcpy(&si, (const char *)sc + 4 * (size_t)i, 4); s = (float)si; }
        else if (sc) memcpy(&s, (const char *)sc + 4 * (size_t)i, 4);
        t->score = s;
        if (tt) memcpy(&ty, (const char *)tt + 4 * (size_t)i, 4);
        t->attr = (ty >= 0 && ty < 7) ? toktype_attr[ty] : VOCAB_ATTR_UNDEFINED;
        if (vocab_find(v, v->text_arena + off - len, len) >= 0)
            return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.tokens: duplicate token '%.*s' at index %u",
                                 f->path, (int)(len > 40 ? 40 : len), v->text_arena + off - len, i);
        uint32_t h = vocab_hash(VOCAB_HASH_SEED, v->text_arena + off - len, len) & v->tok_hash_mask;
        while (v->tok_hash[h]) h = (h + 1) & v->tok_hash_mask;
        v->tok_hash[h] = i + 1;
    }
    return PL_OK;
}

/* Copy the merges ("left right", split at the first space after byte 0). */
static int vocab_load_merges(pl_vocab *v, const gguf_file *f, pl_status *st)
{
    const gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.merges");
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || !kv->strs)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.merges missing or not a string array (needed by a gpt2 tokenizer)", f->path);
    if (kv->arr_n > INT32_MAX / 2)
        return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.merges: bad count", f->path);
    uint32_t n = (uint32_t)kv->arr_n;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += kv->strs[i].len;
    if (total > UINT32_MAX) return pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.merges: too much text", f->path);
    v->n_merges = n;
    v->merges = calloc(n ? n : 1, sizeof *v->merges);
    v->merge_arena = malloc(total + 1);
    v->merge_hash_mask = hash_cap(n) - 1;
    v->merge_hash = calloc(v->merge_hash_mask + 1, sizeof *v->merge_hash);
    if (!v->merges || !v->merge_arena || !v->merge_hash)
        return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory for %u merges", f->path, n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *s = kv->strs[i].ptr;
        uint32_t len = (uint32_t)kv->strs[i].len;
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp) continue;                        /* no pair: never matches */
        memcpy(v->merge_arena + off, s, len);
        uint32_t ll = (uint32_t)(sp - s);
        vocab_merge *m = &v->merges[i];
        m->left = (vocab_span){ off, ll };
        m->right = (vocab_span){ off + ll + 1, len - ll - 1 };
        off += len;
        if (vocab_merge_rank(v, s, ll, sp + 1, len - ll - 1) >= 0) continue;   /* first rank wins */
        uint32_t h = merge_hash(s, ll, sp + 1, len - ll - 1) & v->merge_hash_mask;
        while (v->merge_hash[h]) h = (h + 1) & v->merge_hash_mask;
        v->merge_hash[h] = i + 1;
    }
    return PL_OK;
}

/* Special-token id keys, each with the field it sets. */
static const struct { const char *key; size_t field; } special_keys[] = {
    { "tokenizer.ggml.bos_token_id", offsetof(pl_vocab, bos) },
    { "tokenizer.ggml.eos_token_id", offsetof(pl_vocab, eos) },
    { "tokenizer.ggml.eot_token_id", offsetof(pl_vocab, eot) },
    { "tokenizer.ggml.eom_token_id", offsetof(pl_vocab, eom) },
    { "tokenizer.ggml.unknown_token_id", offsetof(pl_vocab, unk) },
    { "tokenizer.ggml.seperator_token_id", offsetof(pl_vocab, sep) },
    { "tokenizer.ggml.padding_token_id", offsetof(pl_vocab, pad) },
    { "tokenizer.ggml.fim_pre_token_id", offsetof(pl_vocab, fim_pre) },
    { "tokenizer.ggml.fim_suf_token_id", offsetof(pl_vocab, fim_suf) },
    { "tokenizer.ggml.fim_mid_token_id", offsetof(pl_vocab, fim_mid) },
    { "tokenizer.ggml.fim_pad_token_id", offsetof(pl_vocab, fim_pad) },
    { "tokenizer.ggml.fim_rep_token_id", offsetof(pl_vocab, fim_rep) },
    { "tokenizer.ggml.fim_sep_token_id", offsetof(pl_vocab, fim_sep) },
    { "tokenizer.ggml.prefix_token_id", offsetof(pl_vocab, fim_pre) },
    { "tokenizer.ggml.suffix_token_id", offsetof(pl_vocab, fim_suf) },
    { "tokenizer.ggml.middle_token_id", offsetof(pl_vocab, fim_mid) },
};

/* Defaults per model kind, then the GGUF's ids where in range. */
static void vocab_load_special_ids(pl_vocab *v, const gguf_file *f)
{
    int32_t *all[] = { &v->bos, &v->eos, &v->eot, &v->eom, &v->unk, &v->pad, &v->sep, &v->nl,
                       &v->fim_pre, &v->fim_suf, &v->fim_mid, &v->fim_pad, &v->fim_rep, &v->fim_sep };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) *all[i] = -1;
    if (v->kind == VOCAB_SPM) { v->bos = 1; v->eos = 2; v->unk = 0; }
    else { v->bos = 11; v->eos = 11; }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i] >= v->n_tokens) *all[i] = -1;
    for (size_t i = 0; i < sizeof special_keys / sizeof special_keys[0]; i++) {
        uint32_t id;
        if (gguf_get_u32(f, special_keys[i].key, &id) && id < (uint32_t)v->n_tokens)
            *(int32_t *)((char *)v + special_keys[i].field) = (int32_t)id;
    }
}

/* Texts llama.cpp recognises as special, per role (first found wins here). */
static const char *const eot_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>", NULL };
static const char *const eom_texts[] = { "<|eom_id|>", NULL };
static const char *const fim_pre_texts[] = { "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", NULL };
static const char *const fim_suf_texts[] = { "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", NULL };
static const char *const fim_mid_texts[] = { "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", NULL };
static const char *const fim_pad_texts[] = { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL };
static const char *const fim_rep_texts[] = { "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL };
static const char *const fim_sep_texts[] = { "<|file_sep|>", NULL };
static const char *const eog_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
    "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>",
    "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL };

/* Id of the first text in list present in the vocab, or -1. */
static int32_t vocab_find_any(const pl_vocab *v, const char *const *list)
{
    for (; *list; list++) {
        int32_t id = vocab_find(v, *list, strlen(*list));
        if (id >= 0) return id;
    }
    return -1;
}

/* Fill an unset role from its texts; a guessed token becomes CONTROL. */
static void vocab_guess_role(pl_vocab *v, int32_t *role, const char *const *texts)
{
    if (*role >= 0) return;
    *role = vocab_find_any(v, texts);
    if (*role >= 0) v->toks[*role].attr |= VOCAB_ATTR_CONTROL;
}

/* Is text t a token that ends generation? */
static bool vocab_is_eog_text(const pl_vocab *v, const char *t)
{
    int32_t id = vocab_find(v, t, strlen(t));
    return id >= 0 && v->eog[id];
}

/* llama.cpp's exceptions: with gpt-oss/solar-open style tokens "<|end|>" is
 * no EOG (it renders), and with gemma-4 style "<|tool_response>" "</s>" is
 * a normal token. */
static void vocab_eog_exceptions(pl_vocab *v)
{
    bool end = vocab_is_eog_text(v, "<|end|>");
    bool call = vocab_is_eog_text(v, "<|call|>") || vocab_is_eog_text(v, "<|calls|>");
    if (end && call && (vocab_is_eog_text(v, "<|return|>") || vocab_is_eog_text(v, "<|flush|>"))) {
        int32_t id = vocab_find(v, "<|end|>", 7);
        v->eog[id] = 0;
        v->toks[id].attr = VOCAB_ATTR_USER_DEFINED;
    }
    if (vocab_is_eog_text(v, "<|tool_response>") && vocab_is_eog_text(v, "</s>")) {
        int32_t id = vocab_find(v, "</s>", 4);
        v->eog[id] = 0;
        v->toks[id].attr = VOCAB_ATTR_NORMAL;
    }
}

/* EOT/EOM/FIM guesses and the end-of-generation set, as llama.cpp. */
static int vocab_derive_roles(pl_vocab *v)
{
    vocab_guess_role(v, &v->eot, eot_texts);
    vocab_guess_role(v, &v->eom, eom_texts);
    vocab_guess_role(v, &v->fim_pre, fim_pre_texts);
    vocab_guess_role(v, &v->fim_suf, fim_suf_texts);
    vocab_guess_role(v, &v->fim_mid, fim_mid_texts);
    vocab_guess_role(v, &v->fim_pad, fim_pad_texts);
    vocab_guess_role(v, &v->fim_rep, fim_rep_texts);
    vocab_guess_role(v, &v->fim_sep, fim_sep_texts);
    v->eog = calloc((size_t)v->n_tokens, 1);
    if (!v->eog) return -1;
    for (const char *const *t = eog_texts; *t; t++) {
        int32_t id = vocab_find(v, *t, strlen(*t));
        if (id >= 0) { v->eog[id] = 1; v->toks[id].attr |= VOCAB_ATTR_CONTROL; }
    }
    int32_t roles[] = { v->eos, v->eot, v->eom, v->fim_pad, v->fim_rep, v->fim_sep };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i] >= 0) v->eog[roles[i]] = 1;
    vocab_eog_exceptions(v);
    /* gpt-oss: these render as text */
    static const char *const shown[] = { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL };
    for (const char *const *t = shown; *t; t++) {
        int32_t id = vocab_find(v, *t, strlen(*t));
        if (id >= 0) v->toks[id].attr = VOCAB_ATTR_USER_DEFINED;
    }
    return 0;
}

/* Token standing for raw byte b: SPM "<0xXX>" (else the 1-byte text), BPE
 * the byte's GPT-2 character. */
static void vocab_load_byte_tokens(pl_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int32_t id;
        if (v->kind == VOCAB_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = vocab_find(v, buf, 6);
            if (id < 0) { buf[0] = (char)b; id = vocab_find(v, buf, 1); }
        } else {
            int n = bpe_byte_to_utf8((uint8_t)b, buf);
            id = vocab_find(v, buf, (size_t)n);
        }
        v->byte_tok[b] = id;
    }
    v->nl = v->byte_tok['\n'];
}

/* add_bos / add_eos / add_space_prefix: kind defaults, pre flags, then keys. */
static void vocab_load_flags(pl_vocab *v, const gguf_file *f, const pretok_info *pi)
{
    bool b;
    v->add_bos = v->kind == VOCAB_SPM || (pi && pi->force_add_bos);
    v->add_eos = false;
    v->add_space_prefix = v->kind == VOCAB_SPM;
    v->clean_spaces = v->kind == VOCAB_BPE && pi && pi->clean_spaces;
    v->ignore_merges = v->kind == VOCAB_BPE && pi && pi->ignore_merges;
    if (pi && pi->no_bos) v->bos = -1;
    if (gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &b)) v->add_space_prefix = b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b)) v->add_bos = b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b)) v->add_eos = b;
    if (v->bos < 0) v->add_bos = false;   /* llama.cpp refuses such a file; we just add none */
    if (v->eos < 0) v->add_eos = false;
}

/* Load everything a tokenizer needs from f. */
pl_vocab *vocab_load(const gguf_file *f, pl_status *st)
{
    pl_vocab *v = calloc(1, sizeof *v);
    if (!v) { pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory (vocab)", f->path); return NULL; }
    pretok_info pi = { 0 };
    if (!gguf_get_cstr(f, "tokenizer.ggml.model", v->model_name, sizeof v->model_name)) {
        pl_status_set(st, PL_ERR_FORMAT, "%s: tokenizer.ggml.model missing (no tokenizer in this file)", f->path);
        goto fail;
    }
    if (strcmp(v->model_name, "llama") == 0) v->kind = VOCAB_SPM;
    else if (strcmp(v->model_name, "gpt2") == 0) v->kind = VOCAB_BPE;
    else {
        pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%s' is not supported (supported: llama, gpt2)",
                      f->path, v->model_name);
        goto fail;
    }
    if (vocab_load_tokens(v, f, st) != PL_OK) goto fail;
    if (v->kind == VOCAB_BPE) {
        if (vocab_load_merges(v, f, st) != PL_OK) goto fail;
        if (!gguf_get_cstr(f, "tokenizer.ggml.pre", v->pre_name, sizeof v->pre_name) || !v->pre_name[0])
            strcpy(v->pre_name, "default");
        v->pre = pretok_new(v->pre_name, &pi, st);
        if (!v->pre) goto fail;
    }
    vocab_load_special_ids(v, f);
    vocab_load_flags(v, f, v->kind == VOCAB_BPE ? &pi : NULL);
    vocab_load_byte_tokens(v);
    if (vocab_derive_roles(v) != 0 || vocab_build_special(v) != 0 || vocab_build_pieces(v) != 0) {
        pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory (vocab tables)", f->path);
        goto fail;
    }
    pl_status_ok(st);
    return v;
fail:
    vocab_free(v);
    return NULL;
}

/* Free everything vocab_load allocated. */
void vocab_free(pl_vocab *v)
{
    if (!v) return;
    free(v->toks);
    free(v->text_arena);
    free(v->piece_arena);
    free(v->tok_hash);
    free(v->merges);
    free(v->merge_arena);
    free(v->merge_hash);
    free(v->eog);
    pretok_free(v->pre);
    free(v->special);
    free(v->special_rank);
    vocab_trie_free(v->trie);
    free(v);
}
