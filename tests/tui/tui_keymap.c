/* tui_keymap.c — every key parley lists does what help says under the
 * terminals people use (xterm-256color, tmux's tmux-256color, screen, vt100),
 * with the bytes that terminal sends: its terminfo string where it has one,
 * else what tmux or a modern terminal sends (tmux sends xterm's modifier
 * forms, CSI 1;3A for Alt-Up, whatever TERM says). Nothing of a sequence is
 * ever typed into the message, not even one parley does not know. Also the
 * readline word keys, and the box borders drawn as lines (or ASCII). No model
 * is needed: the load fails fast. */
#include <criterion/criterion.h>
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

extern int setupterm(const char *term, int fd, int *err);   /* <term.h> without its macros */

static const char *const terms[] = {"xterm-256color", "tmux-256color", "screen", "vt100"};

/* The bytes term sends for terminfo key cap, else the xterm form (copied into buf). */
static const char *key_bytes(const char *term, const char *cap, const char *xterm, char *buf, size_t len)
{
    int err = 0;
    const char *s = NULL;
    if (setupterm((char *)term, -1, &err) == OK) s = tigetstr((char *)cap);
    snprintf(buf, len, "%s", s && s != (char *)-1 && *s ? s : xterm);
    return buf;
}

/* Wait until the input row (the last one) reads exactly "> text". */
static bool wait_input(vt_term *t, const char *text, int timeout_ms)
{
    char row[1024], want[1024];
    snprintf(want, sizeof want, "> %s", text);
    for (size_t n = strlen(want); n > 0 && want[n - 1] == ' '; n--) want[n - 1] = 0;   /* rows come trimmed */
    for (long long end = parley_ms() + timeout_ms; parley_ms() < end; vt_pump(t, 20)) {
        vt_row(t, vt_rows(t) - 1, row, sizeof row);
        for (size_t n = strlen(row); n > 0 && row[n - 1] == ' '; n--) row[n - 1] = 0;   /* blanks written as spaces */
        if (strcmp(row, want) == 0) return true;
    }
    return false;
}

/* parley with no model under term, its UI drawn and the failed load reported. */
static vt_term *start_idle(const char *term, int rows)
{
    vt_term *t = parley_start(rows, 80, &(parley_opts){.no_model = true, .term = term});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "missing.gguf", 5000), "%s: the failed load was not reported", term);
    return t;
}

/* Type text without Enter, then wait until the editor shows it. */
static void type_text(vt_term *t, const char *text)
{
    vt_send(t, text);
    assert_screen(t, wait_input(t, text, 2000), "typed '%s' is not in the editor", text);
}

/* Send a key's bytes; the editor must then read want. */
static void key_expect(vt_term *t, const char *term, const char *what, const char *bytes, const char *want)
{
    vt_send(t, bytes);
    assert_screen(t, wait_input(t, want, 2000), "%s: after %s the editor does not read '%s'", term, what, want);
}

/* Editing keys: Home, End, Delete, Left, Ctrl-Left/Right, Alt-b/f/d. */
static void editing_keys(const char *term)
{
    char b[64];
    vt_term *t = start_idle(term, 24);
    type_text(t, "abc");
    key_expect(t, term, "Home", key_bytes(term, "khome", "\x1b[1~", b, sizeof b), "abc");
    key_expect(t, term, "Home then X", "X", "Xabc");
    key_expect(t, term, "Delete", key_bytes(term, "kdch1", "\x1b[3~", b, sizeof b), "Xbc");
    key_expect(t, term, "End then Y", key_bytes(term, "kend", "\x1b[4~", b, sizeof b), "Xbc");
    key_expect(t, term, "End then Y", "Y", "XbcY");
    vt_send(t, VT_KEY_CTRL('u'));
    type_text(t, "one two three");
    key_expect(t, term, "Ctrl-Left", key_bytes(term, "kLFT5", "\x1b[1;5D", b, sizeof b), "one two three");
    key_expect(t, term, "Ctrl-Left then X", "X", "one two Xthree");
    key_expect(t, term, "Alt-b twice then Y", "\x1b" "b" "\x1b" "b" "Y", "one Ytwo Xthree");
    key_expect(t, term, "Ctrl-Right then Z", key_bytes(term, "kRIT5", "\x1b[1;5C", b, sizeof b), "one Ytwo Xthree");
    key_expect(t, term, "Ctrl-Right then Z", "Z", "one YtwoZ Xthree");
    key_expect(t, term, "Alt-b twice, Alt-f then V", "\x1b" "b" "\x1b" "b" "\x1b" "fV", "oneV YtwoZ Xthree");
    key_expect(t, term, "Alt-d", "\x1b" "d", "oneV Xthree");
    key_expect(t, term, "Ctrl-E, Ctrl-W", "\x05\x17", "oneV ");
    key_expect(t, term, "Ctrl-A then Q", "\x01" "Q", "QoneV ");
    key_expect(t, term, "Ctrl-E then R", "\x05" "R", "QoneV R");
    key_expect(t, term, "Alt-Backspace", "\x1b\x7f", "QoneV ");
    key_expect(t, term, "Ctrl-A, Ctrl-K then k", "\x01\x0bk", "k");
    parley_stop(t);
}

Test(tui_keymap, editing_keys_xterm, .timeout = 30) { editing_keys("xterm-256color"); }
Test(tui_keymap, editing_keys_tmux, .timeout = 30) { editing_keys("tmux-256color"); }
Test(tui_keymap, editing_keys_screen, .timeout = 30) { editing_keys("screen"); }
Test(tui_keymap, editing_keys_vt100, .timeout = 30) { editing_keys("vt100"); }

/* Fill the transcript past the pane with notices (no model needed). */
static void fill_transcript(vt_term *t)
{
    char cmd[16];
    for (int i = 0; i < 8; i++) {
        snprintf(cmd, sizeof cmd, "/nosuch%d", i);
        parley_type(t, cmd);
    }
    assert_screen(t, vt_wait_text(t, "/nosuch7", 3000), "the unknown commands said nothing");
    vt_pump(t, 200);
}

/* Wait until the "N more below" marker says n (0: no marker). */
static bool wait_below(vt_term *t, int n, int timeout_ms)
{
    char want[64];
    snprintf(want, sizeof want, " %d more below", n);
    for (long long end = parley_ms() + timeout_ms; parley_ms() < end; vt_pump(t, 20)) {
        char *s = vt_text(t);
        bool ok = n ? strstr(s, want) != NULL : strstr(s, "more below") == NULL;
        free(s);
        if (ok) return true;
    }
    return false;
}

/* Scroll keys: Alt-Up/Down, Shift-Up/Down, Alt-End, PgUp/PgDn. */
static void scroll_keys(const char *term)
{
    char b[64];
    vt_term *t = start_idle(term, 12);
    fill_transcript(t);
    vt_send(t, key_bytes(term, "kUP3", "\x1b[1;3A", b, sizeof b));
    assert_screen(t, wait_below(t, 1, 2000), "%s: Alt-Up did not scroll one line", term);
    vt_send(t, key_bytes(term, "kri", "\x1b[1;2A", b, sizeof b));
    assert_screen(t, wait_below(t, 2, 2000), "%s: Shift-Up did not scroll one line", term);
    vt_send(t, key_bytes(term, "kDN3", "\x1b[1;3B", b, sizeof b));
    assert_screen(t, wait_below(t, 1, 2000), "%s: Alt-Down did not scroll back one line", term);
    vt_send(t, key_bytes(term, "kEND3", "\x1b[1;3F", b, sizeof b));
    assert_screen(t, wait_below(t, 0, 2000), "%s: Alt-End did not go back to the newest line", term);
    vt_send(t, key_bytes(term, "kpp", "\x1b[5~", b, sizeof b));
    assert_screen(t, vt_wait_text(t, "more below (PgDn)", 2000), "%s: PgUp did not scroll", term);
    vt_send(t, key_bytes(term, "knp", "\x1b[6~", b, sizeof b));
    assert_screen(t, wait_below(t, 0, 2000), "%s: PgDn did not scroll back", term);
    cr_expect(wait_input(t, "", 100) || vt_wait_text(t, "> Type a message", 500),
              "%s: a scroll key typed something into the message", term);
    parley_stop(t);
}

Test(tui_keymap, scroll_keys_xterm, .timeout = 30) { scroll_keys("xterm-256color"); }
Test(tui_keymap, scroll_keys_tmux, .timeout = 30) { scroll_keys("tmux-256color"); }
Test(tui_keymap, scroll_keys_screen, .timeout = 30) { scroll_keys("screen"); }
Test(tui_keymap, scroll_keys_vt100, .timeout = 30) { scroll_keys("vt100"); }

/* What the issue saw typed: modifier forms under screen, VT220 keys under
 * vt100, and sequences nobody defines; none of it may reach the message. */
Test(tui_keymap, sequences_never_typed, .timeout = 30)
{
    static const char *const seqs[] = {
        "\x1b[1;3A", "\x1b[1;2A", "\x1b[1;3F", "\x1b[1;5D", "\x1b[5~", "\x1b[1;5C",
        "\x1b[1;8Q", "\x1b[99;9~", "\x1b[27;5;13~", "\x1b[>1;2x", "\x1bOz", "\x1b[9999999999999999999999999999999Z",
    };
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        vt_term *t = start_idle(terms[i], 24);
        type_text(t, "ab");
        for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
            vt_send(t, seqs[s]);
            vt_pump(t, 60);
        }
        vt_send(t, "\x1b[1;");   /* a slow link splits a sequence past ncurses' ESCDELAY */
        vt_pump(t, 35);
        vt_send(t, "9Q");
        vt_pump(t, 60);
        vt_send(t, "\x05!");   /* Ctrl-E: the keys still work */
        char row[1024];
        assert_screen(t, wait_input(t, "ab!", 2000), "%s: escape sequences reached the message: '%s'", terms[i],
                      vt_row(t, vt_rows(t) - 1, row, sizeof row));
        parley_stop(t);
    }
}

/* The help box's corners and sides are line-drawing glyphs (or + - |), never
 * the letters of the line-drawing set (l q k x m j). */
Test(tui_keymap, box_borders_are_lines, .timeout = 40)
{
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        vt_term *t = start_idle(terms[i], 24);
        vt_send(t, "?");
        assert_screen(t, vt_wait_text(t, "Help - Esc closes", 2000), "%s: ? did not open the help", terms[i]);
        vt_pump(t, 300);
        char row[1024], mid[1024];
        int r = vt_find_row(t, "Help - Esc closes");
        vt_row(t, r, row, sizeof row);
        vt_row(t, r + 1, mid, sizeof mid);
        bool top = strstr(row, "\u250c\u2500") || strstr(row, "+-");
        bool side = strstr(mid, "\u2502 Keys") || strstr(mid, "| Keys");
        assert_screen(t, top && side, "%s: the help box is not drawn with lines:\n%s\n%s", terms[i], row, mid);
        cr_expect(!strstr(row, "lq") && !strstr(mid, "x Keys"), "%s: line-drawing letters on screen", terms[i]);
        /* A UTF-8 terminal that ignores charset switching (the Linux console,
         * tmux's capture-pane, copy and paste) shows the letters l q k x when
         * the lines come through SO or ESC ( 0: they must be UTF-8 characters. */
        size_t n;
        const char *raw = vt_raw(t, &n);
        cr_expect(!memchr(raw, '\x0e', n) && !strstr(raw, "\x1b(0"),
                  "%s: the box is drawn through a charset switch (lqqqk where it is ignored)", terms[i]);
        parley_stop(t);
    }
}
