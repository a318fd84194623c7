/* fuzz_input.c — libFuzzer target for the message editor's key decoder (tui/input.c).
 *
 * ncurses turns the terminal's bytes into keys (escape sequences through
 * terminfo and define_key, the bracketed-paste markers included); the editor
 * then gets them one at a time through input_key, the entry point the app
 * calls. The bytes here are such a stream of keys:
 *   0x1b B   a special key: KEY_* or a paste marker, picked by B
 *   0x1c C   Alt + the character C
 *   0x1d W   resize: draw the box at width W % 90 (1 column and up)
 *   UTF-8    the character; a byte that starts no valid sequence arrives as itself
 *   other    the character (Ctrl keys are the bytes below 0x20)
 * and Enter's submit is handled as the app does (history, clear the box).
 * After every key the editor must hold valid UTF-8 with the cursor on a
 * character boundary inside it, and laying it out or drawing it at any width
 * must end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tui/tui.h"

static const int fz_keys[] = {
    KEY_UP, KEY_DOWN, KEY_LEFT, KEY_RIGHT, KEY_HOME, KEY_END, KEY_DC, KEY_BACKSPACE, KEY_ENTER,
    KEY_NPAGE, KEY_PPAGE, KEY_RESIZE, KEY_F(1), KEY_BTAB, KEY_IC,
    TUI_KEY_PASTE_BEGIN, TUI_KEY_PASTE_END, TUI_KEY_PASTE_BEGIN, TUI_KEY_PASTE_END, TUI_KEY_UNKNOWN,
    TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL), TUI_KEY_MOD(TUI_KB_RIGHT, TUI_MOD_CTRL),
    TUI_KEY_MOD(TUI_KB_DC, TUI_MOD_CTRL), TUI_KEY_MOD(TUI_KB_UP, TUI_MOD_CTRL | TUI_MOD_ALT),
};
enum { FZ_N_KEYS = sizeof fz_keys / sizeof fz_keys[0] };

static SCREEN *fz_screen;
static WINDOW *fz_win;

/* A screen that writes nowhere, so input_draw runs on real ncurses windows. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    setenv("TERM", "xterm-256color", 0);
    fz_screen = out && in ? newterm(NULL, out, in) : NULL;
    if (fz_screen) fz_win = newwin(6, 80, 0, 0);
    return 0;
}

/* Abort unless the editor's buffer is valid UTF-8 with the cursor on a boundary. */
static void fz_check(const input *in)
{
    if (!in->buf) { if (in->len || in->cur) abort(); return; }
    if (in->cur > in->len || in->len >= in->cap || in->buf[in->len] != 0) abort();
    bool cur_ok = in->cur == in->len;
    for (size_t i = 0; i < in->len;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)in->buf + i,
                                              (utf8proc_ssize_t)(in->len - i), &cp);
        if (k <= 0) abort();
        cur_ok |= i == in->cur;
        i += (size_t)k;
    }
    if (!cur_ok) abort();
}

/* Lay out and draw the box at this width. */
static void fz_draw(const input *in, int width)
{
    if (input_height(in, width) < 1) abort();
    if (!fz_win || wresize(fz_win, 6, width) == ERR) return;
    input_draw(in, fz_win, "hint");
}

/* The next key of the stream at *i; false when the stream ends. */
static bool fz_next_key(const uint8_t *d, size_t n, size_t *i, tui_key *k, int *resize)
{
    *resize = 0;
    *k = (tui_key){ 0 };
    if (*i >= n) return false;
    uint8_t b = d[(*i)++];
    if ((b == 0x1b || b == 0x1c || b == 0x1d) && *i < n) {
        uint8_t c = d[(*i)++];
        if (b == 0x1b) *k = (tui_key){ .code = fz_keys[c % FZ_N_KEYS], .is_key = true };
        else if (b == 0x1c) *k = (tui_key){ .code = c, .alt = true };
        else *resize = 1 + c % 90;
        return true;
    }
    int32_t cp = b;
    if (b >= 0x80) {
        utf8proc_ssize_t len = utf8proc_iterate(d + *i - 1, (utf8proc_ssize_t)(n - *i + 1), &cp);
        if (len > 0) *i += (size_t)len - 1;
        else cp = b;
    }
    k->code = cp;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in;
    input_init(&in);
    tui_key k;
    int resize;
    for (size_t i = 0; fz_next_key(data, size, &i, &k, &resize);) {
        if (resize) { fz_draw(&in, resize); continue; }
        int f = input_key(&in, k);
        if (f & INPUT_SUBMIT) {   /* as tui/app.c's submit: remember it, empty the box */
            input_history_add(&in, in.buf);
            input_set(&in, "");
        }
        fz_check(&in);
    }
    fz_draw(&in, 80);
    input_done(&in);
    return 0;
}
