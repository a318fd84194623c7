/* vt.h — drive a real program in a pseudo-terminal and read its screen.
 *
 * vt_spawn starts argv in a pty (forkpty) of rows x cols; everything it writes
 * goes through libvterm, so tests read the screen a person would see: rows of
 * UTF-8 text, cell attributes, the cursor, the alternate-screen flag. Keys are
 * bytes written to the pty (VT_KEY_* below are xterm's). Helpers wait for
 * text with a timeout while pumping output, so no test sleeps blindly.
 */
#ifndef PL_TEST_VT_H
#define PL_TEST_VT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vt_term vt_term;

#define VT_KEY_ESC    "\x1b"
#define VT_KEY_ENTER  "\r"
#define VT_KEY_F1     "\x1bOP"
#define VT_KEY_F2     "\x1bOQ"
/* Cursor keys in application mode (what a terminal sends after ncurses' smkx). */
#define VT_KEY_UP     "\x1bOA"
#define VT_KEY_DOWN   "\x1bOB"
#define VT_KEY_RIGHT  "\x1bOC"
#define VT_KEY_LEFT   "\x1bOD"
#define VT_KEY_PGUP   "\x1b[5~"
#define VT_KEY_PGDN   "\x1b[6~"
#define VT_KEY_CTRL(c) ((char[]){(char)((c) & 0x1f), 0})

/* Start argv[0] (a path) with extra "NAME=value" env entries (NULL-terminated,
 * may be NULL) in a rows x cols pty. NULL on failure (errno set). */
vt_term *vt_spawn(char *const argv[], char *const env[], int rows, int cols);
/* Kill the child if it still runs (SIGKILL), reap it, free everything. */
void     vt_free(vt_term *t);

/* Read what the child wrote for up to timeout_ms; returns bytes read, -1 at EOF. */
int      vt_pump(vt_term *t, int timeout_ms);
void     vt_send(vt_term *t, const char *bytes);
/* Resize: TIOCSWINSZ on the master (the kernel signals the child) and the screen. */
void     vt_resize(vt_term *t, int rows, int cols);

int      vt_pid(const vt_term *t);
int      vt_rows(const vt_term *t);
int      vt_cols(const vt_term *t);
/* Row r as UTF-8 text, trailing blanks removed. Returns buf. */
char    *vt_row(vt_term *t, int r, char *buf, size_t len);
/* The whole screen, rows joined by '\n'. Caller frees. */
char    *vt_text(vt_term *t);
bool     vt_contains(vt_term *t, const char *needle);
/* Row of the first line containing needle, or -1. */
int      vt_find_row(vt_term *t, const char *needle);
/* Pump until the screen contains needle (true) or timeout_ms passed (false). */
bool     vt_wait_text(vt_term *t, const char *needle, int timeout_ms);
/* Pump until the screen no longer contains needle. */
bool     vt_wait_gone(vt_term *t, const char *needle, int timeout_ms);
/* Pump until the child exits; *status gets the waitpid status. */
bool     vt_wait_exit(vt_term *t, int timeout_ms, int *status);

bool     vt_altscreen(const vt_term *t);
bool     vt_cell_reverse(vt_term *t, int r, int c);
/* True if cell (r, c) has a non-default foreground or background colour. */
bool     vt_cell_colored(vt_term *t, int r, int c);
/* The terminal's key modes as the child left them, read from what it would
 * send: Up as ESC O A (application cursor keys, DECCKM) and keypad 0 as ESC O p
 * (application keypad, DECKPAM); both are off in a shell. */
bool     vt_app_cursor_keys(vt_term *t);
bool     vt_app_keypad(vt_term *t);

/* A cell's attributes and colours (fg/bg: -1 default, else an RGB value 0xRRGGBB). */
typedef struct vt_attrs {
    bool bold, italic, underline, reverse;
    long fg, bg;
} vt_attrs;
vt_attrs vt_cell_attrs(vt_term *t, int r, int c);
/* Everything the child wrote so far (raw bytes, NUL-terminated). */
const char *vt_raw(const vt_term *t, size_t *len);

#endif
