/* test_tui_input.c — the editor's key decoder around bracketed paste: inside
 * a paste every key is text (Enter is a newline, nothing is sent), the end
 * marker ends it, and a paste whose end marker never comes gives the
 * keyboard back — at Ctrl-C, or after a second without keys — with what was
 * pasted kept. Keys go in, the text and flags that come out are checked. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/tui.h"

/* A character key, and an ncurses KEY_* code. */
static tui_key ch(int c) { return (tui_key){c, false, false}; }
static tui_key key(int code) { return (tui_key){code, true, false}; }

/* Feed the bytes of s as character keys; the OR of the flags. */
static int feed(input *in, const char *s)
{
    int f = 0;
    for (; *s; s++) f |= input_key(in, ch((unsigned char)*s));
    return f;
}

Test(tui_input, paste_is_text_until_its_end_marker)
{
    input in;
    input_init(&in);
    input_key(&in, key(TUI_KEY_PASTE_BEGIN));
    int f = feed(&in, "one\rtwo\x03");
    cr_expect(!(f & INPUT_SUBMIT), "Enter inside a paste sent the message");
    cr_expect_str_eq(in.buf, "one\ntwo", "pasted text");
    cr_expect(!in.pasting, "Ctrl-C did not end the paste");
    input_done(&in);

    input_init(&in);
    input_key(&in, key(TUI_KEY_PASTE_BEGIN));
    feed(&in, "a\rb");
    f = input_key(&in, key(TUI_KEY_PASTE_END));
    cr_expect(!in.pasting && (f & INPUT_PASTED) && !(f & INPUT_PASTE_CUT), "the end marker ends a paste normally");
    cr_expect_str_eq(in.buf, "a\nb");
    cr_expect(input_key(&in, ch('\r')) & INPUT_SUBMIT, "Enter after the paste does not send");
    input_done(&in);
}

Test(tui_input, ctrl_c_ends_a_paste_without_end_marker)
{
    input in;
    input_init(&in);
    input_key(&in, key(TUI_KEY_PASTE_BEGIN));
    feed(&in, "half");
    int f = input_key(&in, ch(TUI_CTRL('c')));
    cr_expect(!in.pasting, "Ctrl-C was taken as pasted text");
    cr_expect(f & INPUT_PASTE_CUT, "the paste was not reported as cut short");
    cr_expect_str_eq(in.buf, "half", "Ctrl-C lost the pasted text or inserted itself");
    input_key(&in, ch(TUI_CTRL('u')));
    cr_expect_eq(in.len, 0, "Ctrl-U after the paste is not a key again");
    input_done(&in);
}

Test(tui_input, idle_second_ends_a_paste_without_end_marker)
{
    input in;
    input_init(&in);
    input_key(&in, key(TUI_KEY_PASTE_BEGIN));
    feed(&in, "slow");
    cr_expect_eq(input_paste_idle(&in, INPUT_PASTE_IDLE_S * 0.5), 0, "a paste still arriving was cut");
    cr_expect(in.pasting);
    int f = input_paste_idle(&in, INPUT_PASTE_IDLE_S);
    cr_expect(!in.pasting && (f & INPUT_PASTE_CUT) && (f & TUI_REDRAW), "the idle paste did not end");
    cr_expect_str_eq(in.buf, "slow", "the idle paste lost its text");
    cr_expect(input_key(&in, ch('\r')) & INPUT_SUBMIT, "Enter after the timed-out paste does not send");
    cr_expect_eq(input_paste_idle(&in, 10.0), 0, "no paste, nothing to end");
    input_done(&in);
}

Test(tui_input, stray_end_marker_and_keys_outside_a_paste)
{
    input in;
    input_init(&in);
    cr_expect_eq(input_key(&in, key(TUI_KEY_PASTE_END)), 0, "an end marker without a paste did something");
    feed(&in, "ok");
    cr_expect_eq(input_key(&in, ch(TUI_CTRL('c'))), 0, "Ctrl-C outside a paste belongs to the chat, not the editor");
    cr_expect_str_eq(in.buf, "ok");
    input_done(&in);
}

/* An Alt + character key. */
static tui_key alt(int c) { return (tui_key){c, false, true}; }

/* The text with '|' where the cursor is. */
static const char *shown(const input *in)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%.*s|%s", (int)in->cur, in->buf, in->buf + in->cur);
    return buf;
}

/* Readline's word keys: Ctrl-Left/Right and Alt-b/f stop at the ends of words
 * (letters and digits of any script, punctuation is a gap), Alt-d deletes to
 * the end of the next word, Ctrl-W the whitespace-separated word before. */
Test(tui_input, word_movement_as_readline)
{
    input in;
    input_init(&in);
    input_set(&in, "say hello, wörld_2 now");
    input_key(&in, key(TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL)));
    cr_expect_str_eq(shown(&in), "say hello, wörld_2 |now");
    input_key(&in, alt('b'));
    cr_expect_str_eq(shown(&in), "say hello, wörld_|2 now", "'_' is not a word character in readline");
    input_key(&in, alt('b'));
    cr_expect_str_eq(shown(&in), "say hello, |wörld_2 now", "a non-ASCII letter split the word");
    input_key(&in, alt('b'));
    input_key(&in, alt('b'));
    input_key(&in, alt('b'));
    cr_expect_str_eq(shown(&in), "|say hello, wörld_2 now", "Alt-b at the start stays there");
    input_key(&in, alt('f'));
    cr_expect_str_eq(shown(&in), "say| hello, wörld_2 now");
    input_key(&in, key(TUI_KEY_MOD(TUI_KB_RIGHT, TUI_MOD_CTRL)));
    cr_expect_str_eq(shown(&in), "say hello|, wörld_2 now");
    input_key(&in, (tui_key){KEY_RIGHT, true, true});
    cr_expect_str_eq(shown(&in), "say hello, wörld|_2 now", "Alt-Right is a word too");
    input_key(&in, (tui_key){KEY_LEFT, true, true});
    cr_expect_str_eq(shown(&in), "say hello, |wörld_2 now");
    input_done(&in);
}

Test(tui_input, word_deletion_as_readline)
{
    input in;
    input_init(&in);
    input_set(&in, "one two-three four");
    in.cur = 3;
    input_key(&in, alt('d'));
    cr_expect_str_eq(shown(&in), "one|-three four", "Alt-d deletes to the end of the next word");
    input_key(&in, key(TUI_KEY_MOD(TUI_KB_DC, TUI_MOD_CTRL)));
    cr_expect_str_eq(shown(&in), "one| four", "Ctrl-Delete is Alt-d");
    input_key(&in, key(KEY_END));
    input_key(&in, ch(TUI_CTRL('w')));
    cr_expect_str_eq(shown(&in), "one |", "Ctrl-W deletes the word before the cursor");
    input_set(&in, "path/to/file.c");
    input_key(&in, alt(127));
    cr_expect_str_eq(shown(&in), "path/to/file.|", "Alt-Backspace stops at punctuation");
    input_key(&in, ch(TUI_CTRL('w')));
    cr_expect_str_eq(shown(&in), "|", "Ctrl-W takes everything back to whitespace");
    input_set(&in, "abc def");
    input_key(&in, ch(TUI_CTRL('a')));
    cr_expect_str_eq(shown(&in), "|abc def");
    input_key(&in, ch(TUI_CTRL('e')));
    cr_expect_str_eq(shown(&in), "abc def|");
    in.cur = 3;
    input_key(&in, ch(TUI_CTRL('k')));
    cr_expect_str_eq(shown(&in), "abc|");
    input_key(&in, ch(TUI_CTRL('u')));
    cr_expect_str_eq(shown(&in), "|");
    input_done(&in);
}

/* Keys the editor has no use for (an unknown sequence, Ctrl-Up) insert nothing. */
Test(tui_input, unknown_keys_insert_nothing)
{
    input in;
    input_init(&in);
    input_set(&in, "x");
    cr_expect_eq(input_key(&in, key(TUI_KEY_UNKNOWN)), 0);
    cr_expect_eq(input_key(&in, key(TUI_KEY_MOD(TUI_KB_UP, TUI_MOD_CTRL))), 0);
    cr_expect_str_eq(in.buf, "x");
    input_done(&in);
}

/* Ollama's """: Enter inside is a new line; the closing """ sends the text
 * between, without the quotes (and the newlines next to them). */
Test(tui_input, triple_quotes_make_a_multi_line_message)
{
    input in;
    input_init(&in);
    feed(&in, "\"\"\"");
    cr_expect_eq(input_key(&in, ch('\r')) & INPUT_SUBMIT, 0, "\"\"\" alone was sent");
    feed(&in, "line one");
    cr_expect_eq(input_key(&in, ch('\r')) & INPUT_SUBMIT, 0, "Enter inside \"\"\" sent the message");
    feed(&in, "line two\r\"\"\"");
    cr_expect_str_eq(in.buf, "\"\"\"\nline one\nline two\n\"\"\"");
    cr_expect(input_key(&in, ch('\r')) & INPUT_SUBMIT, "the closing \"\"\" did not send");
    cr_expect_str_eq(in.buf, "line one\nline two", "the quotes were sent");
    input_set(&in, "\"\"\"inline\"\"\"");
    cr_expect(input_key(&in, ch('\r')) & INPUT_SUBMIT);
    cr_expect_str_eq(in.buf, "inline");
    input_set(&in, "\"\"\"\n\"\"\"");
    cr_expect_eq(input_key(&in, ch('\r')) & INPUT_SUBMIT, 0, "an empty \"\"\" message was sent");
    cr_expect_eq(in.len, 0);
    input_set(&in, "say \"\"\"");
    cr_expect(input_key(&in, ch('\r')) & INPUT_SUBMIT, "quotes that do not open the message are text");
    input_done(&in);
}

/* The history file: multi-line entries whole, the newest HISTORY_MAX kept,
 * private (0600), and a missing file is an empty history. */
Test(tui_input, history_file_round_trip)
{
    char dir[] = "/tmp/parley-hist-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/input_history", dir);
    char **list;
    int n;
    cr_expect_eq(history_file_load(path, HISTORY_MAX, &list, &n), 0);
    cr_expect_eq(n, 0);
    char text[64];
    for (int i = 0; i < HISTORY_MAX + 20; i++) {
        snprintf(text, sizeof text, "message %d", i);
        cr_assert_eq(history_file_add(path, text, HISTORY_MAX), 0);
    }
    cr_assert_eq(history_file_add(path, "two\nlines with a \\n and \\", HISTORY_MAX), 0);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "the history file is %o", sb.st_mode & 0777);
    cr_assert_eq(history_file_load(path, HISTORY_MAX, &list, &n), 0);
    cr_expect_eq(n, HISTORY_MAX);
    cr_expect_str_eq(list[0], "message 21", "not the newest entries were kept");
    cr_expect_str_eq(list[n - 1], "two\nlines with a \\n and \\", "a multi-line entry did not come back whole");
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    unlink(path);
    rmdir(dir);
}

/* Modified keys reach the tables as they list them: Alt-Up is Up with Alt,
 * Shift-Up is ncurses' KEY_SR, Ctrl-Left stays a code of its own. */
Test(tui_input, modified_keys_normalized)
{
    tui_key k = keys_normalize(key(TUI_KEY_MOD(TUI_KB_UP, TUI_MOD_ALT)));
    cr_expect(k.code == KEY_UP && k.is_key && k.alt, "Alt-Up");
    k = keys_normalize(key(TUI_KEY_MOD(TUI_KB_END, TUI_MOD_ALT)));
    cr_expect(k.code == KEY_END && k.alt, "Alt-End");
    k = keys_normalize(key(TUI_KEY_MOD(TUI_KB_UP, TUI_MOD_SHIFT)));
    cr_expect(k.code == KEY_SR && !k.alt, "Shift-Up");
    k = keys_normalize(key(TUI_KEY_MOD(TUI_KB_NPAGE, TUI_MOD_SHIFT)));
    cr_expect(k.code == KEY_SNEXT, "Shift-PgDn");
    k = keys_normalize(key(TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL)));
    cr_expect(k.code == TUI_KEY_MOD(TUI_KB_LEFT, TUI_MOD_CTRL) && !k.alt, "Ctrl-Left");
    k = keys_normalize(ch('a'));
    cr_expect(k.code == 'a' && !k.is_key, "a character is left alone");
}
