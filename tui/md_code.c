/* md_code.c — code blocks: a box of their own, syntax colours, and copying.
 *
 * A code block is laid out without its fences, each line coloured by the
 * highlighter (highlight.c) and cut, never word-wrapped, at the box's width.
 * With colours the box spans the pane on a background of its own, its
 * language on the first line; without, ASCII rails ("+-- py", "| ", "+--")
 * mark it. A block that a streaming answer cut into pieces (md_stream.c)
 * goes on where the last piece stopped. /copy code takes a block back out
 * as it was written, through md4c as well, so it counts blocks the same way.
 */
#include <md4c.h>
#include <stdlib.h>
#include <string.h>

#include "md_impl.h"

/* One source line as atoms coloured by the highlighter (tabs to 4 columns). */
static void code_atoms(md_r *r, atoms *a, const hl_lang *lang, int *state, const char *s, size_t n)
{
    static const uint8_t role[] = {ROLE_CODE_BLOCK, ROLE_SYN_KEYWORD, ROLE_SYN_STRING, ROLE_SYN_COMMENT,
                                   ROLE_SYN_NUMBER};
    uint8_t stack_cls[256], *cls = n <= sizeof stack_cls ? stack_cls : malloc(n);
    a->n = 0;
    if (!cls) return;
    memset(cls, HL_PLAIN, n);
    if (lang) hl_line(lang, state, s, n, cls);
    int col = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80) k++;
        uint8_t st = role[cls[i] <= HL_NUMBER ? cls[i] : 0];
        atoms_add_text(a, s + i, k - i, st, &col);
        i = k;
    }
    if (cls != stack_cls) free(cls);
}

/* Emit one code line cut into chunks of inner columns, padded into the box. */
static void code_emit(md_r *r, const atoms *a, int inner, bool *first, int index)
{
    atoms line = {0};
    uint8_t bg = ROLE_CODE_BLOCK;
    for (int i = 0;;) {
        int end, next = a->n ? wrap_next(a->v, i, a->n, inner, true, &end) : (end = 0);
        line.n = 0;
        if (r->ascii) atoms_add_str(&line, "| ", ROLE_DIM);
        else atoms_push(&line, ' ', bg);
        for (int k = i; k < end; k++) atoms_push(&line, a->v[k].cp, a->v[k].style);
        for (int w = atoms_width(a->v, i, end); !r->ascii && w < inner + 1; w++) atoms_push(&line, ' ', bg);
        lay_emit(r->c, *first ? &r->pre1 : &r->pre2, line.v, 0, line.n, r->msg, index);
        *first = false;
        if (next >= a->n) break;
        i = next;
    }
    free(line.v);
}

/* A code block without its fences: a full-width box (colours) or ASCII
 * rails, its language on top. A block cut into pieces (md_stream.c) goes
 * on where the last piece left it: no label, same index, same colours. */
void md_code(md_r *r)
{
    bool cont = r->cont;
    r->cont = false;
    if (!cont) md_gap(r);
    md_prefix(r, &r->pre1, !cont);
    md_prefix(r, &r->pre2, false);
    size_t n = r->code_n;
    if (!r->code_buf) n = 0, r->code_buf = calloc(1, 1);
    if (!r->code_buf) return;
    if (n && r->code_buf[n - 1] == '\n') n--;
    int inner = r->width - atoms_width(r->pre2.v, 0, r->pre2.n) - 2, lw = (int)strlen(r->lang);
    if (inner < 1) inner = 1;
    const hl_lang *lang = hl_find(r->lang, strlen(r->lang));
    atoms a = {0};
    bool first = !cont;
    int index = cont ? r->code_blocks - 1 : r->code_blocks, state = cont ? r->hl_state : 0;
    if (!cont && (r->ascii || lw)) {
        atoms_add_str(&a, r->ascii ? (lw ? "+-- " : "+--") : "", ROLE_DIM);
        int col = 0;
        atoms_add_text(&a, r->lang, strlen(r->lang), r->ascii ? ROLE_DIM : ROLE_SYN_COMMENT, &col);
        if (r->ascii) lay_emit(r->c, &r->pre1, a.v, 0, a.n, r->msg, index);
        else code_emit(r, &a, inner, &first, index);
        first = false;
    }
    for (size_t p = 0; p <= n;) {
        const char *nl = memchr(r->code_buf + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - r->code_buf) : n;
        code_atoms(r, &a, lang, &state, r->code_buf + p, e - p);
        code_emit(r, &a, inner, &first, index);
        p = e + 1;
    }
    if (r->ascii) {   /* taken back if the block goes on in the next piece (md_piece_at) */
        a.n = 0;
        atoms_add_str(&a, "+--", ROLE_DIM);
        lay_emit(r->c, &r->pre2, a.v, 0, a.n, r->msg, index);
    }
    free(a.v);
    md_used(r);
    r->hl_state = state;
    r->code_blocks = index + 1;
    r->gap = true;
}

/* ---- copying code ------------------------------------------------------ */

typedef struct md_grab {
    int   want, at;        /* the block wanted (-1: the last), the one being read */
    bool  in;
    char *buf;
    size_t n, cap;
} md_grab;

/* Copy: a code block starts; read it if it is the one wanted. */
static int grab_enter(MD_BLOCKTYPE type, void *detail, void *u)
{
    md_grab *g = u;
    if (type != MD_BLOCK_CODE) return 0;
    g->at++;
    g->in = g->want < 0 || g->at == g->want;
    if (g->in) {
        g->n = 0;
        if (g->buf) g->buf[0] = 0;
    }
    return 0;
}

/* Copy: a code block ends. */
static int grab_leave(MD_BLOCKTYPE type, void *detail, void *u)
{
    if (type == MD_BLOCK_CODE) ((md_grab *)u)->in = false;
    return 0;
}

/* Copy: spans do not matter. */
static int grab_span(MD_SPANTYPE type, void *detail, void *u) { return 0; }

/* Copy: the wanted block's text, as written. */
static int grab_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *u)
{
    md_grab *g = u;
    if (!g->in) return 0;
    if (g->n + n + 1 > g->cap) {
        size_t cap = (g->n + n + 1) * 2;
        char *b = realloc(g->buf, cap);
        if (!b) return -1;
        g->buf = b;
        g->cap = cap;
    }
    memcpy(g->buf + g->n, s, n);
    g->n += n;
    g->buf[g->n] = 0;
    return 0;
}

/* Code block k (-1: the last) as written, without fences or list indentation. */
char *layout_code_block(const char *text, size_t len, int k)
{
    static const MD_PARSER grab = {
        .flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML,
        .enter_block = grab_enter, .leave_block = grab_leave,
        .enter_span = grab_span, .leave_span = grab_span, .text = grab_text,
    };
    md_grab g = {.want = k, .at = -1};
    md_parse(text, (MD_SIZE)len, &grab, &g);
    if ((k >= 0 && g.at < k) || g.at < 0) { free(g.buf); return NULL; }
    if (!g.buf) g.buf = calloc(1, 1);
    return g.buf;
}
