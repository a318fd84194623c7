/* md_table.c — Markdown tables as aligned columns.
 *
 * Cells arrive as styled atoms (markdown.c); a column is as wide as its
 * widest cell, measured in display columns (CJK and emoji count two). When
 * the table is wider than the pane, columns that fit their share keep their
 * width and the rest share what is left, their cells word-wrapped onto more
 * lines. The header row is bold and ruled off; columns are separated by a
 * thin bar, or '|' and '-+-' in ASCII. A pane too narrow for even three
 * columns a cell gets the rows as wrapped lines of "a | b | c" instead.
 */
#include <stdlib.h>
#include <string.h>

#include "layout_impl.h"

#define MAX_COLS 64
#define SEP 3   /* " | " between two columns */

typedef struct md_cell {
    atoms a;
    int   align;
} md_cell;

typedef struct md_row {
    md_cell *cells;
    int      n, cap;
    bool     head;
} md_row;

struct md_table {
    md_row *rows;
    int     n, cap;
};

/* An empty table for md4c's rows to fill. */
md_table *md_table_new(void) { return calloc(1, sizeof(md_table)); }

/* Free the table and its cells. */
void md_table_free(md_table *t)
{
    if (!t) return;
    for (int r = 0; r < t->n; r++) {
        for (int k = 0; k < t->rows[r].n; k++) free(t->rows[r].cells[k].a.v);
        free(t->rows[r].cells);
    }
    free(t->rows);
    free(t);
}

/* A new row begins (md4c's TR). */
void md_table_row(md_table *t)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        md_row *v = realloc(t->rows, sizeof *v * (size_t)cap);
        if (!v) return;
        t->rows = v;
        t->cap = cap;
    }
    memset(&t->rows[t->n++], 0, sizeof *t->rows);
}

/* A finished cell of the current row, its atoms copied (the header bold). */
void md_table_cell(md_table *t, const atoms *content, int align, bool head)
{
    if (t->n == 0) md_table_row(t);
    md_row *r = &t->rows[t->n - 1];
    if (r->n >= MAX_COLS) return;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 4;
        md_cell *v = realloc(r->cells, sizeof *v * (size_t)cap);
        if (!v) return;
        r->cells = v;
        r->cap = cap;
    }
    md_cell *c = &r->cells[r->n++];
    memset(c, 0, sizeof *c);
    c->align = align;
    r->head = head;
    for (int i = 0; i < content->n; i++)
        atoms_push(&c->a, content->v[i].cp, (uint8_t)(content->v[i].style | (head ? STYLE_BOLD : 0)));
}

/* Column widths within budget: narrow columns keep theirs, wide ones share the rest. */
static void fit(const int *nat, int *w, int n, int budget)
{
    int total = 0;
    for (int k = 0; k < n; k++) total += (w[k] = nat[k]);
    if (total <= budget) return;
    bool done[MAX_COLS] = {0};
    int left = budget, open = n;
    for (bool again = true; again && open > 0;) {
        again = false;
        for (int k = 0; k < n; k++)
            if (!done[k] && nat[k] <= left / open) { done[k] = true; left -= nat[k]; open--; again = true; }
    }
    for (int k = 0, i = 0; k < n; k++)
        if (!done[k]) { w[k] = left / open + (i < left % open); i++; }
}

/* Line y of a cell wrapped at w columns: the atom range [*from, *to). */
static void cell_line(const md_cell *c, int w, int y, int *from, int *to)
{
    int i = 0, end = 0;
    for (int line = 0; i < c->a.n; line++) {
        int next = wrap_next(c->a.v, i, c->a.n, w, false, &end);
        if (line == y) { *from = i; *to = end; return; }
        i = next;
    }
    *from = *to = 0;
}

/* Lines a cell takes at w columns. */
static int cell_height(const md_cell *c, int w)
{
    int h = 0, end;
    for (int i = 0; i < c->a.n; h++) i = wrap_next(c->a.v, i, c->a.n, w, false, &end);
    return h ? h : 1;
}

/* One screen line of a row: each cell's part padded by its alignment, bars between. */
static void row_line(const md_row *r, const int *w, int ncols, int y, bool ascii, uint8_t style, atoms *out)
{
    out->n = 0;
    for (int k = 0; k < ncols; k++) {
        int from = 0, to = 0;
        const md_cell *c = k < r->n ? &r->cells[k] : NULL;
        if (c) cell_line(c, w[k], y, &from, &to);
        int pad = w[k] - (c ? atoms_width(c->a.v, from, to) : 0), before = 0;
        if (c && c->align == 3) before = pad;
        else if (c && c->align == 2) before = pad / 2;
        for (int i = 0; i < before; i++) atoms_push(out, ' ', style);
        for (int i = from; i < to; i++) atoms_push(out, c->a.v[i].cp, c->a.v[i].style);
        for (int i = before; i < pad && k + 1 < ncols; i++) atoms_push(out, ' ', style);
        if (k + 1 < ncols) atoms_add_str(out, ascii ? " | " : " \xe2\x94\x82 ", ROLE_DIM);
    }
}

/* The rule under the header: dashes per column, crossings between. */
static void rule_line(const int *w, int ncols, bool ascii, atoms *out)
{
    out->n = 0;
    for (int k = 0; k < ncols; k++) {
        for (int i = 0; i < w[k]; i++) atoms_add_str(out, ascii ? "-" : "\xe2\x94\x80", ROLE_DIM);
        if (k + 1 < ncols) atoms_add_str(out, ascii ? "-+-" : "\xe2\x94\x80\xe2\x94\xbc\xe2\x94\x80", ROLE_DIM);
    }
}

/* Too narrow for columns: each row as "a | b | c", wrapped. */
static void rows_as_lines(const md_table *t, lay_cache *c, const atoms *p1, const atoms *p2, int width, int msg)
{
    atoms line = {0};
    for (int r = 0; r < t->n; r++) {
        line.n = 0;
        for (int k = 0; k < t->rows[r].n; k++) {
            if (k) atoms_add_str(&line, " | ", ROLE_DIM);
            const atoms *a = &t->rows[r].cells[k].a;
            for (int i = 0; i < a->n; i++) atoms_push(&line, a->v[i].cp, a->v[i].style);
        }
        lay_wrap(c, r ? p2 : p1, p2, line.v, line.n, width, false, msg, -1);
    }
    free(line.v);
}

/* Column widths, then each row's lines, the header ruled off. */
void md_table_layout(md_table *t, lay_cache *c, const atoms *p1, const atoms *p2, int width, bool ascii,
                     uint8_t style, int msg)
{
    int ncols = 0, nat[MAX_COLS] = {0}, w[MAX_COLS];
    for (int r = 0; r < t->n; r++) {
        if (t->rows[r].n > ncols) ncols = t->rows[r].n;
        for (int k = 0; k < t->rows[r].n; k++) {
            int cw = atoms_width(t->rows[r].cells[k].a.v, 0, t->rows[r].cells[k].a.n);
            if (cw > nat[k]) nat[k] = cw;
        }
    }
    if (ncols == 0) return;
    for (int k = 0; k < ncols; k++) if (nat[k] < 1) nat[k] = 1;
    int budget = width - atoms_width(p2->v, 0, p2->n) - SEP * (ncols - 1);
    if (budget < 3 * ncols) { rows_as_lines(t, c, p1, p2, width, msg); return; }
    fit(nat, w, ncols, budget);
    atoms line = {0};
    bool first = true;
    for (int r = 0; r < t->n; r++) {
        int h = 1;
        for (int k = 0; k < t->rows[r].n; k++) {
            int ch = cell_height(&t->rows[r].cells[k], w[k]);
            if (ch > h) h = ch;
        }
        for (int y = 0; y < h; y++, first = false) {
            row_line(&t->rows[r], w, ncols, y, ascii, style, &line);
            lay_emit(c, first ? p1 : p2, line.v, 0, line.n, msg, -1);
        }
        if (t->rows[r].head && (r + 1 == t->n || !t->rows[r + 1].head)) {
            rule_line(w, ncols, ascii, &line);
            lay_emit(c, p2, line.v, 0, line.n, msg, -1);
        }
    }
    free(line.v);
}
