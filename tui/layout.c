/* layout.c — from messages to display lines (tmux's grid-view layer).
 *
 * Text is decoded to code points with utf8proc and measured in display
 * columns (wide CJK and emoji take 2, combining marks 0 and stay with their
 * base). Lines wrap at word boundaries; a word longer than the line is cut.
 * Control characters never reach the terminal: tabs become spaces, the rest
 * U+FFFD, and invalid UTF-8 too, so a model's output cannot garble the screen.
 * An answer is Markdown, laid out by markdown.c (md4c) with the line builder
 * here. Each message's lines are cached by (version, width, flags): a
 * streaming answer re-wraps alone, and only from the last point its Markdown
 * can no longer change (lay_cache.mark).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "layout_impl.h"

#define INDENT 2

/* ---- code points -------------------------------------------------------- */

/* Append one atom; a control character never gets this far as itself. */
void atoms_push(atoms *a, int32_t cp, uint8_t style)
{
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 128;
        atom *v = realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) return;
        a->v = v;
        a->cap = cap;
    }
    if (cp >= 0x20 && cp < 0x7f) {   /* printable ASCII: most of any text */
        a->v[a->n++] = (atom){cp, 1, style};
        return;
    }
    if (cp != '\n' && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF))
        cp = 0xFFFD;   /* controls, and surrogates (an entity could name one) */
    int w = cp == '\n' ? 0 : utf8proc_charwidth(cp);
    a->v[a->n++] = (atom){cp, (uint8_t)(w < 0 ? 1 : w > 2 ? 2 : w), style};
}

/* Decode one code point (U+FFFD for invalid bytes); returns bytes used. */
static int decode(const char *s, size_t n, int32_t *cp)
{
    if ((unsigned char)s[0] < 0x80) { *cp = (unsigned char)s[0]; return 1; }
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, cp);
    if (k <= 0) { *cp = 0xFFFD; return 1; }
    return (int)k;
}

/* Add text as atoms; tabs to the next multiple of 4 columns, controls to U+FFFD. */
void atoms_add_text(atoms *a, const char *s, size_t n, uint8_t style, int *col)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)decode(s + i, n - i, &cp);
        if (cp == '\t') {
            do { atoms_push(a, ' ', style); (*col)++; } while (*col % 4);
            continue;
        }
        if (cp == '\n') cp = 0xFFFD;
        atoms_push(a, cp, style);
        *col += a->n ? a->v[a->n - 1].w : 0;
    }
}

/* Markers and borders are short constant strings. */
void atoms_add_str(atoms *a, const char *s, uint8_t style)
{
    int col = 0;
    atoms_add_text(a, s, strlen(s), style, &col);
}

/* Columns of a run of atoms (table cells, prefixes). */
int atoms_width(const atom *a, int from, int to)
{
    int w = 0;
    for (int i = from; i < to; i++) w += a[i].w;
    return w;
}

/* Display columns of UTF-8 text (the input box and status line measure with it). */
int tui_str_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        i += (size_t)decode(s + i, len - i, &cp);
        int cw = utf8proc_charwidth(cp);
        w += cw < 0 ? 1 : cw;
    }
    return w;
}

/* ---- lines ----------------------------------------------------------------- */

/* Put atoms into line l's text and spans (the caller sized both). */
static void put_atoms(lay_line *l, const atom *a, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (a[i].cp == '\n') continue;
        if (l->nspans == 0 || l->spans[l->nspans - 1].style != a[i].style)
            l->spans[l->nspans++] = (lay_span){l->nbytes, 0, a[i].style};
        utf8proc_ssize_t k = a[i].cp < 0x80 ? (l->text[l->nbytes] = (char)a[i].cp, 1)
                                            : utf8proc_encode_char(a[i].cp, (utf8proc_uint8_t *)l->text + l->nbytes);
        l->nbytes += (uint32_t)k;
        l->spans[l->nspans - 1].len += (uint32_t)k;
        l->cols += a[i].w;
    }
}

/* Append a line built from the prefix and a[from..to). */
void lay_emit(lay_cache *c, const atoms *prefix, const atom *a, int from, int to, int msg, int block)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        lay_line *v = realloc(c->lines, sizeof *v * (size_t)cap);
        if (!v) return;
        c->lines = v;
        c->cap = cap;
    }
    int np = prefix ? prefix->n : 0, n = to - from + np;
    lay_line *l = &c->lines[c->n];
    memset(l, 0, sizeof *l);
    l->text = malloc((size_t)n * 4 + 1);
    l->spans = malloc(sizeof *l->spans * (size_t)(n + 1));
    if (!l->text || !l->spans) { free(l->text); free(l->spans); return; }
    if (prefix) put_atoms(l, prefix->v, 0, np);
    put_atoms(l, a, from, to);
    l->text[l->nbytes] = 0;
    l->msg = msg;
    l->code_block = block;
    c->n++;
}

/* Greedy fit of one line from a[i]: stops at a hard break, else at the last space. */
int wrap_next(const atom *a, int i, int n, int avail, bool hard, int *end)
{
    int col = 0, j = i, brk = -1;
    while (j < n && a[j].cp != '\n') {
        if (col + a[j].w > avail && col > 0) break;
        if (a[j].cp == ' ' && !hard) brk = j;
        col += a[j].w;
        j++;
    }
    if (j < n && a[j].cp == '\n') { *end = j; return j + 1; }
    int next = j;
    bool soft = false;
    *end = j;
    if (j < n && !hard && a[j].cp == ' ') {
        next = j + 1;
        soft = true;
    } else if (j < n && brk > i) {
        *end = brk;
        next = brk + 1;
        soft = true;
    }
    while (soft && next < n && a[next].cp == ' ') next++;   /* spaces at a soft break */
    return next;
}

/* Greedy word wrap of a[0..n) into lines of width columns after the prefixes. */
void lay_wrap(lay_cache *c, const atoms *p1, const atoms *p2, const atom *a, int n, int width, bool hard,
              int msg, int block)
{
    int w1 = p1 ? atoms_width(p1->v, 0, p1->n) : 0, w2 = p2 ? atoms_width(p2->v, 0, p2->n) : 0;
    if (n == 0) { lay_emit(c, p1, a, 0, 0, msg, block); return; }
    for (int i = 0, first = 1; i < n; first = 0) {
        int pw = first ? w1 : w2, avail = width - pw > 1 ? width - pw : 1, end;
        int next = wrap_next(a, i, n, avail, hard, &end);
        lay_emit(c, first ? p1 : p2, a, i, end, msg, block);
        i = next;
    }
}

/* Plain text: prose wraps at words after indent spaces; markdown goes to markdown.c. */
void layout_text(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                 bool markdown, int msg)
{
    if (markdown) {
        layout_markdown(c, text, len, width, indent, style, 0, msg);
        return;
    }
    atoms a = {0}, pre = {0};
    for (int i = 0; i < indent; i++) atoms_push(&pre, ' ', style);
    for (size_t p = 0; p <= len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        int col = 0;
        a.n = 0;
        atoms_add_text(&a, text + p, e - p, style, &col);
        lay_wrap(c, &pre, &pre, a.v, a.n, width, false, msg, -1);
        p = e + 1;
    }
    free(a.v);
    free(pre.v);
}

/* Free a message's lines and what streaming kept. */
void layout_cache_free(lay_cache *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->lines[i].text);
        free(c->lines[i].spans);
    }
    free(c->lines);
    free(c->seen);
    memset(c, 0, sizeof *c);
}

/* Drop lines [n, c->n): what a streaming answer lays out again. */
static void lay_truncate(lay_cache *c, int n)
{
    while (c->n > n) {
        c->n--;
        free(c->lines[c->n].text);
        free(c->lines[c->n].spans);
    }
}

/* ---- messages -------------------------------------------------------------- */

/* The header line of a message: who speaks, and its state. */
static void layout_header(lay_cache *c, const tr_msg *m, int width, int idx)
{
    static const struct { const char *label; uint8_t style; } heads[] = {
        [TR_USER] = {"You", ROLE_USER | STYLE_BOLD},
        [TR_ASSISTANT] = {"Assistant", ROLE_ASSISTANT | STYLE_BOLD},
        [TR_SYSTEM] = {"System", ROLE_DIM | STYLE_BOLD},
    };
    atoms a = {0};
    atoms_add_str(&a, heads[m->kind].label, heads[m->kind].style);
    atoms_add_str(&a, m->dropped ? "  (out of context)" : m->stopped ? "  (stopped)"
                    : m->incomplete ? "  (stopped)" : m->streaming ? "  ..." : "", ROLE_DIM);   /* one label everywhere */
    lay_wrap(c, NULL, NULL, a.v, a.n, width, true, idx, -1);
    free(a.v);
}

/* Header, body and a blank line for one message. */
static void layout_message(lay_cache *c, const tr_msg *m, int width, int idx, bool ascii)
{
    const char *text = m->text ? m->text : "";
    if (m->kind == TR_NOTICE || m->kind == TR_ERROR) {
        uint8_t st = m->kind == TR_NOTICE ? ROLE_NOTICE : ROLE_ERROR | STYLE_BOLD;
        atoms a = {0};
        int col = 0;
        atoms_add_str(&a, m->kind == TR_NOTICE ? "* " : "! ", st);
        atoms_add_text(&a, text, m->len, st, &col);
        lay_wrap(c, NULL, NULL, a.v, a.n, width, false, idx, -1);
        free(a.v);
    } else {
        layout_header(c, m, width, idx);
        uint8_t body = m->kind == TR_USER ? ROLE_NORMAL : m->kind == TR_SYSTEM ? ROLE_DIM : ROLE_ASSISTANT;
        if (m->kind == TR_ASSISTANT && (m->len || !m->streaming))
            layout_markdown(c, text, m->len, width, INDENT, body,
                            (ascii ? LAY_ASCII : 0) | (m->streaming ? LAY_STREAMING : 0), idx);
        else if (m->len || !m->streaming)
            layout_text(c, text, m->len, width, INDENT, body, false, idx);
    }
    lay_emit(c, NULL, NULL, 0, 0, idx, -1);
}

/* A streaming answer that only grew since c was laid out: lay out again
 * from the last point its Markdown could still change (c->mark). */
static bool layout_grow(lay_cache *c, const tr_msg *m, int width, int idx, int flags, bool ascii)
{
    if (m->kind != TR_ASSISTANT || !m->streaming || c->n == 0 || c->width != width || c->flags != flags ||
        c->version >> 32 != m->version >> 32 || c->lines[0].msg != idx || c->mark.lines == 0 ||
        c->mark.src > m->len || (c->mark.src && (!c->seen || memcmp(c->seen, m->text, c->mark.src) != 0)))
        return false;
    lay_truncate(c, c->mark.lines);
    md_layout_from(c, m->text, m->len, width, INDENT, ROLE_ASSISTANT, (ascii ? LAY_ASCII : 0) | LAY_STREAMING, idx);
    lay_emit(c, NULL, NULL, 0, 0, idx, -1);
    return true;
}

void layout_init(layout *L) { memset(L, 0, sizeof *L); }

/* Free every message's lines. */
void layout_done(layout *L)
{
    for (int i = 0; i < L->cap_msgs; i++) layout_cache_free(&L->msgs[i]);
    free(L->msgs);
    free(L->first);
    memset(L, 0, sizeof *L);
}

/* Re-wrap what changed; returns the total number of lines. */
int layout_update(layout *L, const transcript *t, int width)
{
    if (!L->first || t->n > L->cap_msgs) {
        int cap = t->n * 2 + 8;
        lay_cache *m = realloc(L->msgs, sizeof *m * (size_t)cap);
        int *f = realloc(L->first, sizeof *f * (size_t)(cap + 1));
        if (m) L->msgs = m;
        if (f) L->first = f;
        if (!m || !f) return L->total;
        memset(m + L->cap_msgs, 0, sizeof *m * (size_t)(cap - L->cap_msgs));
        L->cap_msgs = cap;
    }
    for (int i = t->n; i < L->n_msgs; i++) layout_cache_free(&L->msgs[i]);
    L->n_msgs = t->n;
    L->width = width;
    int total = 0;
    for (int i = 0; i < t->n; i++) {
        const tr_msg *m = &t->msgs[i];
        lay_cache *c = &L->msgs[i];
        int flags = m->dropped | m->stopped << 1 | m->streaming << 2 | m->incomplete << 3 | L->ascii << 4;
        if ((c->version != m->version || c->width != width || c->flags != flags || c->n == 0) &&
            !layout_grow(c, m, width, i, flags, L->ascii)) {
            layout_cache_free(c);
            layout_message(c, m, width, i, L->ascii);
            c->version = m->version;
            c->width = width;
            c->flags = flags;
        }
        L->first[i] = total;
        total += c->n;
    }
    L->first[t->n] = total;
    L->total = total;
    return total;
}

/* Global line i (0 = the oldest), or NULL. */
const lay_line *layout_line(const layout *L, int i)
{
    if (i < 0 || i >= L->total) return NULL;
    int lo = 0, hi = L->n_msgs - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (L->first[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return &L->msgs[lo].lines[i - L->first[lo]];
}
