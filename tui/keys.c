/* keys.c — turning the terminal's bytes into keys, from its description.
 *
 * ncurses knows the keys terminfo names (kcuu1, kpp, khome, ...). Keys with
 * modifiers are terminfo's extended names (kUP3 is Alt-Up, kLFT5 Ctrl-Left,
 * ncurses' convention: the digit is xterm's modifier parameter); each gets a
 * fixed code of ours, TUI_KEY_MOD(base, mods), so the key tables never depend
 * on the numbers ncurses hands out. Where the description has no entry for a
 * key, the common xterm forms are defined as well (CSI 1;m A for a modified
 * cursor key, CSI n;m ~ for the editing keys, CSI 5~ for PgUp...): that is
 * what tmux sends for modifiers whatever TERM says, and what a modern
 * terminal sends under TERM=vt100. A sequence nobody defined is read to its
 * end and dropped (TUI_KEY_UNKNOWN): it is never typed into the message.
 * Esc followed at once by a key is that key with Alt (metaSendsEscape).
 */
#include <stdio.h>
#include <string.h>

#include "tui.h"

/* The keys that take modifiers: terminfo's base name and xterm's forms. */
static const struct {
    int         key;     /* the unmodified ncurses code */
    int         shifted; /* ncurses' own code for Shift + key */
    const char *cap;     /* extended name: cap (Shift), cap3..cap8 */
    char        final;   /* xterm: CSI 1;m final, or 0 */
    int         tilde;   /* xterm: CSI n;m ~, or 0 */
} mod_keys[TUI_KB_COUNT] = {
    [TUI_KB_UP] = {KEY_UP, KEY_SR, "kUP", 'A', 0},          [TUI_KB_DOWN] = {KEY_DOWN, KEY_SF, "kDN", 'B', 0},
    [TUI_KB_RIGHT] = {KEY_RIGHT, KEY_SRIGHT, "kRIT", 'C', 0}, [TUI_KB_LEFT] = {KEY_LEFT, KEY_SLEFT, "kLFT", 'D', 0},
    [TUI_KB_HOME] = {KEY_HOME, KEY_SHOME, "kHOM", 'H', 0},   [TUI_KB_END] = {KEY_END, KEY_SEND, "kEND", 'F', 0},
    [TUI_KB_IC] = {KEY_IC, KEY_SIC, "kIC", 0, 2},            [TUI_KB_DC] = {KEY_DC, KEY_SDC, "kDC", 0, 3},
    [TUI_KB_PPAGE] = {KEY_PPAGE, KEY_SPREVIOUS, "kPRV", 0, 5}, [TUI_KB_NPAGE] = {KEY_NPAGE, KEY_SNEXT, "kNXT", 0, 6},
};

/* Unmodified keys in the forms VT220-style terminals send, for a description
 * that lacks them (vt100 has no PgUp, Home, End, Delete). */
static const struct {
    const char *seq;
    int         key;
} fallback_keys[] = {
    {"\x1b[A", KEY_UP},     {"\x1b[B", KEY_DOWN},  {"\x1b[C", KEY_RIGHT},  {"\x1b[D", KEY_LEFT},
    {"\x1bOA", KEY_UP},     {"\x1bOB", KEY_DOWN},  {"\x1bOC", KEY_RIGHT},  {"\x1bOD", KEY_LEFT},
    {"\x1b[H", KEY_HOME},   {"\x1b[F", KEY_END},   {"\x1bOH", KEY_HOME},   {"\x1bOF", KEY_END},
    {"\x1b[1~", KEY_HOME},  {"\x1b[4~", KEY_END},  {"\x1b[7~", KEY_HOME},  {"\x1b[8~", KEY_END},
    {"\x1b[2~", KEY_IC},    {"\x1b[3~", KEY_DC},   {"\x1b[5~", KEY_PPAGE}, {"\x1b[6~", KEY_NPAGE},
    {"\x1bOP", KEY_F(1)},   {"\x1bOQ", KEY_F(2)},  {"\x1bOR", KEY_F(3)},   {"\x1b[11~", KEY_F(1)},
    {"\x1b[12~", KEY_F(2)}, {"\x1b[13~", KEY_F(3)}, {"\x1b[Z", KEY_BTAB},  {"\x1bOM", KEY_ENTER},
};

/* Bind seq to code unless the description already gives seq a meaning. */
static void define_missing(const char *seq, int code)
{
    if (seq && key_defined(seq) == 0) define_key(seq, code);
}

/* The modified forms of key i from terminfo (rebound to our code), then xterm's. */
static void define_mods(int i)
{
    char cap[16], seq[32];   /* seq: two ints in "\x1b[%d;%d~" need up to 27 bytes */
    for (int m = 1; m < 8; m++) {
        int code = TUI_KEY_MOD(i, m);
        if (m == 1) snprintf(cap, sizeof cap, "%s", mod_keys[i].cap);
        else snprintf(cap, sizeof cap, "%s%d", mod_keys[i].cap, m + 1);
        const char *s = tigetstr(cap);
        if (s && s != (char *)-1 && s[0]) define_key(s, code);
        if (mod_keys[i].final) snprintf(seq, sizeof seq, "\x1b[1;%d%c", m + 1, mod_keys[i].final);
        else snprintf(seq, sizeof seq, "\x1b[%d;%d~", mod_keys[i].tilde, m + 1);
        define_missing(seq, code);
    }
}

/* After keypad(): the modified keys and the missing plain ones (term_setup). */
void keys_setup(void)
{
    for (int i = 0; i < TUI_KB_COUNT; i++) define_mods(i);
    for (size_t i = 0; i < sizeof fallback_keys / sizeof fallback_keys[0]; i++)
        define_missing(fallback_keys[i].seq, fallback_keys[i].key);
}

/* Our modified code as the tables want it: Alt-only is the key with alt set,
 * Shift-only is ncurses' shifted code (KEY_SR...), the rest stay ours. */
tui_key keys_normalize(tui_key k)
{
    if (!k.is_key || k.code < TUI_KEY_MOD(0, 0) || k.code >= TUI_KEY_MOD(TUI_KB_COUNT, 0)) return k;
    int i = (k.code - TUI_KEY_MOD(0, 0)) / 8, m = (k.code - TUI_KEY_MOD(0, 0)) % 8;
    if (m == TUI_MOD_ALT) return (tui_key){mod_keys[i].key, true, true};
    if (m == TUI_MOD_SHIFT) return (tui_key){mod_keys[i].shifted, true, k.alt};
    return k;
}

/* Esc came at once before this key code: the same key with Alt. */
static tui_key with_alt(int code)
{
    int first = TUI_KEY_MOD(0, 0), end = TUI_KEY_MOD(TUI_KB_COUNT, 0);
    if (code < first || code >= end) return (tui_key){code, true, true};
    int i = (code - first) / 8, m = (code - first) % 8;
    return keys_normalize((tui_key){TUI_KEY_MOD(i, m | TUI_MOD_ALT), true, false});
}

/* The next byte of a sequence being read, waiting briefly for it (a slow
 * link splits sequences); -1 if none comes. */
static int seq_byte(void)
{
    wint_t c;
    wtimeout(stdscr, 50);
    int r = wget_wch(stdscr, &c);
    nodelay(stdscr, TRUE);
    if (r == KEY_CODE_YES) { ungetch((int)c); return -1; }
    return r == ERR ? -1 : (int)c;
}

/* ESC and intro ('[' or 'O') were read and no key matched: read the rest of
 * the control sequence (CSI: parameters and intermediates up to a final
 * byte; SS3: one byte) so none of it becomes text. */
static void skip_sequence(int intro)
{
    if (intro == 'O') { seq_byte(); return; }
    for (int n = 0; n < 32; n++) {
        int c = seq_byte();
        if (c < 0x20 || c > 0x7e) { if (c >= 0) unget_wch((wchar_t)c); return; }
        if (c >= 0x40) return;   /* the final byte */
    }
}

/* Read one key (Esc + key = Alt); false when no key is waiting. */
bool keys_read(tui_key *k)
{
    wint_t ch;
    int r = wget_wch(stdscr, &ch);
    if (r == ERR) return false;
    *k = keys_normalize((tui_key){(int)ch, r == KEY_CODE_YES, false});
    if (k->is_key || ch != 27) return true;
    wint_t c2;
    int r2 = wget_wch(stdscr, &c2);
    if (r2 == ERR) return true;                                   /* Esc alone */
    if (r2 == KEY_CODE_YES) { *k = with_alt((int)c2); return true; }   /* Esc + key: Alt + key */
    if (c2 == 27) { unget_wch(c2); return true; }                 /* Esc, Esc */
    if (c2 == '[' || c2 == 'O') {          /* a sequence nobody knows (or split by a slow link)? */
        int c3 = seq_byte();
        if (c3 >= 0) {
            unget_wch((wchar_t)c3);
            skip_sequence((int)c2);
            *k = (tui_key){TUI_KEY_UNKNOWN, true, false};
            return true;
        }
    }
    *k = (tui_key){(int)c2, false, true};
    return true;
}
