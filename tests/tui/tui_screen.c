/* tui_screen.c — what the chat looks like: start-up layout at several sizes,
 * the too-small message, help, colours and NO_COLOR, a model that fails to
 * load, /quit restoring the terminal. Run the real binary in a pty. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

/* Start at rows x cols, wait for the model, check the frame. */
static void check_startup(int rows, int cols)
{
    vt_term *t = parley_start(rows, cols, NULL);
    parley_wait_ready(t);
    parley_assert_sane(t);
    char st[4096], in[4096];
    parley_status(t, st, sizeof st);
    cr_expect(strstr(st, "ready"), "status line at %dx%d lacks the state: '%s'", cols, rows, st);
    cr_expect(strstr(st, "ctx 0/"), "status line at %dx%d lacks the context meter: '%s'", cols, rows, st);
    vt_row(t, rows - 1, in, sizeof in);
    cr_expect(strstr(in, "F1 help"), "the input box at %dx%d shows no hint: '%s'", cols, rows, in);
    cr_expect(vt_wait_text(t, "loaded", 2000), "no 'loaded' notice at %dx%d", cols, rows);
    cr_expect(vt_altscreen(t), "the chat does not use the alternate screen");
    parley_stop(t);
}

Test(tui_screen, startup_80x24, .timeout = 20) { check_startup(24, 80); }
Test(tui_screen, startup_120x40, .timeout = 20) { check_startup(40, 120); }
Test(tui_screen, startup_40x10, .timeout = 20) { check_startup(10, 40); }

Test(tui_screen, too_small_30x8_then_grows, .timeout = 20)
{
    vt_term *t = parley_start(8, 30, &(parley_opts){.no_model = true});
    cr_assert(vt_wait_text(t, "terminal too small", 5000), "no 'terminal too small' message at 30x8");
    cr_expect(vt_wait_text(t, "(need 40x10)", 2000), "the message does not say the minimum size");
    vt_resize(t, 24, 80);
    cr_assert(vt_wait_gone(t, "terminal too small", 5000), "the message stays after growing to 80x24");
    parley_wait_ui(t);
    parley_assert_sane(t);
    parley_stop(t);
}

Test(tui_screen, help_overlay_lists_keys_and_commands, .timeout = 20)
{
    vt_term *t = parley_start(40, 100, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    vt_send(t, VT_KEY_F1);
    cr_assert(vt_wait_text(t, "Commands", 3000), "F1 opened no help");
    cr_expect(vt_wait_text(t, "/quit", 2000), "help lacks /quit");
    cr_expect(vt_wait_text(t, "Alt-Enter", 2000), "help lacks the newline key");
    vt_send(t, VT_KEY_ESC);
    cr_assert(vt_wait_gone(t, "Commands", 3000), "Esc did not close the help");
    parley_stop(t);
}

Test(tui_screen, failed_load_is_a_message_not_a_crash, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    cr_assert(vt_wait_text(t, "cannot load", 5000), "no error shown for a missing model");
    parley_type(t, "hello");
    cr_assert(vt_wait_text(t, "no model is loaded", 3000), "sending without a model gives no message");
    parley_assert_sane(t);
    vt_send(t, VT_KEY_CTRL('c'));
    vt_send(t, VT_KEY_CTRL('c'));
    int status;
    cr_assert(vt_wait_exit(t, 5000, &status), "Ctrl-C twice did not quit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    parley_stop(t);
}

Test(tui_screen, quit_restores_terminal, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    cr_assert(vt_altscreen(t), "not on the alternate screen while running");
    parley_type(t, "/quit");
    int status;
    cr_assert(vt_wait_exit(t, 5000, &status), "/quit did not exit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    cr_expect(!vt_altscreen(t), "the alternate screen was not left");
    size_t n;
    const char *raw = vt_raw(t, &n);
    cr_expect(strstr(raw, "\x1b[?2004l"), "bracketed paste was not switched off");
    parley_stop(t);
}

Test(tui_screen, sigterm_restores_terminal, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    cr_assert(vt_altscreen(t));
    kill(vt_pid(t), SIGTERM);
    int status;
    cr_assert(vt_wait_exit(t, 5000, &status), "SIGTERM did not end parley");
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %d: not killed by SIGTERM", status);
    cr_expect(!vt_altscreen(t), "the alternate screen was not left on SIGTERM");
    size_t n;
    cr_expect(strstr(vt_raw(t, &n), "\x1b[?2004l"), "bracketed paste was not switched off on SIGTERM");
    parley_stop(t);
}

Test(tui_screen, colors_and_no_color, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    cr_expect(vt_cell_colored(t, 22, 1), "the status line has no colour in a 256-colour terminal");
    parley_stop(t);
    t = parley_start(24, 80, &(parley_opts){.no_model = true, .no_color = true});
    parley_wait_ui(t);
    cr_expect(!vt_cell_colored(t, 22, 1), "NO_COLOR set but the status line is coloured");
    char row[512];
    cr_expect(vt_cell_reverse(t, 22, 1), "without colour the status line should be reverse video: '%s'",
              vt_row(t, 22, row, sizeof row));
    parley_stop(t);
}

Test(tui_screen, vt100_terminal, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true, .term = "vt100"});
    parley_wait_ui(t);
    parley_assert_sane(t);
    parley_type(t, "/quit");
    int status;
    cr_assert(vt_wait_exit(t, 5000, &status));
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    parley_stop(t);
}

Test(tui_screen, unknown_command_and_completion, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    parley_type(t, "/frobnicate");
    cr_assert(vt_wait_text(t, "unknown command '/frobnicate'", 3000));
    vt_send(t, "/he\t");
    cr_assert(vt_wait_text(t, "> /help", 3000), "Tab did not complete /he to /help");
    vt_send(t, VT_KEY_ENTER);
    cr_assert(vt_wait_text(t, "Help - Esc closes", 3000), "/help opened no help");   /* 24 rows: the keys fill it */
    parley_stop(t);
}

Test(tui_screen, editor_keys_and_wide_text, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    vt_send(t, "hello world");
    vt_send(t, VT_KEY_CTRL('w'));
    vt_send(t, "日本語 e\xcc\x81 \xf0\x9f\x98\x80");
    cr_assert(vt_wait_text(t, "> hello 日本語 e\xcc\x81 \xf0\x9f\x98\x80", 3000), "wide/combining text not shown as typed");
    vt_send(t, VT_KEY_CTRL('a'));
    vt_send(t, "X");
    cr_assert(vt_wait_text(t, "> Xhello", 3000), "Ctrl-A did not go to the line start");
    vt_send(t, VT_KEY_CTRL('u'));
    vt_send(t, VT_KEY_CTRL('e'));
    vt_send(t, VT_KEY_CTRL('k'));
    vt_send(t, "line1\x1b\rline2");
    cr_assert(vt_wait_text(t, "line2", 3000));
    cr_expect(vt_find_row(t, "line2") == vt_find_row(t, "line1") + 1, "Alt-Enter did not start a new line");
    parley_stop(t);
}

Test(tui_screen, bracketed_paste_is_text_not_send, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    vt_send(t, "\x1b[200~");
    char line[64];
    for (int i = 1; i <= 300; i++) {
        snprintf(line, sizeof line, "pasted line %d\r", i);
        vt_send(t, line);
    }
    vt_send(t, "\x1b[201~");
    cr_assert(vt_wait_text(t, "pasted 300 lines", 5000), "no paste summary in the status line");
    cr_expect(vt_wait_text(t, "pasted line 300", 2000), "the input box does not show the end of the paste");
    cr_expect(!vt_contains(t, "You"), "the paste's newlines sent a message");
    parley_stop(t);
}

Test(tui_screen, scrollback_pgup_and_wheel, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    char cmd[32];
    for (int i = 1; i <= 30; i++) {
        snprintf(cmd, sizeof cmd, "/nosuch%02d", i);
        parley_type(t, cmd);
    }
    cr_assert(vt_wait_text(t, "nosuch30", 5000));
    cr_expect(!vt_contains(t, "nosuch01'"), "the oldest line should have scrolled out of view");
    vt_send(t, VT_KEY_PGUP);
    vt_send(t, VT_KEY_PGUP);
    cr_assert(vt_wait_text(t, "more below", 3000), "PgUp shows no 'more below' marker");
    cr_expect(vt_wait_text(t, "nosuch01'", 3000), "PgUp twice does not reach the oldest line");
    /* SGR (1006) mouse report of wheel-down (button 65) at column 1, row 1: xterm's kmous. */
    for (int i = 0; i < 20; i++) vt_send(t, "\x1b[<65;1;1M");
    cr_expect(vt_wait_gone(t, "more below", 3000), "the mouse wheel did not scroll back down");
    parley_stop(t);
}
