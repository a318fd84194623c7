/* markdown.c — an answer's Markdown laid out as people read it in oterm or Elia.
 *
 * md4c (GitHub dialect, raw HTML shown as text) parses; its callbacks build
 * display lines. Containers (block quotes, list items) are a stack of line
 * prefixes: a quote bar, a bullet or number on an item's first line and
 * spaces under it after. Leaf blocks collect styled atoms and wrap them
 * after those prefixes: paragraphs, headings (bold; the first level also
 * underlined), code blocks (no fences: a background box with syntax colours,
 * or ASCII rails without colours: md_code.c), tables (md_table.c), rules.
 * Links show their text underlined and their address dimmed after it.
 *
 * A growing answer is cut into pieces where Markdown cannot reach back
 * (md_stream.c): every piece but the last is laid out once and kept
 * (lay_cache.mark), so a token costs a parse of the last piece only, and
 * that piece's unfinished end is tidied first so no raw markup flickers.
 * The whole answer is laid out piece by piece too, so what shows while it
 * streams is what stays afterwards.
 */
#include <md4c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_impl.h"

/* ---- prefixes and lines ------------------------------------------------ */

/* The prefix of the next line: the indent, then each container's mark, as
 * long as the marks take at most half the pane (deeper ones add nothing). */
void md_prefix(md_r *r, atoms *p, bool first)
{
    p->n = 0;
    for (int i = 0; i < r->indent; i++) atoms_push(p, ' ', r->base);
    int w = r->indent;
    for (int i = 0; i < r->nbox; i++) {
        const atoms *m = r->box[i].item && !r->box[i].used && first ? &r->box[i].first : &r->box[i].rest;
        int mw = atoms_width(m->v, 0, m->n);
        if (w + mw > r->width / 2) break;
        for (int k = 0; k < m->n; k++) atoms_push(p, m->v[k].cp, m->v[k].style);
        w += mw;
    }
}

/* Once a line is out, list items show spaces instead of their bullets. */
void md_used(md_r *r)
{
    for (int i = 0; i < r->nbox; i++) r->box[i].used = true;
    r->any = true;
}

/* A blank line between blocks (inside quotes it keeps the bar). */
void md_gap(md_r *r)
{
    if (r->gap && r->any) {
        md_prefix(r, &r->pre2, false);
        while (r->pre2.n && r->pre2.v[r->pre2.n - 1].cp == ' ') r->pre2.n--;
        lay_emit(r->c, &r->pre2, NULL, 0, 0, r->msg, -1);
    }
    r->gap = false;
}

/* Wrap a leaf's atoms after the containers' marks. */
static void md_lines(md_r *r, const atom *a, int n)
{
    md_gap(r);
    md_prefix(r, &r->pre1, true);
    md_prefix(r, &r->pre2, false);
    lay_wrap(r->c, &r->pre1, &r->pre2, a, n, r->width, false, r->msg, -1);
    md_used(r);
}

/* Pending inline text (a paragraph, or a tight list item's words) goes out. */
static void md_flush(md_r *r, bool tight)
{
    if (r->text.n == 0 || r->in_cell) return;
    md_lines(r, r->text.v, r->text.n);
    r->text.n = 0;
    r->gap = !tight;
}

/* The style of inline text here: role from the innermost span, then attributes. */
static uint8_t md_style(const md_r *r)
{
    uint8_t s = r->code ? ROLE_CODE : r->link ? ROLE_LINK | STYLE_UNDERLINE : r->del || r->img ? ROLE_DIM : r->base;
    if (r->bold || r->heading) s |= STYLE_BOLD;
    if (r->italic) s |= STYLE_ITALIC;
    if (r->heading == 1) s |= STYLE_UNDERLINE;
    return s;
}

/* ---- blocks ------------------------------------------------------------ */

/* A list item's bullet ("•", "◦", "▪" by depth; "-", "*", "+" in ASCII) or number. */
static void md_item(md_r *r, const MD_BLOCK_LI_DETAIL *d)
{
    static const char *const dots[] = {"\xe2\x80\xa2", "\xe2\x97\xa6", "\xe2\x96\xaa"}, *const ascii[] = {"-", "*", "+"};
    if (r->nbox >= MAX_DEPTH || r->nlist == 0 || r->deep_list) { r->deep++; return; }
    md_box *b = &r->box[r->nbox++];
    md_list *l = &r->list[r->nlist - 1];
    b->item = true;
    b->used = false;
    b->first.n = b->rest.n = 0;
    char mark[32];
    int level = 0;
    for (int i = 0; i < r->nlist - 1; i++) level += !r->list[i].ordered;
    if (l->ordered) snprintf(mark, sizeof mark, "%u%c ", l->next, l->delim ? l->delim : '.');
    else snprintf(mark, sizeof mark, "%s ", (r->ascii ? ascii : dots)[level % 3]);
    atoms_add_str(&b->first, mark, r->base);
    if (d && d->is_task) atoms_add_str(&b->first, d->task_mark == ' ' ? "[ ] " : "[x] ", r->base);
    for (int w = atoms_width(b->first.v, 0, b->first.n); w > 0; w--) atoms_push(&b->rest, ' ', r->base);
    l->next++;
}

/* A block quote's bar. */
static void md_quote(md_r *r)
{
    if (r->nbox >= MAX_DEPTH) { r->deep++; return; }
    md_box *b = &r->box[r->nbox++];
    b->item = false;
    b->first.n = b->rest.n = 0;
    atoms_add_str(&b->rest, r->ascii ? "> " : "\xe2\x94\x82 ", ROLE_DIM);
}

/* A list opens; a numbered one right after the last piece's goes on counting. */
static void md_list_open(md_r *r, MD_BLOCKTYPE type, void *detail)
{
    if (r->nlist >= MAX_DEPTH) { r->deep_list++; return; }
    md_list *l = &r->list[r->nlist++];
    memset(l, 0, sizeof *l);
    l->ordered = type == MD_BLOCK_OL;
    if (l->ordered) {
        const MD_BLOCK_OL_DETAIL *d = detail;
        l->tight = d->is_tight;
        l->next = d->start;
        l->delim = d->mark_delimiter;
        if (r->first_block && r->nbox == 0 && r->ol_delim == l->delim) l->next = r->ol_next;
    } else {
        l->tight = ((const MD_BLOCK_UL_DETAIL *)detail)->is_tight;
    }
}

/* A list closes: a blank line after it unless it sat in a tight item. */
static void md_list_close(md_r *r)
{
    if (r->deep_list) { r->deep_list--; return; }
    md_list l = r->list[--r->nlist];
    r->gap = r->nlist ? !r->list[r->nlist - 1].tight : true;
    if (r->nbox == 0) {
        r->end_ol_next = l.next;
        r->end_ol_delim = l.ordered ? (l.delim ? l.delim : '.') : 0;
    }
}

/* A horizontal rule across the line. */
static void md_rule(md_r *r)
{
    md_gap(r);
    md_prefix(r, &r->pre1, true);
    atoms a = {0};
    int n = r->width - atoms_width(r->pre1.v, 0, r->pre1.n);
    for (int i = 0; i < n; i++) atoms_add_str(&a, r->ascii ? "-" : "\xe2\x94\x80", ROLE_DIM);
    lay_emit(r->c, &r->pre1, a.v, 0, a.n, r->msg, -1);
    free(a.v);
    md_used(r);
    r->gap = true;
}

/* md4c: a block opens (containers push their marks, leaves start collecting). */
static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *u)
{
    md_r *r = u;
    if (type == MD_BLOCK_DOC) return 0;
    if (!r->in_cell) md_flush(r, true);   /* a tight item's words before its nested block */
    if (type == MD_BLOCK_QUOTE || type == MD_BLOCK_UL || type == MD_BLOCK_OL || type == MD_BLOCK_LI)
        md_gap(r);   /* the blank line before a container goes outside its marks */
    switch (type) {
    case MD_BLOCK_QUOTE: md_quote(r); break;
    case MD_BLOCK_UL: case MD_BLOCK_OL: md_list_open(r, type, detail); break;
    case MD_BLOCK_LI: md_item(r, detail); break;
    case MD_BLOCK_HR: md_rule(r); break;
    case MD_BLOCK_H: r->heading = (int)((const MD_BLOCK_H_DETAIL *)detail)->level; break;
    case MD_BLOCK_CODE: {
        const MD_BLOCK_CODE_DETAIL *d = detail;
        size_t n = d->lang.size < sizeof r->lang ? d->lang.size : sizeof r->lang - 1;
        memcpy(r->lang, d->lang.text ? d->lang.text : "", n);
        r->lang[n] = 0;
        for (size_t i = 0; i < n; i++) if ((unsigned char)r->lang[i] < 0x20) r->lang[i] = '?';
        r->in_code = true;
        r->code_n = 0;
        break;
    }
    case MD_BLOCK_TABLE: md_table_free(r->table); r->table = md_table_new(); break;
    case MD_BLOCK_TR: if (r->table) md_table_row(r->table); break;
    case MD_BLOCK_TH: case MD_BLOCK_TD:
        r->in_cell = true;
        r->cell_head = type == MD_BLOCK_TH;
        r->cell_align = ((const MD_BLOCK_TD_DETAIL *)detail)->align;
        r->text.n = 0;
        break;
    default: break;
    }
    if (r->nbox == 0 && type != MD_BLOCK_LI) r->first_block = false;
    return 0;
}

/* A table is complete: columns sized, cells wrapped, lines out. */
static void md_table_done(md_r *r)
{
    md_gap(r);
    md_prefix(r, &r->pre1, true);
    md_prefix(r, &r->pre2, false);
    if (r->table) md_table_layout(r->table, r->c, &r->pre1, &r->pre2, r->width, r->ascii, r->base, r->msg);
    md_table_free(r->table);
    r->table = NULL;
    md_used(r);
    r->gap = true;
}

/* md4c: a block closes (leaves wrap into lines, containers pop). */
static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *u)
{
    md_r *r = u;
    switch (type) {
    case MD_BLOCK_QUOTE:
        if (r->deep) r->deep--;
        else r->nbox--;
        r->gap = true;
        break;
    case MD_BLOCK_UL: case MD_BLOCK_OL: md_list_close(r); break;
    case MD_BLOCK_LI:
        md_flush(r, true);
        if (r->deep) { r->deep--; break; }
        if (!r->box[r->nbox - 1].used) md_lines(r, NULL, 0);   /* an empty item still shows its bullet */
        r->nbox--;
        break;
    case MD_BLOCK_H: md_flush(r, false); r->heading = 0; break;
    case MD_BLOCK_CODE: r->in_code = false; md_code(r); break;
    case MD_BLOCK_P: case MD_BLOCK_HTML: md_flush(r, false); break;
    case MD_BLOCK_TH: case MD_BLOCK_TD:
        if (r->table) md_table_cell(r->table, &r->text, r->cell_align, r->cell_head);
        r->text.n = 0;
        r->in_cell = false;
        break;
    case MD_BLOCK_TABLE: md_table_done(r); break;
    default: break;
    }
    if (r->nbox == 0 && type != MD_BLOCK_DOC && type != MD_BLOCK_UL && type != MD_BLOCK_OL && type != MD_BLOCK_LI)
        r->end_ol_delim = 0;
    return 0;
}

/* ---- spans and text ---------------------------------------------------- */

/* An attribute (link address) as a NUL-terminated copy. */
static char *attr_dup(const MD_ATTRIBUTE *a)
{
    char *s = malloc(a->size + 1);
    if (!s) return NULL;
    memcpy(s, a->text ? a->text : "", a->size);
    s[a->size] = 0;
    return s;
}

/* md4c: an inline span opens: emphasis, code, link, image. */
static int on_enter_span(MD_SPANTYPE type, void *detail, void *u)
{
    md_r *r = u;
    switch (type) {
    case MD_SPAN_EM: r->italic++; break;
    case MD_SPAN_STRONG: r->bold++; break;
    case MD_SPAN_CODE:
        if (r->ascii) atoms_add_str(&r->text, "`", ROLE_CODE);
        r->code++;
        break;
    case MD_SPAN_DEL: r->del++; break;
    case MD_SPAN_A:
        if (!r->link++) {
            free(r->href);
            r->href = attr_dup(&((const MD_SPAN_A_DETAIL *)detail)->href);
            r->link_start = r->text.n;
        }
        break;
    case MD_SPAN_IMG:
        r->img++;
        atoms_add_str(&r->text, "[image: ", ROLE_DIM);
        break;
    default: break;
    }
    return 0;
}

/* Does the link's shown text already say its address (autolinks)? */
static bool link_says_href(const md_r *r)
{
    const char *h = r->href;
    if (strncmp(h, "mailto:", 7) == 0) h += 7;
    char buf[1024];
    size_t o = 0;
    for (int i = r->link_start; i < r->text.n && o + 4 < sizeof buf; i++) {
        int32_t cp = r->text.v[i].cp;
        if (cp < 0x80) buf[o++] = (char)cp;
        else return false;
    }
    buf[o] = 0;
    return strcmp(buf, h) == 0 || strcmp(buf, r->href) == 0;
}

/* md4c: an inline span closes; a link adds its address after it. */
static int on_leave_span(MD_SPANTYPE type, void *detail, void *u)
{
    md_r *r = u;
    switch (type) {
    case MD_SPAN_EM: r->italic--; break;
    case MD_SPAN_STRONG: r->bold--; break;
    case MD_SPAN_CODE:
        r->code--;
        if (r->ascii) atoms_add_str(&r->text, "`", ROLE_CODE);
        break;
    case MD_SPAN_DEL: r->del--; break;
    case MD_SPAN_A:
        if (--r->link == 0 && r->href && r->href[0] && !link_says_href(r)) {
            int col = 0;
            atoms_add_str(&r->text, " (", ROLE_DIM);
            atoms_add_text(&r->text, r->href, strlen(r->href), ROLE_DIM, &col);
            atoms_add_str(&r->text, ")", ROLE_DIM);
        }
        break;
    case MD_SPAN_IMG: {
        r->img--;
        char *src = attr_dup(&((const MD_SPAN_IMG_DETAIL *)detail)->src);
        atoms_add_str(&r->text, "]", ROLE_DIM);
        if (src && src[0]) {
            int col = 0;
            atoms_add_str(&r->text, " (", ROLE_DIM);
            atoms_add_text(&r->text, src, strlen(src), ROLE_DIM, &col);
            atoms_add_str(&r->text, ")", ROLE_DIM);
        }
        free(src);
        break;
    }
    default: break;
    }
    return 0;
}

/* An entity as its character: the common named ones and numeric ones. */
static void add_entity(md_r *r, const char *s, size_t n)
{
    static const struct { const char *name; int32_t cp; } named[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&nbsp;", 0xA0},
        {"&copy;", 0xA9}, {"&reg;", 0xAE}, {"&mdash;", 0x2014}, {"&ndash;", 0x2013}, {"&hellip;", 0x2026},
        {"&rarr;", 0x2192}, {"&larr;", 0x2190}, {"&times;", 0xD7}, {"&deg;", 0xB0},
    };
    int32_t cp = -1;
    if (n > 3 && s[1] == '#') {
        char num[16];
        size_t k = n - 3 < sizeof num - 1 ? n - 3 : sizeof num - 1;
        bool hex = s[2] == 'x' || s[2] == 'X';
        memcpy(num, s + 2 + hex, k - hex);
        num[k - hex] = 0;
        long v = strtol(num, NULL, hex ? 16 : 10);
        cp = v > 0 && v <= 0x10FFFF ? (int32_t)v : 0xFFFD;
    }
    for (size_t i = 0; cp < 0 && i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0) cp = named[i].cp;
    if (cp < 0) {
        int col = 0;
        atoms_add_text(&r->text, s, n, md_style(r), &col);
    } else {
        atoms_push(&r->text, cp, md_style(r));
    }
}

/* md4c: text, into the code block being read or the leaf's atoms. */
static int on_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *u)
{
    md_r *r = u;
    int col = 0;
    if (r->in_code) {
        if (r->code_n + n > r->code_cap) {
            size_t cap = (r->code_n + n) * 2 + 64;
            char *b = realloc(r->code_buf, cap);
            if (!b) return 0;
            r->code_buf = b;
            r->code_cap = cap;
        }
        memcpy(r->code_buf + r->code_n, s, n);
        r->code_n += n;
        return 0;
    }
    switch (type) {
    case MD_TEXT_NULLCHAR: atoms_push(&r->text, 0xFFFD, md_style(r)); break;
    case MD_TEXT_BR: atoms_push(&r->text, r->in_cell ? ' ' : '\n', md_style(r)); break;
    case MD_TEXT_SOFTBR: atoms_push(&r->text, ' ', md_style(r)); break;
    case MD_TEXT_ENTITY: add_entity(r, s, n); break;
    default: atoms_add_text(&r->text, s, n, md_style(r), &col); break;
    }
    return 0;
}

/* ---- pieces ------------------------------------------------------------ */

static const MD_PARSER parser = {
    .abi_version = 0,
    .flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML,
    .enter_block = on_enter_block,
    .leave_block = on_leave_block,
    .enter_span = on_enter_span,
    .leave_span = on_leave_span,
    .text = on_text,
};

/* Parse one piece; a numbered list that ends it is remembered for the next. */
static void md_piece(md_r *r, const char *s, size_t n)
{
    r->gap = r->cont ? false : r->any;
    r->first_block = true;
    r->end_ol_delim = 0;
    md_parse(s, (MD_SIZE)n, &parser, r);
    r->text.n = 0;
    r->nbox = r->nlist = r->deep = r->deep_list = 0;
    r->bold = r->italic = r->code = r->link = r->del = r->img = r->heading = 0;
    r->in_code = r->in_cell = r->cont = false;
    r->ol_next = r->end_ol_next;
    r->ol_delim = r->end_ol_delim;
}

/* Remember that lines so far, for text [0, src), are final; f: the fence
 * open there. Streaming, keep a copy of that text to see it did not change. */
static void md_mark(md_r *r, const char *text, size_t src, const md_fence *f, bool streaming)
{
    lay_cache *c = r->c;
    if (streaming) {
        char *seen = realloc(c->seen, src ? src : 1);
        if (!seen) return;
        memcpy(seen + c->mark.src, text + c->mark.src, src - c->mark.src);
        c->seen = seen;
    }
    c->mark = (lay_mark){src, c->n, r->code_blocks, r->ol_next, r->ol_delim, r->any,
                         f->ch, f->len, f->at, f->n, r->hl_state};
}

/* The piece [p, q), behind its code fence's opening line when it starts inside one. */
static void md_piece_at(md_r *r, const char *text, size_t p, size_t q, const md_fence *at, bool streaming)
{
    const char *s = text + p;
    size_t n = q - p;
    char *buf = NULL, *fixed = NULL;
    if (at->ch) {
        buf = malloc(at->n + 1 + n);
        if (!buf) return;
        memcpy(buf, text + at->at, at->n);
        buf[at->n] = '\n';
        memcpy(buf + at->n + 1, s, n);
        s = buf;
        n += at->n + 1;
    }
    r->cont = at->ch != 0;
    if (streaming && (fixed = md_stream_fix(s, n, &n)) != NULL) s = fixed;
    if (!streaming || fixed) md_piece(r, s, n);
    lay_cache *c = r->c;
    if (r->cut_open && r->ascii && c->n && c->lines[c->n - 1].code_block >= 0) {   /* not its end yet: no bottom rail */
        c->n--;
        free(c->lines[c->n].text);
        free(c->lines[c->n].spans);
    }
    free(fixed);
    free(buf);
}

/* Pieces from the mark to the end; every cut but the last moves the mark. */
void md_layout_from(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                    int flags, int msg)
{
    md_r r = {.c = c, .width = width, .msg = msg, .indent = indent, .ascii = flags & LAY_ASCII, .base = style};
    r.code_blocks = c->mark.code_blocks;
    r.ol_next = c->mark.ol_next;
    r.ol_delim = c->mark.ol_delim;
    r.any = c->mark.any;
    r.hl_state = c->mark.hl_state;
    md_fence f = {c->mark.fence, c->mark.fence_len, c->mark.fence_at, c->mark.fence_n};
    for (size_t p = c->mark.src;;) {
        md_fence at = f;
        size_t q = md_next_split(text, p, len, &f);
        r.cut_open = q < len && f.ch;
        md_piece_at(&r, text, p, q, &at, q >= len && (flags & LAY_STREAMING));
        if (q >= len) break;
        md_mark(&r, text, q, &f, flags & LAY_STREAMING);
        p = q;
    }
    for (int i = 0; i < MAX_DEPTH; i++) free(r.box[i].first.v), free(r.box[i].rest.v);
    free(r.text.v);
    free(r.pre1.v);
    free(r.pre2.v);
    free(r.href);
    free(r.code_buf);
    md_table_free(r.table);
}

/* A fresh layout of text: no piece is known yet. */
void layout_markdown(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                     int flags, int msg)
{
    free(c->seen);
    c->seen = NULL;
    c->mark = (lay_mark){.lines = c->n};
    md_layout_from(c, text, len, width, indent, style, flags, msg);
}
