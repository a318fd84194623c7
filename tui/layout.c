/* layout.c — from messages to display lines (tmux's grid-view layer).
 *
 * Text is decoded to code points with utf8proc and measured in display
 * columns (wide CJK and emoji take 2, combining marks 0 and stay with their
 * base). Lines wrap at word boundaries; a word longer than the line is cut.
 * Control characters never reach the terminal: tabs become spaces, the rest
 * U+FFFD, and invalid UTF-8 too, so a model's output cannot garble the screen.
 * Markdown-ish: **bold**, `inline code`, # headings and ``` fenced blocks
 * (kept verbatim, cut rather than word-wrapped). Each message's lines are
 * cached by (version, width, flags): a streaming answer re-wraps alone.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tui.h"

typedef struct atom {
    int32_t cp;
    uint8_t w, style;
} atom;

typedef struct atoms {
    atom *v;
    int   n, cap;
} atoms;

#define INDENT 2

/* ---- code points -------------------------------------------------------- */

static void atoms_push(atoms *a, int32_t cp, uint8_t style)
{
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 128;
        atom *v = realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) return;
        a->v = v;
        a->cap = cap;
    }
    int w = utf8proc_charwidth(cp);
    a->v[a->n++] = (atom){cp, (uint8_t)(w < 0 ? 1 : w > 2 ? 2 : w), style};
}

/* Decode one code point (U+FFFD for invalid bytes); returns bytes used. */
static int decode(const char *s, size_t n, int32_t *cp)
{
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, cp);
    if (k <= 0) { *cp = 0xFFFD; return 1; }
    return (int)k;
}

/* Add text as atoms; tabs to the next multiple of 4 columns, controls to U+FFFD. */
static void atoms_add_text(atoms *a, const char *s, size_t n, uint8_t style, int *col)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)decode(s + i, n - i, &cp);
        if (cp == '\t') {
            do { atoms_push(a, ' ', style); (*col)++; } while (*col % 4);
            continue;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) cp = 0xFFFD;
        atoms_push(a, cp, style);
        *col += a->n ? a->v[a->n - 1].w : 0;
    }
}

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

/* Append a line built from a[from..to), after `indent` spaces. */
static void emit(lay_cache *c, const atom *a, int from, int to, int indent, int msg, int block)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        lay_line *v = realloc(c->lines, sizeof *v * (size_t)cap);
        if (!v) return;
        c->lines = v;
        c->cap = cap;
    }
    lay_line *l = &c->lines[c->n];
    memset(l, 0, sizeof *l);
    l->text = malloc((size_t)(to - from) * 4 + (size_t)indent + 1);
    l->spans = malloc(sizeof *l->spans * (size_t)(to - from + 1));
    if (!l->text || !l->spans) { free(l->text); free(l->spans); return; }
    memset(l->text, ' ', (size_t)indent);
    uint32_t nb = (uint32_t)indent;
    l->cols = indent;
    for (int i = from; i < to; i++) {
        if (l->nspans == 0 || l->spans[l->nspans - 1].style != a[i].style)
            l->spans[l->nspans++] = (lay_span){nb, 0, a[i].style};
        utf8proc_ssize_t k = utf8proc_encode_char(a[i].cp, (utf8proc_uint8_t *)l->text + nb);
        nb += (uint32_t)k;
        l->spans[l->nspans - 1].len += (uint32_t)k;
        l->cols += a[i].w;
    }
    l->text[nb] = 0;
    l->nbytes = nb;
    l->msg = msg;
    l->code_block = block;
    c->n++;
}

/* Greedy word wrap of a[0..n) into lines of width columns. */
static void wrap(lay_cache *c, const atom *a, int n, int width, int indent, bool hard, int msg, int block)
{
    int avail = width - indent > 1 ? width - indent : 1;
    if (n == 0) { emit(c, a, 0, 0, indent, msg, block); return; }
    for (int i = 0; i < n;) {
        int col = 0, j = i, brk = -1;
        while (j < n) {
            if (col + a[j].w > avail && col > 0) break;
            if (a[j].cp == ' ' && !hard) brk = j;
            col += a[j].w;
            j++;
        }
        int end = j, next = j;
        bool soft = false;
        if (j < n && !hard && a[j].cp == ' ') {
            next = j + 1;
            soft = true;
        } else if (j < n && brk > i) {
            end = brk;
            next = brk + 1;
            soft = true;
        }
        emit(c, a, i, end, indent, msg, block);
        i = next;
        while (soft && i < n && a[i].cp == ' ') i++;   /* spaces at a soft break */
    }
}

/* Is this line a ``` fence (up to 3 spaces before it)? */
static bool is_fence(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ') i++;
    return n - i >= 3 && memcmp(s + i, "```", 3) == 0;
}

/* Inline markup of one prose line into atoms: **bold**, `code`, # heading. */
static void parse_inline(atoms *a, const char *s, size_t n, uint8_t style)
{
    int col = 0;
    bool bold = false;
    size_t i = 0;
    if (n > 1 && s[0] == '#') {
        while (i < n && s[i] == '#') i++;
        if (i < n && s[i] == ' ') { i++; style |= STYLE_BOLD; }
        else i = 0;
    }
    while (i < n) {
        const char *end;
        if (s[i] == '`' && (end = memchr(s + i + 1, '`', n - i - 1)) != NULL) {
            atoms_add_text(a, s + i + 1, (size_t)(end - s - i - 1), ROLE_CODE, &col);
            i = (size_t)(end - s) + 1;
        } else if (i + 1 < n && s[i] == '*' && s[i + 1] == '*' && (bold || memmem(s + i + 2, n - i - 2, "**", 2))) {
            bold = !bold;
            i += 2;
        } else {
            size_t k = i + 1;
            while (k < n && s[k] != '`' && s[k] != '*') k++;
            atoms_add_text(a, s + i, k - i, (uint8_t)(bold ? style | STYLE_BOLD : style), &col);
            i = k;
        }
    }
}

/* Lay out text: prose wraps at words, fenced code is cut at the width. */
void layout_text(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                 bool markdown, int msg)
{
    atoms a = {0};
    bool code = false;
    int block = -1;
    for (size_t p = 0; p <= len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        int col = 0;
        a.n = 0;
        if (markdown && is_fence(text + p, e - p)) {
            if (!code) block++;
            atoms_add_text(&a, text + p, e - p, ROLE_CODE, &col);
            wrap(c, a.v, a.n, width, indent, true, msg, block);
            code = !code;
        } else if (code) {
            atoms_add_text(&a, text + p, e - p, ROLE_CODE, &col);
            wrap(c, a.v, a.n, width, indent, true, msg, block);
        } else {
            if (markdown) parse_inline(&a, text + p, e - p, style);
            else atoms_add_text(&a, text + p, e - p, style, &col);
            wrap(c, a.v, a.n, width, indent, false, msg, -1);
        }
        p = e + 1;
    }
    free(a.v);
}

void layout_cache_free(lay_cache *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->lines[i].text);
        free(c->lines[i].spans);
    }
    free(c->lines);
    memset(c, 0, sizeof *c);
}

/* ---- messages -------------------------------------------------------------- */

/* Header, body and a blank line for one message. */
static void layout_message(lay_cache *c, const tr_msg *m, int width, int idx)
{
    static const struct { const char *label; uint8_t style; } heads[] = {
        [TR_USER] = {"You", ROLE_USER | STYLE_BOLD},
        [TR_ASSISTANT] = {"Assistant", ROLE_ASSISTANT | STYLE_BOLD},
        [TR_SYSTEM] = {"System", ROLE_DIM | STYLE_BOLD},
    };
    const char *text = m->text ? m->text : "";
    atoms a = {0};
    int col = 0;
    if (m->kind == TR_NOTICE || m->kind == TR_ERROR) {
        uint8_t st = m->kind == TR_NOTICE ? ROLE_NOTICE : ROLE_ERROR | STYLE_BOLD;
        atoms_add_text(&a, m->kind == TR_NOTICE ? "* " : "! ", 2, st, &col);
        atoms_add_text(&a, text, m->len, st, &col);
        wrap(c, a.v, a.n, width, 0, false, idx, -1);
    } else {
        atoms_add_text(&a, heads[m->kind].label, strlen(heads[m->kind].label), heads[m->kind].style, &col);
        const char *tag = m->dropped ? "  (out of context)" : m->stopped ? "  (stopped)"
                        : m->incomplete ? "  (incomplete)" : m->streaming ? "  ..." : "";
        atoms_add_text(&a, tag, strlen(tag), ROLE_DIM, &col);
        wrap(c, a.v, a.n, width, 0, true, idx, -1);
        uint8_t body = m->kind == TR_USER ? ROLE_NORMAL : m->kind == TR_SYSTEM ? ROLE_DIM : ROLE_ASSISTANT;
        if (m->len || !m->streaming)
            layout_text(c, text, m->len, width, INDENT, body, m->kind == TR_ASSISTANT, idx);
    }
    free(a.v);
    emit(c, NULL, 0, 0, 0, idx, -1);
}

void layout_init(layout *L) { memset(L, 0, sizeof *L); }

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
        int flags = m->dropped | m->stopped << 1 | m->streaming << 2 | m->incomplete << 3;
        if (c->version != m->version || c->width != width || c->flags != flags || c->n == 0) {
            layout_cache_free(c);
            layout_message(c, m, width, i);
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

/* Code block k (-1: the last) of a message, without its fences. */
char *layout_code_block(const char *text, size_t len, int k)
{
    int block = -1;
    const char *start = NULL, *best = NULL, *best_end = NULL;
    bool code = false;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        if (is_fence(text + p, e - p)) {
            if (!code) { block++; start = nl ? nl + 1 : text + len; }
            else if (k < 0 || block == k) { best = start; best_end = text + p; }
            code = !code;
        }
        p = e + 1;
    }
    if (code && (k < 0 || block == k)) { best = start; best_end = text + len; }   /* unclosed */
    if (!best) return NULL;
    size_t n = (size_t)(best_end - best);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, best, n);
    out[n] = 0;
    return out;
}
