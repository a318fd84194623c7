/* tui_keys.c — the keyboard is never lost and the terminal is given back:
 * a bracketed paste whose end marker never comes ends after a second without
 * bytes or at Ctrl-C (its text kept), while a long paste that keeps arriving
 * stays one paste; after SIGTERM, SIGINT or /quit the terminal's cursor keys
 * and keypad are back in normal mode (what a shell expects), under
 * xterm-256color, screen and vt100. No model is needed: the load fails fast. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

#define PASTE_BEGIN "\x1b[200~"
#define PASTE_END   "\x1b[201~"

/* Wait until the input row (the last one) reads exactly text after "> "
 * ("": the empty editor's hint). */
static bool wait_input(vt_term *t, const char *text, int timeout_ms)
{
    char row[1024], want[1024];
    snprintf(want, sizeof want, "> %s", text[0] ? text : "Type a message");
    for (long long end = parley_ms() + timeout_ms; parley_ms() < end; vt_pump(t, 20)) {
        vt_row(t, vt_rows(t) - 1, row, sizeof row);
        if (text[0] ? strcmp(row, want) == 0 : strncmp(row, want, strlen(want)) == 0) return true;
    }
    return false;
}

/* parley with no model, its UI drawn and the failed load reported. */
static vt_term *start_idle(const char *term)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true, .term = term});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "missing.gguf", 5000), "the failed load was not reported");
    return t;
}

Test(tui_paste, unterminated_paste_times_out, .timeout = 20)
{
    vt_term *t = start_idle(NULL);
    vt_send(t, PASTE_BEGIN "pasted text");   /* the end marker never comes */
    assert_screen(t, wait_input(t, "pasted text", 2000), "the pasted text is not in the editor");
    assert_screen(t, parley_wait_status(t, "paste ended", 3000), "no word that the paste was ended");
    long long t0 = parley_ms();
    vt_send(t, VT_KEY_CTRL('u'));   /* the keys are keys again: Ctrl-U clears, /quit quits */
    assert_screen(t, wait_input(t, "", 2000), "Ctrl-U after the paste timed out was taken as text");
    parley_type(t, "/quit");
    int status = -1;
    assert_screen(t, vt_wait_exit(t, 5000, &status), "/quit after an unterminated paste did not quit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    cr_log_info("keys worked again %lld ms after the paste's last byte", parley_ms() - t0);
    parley_stop(t);
}

Test(tui_paste, ctrl_c_ends_unterminated_paste, .timeout = 20)
{
    vt_term *t = start_idle(NULL);
    vt_send(t, PASTE_BEGIN "half a paste");
    /* Well inside the idle second: only Ctrl-C can end the paste. */
    assert_screen(t, wait_input(t, "half a paste", 500), "the paste is not shown as it arrives");
    vt_send(t, VT_KEY_CTRL('c'));
    assert_screen(t, parley_wait_status(t, "paste ended by Ctrl-C", 800), "Ctrl-C did not end the paste");
    assert_screen(t, wait_input(t, "half a paste", 500), "Ctrl-C lost the pasted text");
    vt_send(t, VT_KEY_CTRL('u'));
    vt_send(t, VT_KEY_CTRL('d'));
    int status = -1;
    assert_screen(t, vt_wait_exit(t, 800, &status), "Ctrl-U, Ctrl-D after Ctrl-C ended the paste did not quit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    parley_stop(t);
}

/* A long paste arriving in pieces with pauses under a second stays one paste:
 * its newlines are text, nothing is sent. */
Test(tui_paste, slow_long_paste_stays_one_paste, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true});
    parley_wait_ui(t);
    vt_send(t, PASTE_BEGIN "line one\r");
    for (int i = 0; i < 4; i++) {   /* 4 x 600 ms: the paste lasts longer than the idle second */
        vt_pump(t, 600);
        vt_send(t, "more\r");
    }
    vt_send(t, "last" PASTE_END);
    /* the editor has grown: the status line is no longer second from the bottom */
    assert_screen(t, vt_wait_text(t, "pasted 6 lines", 3000), "the slow paste was not taken as one paste");
    char *scr = vt_text(t);
    cr_expect(!strstr(scr, "You"), "a line of the paste was sent as a message:\n%s", scr);
    cr_expect(!strstr(scr, "paste ended"), "the paste was cut while bytes kept coming:\n%s", scr);
    free(scr);
    parley_stop(t);
}

/* The terminal's key modes after parley left by sig (0: /quit). */
static void keys_restored(const char *term, int sig)
{
    vt_term *t = start_idle(term);
    cr_assert(vt_app_cursor_keys(t), "%s: parley did not turn application cursor keys on (smkx)", term);
    if (sig) kill(vt_pid(t), sig);
    else parley_type(t, "/quit");
    int status = 0;
    cr_assert(vt_wait_exit(t, 5000, &status), "%s: parley did not exit on signal %d", term, sig);
    if (sig) cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == sig, "%s: not ended by signal %d", term, sig);
    cr_expect(!vt_app_cursor_keys(t), "%s: cursor keys left in application mode after %s", term,
              sig ? strsignal(sig) : "/quit");
    cr_expect(!vt_app_keypad(t), "%s: keypad left in application mode after %s", term, sig ? strsignal(sig) : "/quit");
    cr_expect(!vt_altscreen(t), "%s: still on the alternate screen", term);
    parley_stop(t);
}

Test(tui_term, sigterm_restores_keypad, .timeout = 30)
{
    keys_restored("xterm-256color", SIGTERM);
    keys_restored("screen", SIGTERM);
    keys_restored("vt100", SIGTERM);
}

Test(tui_term, sigint_and_quit_restore_keypad, .timeout = 30)
{
    keys_restored("xterm-256color", SIGINT);
    keys_restored("xterm-256color", 0);
    keys_restored("vt100", 0);
}
