/* render.c — layout lines into ncurses windows, one doupdate per frame.
 *
 * tmux's screen-redraw layer: every frame erases and redraws the transcript
 * pane, status line and input box off-screen (wnoutrefresh), then one
 * doupdate() sends only the cells that differ from what the terminal shows —
 * no clear() per token, so a streaming answer costs a few bytes per frame over
 * SSH. Colours are semantic roles mapped to 8 colours, 256 colours, or plain
 * attributes (NO_COLOR, TERM=vt100). A terminal under 40x10 gets one message.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "tui.h"

#define MIN_COLS 40
#define MIN_ROWS 10

static attr_t role_attr[ROLE_COUNT];

/* Colour table per role: 8-colour fg/bg, 256-colour fg/bg, and the plain fallback. */
static const struct {
    short fg8, bg8, fg256, bg256;
    attr_t extra, mono;
} roles[ROLE_COUNT] = {
    [ROLE_NORMAL]    = {-1, -1, -1, -1, 0, 0},
    [ROLE_USER]      = {COLOR_CYAN, -1, 81, -1, 0, A_BOLD},
    [ROLE_ASSISTANT] = {-1, -1, -1, -1, 0, 0},
    [ROLE_CODE]      = {COLOR_GREEN, -1, 114, -1, 0, 0},
    [ROLE_STATUS]    = {COLOR_WHITE, COLOR_BLUE, 254, 24, 0, A_REVERSE},
    [ROLE_NOTICE]    = {COLOR_YELLOW, -1, 179, -1, 0, A_BOLD},
    [ROLE_ERROR]     = {COLOR_RED, -1, 203, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [ROLE_DIM]       = {-1, -1, 245, -1, A_DIM, A_DIM},
    [ROLE_SELECT]    = {COLOR_BLACK, COLOR_CYAN, 16, 117, 0, A_REVERSE},
    /* Markdown: code blocks on a background of their own, syntax colours on it, links. */
    [ROLE_CODE_BLOCK]  = {COLOR_WHITE, COLOR_BLACK, 252, 236, 0, 0},
    [ROLE_SYN_KEYWORD] = {COLOR_MAGENTA, COLOR_BLACK, 176, 236, 0, A_BOLD},
    [ROLE_SYN_STRING]  = {COLOR_GREEN, COLOR_BLACK, 150, 236, 0, 0},
    [ROLE_SYN_COMMENT] = {COLOR_CYAN, COLOR_BLACK, 245, 236, 0, 0},
    [ROLE_SYN_NUMBER]  = {COLOR_YELLOW, COLOR_BLACK, 215, 236, 0, 0},
    [ROLE_LINK]        = {COLOR_BLUE, -1, 75, -1, 0, 0},
};
static attr_t italic_attr = A_UNDERLINE;

/* Pairs 1..ROLE_COUNT-1 for the roles; ncolors 0 means attributes only. */
void render_init_colors(int ncolors)
{
    const char *sitm = tigetstr("sitm");   /* italics where the terminal has them, else underline */
    italic_attr = sitm && sitm != (char *)-1 ? A_ITALIC : A_UNDERLINE;
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (ncolors < 8) { role_attr[r] = roles[r].mono; continue; }
        bool big = ncolors >= 256;
        short fg = big ? roles[r].fg256 : roles[r].fg8, bg = big ? roles[r].bg256 : roles[r].bg8;
        role_attr[r] = roles[r].extra;
        if (fg < 0 && bg < 0) continue;
        init_pair((short)(r + 1), fg, bg);
        role_attr[r] |= COLOR_PAIR(r + 1);
    }
}

/* A style's attributes: its role's colours, then bold, italics, underline. */
attr_t render_attr(uint8_t style)
{
    return role_attr[style & 0x0f] | ((style & STYLE_BOLD) ? A_BOLD : 0) | ((style & STYLE_ITALIC) ? italic_attr : 0) |
           ((style & STYLE_UNDERLINE) ? A_UNDERLINE : 0);
}

/* Print s (UTF-8) at (y, x) in at most w columns, controls shown as '?'. */
int render_text(WINDOW *win, int y, int x, int w, const char *s, uint8_t style)
{
    wattrset(win, (int)(render_attr(style)));
    wmove(win, y, x);
    int used = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { cp = 0xFFFD; k = 1; }
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) cp = '?';
        int cw = utf8proc_charwidth(cp);
        if (used + cw > w) break;
        char buf[8];
        utf8proc_ssize_t m = utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf);
        waddnstr(win, buf, (int)m);
        used += cw;
        i += (size_t)k;
    }
    wattrset(win, (int)(A_NORMAL));
    return used;
}

/* One layout line, span by span (layout already made it fit). */
void render_line(WINDOW *win, int y, int x, int w, const lay_line *l)
{
    wmove(win, y, x);
    if (l->nspans == 0 || l->spans[0].start > 0) waddnstr(win, l->text, l->nspans ? (int)l->spans[0].start : (int)l->nbytes);
    for (int i = 0; i < l->nspans; i++) {
        wattrset(win, (int)(render_attr(l->spans[i].style)));
        waddnstr(win, l->text + l->spans[i].start, (int)l->spans[i].len);
    }
    wattrset(win, (int)(A_NORMAL));
}

/* Recreate the three windows when the geometry changed. */
void render_resize(tui_app *a)
{
    a->rows = LINES;
    a->cols = COLS;
    a->too_small = a->rows < MIN_ROWS || a->cols < MIN_COLS;
    if (a->too_small) return;
    int max_in = a->rows / 3 > 1 ? a->rows / 3 : 1;
    int ih = input_height(&a->in, a->cols);
    ih = ih < 1 ? 1 : ih > max_in ? max_in : ih;
    int chat_h = a->rows - 1 - ih;
    int side = tui_sidebar_width(a), cx = side < a->cols ? side : 0;   /* a full-width sidebar covers the chat */
    if (a->w_chat && chat_h == a->chat_h && getmaxx(a->w_chat) == a->cols - cx && getmaxy(a->w_input) == ih &&
        side == a->side_w && (!side || a->w_side)) return;
    if (a->w_chat) delwin(a->w_chat);
    if (a->w_status) delwin(a->w_status);
    if (a->w_input) delwin(a->w_input);
    if (a->w_side) delwin(a->w_side);
    a->w_side = side ? newwin(chat_h, side, 0, 0) : NULL;
    a->side_w = side;
    a->chat_h = chat_h;
    a->w_chat = newwin(chat_h, a->cols - cx, 0, cx);
    a->w_status = newwin(1, a->cols, chat_h, 0);
    a->w_input = newwin(ih, a->cols, chat_h + 1, 0);
    if (a->w_input) keypad(a->w_input, TRUE);
}

/* An overlay of h x w centred on the screen, with border and title. */
WINDOW *render_overlay(tui_app *a, int h, int w, const char *title)
{
    if (h > a->rows) h = a->rows;
    if (w > a->cols) w = a->cols;
    if (a->w_over) delwin(a->w_over);
    a->w_over = newwin(h, w, (a->rows - h) / 2, (a->cols - w) / 2);
    if (!a->w_over) return NULL;
    werase(a->w_over);
    box(a->w_over, 0, 0);
    if (title) {
        char t[128];
        snprintf(t, sizeof t, " %s ", title);
        render_text(a->w_over, 0, 2, w - 4, t, ROLE_NORMAL | STYLE_BOLD);
    }
    return a->w_over;
}

/* Before the first message: what to do, where help is, how to leave (below
 * any notices, such as the "loaded" one, when there is room). */
static void draw_first_hint(tui_app *a, WINDOW *w, int row, int cols)
{
    if (transcript_last(&a->tr, TR_USER) >= 0 || row + 2 > a->chat_h) return;
    if (row > 0) row++;
    bool wide = cols >= 66;
    render_text(w, row, 0, cols, wide ? "parley - type a message and press Enter. Ctrl-D or /quit leaves."
                                      : "Enter sends. Ctrl-D or /quit leaves.", ROLE_DIM);
    render_text(w, row + 1, 0, cols, wide ? "F1 help  Ctrl-O models  F2 settings  Ctrl-B sessions"
                                          : "F1 help  Ctrl-O models  F2 settings", ROLE_DIM);
}

/* The transcript pane: the lines that end `scroll` lines above the bottom;
 * when scrolled, the last row is the "N more below" marker's own. */
static void draw_chat(tui_app *a)
{
    WINDOW *w = a->w_chat;
    werase(w);
    int cols = getmaxx(w);
    a->lay.ascii = term_colors() == 0;   /* no colours: Markdown drawn with ASCII marks */
    int q = tui_queue_rows(a, a->chat_h / 3), h = a->chat_h - q;   /* queued messages above the box */
    int total = layout_update(&a->lay, &a->tr, cols);
    if (q) tui_queue_draw(a, w, h, q, cols);
    if (a->scroll > 0 && total > a->last_total) a->scroll += total - a->last_total;   /* reading: hold still */
    a->last_total = total;
    int max_scroll = total > h ? total - h + 1 : 0;   /* + 1: the marker's row */
    if (a->scroll > max_scroll) a->scroll = max_scroll;
    if (a->scroll < 0) a->scroll = 0;
    int rows = a->scroll > 0 ? h - 1 : h;
    int first = total - rows - a->scroll;
    if (first < 0) first = 0;
    for (int r = 0; r < rows; r++) {
        const lay_line *l = layout_line(&a->lay, first + r);
        if (l) render_line(w, r, 0, cols, l);
    }
    draw_first_hint(a, w, total < rows ? total : rows, cols);
    if (a->scroll > 0) {
        char more[64];
        snprintf(more, sizeof more, " %d more below (PgDn) ", a->scroll);
        int x = cols - (int)strlen(more);
        render_text(w, h - 1, x > 0 ? x : 0, cols, more, ROLE_SELECT);
    }
}

/* Some terminals keep a scroll region set for the old size after a resize
 * (xterm resets it, libvterm does not); curses assumes the whole screen, so
 * its line-scrolling moves would shift the wrong rows. Set it to the whole
 * screen again (queued before the frame's output; the frame that follows
 * paints everything from the home position). */
static void scroll_region_reset(int rows)
{
    const char *csr = tigetstr("csr");
    const char *seq = csr && csr != (char *)-1 ? tiparm(csr, 0, rows - 1) : NULL;
    if (seq && !strstr(seq, "$<")) {   /* written before this frame's bytes, which curses sends at doupdate */
        ssize_t w = write(STDOUT_FILENO, seq, strlen(seq));
        (void)w;
    }
}

/* One frame: everything off-screen, then a single doupdate. */
void render_frame(tui_app *a)
{
    render_resize(a);
    if (a->rows != a->painted_rows || a->cols != a->painted_cols) {
        clearok(curscr, TRUE);   /* terminals keep different parts of a resized screen: paint it whole */
        scroll_region_reset(a->rows);
        werase(stdscr);          /* resizeterm touched stdscr: wget_wch would repaint its old text */
        wnoutrefresh(stdscr);
        a->painted_rows = a->rows;
        a->painted_cols = a->cols;
    }
    if (a->too_small) {
        werase(stdscr);
        static const char *const one[] = {"terminal too small (need 40x10)", NULL};
        static const char *const two[] = {"terminal too small", "(need 40x10)", NULL};
        const char *const *msg = a->cols >= (int)strlen(one[0]) ? one : two;
        for (int i = 0, y = (a->rows - 1) / 2; msg[i] && y < a->rows; i++, y++) {
            int len = (int)strlen(msg[i]), x = (a->cols - len) / 2;
            mvwaddnstr(stdscr, y, x > 0 ? x : 0, msg[i], a->cols);
        }
        wnoutrefresh(stdscr);
        doupdate();
        untouchwin(stdscr);   /* keys are read through stdscr: wget_wch must never repaint this over the chat */
        return;
    }
    draw_chat(a);
    status_draw(a, a->w_status);
    const char *hint = a->cols >= 70 ? "Type a message. Enter sends, Alt-Enter newline, F1 help"
                                     : "Message (F1 help)";
    input_draw(&a->in, a->w_input, !a->generating ? hint : a->n_queued ? "...answering (Enter queues, Ctrl-C stops)"
                                                                      : "...answering (Esc stops)");
    wnoutrefresh(a->w_chat);
    wnoutrefresh(a->w_status);
    if (a->overlay) {
        wnoutrefresh(a->w_input);
        a->overlay->draw(a);
        if (a->w_over) wnoutrefresh(a->w_over);
        curs_set(0);
    } else {
        if (a->w_over) { delwin(a->w_over); a->w_over = NULL; }
        wnoutrefresh(a->w_input);
        curs_set(1);
    }
    doupdate();
}
