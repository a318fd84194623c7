/* tokenize.c — the tokenizer pipeline shared by SPM and BPE.
 *
 *   text -> UTF-8 sanitized (ill-formed bytes -> U+FFFD)
 *        -> cut into fragments: special tokens and raw text between them
 *        -> raw fragments through the model's tokenizer, BOS/EOS around.
 *
 * Special tokens are matched as whole strings the way llama.cpp does it:
 * the special tokens are taken longest text first, and each one claims its
 * leftmost non-overlapping occurrences in text no earlier token claimed.
 * Rather than scanning the text once per special token (Gemma has thousands),
 * a byte trie finds every occurrence of every special text in one pass; the
 * occurrences are then sorted by (token rank, position) and claimed greedily,
 * which picks exactly the same matches. CONTROL and UNKNOWN tokens are only
 * matched with parse_special; USER_DEFINED ones always are (as in HF).
 */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

/* Append one id, growing the vector; sets oom instead of failing loudly. */
void tok_vec_push(tok_vec *tv, int32_t id)
{
    if (tv->oom) return;
    if (tv->n == tv->cap) {
        size_t cap = tv->cap ? tv->cap * 2 : 64;
        int32_t *v = realloc(tv->v, cap * sizeof *v);
        if (!v) { tv->oom = true; return; }
        tv->v = v; tv->cap = cap;
    }
    tv->v[tv->n++] = id;
}

/* ---- special-token trie --------------------------------------------- */

typedef struct trie_node {
    int32_t child;     /* first child, -1 none */
    int32_t sibling;   /* next sibling, -1 none */
    int32_t tok;       /* token ending here, -1 none */
    uint8_t byte;
} trie_node;

struct vocab_trie {
    trie_node *n;
    int32_t    count, cap;
    int32_t    root[256];   /* first-level nodes by byte */
};

/* New node for byte b; -1 on out of memory. */
static int32_t trie_node_new(vocab_trie *t, uint8_t b)
{
    if (t->count == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 256;
        trie_node *n = realloc(t->n, (size_t)cap * sizeof *n);
        if (!n) return -1;
        t->n = n; t->cap = cap;
    }
    t->n[t->count] = (trie_node){ -1, -1, -1, b };
    return t->count++;
}

/* Child of node for byte b (node -1 = root), optionally creating it. */
static int32_t trie_child(vocab_trie *t, int32_t node, uint8_t b, bool create)
{
    int32_t *link = node < 0 ? &t->root[b] : &t->n[node].child;
    if (node < 0) {
        if (*link < 0 && create) *link = trie_node_new(t, b);
        return *link;
    }
    int32_t c = *link;
    while (c >= 0 && t->n[c].byte != b) c = t->n[c].sibling;
    if (c >= 0 || !create) return c;
    c = trie_node_new(t, b);
    if (c < 0) return -1;
    t->n[c].sibling = t->n[node].child;
    t->n[node].child = c;
    return c;
}

void vocab_trie_free(vocab_trie *t)
{
    if (!t) return;
    free(t->n);
    free(t);
}

/* A special token and its text length, for ranking. */
typedef struct special_key { uint32_t len; int32_t id; } special_key;

/* Longer text first; equal lengths by id (llama.cpp leaves ties unspecified). */
static int special_cmp(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Collect CONTROL/USER_DEFINED/UNKNOWN tokens, rank them, build the trie. */
int vocab_build_special(pl_vocab *v)
{
    const uint8_t mask = VOCAB_ATTR_CONTROL | VOCAB_ATTR_USER_DEFINED | VOCAB_ATTR_UNKNOWN;
    v->special = malloc((size_t)v->n_tokens * sizeof *v->special);
    v->special_rank = malloc((size_t)v->n_tokens * sizeof *v->special_rank);
    v->trie = calloc(1, sizeof *v->trie);
    if (!v->special || !v->special_rank || !v->trie) return -1;
    memset(v->trie->root, 0xff, sizeof v->trie->root);
    v->n_special = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        v->special_rank[id] = -1;
        if (v->toks[id].attr & mask) v->special[v->n_special++] = id;
    }
    special_key *keys = malloc((size_t)(v->n_special ? v->n_special : 1) * sizeof *keys);
    if (!keys) return -1;
    for (int32_t r = 0; r < v->n_special; r++)
        keys[r] = (special_key){ v->toks[v->special[r]].text.len, v->special[r] };
    qsort(keys, (size_t)v->n_special, sizeof *keys, special_cmp);
    for (int32_t r = 0; r < v->n_special; r++) v->special[r] = keys[r].id;
    free(keys);
    for (int32_t r = 0; r < v->n_special; r++) {
        int32_t id = v->special[r];
        v->special_rank[id] = r;
        uint32_t len;
        const char *s = vocab_text(v, id, &len);
        int32_t node = -1;
        for (uint32_t i = 0; i < len; i++)
            if ((node = trie_child(v->trie, node, (uint8_t)s[i], true)) < 0) return -1;
        if (node >= 0) v->trie->n[node].tok = id;
    }
    return 0;
}

/* ---- partition ---------------------------------------------------------- */

typedef struct cand { int32_t rank; uint32_t pos, len; int32_t tok; } cand;

/* Every occurrence of an eligible special text, via the trie. */
static cand *special_find_all(const pl_vocab *v, const char *t, size_t len, bool parse_special, size_t *n_out)
{
    size_t n = 0, cap = 0;
    cand *c = NULL;
    const uint8_t skip = parse_special ? 0 : (VOCAB_ATTR_CONTROL | VOCAB_ATTR_UNKNOWN);
    for (size_t p = 0; p < len; p++) {
        int32_t node = v->trie->root[(uint8_t)t[p]];
        for (size_t q = p + 1; node >= 0; q++) {
            int32_t tok = v->trie->n[node].tok;
            if (tok >= 0 && !(v->toks[tok].attr & skip)) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    cand *nc = realloc(c, cap * sizeof *nc);
                    if (!nc) { free(c); *n_out = (size_t)-1; return NULL; }
                    c = nc;
                }
                c[n++] = (cand){ v->special_rank[tok], (uint32_t)p, (uint32_t)(q - p), tok };
            }
            if (q >= len) break;
            node = trie_child((vocab_trie *)v->trie, node, (uint8_t)t[q], false);
        }
    }
    *n_out = n;
    return c;
}

/* Claim occurrences greedily in (rank, position) order; keeps the claimed
 * ones in c, by position, and returns how many (-1 on out of memory).
 * Candidates arrive by position, so a counting sort by rank keeps that
 * order within a rank: O(n + len), no comparison sort. */
static long special_claim(const pl_vocab *v, cand *c, size_t n, size_t len)
{
    uint32_t *start = calloc((size_t)v->n_special + 1, sizeof *start);
    uint32_t *order = malloc(n * sizeof *order);
    int32_t *head = malloc(len * sizeof *head);      /* claimed candidate starting here */
    uint8_t *taken = calloc(len, 1);
    long kept = -1;
    if (!start || !order || !head || !taken) goto out;
    for (size_t i = 0; i < n; i++) start[c[i].rank + 1]++;
    for (int32_t r = 0; r < v->n_special; r++) start[r + 1] += start[r];
    for (size_t i = 0; i < n; i++) order[start[c[i].rank]++] = (uint32_t)i;
    memset(head, 0xff, len * sizeof *head);
    for (size_t k = 0; k < n; k++) {
        const cand *x = &c[order[k]];
        bool free_span = true;
        for (uint32_t q = 0; q < x->len && free_span; q++) free_span = !taken[x->pos + q];
        if (!free_span) continue;
        memset(taken + x->pos, 1, x->len);
        head[x->pos] = (int32_t)order[k];
    }
    kept = 0;
    for (size_t p = 0; p < len; p++)          /* in place: kept <= index of head[p] */
        if (head[p] >= 0) c[kept++] = c[head[p]];
out:
    free(start); free(order); free(head); free(taken);
    return kept;
}

/* Tokenize one raw fragment with the vocab's model. */
static void fragment_tokenize(const pl_vocab *v, const char *s, size_t n, bool prev_special, tok_vec *out)
{
    if (v->kind == VOCAB_SPM) spm_tokenize(v, s, n, v->add_space_prefix && prev_special, out);
    else if (n > 0) bpe_tokenize(v, s, n, out);
}

/* Sanitized text -> ids: special tokens, raw fragments, BOS/EOS. */
static int tokenize_clean(const pl_vocab *v, const char *t, size_t len, bool add_special,
                          bool parse_special, tok_vec *out)
{
    size_t n_c = 0;
    cand *c = len ? special_find_all(v, t, len, parse_special, &n_c) : NULL;
    if (n_c == (size_t)-1) return -1;
    long kept = n_c ? special_claim(v, c, n_c, len) : 0;
    if (kept < 0) { free(c); return -1; }
    if (add_special && v->add_bos) tok_vec_push(out, v->bos);
    bool prev_special = true;      /* SPM: a space prefix on the first fragment */
    size_t at = 0;
    for (long i = 0; i <= kept; i++) {
        size_t end = i < kept ? c[i].pos : len;
        if (end > at) {
            fragment_tokenize(v, t + at, end - at, prev_special, out);
            prev_special = false;
        }
        if (i < kept) {
            tok_vec_push(out, c[i].tok);
            prev_special = true;
            at = c[i].pos + c[i].len;
        }
    }
    if (add_special && v->add_eos) tok_vec_push(out, v->eos);
    free(c);
    return out->oom ? -1 : 0;
}

/* Full pipeline into the caller's buffer (see pl_tokenize). */
int vocab_tokenize(const pl_vocab *v, const char *text, size_t len, int32_t *out, int max,
                   bool add_special, bool parse_special)
{
    if (!v || (!text && len)) return -1;
    size_t clean_len = pl_utf8_sanitize(text, len, NULL, 0);
    char *clean = malloc(clean_len + 1);
    if (!clean) return -1;
    pl_utf8_sanitize(text, len, clean, clean_len);
    tok_vec tv = { 0 };
    int rc = tokenize_clean(v, clean, clean_len, add_special, parse_special, &tv);
    free(clean);
    if (rc != 0 || tv.n > INT32_MAX) { free(tv.v); return -1; }
    if (out && max > 0 && tv.n > 0) memcpy(out, tv.v, (tv.n < (size_t)max ? tv.n : (size_t)max) * sizeof *out);
    int n = (int)tv.n;
    free(tv.v);
    return n;
}
