/* sidebar.c — the session sidebar (Ctrl-B, F3): saved conversations.
 *
 * A panel on the left (the whole screen on a narrow terminal) listing the
 * store's sessions newest first, title and date, a » before the date of those
 * whose KV snapshot fits (resume is instant; the header says so). It has the keys while open:
 * Enter resumes, r renames, d deletes after a y/n question, / searches the
 * text of every message (FTS5; matches are highlighted in the snippets), n
 * starts a new conversation, Esc / Ctrl-B / F3 close it. The list reloads
 * after our own changes and, polled once a second, after another parley's
 * (sess_store_changed), so two terminals on one store stay in step.
 * Small line prompts (search, rename, confirm) live in the panel itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

enum { SB_LIST, SB_SEARCH, SB_RENAME, SB_CONFIRM };
#define INSTANT_MARK "\u00bb"   /* », before the date: a KV snapshot that fits, so resume is instant */

/* Panel width for this terminal; cols means "cover the chat". */
int tui_sidebar_width(const tui_app *a)
{
    if (a->overlay != &tui_sidebar_view) return 0;
    return a->cols >= 90 ? 36 : a->cols >= 64 ? 28 : a->cols;
}

/* Reload the list (and the search), keeping the selection on the same session. */
static void sb_reload(tui_app *a)
{
    a->sb_stale = false;
    a->sb_err[0] = 0;
    if (!a->store) { snprintf(a->sb_err, sizeof a->sb_err, "no session store: %.200s", a->save_why); return; }
    int64_t keep = a->sb_mode == SB_SEARCH ? 0 : a->sb_sel < a->sb_n && a->sb_list ? a->sb_list[a->sb_sel].id : 0;
    sess_info_free_list(a->sb_list, a->sb_n);
    a->sb_list = NULL;
    a->sb_n = 0;
    sess_status st;
    if (sess_list(a->store, &a->sb_list, &a->sb_n, &st) < 0) snprintf(a->sb_err, sizeof a->sb_err, "%.250s", st.msg);
    sess_snap_mark(a->store, a->sb_list, a->sb_n);   /* which resume instantly: INSTANT_MARK */
    if (a->sb_mode == SB_SEARCH) {
        sess_hit_free_list(a->sb_hits, a->sb_nhits);
        a->sb_hits = NULL;
        a->sb_nhits = 0;
        if (a->sb_buf[0] && sess_search(a->store, a->sb_buf, 50, &a->sb_hits, &a->sb_nhits, &st) < 0)
            snprintf(a->sb_err, sizeof a->sb_err, "%.250s", st.msg);
        return;
    }
    for (int i = 0; keep && i < a->sb_n; i++) if (a->sb_list[i].id == keep) a->sb_sel = i;
}

static int sb_count(const tui_app *a) { return a->sb_mode == SB_SEARCH ? a->sb_nhits : a->sb_n; }

void tui_sidebar_open(tui_app *a)
{
    a->sb_mode = SB_LIST;
    a->sb_sel = a->sb_top = 0;
    a->sb_buf[0] = 0;
    sb_reload(a);
    for (int i = 0; i < a->sb_n; i++) if (a->sb_list[i].id == a->sid) a->sb_sel = i;
    tui_open(a, &tui_sidebar_view);
}

/* Once a second while open: did another parley change the store? */
void tui_sidebar_poll(tui_app *a, double now)
{
    if (a->overlay != &tui_sidebar_view || now - a->sb_polled < 1.0) return;
    a->sb_polled = now;
    if (a->store && sess_store_changed(a->store)) { a->sb_stale = true; a->dirty = true; }
}

/* ---- drawing -------------------------------------------------------------------- */

/* Where to start s so its first match shows: a few words before it, not the snippet's start. */
static const char *marked_start(const char *s, int avail)
{
    const char *m = strchr(s, SESS_HL_ON[0]);
    if (!m) return s;
    while (s < m && tui_str_width(s, (size_t)(m - s)) > avail / 3) {
        s++;
        while ((*s & 0xC0) == 0x80) s++;
    }
    return s;
}

/* Text with SESS_HL_ON/OFF markers: matches highlighted; newlines as spaces. */
static void draw_marked(WINDOW *w, int y, int x, int width, const char *s)
{
    const char *from = marked_start(s, width - x);
    if (from != s) x += render_text(w, y, x, width - x, "\u2026", ROLE_DIM);
    s = from;
    char seg[512];
    size_t n = 0;
    bool hl = false;
    for (const char *p = s;; p++) {
        bool mark = *p == SESS_HL_ON[0] || *p == SESS_HL_OFF[0];
        if ((mark || !*p || n + 1 >= sizeof seg) && n) {
            seg[n] = 0;
            x += render_text(w, y, x, width - x, seg, hl ? ROLE_SELECT | STYLE_BOLD : ROLE_NORMAL);
            n = 0;
        }
        if (!*p) break;
        if (mark) hl = *p == SESS_HL_ON[0];
        else seg[n++] = *p == '\n' || *p == '\t' ? ' ' : *p;
    }
}

/* One entry (two rows): title line, then date and size or the matching snippet. */
static void draw_entry(tui_app *a, WINDOW *w, int y, int iw, int i)
{
    char buf[512], when[32];
    bool sel = i == a->sb_sel;
    if (sel) mvwhline(w, y, 0, ' ' | render_attr(ROLE_SELECT), iw);
    if (a->sb_mode == SB_SEARCH) {
        const sess_hit *h = &a->sb_hits[i];
        snprintf(buf, sizeof buf, " %s", h->title[0] ? h->title : "untitled");
        render_text(w, y, 0, iw, buf, sel ? ROLE_SELECT : ROLE_USER);
        wmove(w, y + 1, 1);
        draw_marked(w, y + 1, 2, iw, h->snippet);
        return;
    }
    const sess_info *s = &a->sb_list[i];
    snprintf(buf, sizeof buf, "%s%s", s->id == a->sid ? "*" : " ", s->title[0] ? s->title : "(untitled)");
    render_text(w, y, 0, iw, buf, sel ? ROLE_SELECT | STYLE_BOLD : ROLE_NORMAL | STYLE_BOLD);
    sess_time_text(s->updated, when, sizeof when);
    snprintf(buf, sizeof buf, " %s %s  %d msg", s->snap == SESS_SNAP_READY ? INSTANT_MARK : " ", when, s->n_messages);
    render_text(w, y + 1, 0, iw, buf, ROLE_DIM);
}

/* The end of s that fits in cols columns (a prompt shows where you type). */
static const char *tail_fit(const char *s, int cols)
{
    while (*s && tui_str_width(s, strlen(s)) > cols) {
        s++;
        while ((*s & 0xC0) == 0x80) s++;
    }
    return s;
}

/* The bottom rows: the prompt of the current mode, or the key hints. */
static void draw_footer(tui_app *a, WINDOW *w, int h, int iw)
{
    char buf[400];
    const char *title = a->sb_sel < a->sb_n && a->sb_list ? a->sb_list[a->sb_sel].title : "";
    switch (a->sb_mode) {
    case SB_RENAME:
        snprintf(buf, sizeof buf, "Title: %s_", tail_fit(a->sb_buf, iw - 9));
        render_text(w, h - 2, 1, iw - 1, buf, ROLE_NOTICE | STYLE_BOLD);
        render_text(w, h - 1, 1, iw - 1, "Enter saves, Ctrl-U clears, Esc cancels", ROLE_DIM);
        break;
    case SB_CONFIRM:
        snprintf(buf, sizeof buf, "Delete \"%.200s\"?", title[0] ? title : "untitled");
        render_text(w, h - 2, 1, iw - 1, buf, ROLE_ERROR);
        render_text(w, h - 1, 1, iw - 1, "y deletes, any other key keeps it", ROLE_DIM);
        break;
    case SB_SEARCH:
        render_text(w, h - 1, 1, iw - 1, "Enter opens, Esc back to the list", ROLE_DIM);
        break;
    default:
        render_text(w, h - 2, 1, iw - 1, "Enter open  r rename  d delete", ROLE_DIM);
        render_text(w, h - 1, 1, iw - 1, "/ search  n new  Esc close", ROLE_DIM);
    }
}

static void sidebar_draw(tui_app *a)
{
    if (a->w_over) { delwin(a->w_over); a->w_over = NULL; }
    WINDOW *w = a->w_side;
    if (!w) return;
    if (a->sb_stale) sb_reload(a);
    int h = getmaxy(w), width = getmaxx(w), iw = width - 1;
    werase(w);
    if (width < a->cols) mvwvline(w, 0, width - 1, ACS_VLINE | render_attr(ROLE_DIM), h);
    char head[300];
    if (a->sb_mode == SB_SEARCH) snprintf(head, sizeof head, "Search: %s_", tail_fit(a->sb_buf, iw - 11));
    else snprintf(head, sizeof head, "Sessions (%d)  " INSTANT_MARK " instant", a->sb_n);
    render_text(w, 0, 1, iw - 1, head, a->sb_mode == SB_SEARCH ? ROLE_NOTICE | STYLE_BOLD : ROLE_USER | STYLE_BOLD);
    int rows = (h - 4) / 2, n = sb_count(a);
    if (a->sb_err[0]) render_text(w, 1, 1, iw - 1, a->sb_err, ROLE_ERROR);
    else if (n == 0)
        render_text(w, 1, 1, iw - 1, a->sb_mode == SB_SEARCH ? (a->sb_buf[0] ? "no matches" : "type to search all messages")
                                                             : "no saved sessions yet", ROLE_DIM);
    if (a->sb_sel >= n) a->sb_sel = n ? n - 1 : 0;
    if (a->sb_sel < a->sb_top) a->sb_top = a->sb_sel;
    if (rows > 0 && a->sb_sel >= a->sb_top + rows) a->sb_top = a->sb_sel - rows + 1;
    for (int r = 0; r < rows && a->sb_top + r < n; r++) draw_entry(a, w, 1 + 2 * r, iw, a->sb_top + r);
    draw_footer(a, w, h, iw);
    wnoutrefresh(w);
}

/* ---- keys ------------------------------------------------------------------------ */

/* Printable input (UTF-8) and Backspace for the line prompts; true if consumed. */
static bool sb_edit(tui_app *a, tui_key k)
{
    size_t n = strlen(a->sb_buf);
    if (!k.is_key && k.code == TUI_CTRL('u')) { a->sb_buf[0] = 0; return true; }
    if ((k.is_key && k.code == KEY_BACKSPACE) || (!k.is_key && (k.code == 127 || k.code == 8))) {
        while (n > 0 && ((unsigned char)a->sb_buf[n - 1] & 0xC0) == 0x80) n--;
        if (n > 0) n--;
        a->sb_buf[n] = 0;
        return true;
    }
    if (k.is_key || k.alt || k.code < 0x20 || k.code == 127) return false;
    char u[8];
    int m = 0;
    unsigned c = (unsigned)k.code;
    if (c < 0x80) u[m++] = (char)c;
    else if (c < 0x800) { u[m++] = (char)(0xC0 | c >> 6); u[m++] = (char)(0x80 | (c & 0x3F)); }
    else if (c < 0x10000) { u[m++] = (char)(0xE0 | c >> 12); u[m++] = (char)(0x80 | (c >> 6 & 0x3F)); u[m++] = (char)(0x80 | (c & 0x3F)); }
    else { u[m++] = (char)(0xF0 | c >> 18); u[m++] = (char)(0x80 | (c >> 12 & 0x3F)); u[m++] = (char)(0x80 | (c >> 6 & 0x3F)); u[m++] = (char)(0x80 | (c & 0x3F)); }
    if (n + (size_t)m + 1 < sizeof a->sb_buf) { memcpy(a->sb_buf + n, u, (size_t)m); a->sb_buf[n + m] = 0; }
    return true;
}

static bool is_enter(tui_key k) { return k.code == '\r' || k.code == '\n' || (k.is_key && k.code == KEY_ENTER); }

/* Up/Down/PgUp/PgDn/Home/End over the entries; true if it was one of them. */
static bool sb_move(tui_app *a, tui_key k)
{
    if (!k.is_key) return false;
    int n = sb_count(a), s = a->sb_sel;
    if (k.code == KEY_UP) s--;
    else if (k.code == KEY_DOWN) s++;
    else if (k.code == KEY_PPAGE) s -= 8;
    else if (k.code == KEY_NPAGE) s += 8;
    else if (k.code == KEY_HOME) s = 0;
    else if (k.code == KEY_END) s = n - 1;
    else return false;
    a->sb_sel = s >= n ? n - 1 : s;
    if (a->sb_sel < 0) a->sb_sel = 0;
    return true;
}

/* Open session id and give the keys back to the chat. */
static void sb_resume(tui_app *a, int64_t id)
{
    a->overlay = NULL;
    if (id != a->sid || a->tr.n == 0) tui_sess_resume(a, id);
}

/* r / d / n / / / Enter in the list. */
static int sb_list_key(tui_app *a, tui_key k)
{
    const sess_info *cur = a->sb_sel < a->sb_n && a->sb_list ? &a->sb_list[a->sb_sel] : NULL;
    if (is_enter(k) && cur) sb_resume(a, cur->id);
    else if (k.code == 'r' && !k.is_key && cur) { a->sb_mode = SB_RENAME; snprintf(a->sb_buf, sizeof a->sb_buf, "%s", cur->title); }
    else if (k.code == 'd' && !k.is_key && cur) a->sb_mode = SB_CONFIRM;
    else if (k.code == '/' && !k.is_key) { a->sb_mode = SB_SEARCH; a->sb_buf[0] = 0; a->sb_sel = 0; sb_reload(a); }
    else if (k.code == 'n' && !k.is_key) { a->overlay = NULL; tui_clear(a); tui_status_msg(a, "new conversation"); }
    else if ((k.code == 'q' || k.code == 27) && !k.is_key) a->overlay = NULL;
    return TUI_HANDLED | TUI_REDRAW;
}

/* The three prompts: search (live), rename, confirm delete. */
static int sb_prompt_key(tui_app *a, tui_key k)
{
    bool esc = !k.is_key && k.code == 27;
    const sess_info *cur = a->sb_sel < a->sb_n && a->sb_list ? &a->sb_list[a->sb_sel] : NULL;
    sess_status st;
    if (a->sb_mode == SB_CONFIRM) {
        if (k.code == 'y' && !k.is_key && cur) {
            int64_t id = cur->id;
            if (sess_delete(a->store, id, &st) < 0) tui_status_msg(a, "%s", st.msg);
            else tui_status_msg(a, "session %lld deleted", (long long)id);
            if (id == a->sid) { tui_clear(a); tui_notice(a, TR_NOTICE, "this conversation was deleted; a new one starts"); }
        }
        a->sb_mode = SB_LIST;
    } else if (esc) {
        a->sb_mode = SB_LIST;
        a->sb_buf[0] = 0;
    } else if (a->sb_mode == SB_RENAME && is_enter(k) && cur) {
        if (sess_rename(a->store, cur->id, a->sb_buf, &st) < 0) tui_status_msg(a, "%s", st.msg);
        a->sb_mode = SB_LIST;
    } else if (a->sb_mode == SB_SEARCH && is_enter(k)) {
        if (a->sb_sel < a->sb_nhits) sb_resume(a, a->sb_hits[a->sb_sel].session_id);
    } else if (a->sb_mode == SB_SEARCH && sb_move(a, k)) {
        return TUI_HANDLED | TUI_REDRAW;
    } else if (sb_edit(a, k) && a->sb_mode == SB_SEARCH) {
        a->sb_sel = a->sb_top = 0;
    }
    a->sb_stale = true;
    return TUI_HANDLED | TUI_REDRAW;
}

static int sidebar_key(tui_app *a, tui_key k)
{
    bool toggle = (!k.is_key && k.code == TUI_CTRL('b')) || (k.is_key && k.code == KEY_F(3));
    if (toggle || (!k.is_key && k.code == TUI_CTRL('c'))) { a->overlay = NULL; return TUI_HANDLED | TUI_REDRAW; }
    if (a->sb_mode != SB_LIST) return sb_prompt_key(a, k);
    if (sb_move(a, k)) return TUI_HANDLED | TUI_REDRAW;
    return sb_list_key(a, k);
}

const tui_view tui_sidebar_view = {"sidebar", sidebar_key, sidebar_draw};
