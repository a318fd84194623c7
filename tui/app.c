/* app.c — the chat app's poll() loop, keys and worker events.
 *
 * One thread owns ncurses. It sleeps in poll() on three fds: stdin, the
 * worker's event fd and the SIGWINCH self-pipe. Keys are handled at once and
 * drawn at once (typing never waits); worker events (a token each) only mark
 * the screen dirty, and a frame is drawn at most every 30 ms, so a fast model
 * costs ~33 small diffs a second over SSH however many tokens arrive. Key
 * handlers are a table and return TUI_* flags (htop); they never draw.
 *
 * Leaving keeps what was said: quitting mid-answer stops it and saves it as
 * it stands; a hang-up (SIGHUP, the SSH connection dropped, stdin gone) lets
 * the answer finish (at most HANGUP_FINISH_S, or n-predict) without touching
 * the dead terminal, saves it and a snapshot, then exits.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define FRAME_S 0.030
#define HANGUP_FINISH_S 30.0   /* a hang-up lets the answer finish for at most this long */
#define QUIT_WAIT_S 3.0        /* quitting waits this long for a stopped answer's last words */

/* ---- chat view keys ------------------------------------------------------ */

static int key_help(tui_app *a) { a->help_top = 0; tui_open(a, &tui_help_view); return TUI_REDRAW; }
static int key_knobs(tui_app *a) { tui_knobs_open(a); return TUI_REDRAW; }
static int key_picker(tui_app *a) { tui_picker_open(a); return TUI_REDRAW; }
static int key_pgup(tui_app *a) { tui_scroll(a, a->chat_h > 2 ? a->chat_h - 2 : 1); return TUI_REDRAW; }
static int key_pgdn(tui_app *a) { tui_scroll(a, -(a->chat_h > 2 ? a->chat_h - 2 : 1)); return TUI_REDRAW; }
static int key_line_up(tui_app *a) { tui_scroll(a, 1); return TUI_REDRAW; }
static int key_line_down(tui_app *a) { tui_scroll(a, -1); return TUI_REDRAW; }
static int key_bottom(tui_app *a) { a->scroll = 0; return TUI_REDRAW; }
static int key_regen(tui_app *a) { tui_regenerate(a); return TUI_REDRAW; }
static int key_redraw(tui_app *a) { clearok(curscr, TRUE); return TUI_REDRAW; }
static int key_tab(tui_app *a) { return tui_command_complete(a, &a->in); }
static int key_sidebar(tui_app *a) { tui_sidebar_open(a); return TUI_REDRAW; }

/* Esc: drop the newest queued message (empty box); else stop the answer;
 * else leave an edit; else clear the status message. */
static int key_escape(tui_app *a)
{
    if (a->in.len == 0 && tui_queue_drop(a)) return TUI_REDRAW;
    if (a->generating) tui_cancel(a);
    else if (a->edit_from >= 0) { a->edit_from = -1; input_set(&a->in, ""); tui_status_msg(a, "edit cancelled"); }
    else a->status_until = 0;
    return TUI_REDRAW;
}

/* Ctrl-C: stop; clear the editor; twice on an empty editor quits. */
static int key_ctrl_c(tui_app *a)
{
    if (a->generating) { tui_cancel(a); return TUI_REDRAW; }
    if (a->in.len) { input_set(&a->in, ""); return TUI_REDRAW; }
    if (++a->ctrl_c >= 2) return TUI_QUIT;
    tui_status_msg(a, "press Ctrl-C again to quit (or /quit)");
    return TUI_REDRAW;
}

/* Ctrl-D on an empty editor quits (like a shell). */
static int key_ctrl_d(tui_app *a)
{
    if (a->in.len) return input_key(&a->in, (tui_key){KEY_DC, true, false});
    return TUI_QUIT;
}

/* Alt-y: copy the last answer to the clipboard. */
static int key_copy(tui_app *a) { return tui_command_run(a, "/copy"); }

/* Mouse wheel scrolls the transcript. */
static int key_mouse(tui_app *a)
{
    MEVENT ev;
    if (getmouse(&ev) != OK) return TUI_HANDLED;
    if (ev.bstate & BUTTON4_PRESSED) tui_scroll(a, 3);
#ifdef BUTTON5_PRESSED
    else if (ev.bstate & BUTTON5_PRESSED) tui_scroll(a, -3);
#endif
    return TUI_REDRAW;
}

static const struct {
    int  code;
    bool is_key, alt;
    int (*fn)(tui_app *a);
} chat_keys[] = {
    {KEY_F(1), true, false, key_help},        {KEY_F(2), true, false, key_knobs},
    {TUI_CTRL('o'), false, false, key_picker}, {27, false, false, key_escape},
    {TUI_CTRL('c'), false, false, key_ctrl_c}, {TUI_CTRL('d'), false, false, key_ctrl_d},
    {KEY_PPAGE, true, false, key_pgup},       {KEY_NPAGE, true, false, key_pgdn},
    {KEY_SR, true, false, key_line_up},       {KEY_SF, true, false, key_line_down},
    {KEY_UP, true, true, key_line_up},        {KEY_DOWN, true, true, key_line_down},
    {KEY_END, true, true, key_bottom},        {TUI_CTRL('l'), false, false, key_redraw},
    {TUI_CTRL('r'), false, false, key_regen}, {'\t', false, false, key_tab},
    {KEY_MOUSE, true, false, key_mouse},      {'y', false, true, key_copy},
    {TUI_CTRL('b'), false, false, key_sidebar}, {KEY_F(3), true, false, key_sidebar},
};

/* For the help overlay: every key the chat understands. */
const tui_binding tui_bindings[] = {
    {"Enter", "send (while answering: queue it; Up edits, Esc drops)"}, {"Alt-Enter, Ctrl-J", "new line in the message"},
    {"Up / Down", "move between lines; history on the first/last line"},
    {"Ctrl-A / Ctrl-E, Home / End", "start / end of line"}, {"Ctrl-K / Ctrl-U", "delete to end / start of line"},
    {"Ctrl-Left/Right, Alt-b/f", "back / forward one word"},
    {"Ctrl-W / Alt-d", "delete the word before / after the cursor"}, {"Tab", "complete a /command or /set name"},
    {"Esc, Ctrl-C", "stop the answer (the text so far is kept)"},
    {"PgUp / PgDn, wheel", "scroll the conversation"}, {"Shift-Up/Down, Alt-Up/Down", "scroll one line"},
    {"Alt-End", "back to the newest line"},    {"Ctrl-R", "regenerate the last answer"},
    {"Alt-y", "copy the last answer (OSC 52; tmux: set-clipboard on)"}, {"Ctrl-O", "model picker"},
    {"Ctrl-B, F3", "sessions: resume, rename, delete, search, new"},
    {"F2", "settings (knobs)"},                 {"F1, ?", "this help"},
    {"Ctrl-L", "redraw the screen"},            {"Ctrl-C twice, Ctrl-D", "quit (on an empty line)"},
};
const int tui_n_bindings = (int)(sizeof tui_bindings / sizeof tui_bindings[0]);

/* Enter: a /command or a message. */
static int submit(tui_app *a)
{
    char *text = strdup(a->in.buf ? a->in.buf : "");
    if (!text) return TUI_HANDLED;
    input_history_add(&a->in, text);
    input_set(&a->in, "");
    int flags = TUI_REDRAW;
    if (text[0] == '/' && text[1] != '/') flags |= tui_command_run(a, text);
    else tui_send(a, text[0] == '/' ? text + 1 : text);
    free(text);
    return flags;
}

/* A paste just ended (flags from the editor): say how big, or that it was cut short. */
static void paste_said(tui_app *a, int f, const char *how)
{
    if (f & INPUT_PASTE_CUT)
        tui_status_msg(a, "paste ended%s: no end marker came (the %zu bytes pasted are kept)", how, a->in.paste_bytes);
    else if (f & INPUT_PASTED && a->in.paste_lines > 0) {
        bool tail = a->in.cur > 0 && a->in.buf[a->in.cur - 1] != '\n';
        tui_status_msg(a, "pasted %d lines (%zu bytes)", a->in.paste_lines + tail, a->in.paste_bytes);
    }
}

/* A key for the chat view: its table, then the editor. */
static int chat_key(tui_app *a, tui_key k)
{
    if (!(k.code == TUI_CTRL('c') && !k.is_key)) a->ctrl_c = 0;
    if (!a->in.pasting) {
        if (!k.is_key && !k.alt && k.code == '?' && a->in.len == 0) return key_help(a);
        if (k.is_key && !k.alt && k.code == KEY_UP && a->in.len == 0 && tui_queue_recall(a)) return TUI_REDRAW;
        for (size_t i = 0; i < sizeof chat_keys / sizeof chat_keys[0]; i++)
            if (chat_keys[i].code == k.code && chat_keys[i].is_key == k.is_key && chat_keys[i].alt == k.alt)
                return chat_keys[i].fn(a) | TUI_HANDLED;
    }
    int f = input_key(&a->in, k);
    if (f & INPUT_SUBMIT) return submit(a);
    paste_said(a, f, k.is_key ? "" : " by Ctrl-C");
    return f & (TUI_HANDLED | TUI_REDRAW | TUI_QUIT);
}

/* Read one key (keys.c: Esc + key = Alt, unknown sequences dropped whole). */
static bool read_key(tui_key *k) { return keys_read(k); }

/* ---- worker events ---------------------------------------------------------- */

/* Every answer that is final passes here: the session store saves it. */
static void message_final(tui_app *a, int idx, const pl_gen_stats *s) { tui_sess_answer_end(a, idx, s); }

static void ev_progress(tui_app *a, pl_event *ev)
{
    if (ev->req_id != a->load_id) return;   /* a load replaced by a newer one */
    a->loading = ev->progress < 1.0f;
    a->load_progress = ev->progress;
    snprintf(a->load_stage, sizeof a->load_stage, "%s", ev->text ? ev->text : "");
}

static void ev_loaded(tui_app *a, pl_event *ev)
{
    if (ev->req_id == a->load_id) a->loading = false;
    a->es = ev->state;
    const pl_model_info *i = &ev->state.info;
    char params[32];
    pl_catalog_fmt_params(i->n_params, params, sizeof params);
    tui_notice(a, TR_NOTICE, "loaded %s (%s, %s params, %s, context %d, template %s)", i->name, i->arch, params,
               i->ftype, ev->state.n_ctx, i->chat_template);
}

static void ev_token(tui_app *a, pl_event *ev)
{
    if (!a->generating || ev->req_id != a->gen_id || a->gen_msg < 0) return;
    transcript_append(&a->tr, a->gen_msg, ev->text, ev->len);
    tui_sess_token(a, ev->text, ev->len);
    a->es.n_ctx_used = ev->state.n_ctx_used;   /* the meter moves while the answer streams */
}

/* The turn ended: keep what was written, remember stats and dropped turns. */
static void ev_done(tui_app *a, pl_event *ev)
{
    if (ev->req_id != a->gen_id) return;
    a->generating = false;
    if (!a->loading) a->es = ev->state;   /* while a load runs, LOADED brings the state */
    a->last = ev->stats;
    a->have_last = true;
    if (a->gen_msg >= 0 && a->gen_msg < a->tr.n) {
        tr_msg *m = &a->tr.msgs[a->gen_msg];
        m->streaming = false;
        m->stopped = ev->stats.cancelled || ev->stats.context_full;
        if (m->len == 0) transcript_remove(&a->tr, a->gen_msg);
        else message_final(a, a->gen_msg, &ev->stats);
    }
    if (ev->stats.n_dropped_turns) transcript_drop_turns(&a->tr, ev->stats.n_dropped_turns);
    if (ev->stats.cancelled) tui_status_msg(a, "stopped after %d tokens", ev->stats.n_gen);
    a->gen_msg = -1;
    tui_queue_flush(a);   /* the next message typed meanwhile */
}

/* An error; a failed load leaves the model in use working (the worker kept it). */
static void ev_error(tui_app *a, pl_event *ev)
{
    if (a->loading && ev->req_id == a->load_id) {
        a->loading = false;
        a->es = ev->state;
        if (a->es.loaded && a->kept_path[0]) {
            snprintf(a->model_path, sizeof a->model_path, "%s", a->kept_path);
            snprintf(a->model_name, sizeof a->model_name, "%s", a->kept_name);
        }
    }
    tui_notice(a, TR_ERROR, "%s", ev->text ? ev->text : "error");
}

static void ev_notice(tui_app *a, pl_event *ev) { tui_notice(a, TR_NOTICE, "%s", ev->text ? ev->text : ""); }

static void ev_knob(tui_app *a, pl_event *ev)
{
    a->es = ev->state;
    a->es.loaded = ev->state.loaded;
}

static void ev_restore_progress(tui_app *a, pl_event *ev) { tui_sess_restore_progress(a, ev); }
static void ev_restored(tui_app *a, pl_event *ev) { tui_sess_restored(a, ev); }
static void ev_state_saved(tui_app *a, pl_event *ev) { tui_sess_state_saved(a, ev); }

static void (*const ev_handlers[])(tui_app *a, pl_event *ev) = {
    [PL_EV_LOAD_PROGRESS] = ev_progress, [PL_EV_LOADED] = ev_loaded, [PL_EV_TOKEN] = ev_token,
    [PL_EV_DONE] = ev_done,              [PL_EV_ERROR] = ev_error,   [PL_EV_NOTICE] = ev_notice,
    [PL_EV_KNOB] = ev_knob,              [PL_EV_RESTORE_PROGRESS] = ev_restore_progress,
    [PL_EV_RESTORED] = ev_restored,      [PL_EV_STATE_SAVED] = ev_state_saved,
};

static void drain_events(tui_app *a)
{
    pl_event ev;
    while (pl_worker_next_event(a->wk, &ev)) {
        if ((size_t)ev.kind < sizeof ev_handlers / sizeof ev_handlers[0] && ev_handlers[ev.kind])
            ev_handlers[ev.kind](a, &ev);
        pl_event_free(&ev);
        a->dirty = true;
    }
}

/* ---- the loop ----------------------------------------------------------------- */

/* How long poll may sleep: until the next frame, animation tick or message expiry. */
static int loop_timeout(tui_app *a, double now)
{
    double t = -1;
    if (a->dirty) t = a->last_frame + FRAME_S - now;
    if ((a->loading || a->restoring) && (t < 0 || t > 0.1)) t = 0.1;
    if (a->overlay == &tui_sidebar_view && (t < 0 || t > 1.0)) t = 1.0;   /* another parley's changes */
    if (a->save_off && a->store && !a->generating) {                       /* retry a failing store */
        double r = a->save_retry_at - now > 0 ? a->save_retry_at - now : 0;
        if (t < 0 || t > r) t = r + 0.01;
    }
    if (a->status_until > now && (t < 0 || t > a->status_until - now)) t = a->status_until - now + 0.01;
    if (a->in.pasting) {   /* a paste without its end marker times out */
        double p = a->key_at + INPUT_PASTE_IDLE_S - now;
        if (p < 0) p = 0;
        if (t < 0 || t > p) t = p;
    }
    if (t < 0 && a->dirty) t = 0;
    return t < 0 ? -1 : (int)(t * 1000) + 1;
}

static void handle_resize(tui_app *a)
{
    int r, c;
    term_winch_drain();
    term_size(&r, &c);
    resizeterm(r, c);
    a->chat_h = -1;   /* resizeterm moved and clipped our windows: make them anew */
    a->dirty = true;
}

/* Keys waiting on stdin, all of them before the next frame. */
static int handle_keys(tui_app *a)
{
    tui_key k;
    int flags = 0;
    while (!(flags & TUI_QUIT) && read_key(&k)) {
        a->key_at = tui_now();
        if (k.is_key && k.code == KEY_RESIZE) {   /* resizeterm queues one: curses has resized already */
            a->chat_h = -1;
            a->dirty = true;
            flags |= TUI_REDRAW;
            continue;
        }
        flags |= a->overlay ? a->overlay->key(a, k) : chat_key(a, k);
        if (a->in.pasting) a->dirty = true;   /* a paste shows as it arrives, at the frame rate */
    }
    return flags;
}

/* Drain worker events until the answer ends or secs pass (no drawing). */
static void wait_answer(tui_app *a, double secs)
{
    double end = tui_now() + secs;
    struct pollfd p = {pl_worker_event_fd(a->wk), POLLIN, 0};
    while (a->generating && tui_now() < end) {
        poll(&p, 1, 100);
        drain_events(a);
    }
}

/* The terminal is gone: never draw again; let the answer finish (bounded). */
static int hangup_finish(tui_app *a)
{
    a->hangup = true;
    term_abandon();
    tui_queue_free(a);   /* nobody is there to read their answers; they are in the input history */
    wait_answer(a, HANGUP_FINISH_S);
    return 0;
}

static int run_loop(tui_app *a)
{
    struct pollfd fds[3] = {{0, POLLIN, 0}, {pl_worker_event_fd(a->wk), POLLIN, 0}, {term_winch_fd(), POLLIN, 0}};
    render_frame(a);
    a->last_frame = tui_now();
    for (;;) {
        int n = poll(fds, 3, loop_timeout(a, tui_now()));
        if (n < 0 && errno != EINTR) return 1;
        bool now_draw = false;
        if (fds[2].revents & POLLIN) { handle_resize(a); now_draw = true; }
        if (term_hungup() || (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))) return hangup_finish(a);
        if (fds[0].revents & POLLIN) {
            int f = handle_keys(a);
            if (f & TUI_QUIT) return 0;
            now_draw |= (f & TUI_REDRAW) != 0;
        }
        if (fds[1].revents & POLLIN) drain_events(a);
        double t = tui_now();
        int pf = input_paste_idle(&a->in, t - a->key_at);
        if (pf) { paste_said(a, pf, ""); now_draw = true; }
        tui_sidebar_poll(a, t);
        tui_sess_tick(a, t);
        if (a->restoring) a->dirty = true;
        if (a->loading || (a->status_until && a->status_until <= t)) { a->dirty = true; if (a->status_until <= t) a->status_until = 0; }
        if (now_draw || (a->dirty && t - a->last_frame >= FRAME_S)) {
            render_frame(a);
            a->last_frame = t;
            a->dirty = false;
        }
    }
}

/* Colours unless NO_COLOR, --color never, or no tty colours. */
static bool want_color(const pl_config *c)
{
    if (c->color && strcmp(c->color, "always") == 0) return true;
    if (c->color && strcmp(c->color, "never") == 0) return false;
    const char *nc = getenv("NO_COLOR");
    return !(nc && *nc);
}

int tui_run(pl_config *cfg)
{
    tui_app a;
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    a.gen_msg = a.edit_from = -1;
    transcript_init(&a.tr);
    layout_init(&a.lay);
    input_init(&a.in);
    pl_status st;
    a.wk = pl_worker_new(&st);
    if (!a.wk) { fprintf(stderr, "parley: %s\n", st.msg); return 1; }
    if (term_setup(want_color(cfg)) < 0) {
        fprintf(stderr, "parley: cannot initialise the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
        pl_worker_free(a.wk);
        return 1;
    }
    a.ncolors = term_colors();
    tui_sess_open(&a);
    tui_history_open(&a);
    char *path = config_model_path(cfg);
    if (path) tui_load_model(&a, path);
    free(path);
    tui_sess_startup(&a);
    int rc = run_loop(&a);
    tui_queue_free(&a);   /* quitting: not sent (each is in the input history) */
    if (a.generating) {   /* quitting mid-answer: stop it and keep what was written */
        tui_cancel(&a);
        wait_answer(&a, QUIT_WAIT_S);
    }
    tui_sess_close(&a);
    term_restore();
    pl_worker_free(a.wk);   /* runs the queued snapshot first */
    tui_sess_free(&a);
    pl_catalog_free(a.pk_entries);
    transcript_done(&a.tr);
    layout_done(&a.lay);
    input_done(&a.in);
    return rc;
}
