/* tokenize_bpe.c — byte-level BPE (GPT-2 style), as llama.cpp runs it.
 *
 * Each pre-tokenized word is rewritten byte by byte into GPT-2's printable
 * alphabet (bytes that are printable Latin-1 stand for themselves, the other
 * 68 are moved to U+0100..U+0143), so every byte is one starting symbol.
 * Then adjacent symbol pairs merge, lowest merge rank first (ties: leftmost),
 * using a binary heap of candidate pairs: a popped pair whose symbols have
 * changed since it was pushed is stale and skipped. Work is O(n log n) in
 * the word length, and nothing crosses word boundaries.
 * Symbols left that are not tokens fall back to one token per byte.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

/* Is byte b one that GPT-2 keeps as its own code point? */
static bool bpe_byte_printable(int b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* Code point GPT-2 uses for byte b. */
static uint32_t bpe_byte_cp(int b)
{
    if (bpe_byte_printable(b)) return (uint32_t)b;
    /* the others, in byte order: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD */
    if (b <= 0x20) return 256u + (uint32_t)b;
    if (b <= 0xA0) return 256u + 33u + (uint32_t)(b - 0x7F);
    return 256u + 67u;
}

int bpe_byte_to_utf8(uint8_t b, char out[2])
{
    char tmp[4];
    int n = utf8_encode(bpe_byte_cp(b), tmp);   /* < U+0800: 1 or 2 bytes */
    memcpy(out, tmp, (size_t)n);
    return n;
}

int bpe_cp_to_byte(uint32_t cp)
{
    if (cp < 256) return bpe_byte_printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int n = (int)cp - 256;
    if (n < 33) return n;
    if (n < 67) return 0x7F + (n - 33);
    return 0xAD;
}

/* One symbol: a span of the encoded word, linked to its neighbours. */
typedef struct bpe_sym { int32_t prev, next; uint32_t start, n; } bpe_sym;
/* A candidate merge of symbols left and right (their sizes when pushed). */
typedef struct bpe_pair { int32_t rank, left, right; uint32_t ln, rn; } bpe_pair;

/* Scratch reused across the words of one call. */
typedef struct bpe_work {
    const pl_vocab *v;
    tok_vec  *out;
    char     *enc;  size_t enc_cap;
    bpe_sym  *sym;  size_t sym_cap;
    bpe_pair *heap; size_t heap_n, heap_cap;
    char      map[256][2];
    uint8_t   map_len[256];
} bpe_work;

/* Grow *p to hold n elements of size sz; false on out of memory. */
static bool grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < n) c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q) return false;
    *p = q; *cap = c;
    return true;
}

/* Heap order: lower rank first, then leftmost. */
static bool pair_before(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/* Push the pair (l, r) if it is a known merge. */
static void bpe_try_pair(bpe_work *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0) return;
    const bpe_sym *a = &w->sym[l], *b = &w->sym[r];
    int32_t rank = vocab_merge_rank(w->v, w->enc + a->start, a->n, w->enc + b->start, b->n);
    if (rank < 0) return;
    if (!grow((void **)&w->heap, &w->heap_cap, w->heap_n + 1, sizeof *w->heap)) { w->out->oom = true; return; }
    size_t i = w->heap_n++;
    bpe_pair p = { rank, l, r, a->n, b->n };
    while (i > 0 && pair_before(&p, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = p;
}

/* Remove and return the best pair. */
static bpe_pair bpe_pop(bpe_work *w)
{
    bpe_pair top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Emit a final symbol: its token, or its bytes' tokens where they exist. */
static void bpe_emit(bpe_work *w, const char *s, size_t n)
{
    int32_t id = vocab_find(w->v, s, n);
    if (id >= 0) { tok_vec_push(w->out, id); return; }
    for (size_t i = 0; i < n; i++) {          /* as llama.cpp: single bytes of the encoding */
        int32_t b = vocab_find(w->v, s + i, 1);
        if (b >= 0) tok_vec_push(w->out, b);
    }
}

/* Encode the word into GPT-2's alphabet, one symbol per byte. */
static bool bpe_encode_word(bpe_work *w, const char *word, size_t len, size_t *enc_len)
{
    if (!grow((void **)&w->enc, &w->enc_cap, 2 * len, 1) ||
        !grow((void **)&w->sym, &w->sym_cap, len, sizeof *w->sym)) return false;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)word[i];
        w->sym[i] = (bpe_sym){ (int32_t)i - 1, i + 1 < len ? (int32_t)i + 1 : -1, (uint32_t)o, w->map_len[b] };
        memcpy(w->enc + o, w->map[b], w->map_len[b]);
        o += w->map_len[b];
    }
    *enc_len = o;
    return true;
}

/* Merge one word and emit its tokens (pretok_split callback). */
static void bpe_word(const char *word, size_t len, void *ud)
{
    bpe_work *w = ud;
    size_t enc_len;
    if (w->out->oom) return;
    if (!bpe_encode_word(w, word, len, &enc_len)) { w->out->oom = true; return; }
    if (w->v->ignore_merges) {
        int32_t id = vocab_find(w->v, w->enc, enc_len);
        if (id >= 0) { tok_vec_push(w->out, id); return; }
    }
    w->heap_n = 0;
    for (size_t i = 1; i < len; i++) bpe_try_pair(w, (int32_t)i - 1, (int32_t)i);
    while (w->heap_n > 0 && !w->out->oom) {
        bpe_pair p = bpe_pop(w);
        bpe_sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n != p.ln || r->n != p.rn) continue;   /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = p.left;
        bpe_try_pair(w, l->prev, p.left);
        bpe_try_pair(w, p.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && len > 0; i = w->sym[i].next)
        bpe_emit(w, w->enc + w->sym[i].start, w->sym[i].n);
}

/* Pre-tokenize text and BPE-merge each word into out. */
void bpe_tokenize(const pl_vocab *v, const char *text, size_t len, tok_vec *out)
{
    bpe_work w = { .v = v, .out = out };
    for (int b = 0; b < 256; b++) w.map_len[b] = (uint8_t)bpe_byte_to_utf8((uint8_t)b, w.map[b]);
    if (pretok_split(v->pre, text, len, bpe_word, &w) != 0) out->oom = true;
    free(w.enc);
    free(w.sym);
    free(w.heap);
}
