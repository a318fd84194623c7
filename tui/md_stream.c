/* md_stream.c — Markdown that is still arriving, token by token.
 *
 * Two jobs. md_next_split finds where a growing answer can be cut into
 * pieces that are laid out independently: after a blank line, at a line
 * that starts at column 0, outside a code fence. Such a line ends every open
 * block (paragraph, list, quote, table, indented code), so nothing after it
 * can change what came before, and the decision depends only on text that
 * is already there: the cut is the same for every longer version of the
 * text. A long code block is cut too, every few complete lines, when its
 * fence is at column 0 (so it sits in no list or quote): the next piece
 * opens the same fence again. markdown.c keeps the lines of all pieces but
 * the last.
 *
 * md_stream_fix tidies the last piece's unfinished end so raw markup never
 * flickers on screen: a line that is only markup so far ("1.", "|--",
 * "``") is held back until it says what it is; an open `code`, **bold**,
 * *italics*, ~~strike~~ or [link]( is closed for the time being; a table's
 * header row gets its rule early, so it shows as a table at once. An open
 * code fence needs nothing: md4c lays it out as code up to the end.
 */
#include <stdlib.h>
#include <string.h>

#include "layout_impl.h"

/* Is line s[0, n) a code fence? *ch and *len say which; closing: no info after it. */
static bool fence_line(const char *s, size_t n, char *ch, size_t *len, bool *bare)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ') i++;
    if (i >= n || (s[i] != '`' && s[i] != '~')) return false;
    size_t k = i;
    while (k < n && s[k] == s[i]) k++;
    if (k - i < 3) return false;
    if (s[i] == '`' && memchr(s + k, '`', n - k)) return false;
    *ch = s[i];
    *len = k - i;
    *bare = true;
    for (; k < n; k++) if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') *bare = false;
    return true;
}

/* Fence state after the complete line s[0, n): opens, closes or leaves it. */
static void fence_step(const char *s, size_t n, char *open, size_t *open_len)
{
    char ch;
    size_t len;
    bool bare;
    if (!fence_line(s, n, &ch, &len, &bare)) return;
    if (!*open) { *open = ch; *open_len = len; }
    else if (ch == *open && len >= *open_len && bare) *open = 0;
}

/* Only spaces and tabs (a blank line ends paragraphs, tables, lists). */
static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

#define FENCE_PIECE 8   /* lines of a long code block laid out together */

/* Is the complete line at p, inside fence f, one more line of code (not its end)? */
static bool code_line(const char *t, size_t p, size_t len, const md_fence *f)
{
    const char *nl = memchr(t + p, '\n', len - p);
    if (!nl) return false;
    char ch = f->ch;
    size_t fl = (size_t)f->len;
    fence_step(t + p, (size_t)(nl - t) - p, &ch, &fl);
    return ch != 0;
}

/* The next cut after from (see md_stream.c's head and layout_impl.h). */
size_t md_next_split(const char *t, size_t from, size_t len, md_fence *f)
{
    bool blank = false, top = f->ch != 0;   /* top: the open fence starts at column 0 */
    size_t fence_len = (size_t)f->len;
    int lines = 0;
    for (size_t p = from; p < len;) {
        if (p > from && blank && !f->ch && !strchr(" \t\r\n", t[p])) return p;
        if (p > from && f->ch && top && lines >= FENCE_PIECE && code_line(t, p, len, f)) return p;
        const char *nl = memchr(t + p, '\n', len - p);
        if (!nl) break;   /* an unfinished line: its fence state is not known yet */
        size_t e = (size_t)(nl - t);
        char was = f->ch;
        fence_step(t + p, e - p, &f->ch, &fence_len);
        if (!was && f->ch) {
            f->len = (int)fence_len;
            f->at = p;
            f->n = e - p;
            top = t[p] == f->ch;
            lines = 0;
        }
        lines++;
        blank = blank_line(t + p, e - p);
        p = e + 1;
    }
    return len;
}

/* ---- the unfinished end ------------------------------------------------- */

/* Only markup so far: a list mark, a rule, a fence, a table rule being typed. */
static bool only_markup(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    bool pipe = i < n && s[i] == '|';
    for (; i < n; i++) {
        bool alnum = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
        if (pipe ? alnum || ((unsigned char)s[i] >= 0x80) : !strchr("`~-=*+_#>|:. \t0123456789", s[i])) return false;
    }
    return true;
}

/* Cells in a table row: pipes between them, outer ones not counted. */
static int row_cells(const char *s, size_t n)
{
    int pipes = 0;
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\r')) n--;
    for (size_t k = i; k < n; k++) {
        if (s[k] == '\\') k++;
        else if (s[k] == '|') pipes++;
    }
    int cells = pipes + 1 - (i < n && s[i] == '|') - (n > i + 1 && s[n - 1] == '|');
    return cells > 0 ? cells : 1;
}

/* Open markers of one line, closed in reverse order. */
typedef struct md_open {
    char   stack[32][3];
    int    n;
    size_t code;          /* length of an open code span's backtick run, 0 if none */
    bool   url;           /* inside a link's (address */
    bool   text_done;     /* a link's [text] just ended: its (address) comes next */
} md_open;

/* A marker run: closes it if open and able to close, else opens it if able to open. */
static void toggle(md_open *o, const char *m, bool can_open, bool can_close)
{
    for (int i = o->n - 1; i >= 0 && can_close; i--)
        if (strcmp(o->stack[i], m) == 0) { o->n = i; return; }
    if (can_open && o->n < 32) strcpy(o->stack[o->n++], m);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

/* A run of * or _ at s[i, k): which emphasis it opens or closes (flanking, as CommonMark has it). */
static void emphasis_run(md_open *o, const char *s, size_t i, size_t k, size_t n)
{
    char c = s[i], before = i ? s[i - 1] : ' ', after = k < n ? s[k] : ' ';
    bool open = !is_space(after), close = i > 0 && !is_space(before);
    if (c == '_') {   /* snake_case is not emphasis */
        open = open && !is_alnum(before);
        close = close && !(k < n && is_alnum(after));
    }
    char two[3] = {c, c, 0}, one[2] = {c, 0};
    if (k - i >= 2) toggle(o, two, open, close);
    if ((k - i) % 2) toggle(o, one, open, close);
}

/* What is open at the end of line s[0, n). */
static void scan_open(const char *s, size_t n, md_open *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        if (s[i] == '\\') { i++; continue; }
        if (s[i] == '`') {
            while (k < n && s[k] == '`') k++;
            if (!o->code) o->code = k - i;
            else if (o->code == k - i) o->code = 0;
            i = k - 1;
        } else if (o->code) {
            continue;
        } else if (o->url) {
            o->url = s[i] != ')';
        } else if (s[i] == '*' || s[i] == '_' || s[i] == '~') {
            while (k < n && s[k] == s[i]) k++;
            bool bullet = s[i] == '*' && k < n && s[k] == ' ' && blank_line(s, i);
            if (s[i] == '~' && k - i == 2) toggle(o, "~~", i + 2 < n && !is_space(s[k]), i > 0 && !is_space(s[i - 1]));
            else if (s[i] != '~' && !bullet) emphasis_run(o, s, i, k, n);
            i = k - 1;
        } else if (s[i] == '[') {
            toggle(o, "[", true, false);
        } else if (s[i] == ']') {
            int at = -1;
            for (int j = o->n - 1; j >= 0 && at < 0; j--) if (strcmp(o->stack[j], "[") == 0) at = j;
            if (at >= 0) o->n = at;
            o->url = at >= 0 && i + 1 < n && s[i + 1] == '(';
            o->text_done = at >= 0 && i + 1 == n;
            i += o->url;
        }
    }
}

/* Append to a growing buffer (capacity reserved by the caller). */
static void put(char *b, size_t *n, const char *s)
{
    size_t k = strlen(s);
    memcpy(b + *n, s, k);
    *n += k;
}

/* The streaming piece with its unfinished end tidied (see the head of this file). */
char *md_stream_fix(const char *s, size_t n, size_t *out_n)
{
    char fence = 0;
    size_t fence_len = 0, ls = 0;
    for (size_t p = 0; p < n;) {
        const char *nl = memchr(s + p, '\n', n - p);
        if (!nl) { ls = p; break; }
        fence_step(s + p, (size_t)(nl - s) - p, &fence, &fence_len);
        p = ls = (size_t)(nl - s) + 1;
    }
    char ch;
    size_t len;
    bool bare;
    if (only_markup(s + ls, n - ls) || (!fence && fence_line(s + ls, n - ls, &ch, &len, &bare))) n = ls;
    char *out = malloc(n + 320);   /* room for the closers and a table rule */
    if (!out) return NULL;
    memcpy(out, s, n);
    size_t o = n;
    if (fence) { *out_n = o; return out; }
    if (o && out[o - 1] == '\n') o--;
    size_t x = o;   /* the last line: [x, o) */
    while (x > 0 && out[x - 1] != '\n') x--;
    while (o > x && strchr("*~`[_\\", out[o - 1])) o--;   /* a marker being typed */
    md_open op;
    scan_open(out + x, o - x, &op);
    if (op.code) {
        for (size_t i = 0; i < op.code && i < 16; i++) put(out, &o, "`");
    } else {
        if (op.url || op.text_done) put(out, &o, op.url ? ")" : "()");
        while (op.n && o > x && (out[o - 1] == ' ' || out[o - 1] == '\t')) o--;
        for (int i = op.n - 1; i >= 0; i--) put(out, &o, strcmp(op.stack[i], "[") == 0 ? "]()" : op.stack[i]);
    }
    size_t px = x ? x - 1 : 0;   /* the line before: is this one a table's header row? */
    while (px > 0 && out[px - 1] != '\n') px--;
    size_t i = x;
    while (i < o && out[i] == ' ') i++;
    if (i < o && out[i] == '|' && (x == 0 || out[px] != '|')) {
        put(out, &o, "\n|");
        for (int c = row_cells(out + x, o - x - 2), k = 0; k < c && k < 32; k++) {
            memcpy(out + o, "---|", 4);   /* md4c wants three dashes */
            o += 4;
        }
    }
    *out_n = o;
    return out;
}
