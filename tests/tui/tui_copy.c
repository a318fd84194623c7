/* tui_copy.c — /copy and Alt-y send what each terminal takes, and say so
 * honestly. Inside tmux (TMUX set) the OSC 52 goes plain, because tmux 3.3+
 * drops its passthrough wrapper by default while a plain OSC 52 reaches its
 * clipboard with set-clipboard on; the message names that setting. Under
 * GNU screen (STY set) it goes in screen's DCS wrapper. The bytes are read
 * from the pty as the program wrote them. The answer comes from an imported
 * session, so no model is needed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* parley resumed on a one-answer session, with extra environment entries. */
static vt_term *start(const char *env0, char **home_out)
{
    char *home = parley_mkhome(), path[600], out[4096], args[700];
    snprintf(path, sizeof path, "%s/chat.json", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"parley_session\":1,\"title\":\"c\",\"messages\":[{\"role\":\"user\",\"text\":\"hi\"},"
          "{\"role\":\"assistant\",\"text\":\"Copy me please\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    vt_term *t = parley_start(24, 100, &(parley_opts){.home = home, .no_model = true, .env = {env0, NULL},
                                                       .args = {"--resume", "1", NULL}});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "Copy me please", 5000), "the answer is not shown");
    *home_out = home;
    return t;
}

/* How many times needle occurs in what the program wrote. */
static int raw_count(vt_term *t, const char *needle)
{
    size_t n;
    int c = 0;
    for (const char *q = vt_raw(t, &n); (q = strstr(q, needle)) != NULL; q++) c++;
    return c;
}

/* "Copy me please" in base64. */
#define B64 "Q29weSBtZSBwbGVhc2U="

Test(tui_copy, inside_tmux_plain_osc52_and_says_what_tmux_needs, .timeout = 30)
{
    char *home;
    vt_term *t = start("TMUX=/tmp/tmux-0/default,1234,0", &home);
    parley_type(t, "/copy");
    cr_assert(vt_wait_text(t, "tmux needs set-clipboard on", 3000), "/copy inside tmux does not say what tmux needs");
    cr_expect(!vt_contains(t, "copied"), "it claims the text was copied, which it cannot know");
    cr_expect_eq(raw_count(t, "\x1b]52;c;" B64 "\x07"), 1, "no plain OSC 52 with the answer was sent");
    cr_expect_eq(raw_count(t, "\x1bPtmux;"), 0, "the passthrough wrapper tmux ignores by default was sent");
    vt_send(t, "\x1by");   /* Alt-y: the same */
    vt_pump(t, 300);
    cr_expect_eq(raw_count(t, "\x1b]52;c;" B64 "\x07"), 2, "Alt-y sent no plain OSC 52");
    parley_stop(t);
    free(home);
}

Test(tui_copy, under_screen_wrapped_for_screen, .timeout = 30)
{
    char *home;
    vt_term *t = start("STY=1234.pts-0.host", &home);
    parley_type(t, "/copy");
    cr_assert(vt_wait_text(t, "through screen", 3000), "/copy under screen said nothing of screen");
    cr_expect_eq(raw_count(t, "\x1bP\x1b]52;c;" B64 "\x07\x1b\\"), 1, "no OSC 52 in screen's DCS wrapper was sent");
    parley_stop(t);
    free(home);
}

Test(tui_copy, plain_terminal_says_sent_not_copied, .timeout = 30)
{
    char *home;
    vt_term *t = start(NULL, &home);
    parley_type(t, "/copy");
    cr_assert(vt_wait_text(t, "sent 14 bytes to the terminal's clipboard (OSC 52)", 3000), "/copy said nothing");
    cr_expect_eq(raw_count(t, "\x1b]52;c;" B64 "\x07"), 1, "no OSC 52 was sent");
    parley_stop(t);
    free(home);
}
