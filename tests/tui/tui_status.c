/* tui_status.c — what the frame tells a person at a glance: at 100 columns the
 * status line keeps the live knobs (KV types, GPU layers) once tok/s shows, by
 * shortening other fields first; the "N more below" marker has a row of its
 * own instead of covering text; the first screen says how to leave and where
 * help is, also under the "loaded" notice; the /edit hint fits; the settings
 * panel shows the threads that run, not "0". Real binary in a pty. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* parley at rows x cols on the model, one short answer given. */
static vt_term *start_and_answer(int rows, int cols)
{
    vt_term *t = parley_start(rows, cols, &(parley_opts){.args = {"-n", "12", NULL}});
    parley_wait_ready(t);
    parley_type(t, "Hi");
    cr_assert(vt_wait_text(t, "tok/s", 30000), "no speed in the status line after an answer");
    char st[512];
    for (int i = 0; i < 100 && !strstr(parley_status(t, st, sizeof st), "ready"); i++) vt_pump(t, 100);
    return t;
}

Test(tui_status, knobs_stay_at_100_columns_once_speed_shows, .timeout = 60)
{
    vt_term *t = start_and_answer(30, 100);
    char st[512];
    parley_status(t, st, sizeof st);
    cr_expect(strstr(st, "tok/s"), "speed: '%s'", st);
    cr_expect(strstr(st, "kv f16"), "the KV types were dropped: '%s'", st);
    cr_expect(strstr(st, "ngl 0"), "the GPU layers were dropped: '%s'", st);
    cr_expect(strstr(st, "ctx "), "'%s'", st);
    parley_stop(t);
}

Test(tui_status, edit_hint_fits_at_80_columns, .timeout = 60)
{
    vt_term *t = start_and_answer(24, 80);
    parley_type(t, "/edit");
    cr_assert(vt_wait_text(t, "editing: Enter resends, Esc cancels", 3000), "the /edit hint is cut or missing");
    parley_stop(t);
}

Test(tui_status, first_screen_says_how_to_leave_under_the_loaded_notice, .timeout = 30)
{
    vt_term *t = parley_start(24, 80, NULL);
    parley_wait_ready(t);
    cr_assert(vt_wait_text(t, "loaded", 3000));
    cr_expect(vt_wait_text(t, "Ctrl-D or /quit leaves", 2000), "after loading, the chat does not say how to quit");
    cr_expect(vt_contains(t, "F1 help  Ctrl-O models"), "after loading, the chat does not say where help is");
    int loaded = vt_find_row(t, "loaded"), hint = vt_find_row(t, "/quit leaves");
    cr_expect_lt(loaded, hint, "the hint covers the notice");
    parley_stop(t);
}

Test(tui_status, settings_panel_shows_the_threads_that_run, .timeout = 30)
{
    vt_term *t = parley_start(30, 100, NULL);
    parley_wait_ready(t);
    vt_send(t, VT_KEY_F2);
    cr_assert(vt_wait_text(t, "Settings", 3000));
    bool shown = vt_wait_text(t, "(0: all cores)", 3000);   /* the panel's rows may come a frame later */
    int r = vt_find_row(t, "threads ");
    cr_assert_geq(r, 0, "no threads row in the panel");
    char row[512];
    vt_row(t, r, row, sizeof row);
    cr_expect(shown && strstr(row, "(0: all cores)"), "the panel shows the setting, not the threads that run: '%s'", row);
    parley_stop(t);
}

/* One session of long lines, so any row the marker shares would hold text. */
static const char *LONG_CHAT_FMT = "{\"parley_session\":1,\"title\":\"long\",\"messages\":[%s]}";

Test(tui_status, more_below_marker_has_a_row_of_its_own, .timeout = 30)
{
    char *home = parley_mkhome(), msgs[16384] = "", path[600], args[700], out[4096];
    for (int i = 0; i < 12; i++) {
        char m[1024];
        snprintf(m, sizeof m, "%s{\"role\":\"%s\",\"text\":\"line %02d %s\"}", i ? "," : "", i % 2 ? "assistant" : "user",
                 i, "words that fill the whole width of the terminal so that a marker drawn over them would "
                    "hide some of them, again and again until the line wraps twice over");
        strcat(msgs, m);
    }
    snprintf(path, sizeof path, "%s/long.json", home);
    FILE *f = fopen(path, "w");
    fprintf(f, LONG_CHAT_FMT, msgs);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    vt_term *t = parley_start(24, 80, &(parley_opts){.home = home, .no_model = true, .args = {"--resume", "1", NULL}});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "line 11", 5000));
    vt_send(t, VT_KEY_PGUP);
    cr_assert(vt_wait_text(t, "more below", 3000), "PgUp shows no marker");
    int r = vt_find_row(t, "more below");
    char row[512];
    vt_row(t, r, row, sizeof row);
    char *p = row;
    while (*p == ' ') p++;
    cr_expect(strncmp(p, "more below", 10) != 0 && p[0] >= '1' && p[0] <= '9' && strstr(p, "more below (PgDn)"),
              "the marker row holds other text: '%s'", row);
    cr_expect(strspn(row, " ") >= 50, "text shares the marker's row: '%s'", row);
    parley_stop(t);
    free(home);
}

/* An answer stopped in an earlier run reads "(stopped)" after a resume, as it
 * did when it was stopped and as `parley sessions show` and the exports say. */
Test(tui_status, a_resumed_stopped_answer_is_labelled_stopped, .timeout = 30)
{
    char *home = parley_mkhome(), path[600], args[700], out[4096];
    snprintf(path, sizeof path, "%s/cut.json", home);
    FILE *f = fopen(path, "w");
    fputs("{\"parley_session\":1,\"title\":\"cut\",\"messages\":[{\"role\":\"user\",\"text\":\"Tell me a story\"},"
          "{\"role\":\"assistant\",\"text\":\"Once upon a time\",\"complete\":false}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(parley_cli(home, "sessions show 1", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "(stopped)"), "sessions show: %s", out);
    vt_term *t = parley_start(24, 80, &(parley_opts){.home = home, .no_model = true, .args = {"--resume", "1", NULL}});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "Once upon a time", 5000));
    expect_screen(t, vt_contains(t, "(stopped)"), "the resumed answer is not labelled as it was when stopped");
    parley_stop(t);
    free(home);
}
