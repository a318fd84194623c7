/* tui_resume.c — what a session brings back, through the real UI: the
 * settings it ran with (K/V cache types, sampling) so that its snapshot fits
 * and `parley --continue` is instant; which sessions resume instantly (the
 * sidebar's marker); and an answer cut inside a multi-byte character is kept
 * up to its last whole character, on screen and in the store.
 * Every run has its own temporary HOME and PARLEY_DATA (harness.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

#define FFFD "\xef\xbf\xbd"
#define STAR "\xf0\x9f\x8c\x9f"   /* U+1F31F: 4 bytes, 3 tokens of SmolLM2 */

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wait_status(vt_term *t, const char *text, int timeout_ms)
{
    char st[1024];
    for (long long end = ms_now() + timeout_ms; ms_now() < end; vt_pump(t, 20))
        if (strstr(parley_status(t, st, sizeof st), text)) return true;
    return false;
}

/* Fail with the screen attached. */
#define expect_screen(t, cond, ...) do { if (!(cond)) { char *s_ = vt_text(t); \
    cr_expect_fail(__VA_ARGS__); cr_log_error("screen:\n%s", s_); free(s_); } } while (0)

/* Ctrl-D and a clean exit; the home stays for the next start. */
static char *quit_keep(vt_term *t)
{
    vt_send(t, VT_KEY_CTRL('d'));
    int status = 0;
    cr_assert(vt_wait_exit(t, 10000, &status), "Ctrl-D did not quit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    return parley_stop_keep(t);
}

/* Greedy SmolLM2 answers this with stars, three tokens each: four tokens end
 * one byte into the second star. Esc ends an answer the same way (the worker's
 * last flush), but only a token limit cuts at a known byte. */
Test(tui_resume, answer_cut_inside_a_character_keeps_whole_characters, .timeout = 45)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"-n", "4", NULL}});
    parley_wait_ready(t);
    parley_type(t, "Reply with three emoji.");
    cr_assert(wait_status(t, "tok/s", 15000), "the answer did not finish");
    expect_screen(t, vt_contains(t, STAR), "the whole star is not shown");
    expect_screen(t, !vt_contains(t, FFFD), "a cut character is shown as U+FFFD");
    char *home = quit_keep(t);
    char out[8192];
    cr_assert_eq(parley_cli(home, "sessions export 1 --format json", out, sizeof out), 0, "%s", out);
    cr_expect(!strstr(out, FFFD) && !strstr(out, "\\ufffd"), "the store keeps a cut character: %s", out);
    cr_expect(strstr(out, "\"text\": \"" STAR "\""), "the stored answer is not the one whole star: %s", out);
    parley_rm_home(home);
    free(home);
}
