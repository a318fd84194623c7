/* layout_impl.h — inside the layout layer only (layout.c, markdown.c, md_code.c,
 * md_table.c, md_stream.c, highlight.c): styled code points ("atoms"), the
 * line builder and word wrap they share, and the Markdown helpers' interfaces.
 * (md_code.c and markdown.c share md_impl.h besides.) Nothing outside tui/
 * includes this; tui.h is the room's door.
 */
#ifndef PL_TUI_LAYOUT_IMPL_H
#define PL_TUI_LAYOUT_IMPL_H

#include "tui.h"

/* One code point with its display width and style. cp '\n' is a hard break. */
typedef struct atom {
    int32_t cp;
    uint8_t w, style;
} atom;

typedef struct atoms {
    atom *v;
    int   n, cap;
} atoms;

/* ---- layout.c ---------------------------------------------------------- */

/* Push one code point; controls (but '\n', a hard break) become U+FFFD. */
void atoms_push(atoms *a, int32_t cp, uint8_t style);
/* UTF-8 text as atoms: tabs to the next multiple of 4 columns of *col. */
void atoms_add_text(atoms *a, const char *s, size_t n, uint8_t style, int *col);
/* A NUL-terminated marker string (bullets, borders). */
void atoms_add_str(atoms *a, const char *s, uint8_t style);
/* Display columns of a[from, to). */
int  atoms_width(const atom *a, int from, int to);
/* Append a line: prefix (may be NULL) then a[from, to). */
void lay_emit(lay_cache *c, const atoms *prefix, const atom *a, int from, int to, int msg, int block);
/* Where the line starting at a[i] ends (*end, exclusive) within avail
 * columns; returns where the next line starts. hard: cut, never at words. */
int  wrap_next(const atom *a, int i, int n, int avail, bool hard, int *end);
/* Wrap a[0, n) in width columns: the first line after p1, the others after p2. */
void lay_wrap(lay_cache *c, const atoms *p1, const atoms *p2, const atom *a, int n, int width, bool hard,
              int msg, int block);

/* ---- markdown.c ------------------------------------------------------- */

/* Lay out text from c->mark (what stays of a streaming answer) to its end,
 * moving the mark (and c->seen) past every piece that can no longer change. */
void md_layout_from(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                    int flags, int msg);

/* ---- md_stream.c: a growing answer ------------------------------------- */

/* A code fence open at a point of the text: its char (0: none), run length
 * and opening line (so a piece that starts inside it can open it again). */
typedef struct md_fence {
    char   ch;
    int    len;
    size_t at, n;
} md_fence;
/* The next point after `from` where the text can be cut into independently
 * laid-out pieces, or len: a blank line then a line at column 0 outside a
 * code fence, or every few complete lines inside a fence opened at column 0.
 * Text after such a point never changes what came before. *f: the fence
 * open at `from` on entry, at the point returned on return. */
size_t md_next_split(const char *t, size_t from, size_t len, md_fence *f);
/* The unfinished end of a streaming piece, made presentable: a half-typed
 * fence, table rule or list mark held back, open **, `, [ closed, a lone
 * table header given its rule. Returns a malloc'd copy (*out_n bytes). */
char  *md_stream_fix(const char *s, size_t n, size_t *out_n);

/* ---- highlight.c: syntax colours in code blocks ------------------------ */

enum { HL_PLAIN, HL_KEYWORD, HL_STRING, HL_COMMENT, HL_NUMBER };
typedef struct hl_lang hl_lang;
/* The language named by a fence's info string ("c", "py", "bash"...), or NULL. */
const hl_lang *hl_find(const char *name, size_t n);
/* Classes (HL_*) of line s[0, n) into cls[0, n); *state carries open
 * comments and strings from one line to the next (start at 0). */
void hl_line(const hl_lang *l, int *state, const char *s, size_t n, uint8_t *cls);

/* ---- md_table.c: tables ------------------------------------------------ */

typedef struct md_table md_table;
md_table *md_table_new(void);
void md_table_free(md_table *t);
void md_table_row(md_table *t);                       /* a new row */
/* A cell of the current row; align as md4c's MD_ALIGN (2 centre, 3 right, else left). */
void md_table_cell(md_table *t, const atoms *content, int align, bool head);
/* Lay the table out in aligned columns within width, each line after p1
 * (the first) or p2; ASCII borders for terminals without colours. */
void md_table_layout(md_table *t, lay_cache *c, const atoms *p1, const atoms *p2, int width, bool ascii,
                     uint8_t style, int msg);

#endif
