/* term.c — putting the terminal into chat mode and always getting it back.
 *
 * htop's lesson: the failure path restores the terminal. term_setup saves the
 * tty settings, then registers term_restore with atexit and installs handlers
 * for SIGINT/SIGTERM/SIGQUIT and the crash signals (SEGV, BUS, FPE,
 * ABRT, ILL). A handler may not call endwin(), so it writes the reset bytes
 * (keypad transmit off, leave the alternate screen, paste and mouse modes
 * off, cursor on, colours reset; built before any handler can need them) and restores the saved termios — both async-signal-safe — then
 * re-raises the signal with the default action, so exit statuses and core
 * dumps stay what they would have been. SIGWINCH goes to a self-pipe that the
 * poll loop watches; installing it before initscr keeps ncurses' own away.
 * SIGHUP (the terminal or SSH connection went away) is not fatal: it sets a
 * flag and pokes the same pipe, so the app can finish and save the answer
 * being written, then leave without writing to the dead terminal
 * (term_abandon makes every later restore a no-op).
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "tui.h"

#include <term.h>   /* after tui.h: its capability macros (lines, ...) */

static struct termios saved_tio;
static bool have_tio, active;
static int winch_pipe[2] = {-1, -1};
static int n_colors;
static volatile sig_atomic_t hungup;

/* Reset sequences that are harmless on terminals that do not know them. */
static const char reset_seq[] = "\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1006l\x1b[0m\x1b[?25h\x1b[?1049l";
static char reset_buf[128 + sizeof reset_seq];   /* keypad off, then reset_seq */
static size_t reset_len;

/* What a signal handler writes: terminfo's rmkx (keypad transmit off, as endwin
 * sends; ESC[?1l ESC> where terminfo has none), then reset_seq. Called once
 * curses knows the terminal, before `active` lets a handler use it. */
static void reset_build(void)
{
    const char *rmkx = tigetstr("rmkx");
    if (!rmkx || rmkx == (char *)-1 || strstr(rmkx, "$<") || strlen(rmkx) >= 128) rmkx = "\x1b[?1l\x1b>";
    size_t n = strlen(rmkx);
    memcpy(reset_buf, rmkx, n);
    memcpy(reset_buf + n, reset_seq, sizeof reset_seq - 1);
    reset_len = n + sizeof reset_seq - 1;
}

/* Async-signal-safe part of the restore. */
static void restore_raw(void)
{
    ssize_t r = write(STDOUT_FILENO, reset_buf, reset_len);
    (void)r;
    if (have_tio) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

static void on_fatal(int sig)
{
    if (active) restore_raw();
    active = false;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_hup(int sig)
{
    int e = errno;
    hungup = 1;
    ssize_t r = write(winch_pipe[1], "h", 1);
    (void)r;
    errno = e;
}

bool term_hungup(void) { return hungup != 0; }

/* The terminal is gone: forget it, so no restore ever writes to it. */
void term_abandon(void)
{
    active = false;
    have_tio = false;
}

static void on_winch(int sig)
{
    int e = errno;
    ssize_t r = write(winch_pipe[1], "w", 1);
    (void)r;
    errno = e;
}

/* Leave curses mode; safe to call twice (atexit and the normal path). */
void term_restore(void)
{
    if (!active) return;
    active = false;
    endwin();
    ssize_t r = write(STDOUT_FILENO, "\x1b[?2004l", 8);   /* bracketed paste off */
    (void)r;
    if (have_tio) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

static void install_signals(void)
{
    static const int fatal[] = {SIGINT, SIGTERM, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_fatal;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Colours: none under NO_COLOR / --color never / a terminal without them. */
static void setup_colors(bool want)
{
    n_colors = 0;
    if (!want || !has_colors() || start_color() != OK) return;
    use_default_colors();
    n_colors = COLORS >= 256 ? 256 : COLORS >= 8 ? 8 : 0;
}

/* The chat is UTF-8 throughout: the user's locale, or C.UTF-8 if that is not UTF-8. */
static void setup_locale(void)
{
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    if (!cs || (strcmp(cs, "UTF-8") != 0 && strcmp(cs, "utf8") != 0)) {
        if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "en_US.UTF-8");
    }
}

/* Box lines in our UTF-8 locale are Unicode box characters, which any UTF-8
 * terminal draws whatever its charset state: the line-drawing set reached by
 * smacs (SO under vt100) shows as "lqqqk" where a UTF-8 terminal ignores
 * charset switching (the Linux console, tmux's capture, copy and paste).
 * That is ncurses' own NCURSES_NO_UTF8_ACS; a description without line
 * drawing (no acsc) keeps ncurses' ASCII + - |. A user's setting wins. */
static void setup_acs(void)
{
    int err = 0;
    if (getenv("NCURSES_NO_UTF8_ACS") || setupterm(NULL, STDOUT_FILENO, &err) != OK) return;
    const char *acsc = tigetstr("acsc");
    bool drawing = acsc && acsc != (char *)-1 && *acsc;
    del_curterm(cur_term);
    if (drawing) setenv("NCURSES_NO_UTF8_ACS", "1", 1);
}

/* Curses on: raw keys (Ctrl-C is a key), no echo, keypad, paste and wheel. */
int term_setup(bool want_color)
{
    setup_locale();
    if (pipe(winch_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(winch_pipe[i], F_SETFL, fcntl(winch_pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(winch_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
    install_signals();
    atexit(term_restore);
    if (!getenv("ESCDELAY")) set_escdelay(25);
    setup_acs();
    if (!initscr()) return -1;
    reset_build();
    active = true;
    refresh();   /* stdscr clean, so wget_wch(stdscr) never repaints it over our windows */
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    setup_colors(want_color);
    render_init_colors(n_colors);
    define_key("\x1b[200~", TUI_KEY_PASTE_BEGIN);
    define_key("\x1b[201~", TUI_KEY_PASTE_END);
    keys_setup();
    mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    ssize_t r = write(STDOUT_FILENO, "\x1b[?2004h", 8);   /* bracketed paste on */
    (void)r;
    return 0;
}

int term_winch_fd(void) { return winch_pipe[0]; }

void term_winch_drain(void)
{
    char buf[64];
    while (read(winch_pipe[0], buf, sizeof buf) > 0) {}
}

/* The size the kernel says now (LINES/COLS lag behind until resizeterm). */
void term_size(int *rows, int *cols)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    } else {
        *rows = LINES;
        *cols = COLS;
    }
}

int term_colors(void) { return n_colors; }
