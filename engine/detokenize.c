/* detokenize.c — token ids back to bytes.
 *
 * Every token's piece (the bytes it stands for) is computed once at load:
 *   SPM: "▁" -> space; <0xXX> byte tokens -> that byte.
 *   BPE: each character of the token maps back to one byte (GPT-2 table).
 *   CONTROL / USER_DEFINED / UNKNOWN tokens: their text, shown only when the
 *   caller asks for special tokens (USER_DEFINED always).
 * A piece may end in the middle of a UTF-8 character; the caller buffers
 * (pl_utf8_complete_len). Detokenizing a sequence concatenates pieces and
 * then applies llama.cpp's rules: drop the space the SPM prefix added, and,
 * for tokenizers that ask for it, "clean up" spaces before punctuation.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

/* Write token id's piece into dst (NULL: just measure); returns its length. */
static uint32_t piece_render(const pl_vocab *v, int32_t id, char *dst)
{
    const vocab_token *t = &v->toks[id];
    const char *s = v->text_arena + t->text.off;
    uint32_t n = t->text.len, o = 0;
    const uint8_t special = VOCAB_ATTR_UNKNOWN | VOCAB_ATTR_CONTROL | VOCAB_ATTR_USER_DEFINED;
    if (t->attr & special) {
        if (dst) memcpy(dst, s, n);
        return n;
    }
    if (t->attr & VOCAB_ATTR_NORMAL) {
        for (uint32_t i = 0; i < n;) {
            int l = utf8_seq_len((const unsigned char *)s + i, n - i);
            if (v->kind == VOCAB_SPM && l == 3 && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                if (dst) dst[o] = ' ';
                o++;
            } else if (v->kind == VOCAB_BPE && l > 0 &&
                       bpe_cp_to_byte(utf8_decode((const unsigned char *)s + i, l)) >= 0) {
                if (dst) dst[o] = (char)bpe_cp_to_byte(utf8_decode((const unsigned char *)s + i, l));
                o++;
            } else {                       /* kept as is (SPM text; BPE char with no byte) */
                if (l <= 0) l = 1;
                if (dst) memcpy(dst + o, s + i, (size_t)l);
                o += (uint32_t)l;
            }
            i += (uint32_t)l;
        }
        return o;
    }
    if ((t->attr & VOCAB_ATTR_BYTE) && n == 6 && memcmp(s, "<0x", 3) == 0) {
        if (dst) dst[0] = (char)strtol((char[3]){ s[3], s[4], 0 }, NULL, 16);
        return 1;
    }
    return 0;    /* UNUSED / UNDEFINED: nothing, as llama.cpp */
}

/* Compute all pieces into one arena. */
int vocab_build_pieces(pl_vocab *v)
{
    uint64_t total = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) total += piece_render(v, id, NULL);
    if (total > UINT32_MAX) return -1;
    v->piece_arena = malloc(total + 1);
    if (!v->piece_arena) return -1;
    uint32_t off = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        uint32_t n = piece_render(v, id, v->piece_arena + off);
        v->toks[id].piece = (vocab_span){ off, n };
        off += n;
    }
    return 0;
}

/* One token's bytes; lstrip drops up to that many leading spaces. */
int vocab_token_to_piece(const pl_vocab *v, int32_t tok, char *buf, int len, int lstrip, bool special)
{
    if (!v || tok < 0 || tok >= v->n_tokens) return 0;
    const vocab_token *t = &v->toks[tok];
    if (!special && (t->attr & (VOCAB_ATTR_UNKNOWN | VOCAB_ATTR_CONTROL))) return 0;
    const char *p = v->piece_arena + t->piece.off;
    uint32_t n = t->piece.len;
    for (int i = 0; i < lstrip && n && *p == ' '; i++) { p++; n--; }
    if (n > (uint32_t)INT32_MAX) return 0;
    if ((int)n > len) return -(int)n;
    if (n) memcpy(buf, p, n);
    return (int)n;
}

/* llama.cpp's clean-up: " ?", " !", " .", " ," lose the space; " ' " loses
 * both; " 's", " 'm", " 're", " 've" lose the space. Returns the new length. */
static size_t clean_spaces(char *s, size_t n)
{
    size_t o = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) o--;
        s[o++] = x;
    }
    n = o; o = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') { o--; s[++i] = 0; }
        s[o++] = x;
    }
    n = o; o = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = s[i + 1], x2 = i + 2 < n ? s[i + 2] : 0;
            if (x1 == 's' || x1 == 'm' || (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) o--;
        }
        s[o++] = x;
    }
    return o;
}

/* Concatenate pieces with llama_detokenize's rules; length or -(needed). */
int vocab_detokenize(const pl_vocab *v, const int32_t *toks, int n, char *buf, int len,
                     bool remove_special, bool unparse_special)
{
    if (!v || n < 0 || (n > 0 && !toks)) return 0;
    bool remove_space = v->add_space_prefix;
    if (remove_special && v->add_bos && n > 0 && toks[0] == v->bos) { remove_space = false; toks++; n--; }
    if (remove_special && v->add_eos && n > 0 && toks[n - 1] == v->eos) n--;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (toks[i] >= 0 && toks[i] < v->n_tokens) total += v->toks[toks[i]].piece.len;
    char *tmp = malloc(total + 1);
    if (!tmp) return 0;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        int k = vocab_token_to_piece(v, toks[i], tmp + o, (int)(total - o), remove_space, unparse_special);
        remove_space = false;
        if (k > 0) o += (size_t)k;
    }
    if (v->clean_spaces) o = clean_spaces(tmp, o);
    int r;
    if (o > (size_t)INT32_MAX) r = 0;
    else if ((int)o > len) r = -(int)o;
    else { if (o) memcpy(buf, tmp, o); r = (int)o; }
    free(tmp);
    return r;
}
