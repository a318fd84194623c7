/* harness.h — start the real ./parley in a pty for the TUI tests.
 *
 * Every run gets a fresh temporary HOME / PARLEY_DATA / PARLEY_CONFIG, so the
 * user's files are never read or touched, and TERM/LANG are fixed. The binary
 * comes from $PARLEY_BIN and the model from $PARLEY_MODEL (make test-tui sets
 * both); a missing one fails the test with a message saying what to run.
 */
#ifndef PL_TUI_HARNESS_H
#define PL_TUI_HARNESS_H

#include <stdbool.h>

#include "../common/vt.h"

typedef struct parley_opts {
    const char *term;          /* default xterm-256color */
    bool        no_color;
    bool        no_model;      /* pass -m /nonexistent.gguf instead of the real model */
    const char *args[8];       /* extra flags, NULL-terminated */
    const char *home;          /* reuse this HOME/PARLEY_DATA (parley_mkhome, parley_stop_keep) */
    const char *env[4];        /* extra "NAME=value" entries over the fixed ones (e.g. TMUX), NULL-terminated */
} parley_opts;

/* Start parley at rows x cols (always --temp 0 with the model). */
vt_term *parley_start(int rows, int cols, const parley_opts *o);
/* Kill it if still running and remove its temporary home. */
void     parley_stop(vt_term *t);
/* Kill it if still running but keep its home for the next start; returns the
 * home's path (caller frees; parley_stop of the next run removes it). */
char    *parley_stop_keep(vt_term *t);
/* A fresh temporary home to fill before starting parley in it (caller frees). */
char    *parley_mkhome(void);
/* Remove a home kept with parley_stop_keep / made with parley_mkhome. */
void     parley_rm_home(const char *dir);
/* Run `parley ARGS` (a subcommand, no terminal) with home's environment; exit status. */
int      parley_cli(const char *home, const char *args, char *out, size_t len);
/* Wait for the model to be loaded ("ready" in the status line). */
void     parley_wait_ready(vt_term *t);
/* Wait for the status line ("F1 help") and the input box ('>') to be drawn. */
void     parley_wait_ui(vt_term *t);
/* Type text then Enter, a little at a time like a person. */
void     parley_type(vt_term *t, const char *text);
/* The status line (second row from the bottom) into buf. */
char    *parley_status(vt_term *t, char *buf, size_t len);
/* Text of the rows between the last "Assistant" header and the status line. */
char    *parley_answer(vt_term *t, char *buf, size_t len);
/* Every row is at most cols wide and the status/input rows are in place. */
void     parley_assert_sane(vt_term *t);
/* Milliseconds on a clock that never jumps. */
long long parley_ms(void);
/* Wait until the status line shows text; false after timeout_ms. */
bool     parley_wait_status(vt_term *t, const char *text, int timeout_ms);

/* Fail (assert) or count a failure (expect) with the whole screen in the log. */
#define assert_screen(t, cond, ...) do { if (!(cond)) { char *s_ = vt_text(t); \
    cr_log_error("screen:\n%s", s_); free(s_); cr_assert_fail(__VA_ARGS__); } } while (0)
#define expect_screen(t, cond, ...) do { if (!(cond)) { char *s_ = vt_text(t); \
    cr_expect_fail(__VA_ARGS__); cr_log_error("screen:\n%s", s_); free(s_); } } while (0)

#endif
