/* tokenize_spm.c — SentencePiece-style tokenizing (tokenizer.ggml.model "llama").
 *
 * As llama.cpp: spaces become U+2581 ("▁"), with one prepended when the
 * fragment starts the text or follows a special token and add_space_prefix
 * is set. The text starts as one symbol per UTF-8 character; repeatedly the
 * adjacent pair whose concatenation is the vocab token with the best score
 * merges (ties: leftmost), driven by a binary heap whose stale entries are
 * skipped. A final symbol that is no token is spelled with byte-fallback
 * tokens <0xXX>, one per byte.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

typedef struct spm_sym { int32_t prev, next; uint32_t start, n; } spm_sym;
typedef struct spm_pair { float score; int32_t left, right; uint32_t size; } spm_pair;

typedef struct spm_work {
    const pl_vocab *v;
    const char *text;
    spm_sym    *sym;
    spm_pair   *heap;
    size_t      heap_n, heap_cap;
    bool        oom;
} spm_work;

/* Heap order: higher score first, then leftmost. */
static bool spm_before(const spm_pair *a, const spm_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

/* Push the pair (l, r) if their concatenation is a token. */
static void spm_try_pair(spm_work *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0) return;
    uint32_t size = w->sym[l].n + w->sym[r].n;
    int32_t id = vocab_find(w->v, w->text + w->sym[l].start, size);
    if (id < 0) return;
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
        spm_pair *h = realloc(w->heap, cap * sizeof *h);
        if (!h) { w->oom = true; return; }
        w->heap = h; w->heap_cap = cap;
    }
    spm_pair p = { w->v->toks[id].score, l, r, size };
    size_t i = w->heap_n++;
    while (i > 0 && spm_before(&p, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = p;
}

/* Remove and return the best pair. */
static spm_pair spm_pop(spm_work *w)
{
    spm_pair top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && spm_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!spm_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Bytes of the UTF-8 character a lead byte starts (llama.cpp's table). */
static uint32_t spm_char_len(uint8_t c)
{
    static const uint8_t lookup[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return lookup[c >> 4];
}

/* Copy text with spaces escaped as U+2581 (and the optional prefix). */
static char *spm_escape(const char *text, size_t len, bool prefix, size_t *out_len)
{
    size_t n = prefix ? 3 : 0;
    for (size_t i = 0; i < len; i++) n += text[i] == ' ' ? 3 : 1;
    char *e = malloc(n ? n : 1);
    if (!e) return NULL;
    size_t o = 0;
    if (prefix) { memcpy(e, "\xe2\x96\x81", 3); o = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(e + o, "\xe2\x96\x81", 3); o += 3; }
        else e[o++] = text[i];
    }
    *out_len = n;
    return e;
}

/* Spell a symbol: its token, else one byte-fallback token per byte. */
static void spm_emit(const pl_vocab *v, const char *s, uint32_t n, tok_vec *out)
{
    int32_t id = vocab_find(v, s, n);
    if (id >= 0) { tok_vec_push(out, id); return; }
    for (uint32_t i = 0; i < n; i++) {
        int32_t b = v->byte_tok[(uint8_t)s[i]];
        if (b < 0) b = v->unk;
        if (b >= 0) tok_vec_push(out, b);
    }
}

/* Split into characters, merge by score, emit. */
void spm_tokenize(const pl_vocab *v, const char *text, size_t len, bool space_prefix, tok_vec *out)
{
    size_t n;
    char *t = spm_escape(text, len, space_prefix, &n);
    if (!t) { out->oom = true; return; }
    spm_work w = { .v = v, .text = t };
    w.sym = malloc((n ? n : 1) * sizeof *w.sym);
    if (!w.sym) { free(t); out->oom = true; return; }
    int32_t count = 0;
    for (size_t off = 0; off < n; count++) {
        uint32_t cl = spm_char_len((uint8_t)t[off]);
        if (cl > n - off) cl = (uint32_t)(n - off);
        w.sym[count] = (spm_sym){ count - 1, off + cl < n ? count + 1 : -1, (uint32_t)off, cl };
        off += cl;
    }
    for (int32_t i = 1; i < count; i++) spm_try_pair(&w, i - 1, i);
    while (w.heap_n > 0 && !w.oom) {
        spm_pair p = spm_pop(&w);
        spm_sym *l = &w.sym[p.left], *r = &w.sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue;   /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w.sym[r->next].prev = p.left;
        spm_try_pair(&w, l->prev, p.left);
        spm_try_pair(&w, p.left, l->next);
    }
    if (w.oom) out->oom = true;
    for (int32_t i = 0; i >= 0 && count > 0 && !w.oom; i = w.sym[i].next)
        spm_emit(v, t + w.sym[i].start, w.sym[i].n, out);
    free(w.heap);
    free(w.sym);
    free(t);
}
