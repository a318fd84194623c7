/* tui.h — the door of tui/, parley's ncurses chat app.
 *
 * Outside the room only tui_run() is used (by cmd/tui.c). Inside, the layers go
 * like tmux's: transcript (the messages, a model) -> layout (wrapped display
 * lines with styled spans, cached per message) -> render (ncurses windows,
 * one doupdate per frame) -> the terminal. app.c owns the poll() loop over
 * stdin, the worker's event fd and a SIGWINCH self-pipe; key handlers return
 * TUI_* flags (htop) and never draw. Overlays (help, picker, knobs) are views:
 * a small vtable of key + draw. The engine lives on the worker thread
 * (engine/engine.h, pl_worker_*); this room never calls the engine directly,
 * except pl_catalog_scan for the picker.
 */
#ifndef PL_TUI_H
#define PL_TUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curses.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "../sessions/sessions.h"

/* What a key handler asks the loop to do (combinable). */
enum { TUI_UNHANDLED = 0, TUI_HANDLED = 1, TUI_REDRAW = 2, TUI_QUIT = 4 };

/* Semantic colour roles; render.c maps them onto the terminal's colours. */
typedef enum tui_role {
    ROLE_NORMAL = 0, ROLE_USER, ROLE_ASSISTANT, ROLE_CODE, ROLE_STATUS, ROLE_NOTICE,
    ROLE_ERROR, ROLE_DIM, ROLE_SELECT,
    /* Markdown: code blocks (a background of their own) and their syntax colours, links. */
    ROLE_CODE_BLOCK, ROLE_SYN_KEYWORD, ROLE_SYN_STRING, ROLE_SYN_COMMENT, ROLE_SYN_NUMBER, ROLE_LINK,
    ROLE_COUNT   /* at most 16: a role is the low 4 bits of a style */
} tui_role;
#define STYLE_BOLD      0x10u   /* or'd onto a role */
#define STYLE_ITALIC    0x20u   /* underlined where the terminal has no italics */
#define STYLE_UNDERLINE 0x40u

/* A key: a character, or an ncurses KEY_* code (is_key), maybe with Alt. */
typedef struct tui_key {
    int  code;
    bool is_key, alt;
} tui_key;
#define TUI_CTRL(c) ((c) & 0x1f)
#define TUI_KEY_PASTE_BEGIN (KEY_MAX + 1)
#define TUI_KEY_PASTE_END   (KEY_MAX + 2)
/* keys.c: an escape sequence no description defines, read whole and dropped. */
#define TUI_KEY_UNKNOWN     (KEY_MAX + 1023)
/* Keys with modifiers (keys.c): TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL) is
 * Ctrl-Left. Alt-only arrives as the key with alt set, Shift-only as ncurses'
 * shifted code (KEY_SR, KEY_SLEFT...). Past ncurses' own extended-key codes. */
enum { TUI_KB_UP, TUI_KB_DOWN, TUI_KB_RIGHT, TUI_KB_LEFT, TUI_KB_HOME, TUI_KB_END, TUI_KB_IC, TUI_KB_DC,
       TUI_KB_PPAGE, TUI_KB_NPAGE, TUI_KB_COUNT };
enum { TUI_MOD_SHIFT = 1, TUI_MOD_ALT = 2, TUI_MOD_CTRL = 4 };   /* xterm's parameter - 1 */
#define TUI_KEY_MOD(kb, mods) (KEY_MAX + 1024 + (kb) * 8 + (mods))

/* keys.c: define the terminal's keys (after keypad), read one key. */
void    keys_setup(void);
bool    keys_read(tui_key *k);                 /* false: no key waiting */
tui_key keys_normalize(tui_key k);

/* ---- transcript.c: the messages --------------------------------------- */

typedef enum tr_kind { TR_USER, TR_ASSISTANT, TR_SYSTEM, TR_NOTICE, TR_ERROR } tr_kind;

typedef struct tr_msg {
    tr_kind  kind;
    char    *text;
    size_t   len, cap;
    uint64_t version;     /* bumped on every change (layout cache key); unique per message */
    bool     streaming;   /* the answer is still arriving */
    bool     stopped;     /* cancelled or cut: what was written is kept */
    bool     dropped;     /* left out of the context by the policy */
    bool     incomplete;  /* from the store: the answer was cut off (crash, hang-up, stop) */
    int64_t  db_id;       /* its row in the session store, 0 if not saved (yet) */
} tr_msg;

typedef struct transcript {
    tr_msg *msgs;
    int     n, cap;
} transcript;

void transcript_init(transcript *t);
void transcript_done(transcript *t);
int  transcript_add(transcript *t, tr_kind kind, const char *text);   /* index, -1 on OOM */
int  transcript_append(transcript *t, int i, const char *bytes, size_t n);
void transcript_truncate(transcript *t, int n);                       /* keep the first n */
void transcript_remove(transcript *t, int i);
int  transcript_last(const transcript *t, tr_kind kind);              /* index or -1 */
/* The conversation for the engine: system prompt + user/assistant turns that are
 * not dropped. *out points into t (and system); free(*out) only. Returns n or -1. */
int  transcript_chat(const transcript *t, const char *system, pl_chat_msg **out);
/* Mark the oldest n not-yet-dropped user turns (and their answers) dropped. */
void transcript_drop_turns(transcript *t, int n);
/* The conversation as the store's Markdown form (what /load reads back) to f. */
int  transcript_write_md(const transcript *t, FILE *f);
/* Into path through sess_file_write with flags (SESS_WRITE_FORCE to replace). */
int  transcript_export_md(const transcript *t, const char *path, unsigned flags, sess_status *st);

/* ---- layout.c: wrapping into display lines ---------------------------- */

typedef struct lay_span {
    uint32_t start, len;  /* bytes into the line's text */
    uint8_t  style;       /* tui_role | STYLE_BOLD */
} lay_span;

typedef struct lay_line {
    char     *text;
    uint32_t  nbytes;
    lay_span *spans;
    int       nspans;
    int       cols;       /* display width */
    int       msg;        /* transcript index */
    int       code_block; /* index of the code block in its message, -1 if none */
} lay_line;

/* Where a streaming answer's Markdown stopped being able to change: lines
 * [0, lines) lay out text [0, src) for good (markdown.c). */
typedef struct lay_mark {
    size_t   src;
    int      lines;
    int      code_blocks;   /* code blocks before src */
    unsigned ol_next;       /* a top-level numbered list ended just before src: its next number */
    char     ol_delim;      /* and its delimiter ('.' or ')'), 0 if none */
    bool     any;           /* some body line was laid out before src */
    char     fence;         /* src is inside a code fence of this char ('`', '~'), 0 if not: */
    int      fence_len;     /* its run length, */
    size_t   fence_at, fence_n;   /* its opening line in the text, */
    int      hl_state;      /* and the highlighter's state there */
} lay_mark;

typedef struct lay_cache {
    uint64_t  version;
    int       width, flags;
    lay_line *lines;
    int       n, cap;
    lay_mark  mark;       /* streaming: what stays when more text arrives */
    char     *seen;       /* a copy of text [0, mark.src), to be sure it did not change */
} lay_cache;

typedef struct layout {
    lay_cache *msgs;
    int        n_msgs, cap_msgs;
    int       *first;     /* first global line of each message */
    int        total;
    int        width;
    bool       ascii;     /* no colours: Markdown structure drawn with ASCII marks */
} layout;

void layout_init(layout *L);
void layout_done(layout *L);
int  layout_update(layout *L, const transcript *t, int width);   /* total lines */
const lay_line *layout_line(const layout *L, int i);
/* Lay out one piece of text (tests, input box): lines into c. */
void layout_text(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                 bool markdown, int msg);
/* Lay out Markdown (markdown.c): LAY_ASCII for terminals without colours,
 * LAY_STREAMING while it grows (unfinished markup is not shown raw). */
enum { LAY_ASCII = 1, LAY_STREAMING = 2 };
void layout_markdown(lay_cache *c, const char *text, size_t len, int width, int indent, uint8_t style,
                     int flags, int msg);
void layout_cache_free(lay_cache *c);
int  tui_str_width(const char *s, size_t len);                    /* display columns */
/* Extract code block k (-1: last) of text into a malloc'd string; NULL if none. */
char *layout_code_block(const char *text, size_t len, int k);

/* ---- input.c: the multi-line editor ------------------------------------ */

typedef struct input {
    char  *buf;
    size_t len, cap, cur;    /* cur: byte offset of the cursor */
    char **hist;
    int    n_hist, hist_pos; /* hist_pos == n_hist: not browsing */
    char  *draft;            /* the text being typed before browsing history */
    char  *hist_path;        /* history.c: the history file, NULL: kept in memory only */
    bool   pasting;
    size_t paste_bytes;
    int    paste_lines;
} input;

enum { INPUT_SUBMIT = 8, INPUT_PASTED = 16, INPUT_PASTE_CUT = 32 };  /* on top of TUI_* flags;
                                        CUT: a paste ended without its end marker */
#define INPUT_PASTE_IDLE_S 1.0    /* a paste that sends nothing for this long has ended */

void input_init(input *in);
void input_done(input *in);
int  input_key(input *in, tui_key k);      /* TUI_* | INPUT_SUBMIT */
/* No key for idle_s seconds: a paste still open ends there, its text kept
 * (a terminal that lost the end marker must not lock the keyboard). */
int  input_paste_idle(input *in, double idle_s);
void input_set(input *in, const char *text);
void input_insert(input *in, const char *s, size_t n);
void input_history_add(input *in, const char *text);       /* and to the file, if open */
void input_history_add_mem(input *in, const char *text);   /* memory only */

/* ---- history.c: the input history across restarts ------------------------ */

#define HISTORY_MAX 500   /* entries kept, in memory and in the file */
/* The entries in path, oldest first, the newest max; 0 (none if no file) or -1. */
int  history_file_load(const char *path, int max, char ***out, int *n);
/* Add text to the file (0600, written whole or not at all); 0 or -1. */
int  history_file_add(const char *path, const char *text, int max);
/* Rows the box needs at this width; drawing (cursor left in place). */
int  input_height(const input *in, int width);
void input_draw(const input *in, WINDOW *w, const char *hint);

/* ---- the app -------------------------------------------------------- */

typedef struct tui_app tui_app;

/* An overlay: help, picker, knobs (the chat view itself is app.c). */
typedef struct tui_view {
    const char *name;
    int  (*key)(tui_app *a, tui_key k);
    void (*draw)(tui_app *a);   /* builds a->w_over with render_overlay */
} tui_view;

extern const tui_view tui_help_view, tui_picker_view, tui_knobs_view, tui_sidebar_view;

struct tui_app {
    pl_config      *cfg;
    pl_worker      *wk;
    transcript      tr;
    layout          lay;
    input           in;
    WINDOW         *w_chat, *w_status, *w_input, *w_over;
    int             rows, cols;
    bool            too_small;
    int             scroll;          /* lines scrolled up from the bottom */
    int             last_total;      /* layout lines at the last frame (keeps a scrolled view still) */
    int             chat_h;          /* rows of the transcript pane (-1: make the windows anew) */
    int             painted_rows, painted_cols;   /* the size the screen was last painted whole at */
    const tui_view *overlay;         /* NULL: the chat view has the keys */
    int             ncolors;
    /* engine, as the worker last reported it */
    pl_engine_state es;
    bool            loading;
    uint32_t        load_id;         /* the newest LOAD: only its end clears loading */
    float           load_progress;   /* < 0: unknown (indeterminate bar) */
    char            load_stage[160];
    char            model_path[1024];
    char            model_name[256];  /* the name users know it by ("smollm2:135m"); "" = its file name */
    char            kept_path[1024], kept_name[256];  /* the model in use while another loads (kept if that fails) */
    bool            generating;
    uint32_t        gen_id;
    int             gen_msg;         /* transcript index of the streaming answer */
    pl_gen_stats    last;
    bool            have_last;
    double          gen_started;
    int             edit_from;       /* /edit: index of the user message being rewritten, -1 */
    char          **queued;          /* queue.c: messages typed while an answer is awaited (FIFO) */
    int             n_queued;
    /* UI */
    char            status_msg[256];
    double          status_until;
    int             ctrl_c;          /* consecutive Ctrl-C when idle */
    double          last_frame;
    double          key_at;          /* when the last key arrived (a paste without its end times out) */
    bool            dirty;
    /* overlay state */
    pl_model_entry *pk_entries;
    int             pk_n, pk_sel, pk_top;
    char            pk_err[256];
    int             kb_sel;
    bool            kb_editing;
    char            kb_buf[512];
    int             help_top;
    /* sessions (session.c, resume.c) */
    sess_store     *store;           /* NULL: none could be opened (nothing is saved) */
    bool            save_off;        /* not saving now: read-only, broken or failing store */
    char            save_why[512];
    double          save_retry_at;   /* a failing store is tried again from then on */
    int64_t         sid;             /* the session shown; 0 until its first message is saved */
    int64_t         stream_id;       /* store row of the answer being streamed, 0 if none */
    uint64_t        model_fp;        /* fingerprint of fp_path (UI thread) */
    char            fp_path[1024];
    uint64_t        snap_fp;         /* the same, for the snapshot callbacks (worker thread only) */
    char            snap_fp_path[1024];
    bool            snap_dirty;      /* the cache changed since the last snapshot */
    bool            snap_fail_said;  /* a failed snapshot was reported; quiet until one works */
    bool            restoring;       /* the worker is bringing the cache back */
    float           restore_progress;
    uint32_t        restore_id;
    char            resume_note[800]; /* the session's settings brought back, said with its notice */
    bool            hangup;          /* the terminal is gone: finish, save, leave */
    /* sidebar.c */
    WINDOW         *w_side;
    int             side_w;          /* columns the sidebar takes (0: closed) */
    sess_info      *sb_list;
    int             sb_n, sb_sel, sb_top, sb_mode;
    sess_hit       *sb_hits;
    int             sb_nhits;
    char            sb_buf[256];     /* search query / new title being typed */
    char            sb_err[300];
    bool            sb_stale;
    double          sb_polled;
};

int  tui_run(pl_config *cfg);
void tui_history_open(tui_app *a);   /* history.c: load the data dir's history */
double tui_now(void);

/* app.c: actions shared by keys, commands and overlays. */
void tui_status_msg(tui_app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_notice(tui_app *a, tr_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int  tui_send(tui_app *a, const char *text);
void tui_cancel(tui_app *a);
int  tui_regenerate(tui_app *a);
int  tui_load_model(tui_app *a, const char *path);
/* Load path, shown as name (the picker's "smollm2:135m"; NULL: found from the catalog). */
int  tui_load_model_as(tui_app *a, const char *path, const char *name);
/* What the status line and the session call the model: name, else file name (no .gguf). */
const char *tui_model_label(const tui_app *a, char *buf, size_t len);
int  tui_set_option(tui_app *a, const char *name, const char *value, char *err, size_t len);
void tui_open(tui_app *a, const tui_view *v);
void tui_clear(tui_app *a);
void tui_edit_last(tui_app *a);
void tui_scroll(tui_app *a, int lines);

/* queue.c: messages typed while an answer is awaited, sent in order as answers end. */
int  tui_queue_add(tui_app *a, const char *text);
void tui_queue_flush(tui_app *a);                        /* an answer ended: send the oldest */
bool tui_queue_recall(tui_app *a);                       /* Up on an empty box */
bool tui_queue_drop(tui_app *a);                         /* Esc on an empty box */
void tui_queue_to_box(tui_app *a, const char *why);      /* cannot be sent: back into the box */
void tui_queue_free(tui_app *a);
int  tui_queue_rows(const tui_app *a, int max);
void tui_queue_draw(tui_app *a, WINDOW *w, int row, int rows, int cols);

/* chat.c: sampling and policy for a turn from the settings; free(*stops). */
pl_gen_params tui_gen_params(tui_app *a, char ***stops);

/* session.c: the session store as the chat goes (every hook is safe without a store). */
void tui_sess_open(tui_app *a);
void tui_sess_close(tui_app *a);                 /* quitting: keep the answer, last snapshot */
void tui_sess_free(tui_app *a);
void tui_sess_user(tui_app *a, int idx);         /* a user message was sent */
void tui_sess_token(tui_app *a, const char *text, size_t len);
void tui_sess_answer_end(tui_app *a, int idx, const pl_gen_stats *s);
void tui_sess_truncate(tui_app *a, int idx);     /* messages from idx on are going */
void tui_sess_new(tui_app *a);                   /* the next message starts a new session */
void tui_sess_snapshot(tui_app *a);
void tui_sess_snap_written(tui_app *a);          /* within --snapshot-budget, LRU first */
int  tui_sess_save(tui_app *a, const char *title);   /* /save [TITLE] */
void tui_sess_tick(tui_app *a, double now);          /* retry a failing store */

/* resume.c */
int  tui_sess_resume(tui_app *a, int64_t sid);
int  tui_sess_restore_cache(tui_app *a);
void tui_sess_restore_progress(tui_app *a, const pl_event *ev);
void tui_sess_restored(tui_app *a, const pl_event *ev);
void tui_sess_state_saved(tui_app *a, const pl_event *ev);
void tui_sess_startup(tui_app *a);               /* --resume / --continue */
void tui_sess_startup_settings(tui_app *a);      /* before the model loads: that session's settings */

/* sess_settings.c: a session's settings into the config (live: as /set); what
 * was applied or kept goes to a->resume_note. */
void tui_sess_settings_restore(tui_app *a, const sess_info *info, bool live);

/* sidebar.c */
void tui_sidebar_open(tui_app *a);
int  tui_sidebar_width(const tui_app *a);
void tui_sidebar_poll(tui_app *a, double now);

/* commands.c */
int  tui_command_run(tui_app *a, const char *line);   /* TUI_* flags */
int  tui_command_complete(tui_app *a, input *in);     /* Tab */
typedef struct tui_command {
    const char *name, *args, *help;
    int (*run)(tui_app *a, const char *args);
} tui_command;
extern const tui_command tui_commands[];
extern const int tui_n_commands;

/* Key bindings of the chat view, for help.c. */
typedef struct tui_binding {
    const char *keys, *what;
} tui_binding;
extern const tui_binding tui_bindings[];
extern const int tui_n_bindings;

/* knobs.c: which settings the panel shows and when they take effect. */
typedef struct tui_knob {
    const char *name;
    bool        engine;   /* also sent to the worker (pl_worker_set_knob) */
} tui_knob;
extern const tui_knob tui_knobs[];
extern const int tui_n_knobs;
const tui_knob *tui_knob_find(const char *name);
/* "live", "next load", ...: config_live_text of the knob's option. */
const char     *tui_knob_when(const tui_knob *k);

/* picker.c, knobs.c: state lives in the views; these reset it. */
void tui_picker_open(tui_app *a);
void tui_knobs_open(tui_app *a);

/* clipboard.c: OSC 52 (plain in tmux, wrapped for screen). Returns 0 or -1;
 * said gets what to tell the user (what was sent, what the terminal needs). */
int  tui_clipboard_copy(const char *text, size_t len, char *said, size_t said_len);
char *tui_osc52_encode(const char *text, size_t len, bool tmux, bool screen);  /* malloc'd */

/* term.c */
int  term_setup(bool want_color);
void term_restore(void);
int  term_winch_fd(void);       /* readable after SIGWINCH */
void term_winch_drain(void);
void term_size(int *rows, int *cols);
bool term_hungup(void);         /* SIGHUP arrived (the winch fd became readable too) */
void term_abandon(void);        /* the terminal is gone: never write to it again */
int  term_colors(void);         /* 0 (none), 8, 256 */

/* render.c */
void render_frame(tui_app *a);
void render_resize(tui_app *a);
void render_init_colors(int ncolors);
attr_t render_attr(uint8_t style);
/* An overlay window of h x w (clipped to the screen) with a border and title. */
WINDOW *render_overlay(tui_app *a, int h, int w, const char *title);
/* Print s at (y, x) in at most w columns; returns the columns used. */
int  render_text(WINDOW *win, int y, int x, int w, const char *s, uint8_t style);
void render_line(WINDOW *win, int y, int x, int w, const lay_line *l);

/* status.c: the status line's text (what fits in width). */
void status_draw(tui_app *a, WINDOW *w);

#endif
