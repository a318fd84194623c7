/* input.c — the multi-line message editor, fed key by key (linenoise's
 * non-blocking style: it lives inside app.c's poll loop, never reads itself).
 *
 * The text is one UTF-8 buffer with a byte cursor that always sits on a code
 * point boundary. Enter sends (a message opened with """ only once it ends
 * with """, as in Ollama: the quotes are not sent); Alt-Enter and Ctrl-J insert
 * a newline; Up/Down move between lines and, on the first/last line, through
 * history (history.c keeps it across restarts). Between the bracketed-paste
 * markers everything is literal text, so a pasted program's newlines never
 * send it half-way. A paste whose end marker never
 * comes (a terminal or multiplexer that dropped it) must not lock the keyboard:
 * Ctrl-C ends it, and so does a second without bytes (input_paste_idle; a big
 * paste arrives continuously). Keys are a table.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tui.h"

void input_init(input *in) { memset(in, 0, sizeof *in); }

void input_done(input *in)
{
    free(in->buf);
    for (int i = 0; i < in->n_hist; i++) free(in->hist[i]);
    free(in->hist);
    free(in->draft);
    free(in->hist_path);
    memset(in, 0, sizeof *in);
}

/* ---- buffer ------------------------------------------------------------ */

/* Insert n bytes at the cursor. */
void input_insert(input *in, const char *s, size_t n)
{
    if (in->len + n + 1 > in->cap) {
        size_t cap = (in->len + n + 1) * 2;
        char *b = realloc(in->buf, cap);
        if (!b) return;
        in->buf = b;
        in->cap = cap;
    }
    memmove(in->buf + in->cur + n, in->buf + in->cur, in->len - in->cur);
    memcpy(in->buf + in->cur, s, n);
    in->len += n;
    in->cur += n;
    in->buf[in->len] = 0;
}

/* Delete bytes [from, to). */
static void input_delete(input *in, size_t from, size_t to)
{
    if (to <= from) return;
    memmove(in->buf + from, in->buf + to, in->len - to);
    in->len -= to - from;
    in->buf[in->len] = 0;
    if (in->cur > to) in->cur -= to - from;
    else if (in->cur > from) in->cur = from;
}

/* Replace the whole text; cursor at the end. */
void input_set(input *in, const char *text)
{
    in->len = in->cur = 0;
    if (in->buf) in->buf[0] = 0;
    input_insert(in, text, strlen(text));
}

static size_t prev_cp(const input *in, size_t i)
{
    if (i == 0) return 0;
    do i--; while (i > 0 && ((unsigned char)in->buf[i] & 0xC0) == 0x80);
    return i;
}

static size_t next_cp(const input *in, size_t i)
{
    if (i >= in->len) return in->len;
    do i++; while (i < in->len && ((unsigned char)in->buf[i] & 0xC0) == 0x80);
    return i;
}

static size_t line_start(const input *in, size_t i)
{
    while (i > 0 && in->buf[i - 1] != '\n') i--;
    return i;
}

static size_t line_end(const input *in, size_t i)
{
    while (i < in->len && in->buf[i] != '\n') i++;
    return i;
}

/* Code points between a and b (for keeping the column on Up/Down). */
static int cps_between(const input *in, size_t a, size_t b)
{
    int n = 0;
    for (size_t i = a; i < b; i = next_cp(in, i)) n++;
    return n;
}

static size_t advance_cps(const input *in, size_t i, int n, size_t limit)
{
    while (n-- > 0 && i < limit) i = next_cp(in, i);
    return i;
}

/* ---- history ------------------------------------------------------------ */

/* A sent message into the history: memory, and the data dir's file if open. */
void input_history_add(input *in, const char *text)
{
    input_history_add_mem(in, text);
    if (in->hist_path && *text) history_file_add(in->hist_path, text, HISTORY_MAX);
}

/* Into the in-memory history only (the newest HISTORY_MAX kept). */
void input_history_add_mem(input *in, const char *text)
{
    if (!*text || (in->n_hist && strcmp(in->hist[in->n_hist - 1], text) == 0)) {
        in->hist_pos = in->n_hist;
        return;
    }
    if (in->n_hist >= HISTORY_MAX) {
        free(in->hist[0]);
        memmove(in->hist, in->hist + 1, sizeof *in->hist * (size_t)(in->n_hist - 1));
        in->n_hist--;
    }
    char **h = realloc(in->hist, sizeof *h * (size_t)(in->n_hist + 1));
    char *copy = strdup(text);
    if (h) in->hist = h;
    if (!h || !copy) { free(copy); return; }
    in->hist[in->n_hist++] = copy;
    in->hist_pos = in->n_hist;
}

/* Step through history (dir -1 older, +1 newer); the draft is kept aside. */
static int history_step(input *in, int dir)
{
    int pos = in->hist_pos + dir;
    if (pos < 0 || pos > in->n_hist) return TUI_HANDLED;
    if (in->hist_pos == in->n_hist) {
        free(in->draft);
        in->draft = strdup(in->buf ? in->buf : "");
    }
    in->hist_pos = pos;
    input_set(in, pos == in->n_hist ? (in->draft ? in->draft : "") : in->hist[pos]);
    return TUI_HANDLED | TUI_REDRAW;
}

/* ---- keys ------------------------------------------------------------------ */

static int k_newline(input *in) { input_insert(in, "\n", 1); return TUI_REDRAW; }
/* Ollama's multi-line form: text that starts with """ on its own is sent once
 * it ends with """ (until then Enter is a new line), without the quotes. */
static int k_submit(input *in)
{
    if (!in->len) return TUI_HANDLED;
    if (in->len < 3 || memcmp(in->buf, "\"\"\"", 3) != 0) return INPUT_SUBMIT;
    if (in->len < 6 || memcmp(in->buf + in->len - 3, "\"\"\"", 3) != 0) { input_insert(in, "\n", 1); return TUI_REDRAW; }
    size_t from = 3, to = in->len - 3;
    if (from < to && in->buf[from] == '\n') from++;
    if (from < to && in->buf[to - 1] == '\n') to--;
    char *text = strndup(in->buf + from, to - from);
    if (!text) return TUI_HANDLED;
    input_set(in, text);
    free(text);
    return in->len ? INPUT_SUBMIT : TUI_REDRAW;
}
static int k_backspace(input *in) { input_delete(in, prev_cp(in, in->cur), in->cur); return TUI_REDRAW; }
static int k_delete(input *in) { input_delete(in, in->cur, next_cp(in, in->cur)); return TUI_REDRAW; }
static int k_left(input *in) { in->cur = prev_cp(in, in->cur); return TUI_REDRAW; }
static int k_right(input *in) { in->cur = next_cp(in, in->cur); return TUI_REDRAW; }
static int k_home(input *in) { in->cur = line_start(in, in->cur); return TUI_REDRAW; }
static int k_end(input *in) { in->cur = line_end(in, in->cur); return TUI_REDRAW; }
static int k_kill_start(input *in) { input_delete(in, line_start(in, in->cur), in->cur); return TUI_REDRAW; }

/* Ctrl-K: to the end of the line; at the end, join the next line. */
static int k_kill_end(input *in)
{
    size_t e = line_end(in, in->cur);
    input_delete(in, in->cur, e > in->cur ? e : next_cp(in, in->cur));
    return TUI_REDRAW;
}

/* Ctrl-W: the word before the cursor and the spaces after it. */
static int k_kill_word(input *in)
{
    size_t i = in->cur;
    while (i > 0 && (in->buf[i - 1] == ' ' || in->buf[i - 1] == '\t')) i--;
    while (i > 0 && in->buf[i - 1] != ' ' && in->buf[i - 1] != '\t' && in->buf[i - 1] != '\n') i--;
    input_delete(in, i, in->cur);
    return TUI_REDRAW;
}

/* A letter or digit of any script: what readline's word commands stop at. */
static bool word_cp(const input *in, size_t i)
{
    int32_t cp;
    if (utf8proc_iterate((const utf8proc_uint8_t *)in->buf + i, (utf8proc_ssize_t)(in->len - i), &cp) <= 0) return false;
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME && i > 0);
}

/* Start of the word before i (readline's backward-word). */
static size_t word_left(const input *in, size_t i)
{
    while (i > 0 && !word_cp(in, prev_cp(in, i))) i = prev_cp(in, i);
    while (i > 0 && word_cp(in, prev_cp(in, i))) i = prev_cp(in, i);
    return i;
}

/* End of the word after i (readline's forward-word). */
static size_t word_right(const input *in, size_t i)
{
    while (i < in->len && !word_cp(in, i)) i = next_cp(in, i);
    while (i < in->len && word_cp(in, i)) i = next_cp(in, i);
    return i;
}

static int k_word_left(input *in) { in->cur = word_left(in, in->cur); return TUI_REDRAW; }
static int k_word_right(input *in) { in->cur = word_right(in, in->cur); return TUI_REDRAW; }
/* Alt-d: delete to the end of the word after the cursor (readline's kill-word). */
static int k_kill_word_right(input *in) { input_delete(in, in->cur, word_right(in, in->cur)); return TUI_REDRAW; }
/* Alt-Backspace: delete to the start of the word (readline's backward-kill-word). */
static int k_kill_word_left(input *in) { input_delete(in, word_left(in, in->cur), in->cur); return TUI_REDRAW; }

/* Up: previous line, or older history on the first line. */
static int k_up(input *in)
{
    size_t s = line_start(in, in->cur);
    if (s == 0) return history_step(in, -1);
    int col = cps_between(in, s, in->cur);
    size_t ps = line_start(in, s - 1);
    in->cur = advance_cps(in, ps, col, s - 1);
    return TUI_REDRAW;
}

/* Down: next line, or newer history on the last line. */
static int k_down(input *in)
{
    size_t e = line_end(in, in->cur);
    if (e == in->len) return history_step(in, +1);
    int col = cps_between(in, line_start(in, in->cur), in->cur);
    in->cur = advance_cps(in, e + 1, col, line_end(in, e + 1));
    return TUI_REDRAW;
}

static const struct {
    int  code;
    bool is_key, alt;
    int (*fn)(input *in);
} input_keys[] = {
    {'\r', false, false, k_submit},        {KEY_ENTER, true, false, k_submit},
    {'\r', false, true, k_newline},        {'\n', false, false, k_newline},
    {'\n', false, true, k_newline},        {KEY_BACKSPACE, true, false, k_backspace},
    {127, false, false, k_backspace},      {8, false, false, k_backspace},
    {KEY_DC, true, false, k_delete},       {KEY_LEFT, true, false, k_left},
    {KEY_RIGHT, true, false, k_right},     {TUI_CTRL('f'), false, false, k_right},
    {KEY_HOME, true, false, k_home},
    {KEY_END, true, false, k_end},         {TUI_CTRL('a'), false, false, k_home},
    {TUI_CTRL('e'), false, false, k_end},  {TUI_CTRL('k'), false, false, k_kill_end},
    {TUI_CTRL('u'), false, false, k_kill_start}, {TUI_CTRL('w'), false, false, k_kill_word},
    {KEY_UP, true, false, k_up},           {KEY_DOWN, true, false, k_down},
    {TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL), true, false, k_word_left},
    {TUI_KEY_MOD(TUI_KB_RIGHT, TUI_MOD_CTRL), true, false, k_word_right},
    {KEY_LEFT, true, true, k_word_left},   {KEY_RIGHT, true, true, k_word_right},
    {'b', false, true, k_word_left},       {'f', false, true, k_word_right},
    {'d', false, true, k_kill_word_right}, {TUI_KEY_MOD(TUI_KB_DC, TUI_MOD_CTRL), true, false, k_kill_word_right},
    {127, false, true, k_kill_word_left},  {8, false, true, k_kill_word_left},
    {KEY_BACKSPACE, true, true, k_kill_word_left},
};

/* Paste mode: every character is text, but Ctrl-C ends it (text kept); returns flags. */
static int paste_key(input *in, tui_key k)
{
    if (k.is_key && k.code == TUI_KEY_PASTE_END) {
        in->pasting = false;
        return TUI_REDRAW | INPUT_PASTED;
    }
    if (!k.is_key && !k.alt && k.code == TUI_CTRL('c')) {
        in->pasting = false;
        return TUI_HANDLED | TUI_REDRAW | INPUT_PASTED | INPUT_PASTE_CUT;
    }
    if (k.is_key) return TUI_HANDLED;
    char buf[8];
    int c = k.code == '\r' ? '\n' : k.code;
    if (k.alt) input_insert(in, "\x1b", 1);
    utf8proc_ssize_t n = utf8proc_encode_char(c, (utf8proc_uint8_t *)buf);
    if (n > 0) input_insert(in, buf, (size_t)n);
    in->paste_bytes += (size_t)n;
    in->paste_lines += c == '\n';
    return TUI_HANDLED;
}

/* The loop saw no key for idle_s: end a paste whose end marker is overdue. */
int input_paste_idle(input *in, double idle_s)
{
    if (!in->pasting || idle_s < INPUT_PASTE_IDLE_S) return 0;
    in->pasting = false;
    return TUI_REDRAW | INPUT_PASTED | INPUT_PASTE_CUT;
}

/* One key: the table, else a printable character is inserted. */
int input_key(input *in, tui_key k)
{
    if (k.is_key && k.code == TUI_KEY_PASTE_BEGIN) {
        in->pasting = true;
        in->paste_bytes = 0;
        in->paste_lines = 0;
        return TUI_HANDLED;
    }
    if (in->pasting) return paste_key(in, k);
    for (size_t i = 0; i < sizeof input_keys / sizeof input_keys[0]; i++)
        if (input_keys[i].code == k.code && input_keys[i].is_key == k.is_key && input_keys[i].alt == k.alt)
            return input_keys[i].fn(in) | TUI_HANDLED;
    if (k.is_key || k.alt || k.code < 0x20 || k.code == 0x7f || (k.code >= 0x80 && k.code < 0xa0)) return 0;
    char buf[8];
    utf8proc_ssize_t n = utf8proc_encode_char(k.code, (utf8proc_uint8_t *)buf);
    if (n <= 0) return 0;
    input_insert(in, buf, (size_t)n);
    in->hist_pos = in->n_hist;
    return TUI_HANDLED | TUI_REDRAW;
}

/* ---- drawing ------------------------------------------------------------ */

#define PROMPT_W 2

/* Walk the text as it is drawn: calls fn for each code point with its row/col. */
typedef void (*vis_fn)(void *ctx, size_t at, int32_t cp, int row, int col, int w);

static int input_walk(const input *in, int width, vis_fn fn, void *ctx, int *cur_row, int *cur_col)
{
    int avail = width - PROMPT_W > 1 ? width - PROMPT_W : 1, row = 0, col = 0;
    *cur_row = *cur_col = 0;
    for (size_t i = 0; i < in->len;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)in->buf + i, (utf8proc_ssize_t)(in->len - i), &cp);
        if (k <= 0) { cp = 0xFFFD; k = 1; }
        int w = cp == '\n' ? 0 : cp < 0x20 ? 1 : utf8proc_charwidth(cp);
        if (cp != '\n' && col + w > avail && col > 0) { row++; col = 0; }
        if (i == in->cur) { *cur_row = row; *cur_col = col; }
        if (fn) fn(ctx, i, cp, row, col, w);
        if (cp == '\n') { row++; col = 0; }
        else col += w;
        i += (size_t)k;
    }
    if (in->cur >= in->len) {
        if (col >= avail) { row++; col = 0; }
        *cur_row = row;
        *cur_col = col;
    }
    return row + 1;
}

int input_height(const input *in, int width)
{
    int r, c;
    return input_walk(in, width, NULL, NULL, &r, &c);
}

typedef struct draw_ctx { WINDOW *w; int top, h; } draw_ctx;

/* Put one code point where input_walk says (controls as '?', tab as space). */
static void draw_cp(void *ctx, size_t at, int32_t cp, int row, int col, int w)
{
    draw_ctx *d = ctx;
    if (cp == '\n' || row < d->top || row >= d->top + d->h) return;
    if (cp == '\t') cp = ' ';
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) cp = '?';
    char buf[8];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf);
    if (w == 0) waddnstr(d->w, buf, (int)n);   /* combining: onto the previous cell */
    else mvwaddnstr(d->w, row - d->top, PROMPT_W + col, buf, (int)n);
}

/* Draw the box (window w is the box) with the cursor kept in view. */
void input_draw(const input *in, WINDOW *w, const char *hint)
{
    int h = getmaxy(w), width = getmaxx(w), cr, cc;
    werase(w);
    int rows = input_walk(in, width, NULL, NULL, &cr, &cc);
    draw_ctx d = {w, cr >= h ? cr - h + 1 : 0, h};
    if (rows > h && d.top + h > rows) d.top = rows - h;
    for (int r = 0; r < h; r++)
        mvwaddstr(w, r, 0, r == 0 && d.top == 0 ? ">" : d.top + r < rows ? " " : "");
    if (in->len == 0 && hint) {
        wattrset(w, (int)(render_attr(ROLE_DIM)));
        render_text(w, 0, PROMPT_W, width - PROMPT_W, hint, ROLE_DIM);
        wattrset(w, (int)(A_NORMAL));
    } else {
        input_walk(in, width, draw_cp, &d, &cr, &cc);
    }
    if (d.top > 0) mvwaddstr(w, 0, 0, "^");
    wmove(w, cr - d.top, PROMPT_W + cc);
}
