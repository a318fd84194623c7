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
#include <unistd.h>

#include "harness.h"

#define FFFD "\xef\xbf\xbd"
#define STAR "\xf0\x9f\x8c\x9f"   /* U+1F31F: 4 bytes, 3 tokens of SmolLM2 */

/* The screen as one line (rows joined, runs of spaces as one): finds text a notice wrapped. */
static bool screen_has(vt_term *t, const char *needle)
{
    char *s = vt_text(t), *o = s;
    for (char *p = s; *p; p++) {
        char c = *p == '\n' ? ' ' : *p;
        if (c != ' ' || (o > s && o[-1] != ' ')) *o++ = c;
    }
    *o = 0;
    bool found = strstr(s, needle) != NULL;
    free(s);
    return found;
}

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
    cr_assert(parley_wait_status(t, "tok/s", 15000), "the answer did not finish");
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

/* Send a question and wait until its answer (containing word) has finished. */
static void ask(vt_term *t, const char *question, const char *word)
{
    parley_type(t, question);
    cr_assert(vt_wait_text(t, word, 15000), "the answer (%s) did not appear", word);
    cr_assert(parley_wait_status(t, "ready", 15000), "the answer did not finish");
}

/* A chat whose K cache type was changed to q8_0 between two answers; the kept home. */
static char *chat_with_q8_0(void)
{
    vt_term *t = parley_start(30, 100, NULL);
    parley_wait_ready(t);
    ask(t, "What is the capital of France?", "Paris");
    parley_type(t, "/set cache-type-k q8_0");
    ask(t, "And of Italy?", "Rome");
    return quit_keep(t);
}

Test(tui_resume, continue_brings_back_the_kv_types_and_the_snapshot_fits, .timeout = 60)
{
    char *home = chat_with_q8_0();
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    cr_assert(vt_wait_text(t, "resumed in", 15000), "no resume notice");
    char st[1024];
    expect_screen(t, parley_wait_status(t, "kv q8_0/f16", 5000), "the K cache is not q8_0 again: %s",
                  parley_status(t, st, sizeof st));
    expect_screen(t, vt_contains(t, "(snapshot") && !vt_contains(t, "snapshot ignored") && !vt_contains(t, "re-decoded"),
                  "the resume was not instant from the snapshot");
    expect_screen(t, screen_has(t, "settings are back: cache-type-k q8_0"), "the restored setting is not said");
    parley_stop(t);
    free(home);
}

Test(tui_resume, a_flag_on_the_command_line_wins_and_types_are_named, .timeout = 60)
{
    char *home = chat_with_q8_0();
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home, .args = {"--continue", "--cache-type-k", "q4_0", NULL}});
    cr_assert(vt_wait_text(t, "re-decoded", 15000), "the transcript was not re-decoded for the other K type");
    char st[1024];
    expect_screen(t, parley_wait_status(t, "kv q4_0/f16", 5000), "the flag did not win: %s", parley_status(t, st, sizeof st));
    expect_screen(t, screen_has(t, "kept from the command line: cache-type-k q4_0 (the session had q8_0)"),
                  "the kept flag is not said");
    expect_screen(t, screen_has(t, "K/V types q8_0/f16, the cache is q4_0/f16"), "the snapshot's types are not named");
    char *again = quit_keep(t);
    t = parley_start(30, 100, &(parley_opts){.home = again, .args = {"--continue", NULL}});   /* it now runs with q4_0 */
    cr_assert(vt_wait_text(t, "resumed in", 15000), "no resume notice");
    expect_screen(t, parley_wait_status(t, "kv q4_0/f16", 5000) && vt_contains(t, "(snapshot"),
                  "the session did not keep the type it last ran with: %s", parley_status(t, st, sizeof st));
    parley_stop(t);
    free(again);
    free(home);
}

Test(tui_resume, the_sidebar_marks_sessions_that_resume_instantly, .timeout = 60)
{
    vt_term *t = parley_start(30, 100, NULL);
    parley_wait_ready(t);
    ask(t, "What is the capital of France?", "Paris");
    char *home = quit_keep(t);
    char path[600], out[2048], args[700];
    snprintf(path, sizeof path, "%s/other.json", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"parley_session\":1,\"title\":\"Imported without a snapshot\",\"messages\":"
          "[{\"role\":\"user\",\"text\":\"hi\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    t = parley_start(30, 100, &(parley_opts){.home = home});
    parley_wait_ready(t);
    vt_send(t, VT_KEY_CTRL('b'));
    cr_assert(vt_wait_text(t, "Sessions (2)", 3000), "Ctrl-B did not open the sidebar");
    expect_screen(t, vt_contains(t, "\u00bb instant"), "the header does not explain the marker");
    vt_wait_text(t, "What is the capital of France?", 3000);   /* rows may come a frame after the header */
    vt_wait_text(t, "Imported without", 3000);
    int chat = vt_find_row(t, "What is the capital of France?"), other = vt_find_row(t, "Imported without");
    cr_assert(chat >= 0 && other >= 0, "both sessions should be listed");
    char row[512];
    expect_screen(t, strncmp(vt_row(t, chat + 1, row, sizeof row), " \u00bb ", 4) == 0,
                  "the chat with a snapshot is not marked: '%s'", row);
    expect_screen(t, strstr(vt_row(t, other + 1, row, sizeof row), "\u00bb") == NULL,
                  "the session without a snapshot is marked: '%s'", row);
    parley_stop(t);
    free(home);
}

Test(tui_resume, snapshot_budget_zero_keeps_no_snapshot, .timeout = 60)
{
    vt_term *t = parley_start(30, 100, &(parley_opts){.args = {"--snapshot-budget", "0", NULL}});
    parley_wait_ready(t);
    ask(t, "What is the capital of France?", "Paris");
    char *home = quit_keep(t);
    char path[600];
    snprintf(path, sizeof path, "%s/snapshots/1.snap", home);
    cr_expect_neq(access(path, F_OK), 0, "a snapshot was written with --snapshot-budget 0");
    t = parley_start(30, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    expect_screen(t, vt_wait_text(t, "re-decoded", 15000), "the resume did not re-decode");
    parley_stop(t);
    free(home);
}

Test(tui_resume, the_sidebar_brings_back_the_kv_types_live, .timeout = 60)
{
    char *home = chat_with_q8_0();
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home});
    parley_wait_ready(t);
    char st[1024];
    cr_assert(parley_wait_status(t, "kv f16/f16", 5000), "a new chat starts with the defaults: %s", parley_status(t, st, sizeof st));
    vt_send(t, VT_KEY_CTRL('b'));
    cr_assert(vt_wait_text(t, "Sessions (1)", 3000), "Ctrl-B did not open the sidebar");
    vt_send(t, VT_KEY_ENTER);
    cr_assert(vt_wait_text(t, "resumed in", 15000), "no resume notice");
    expect_screen(t, parley_wait_status(t, "kv q8_0/f16", 5000), "the K cache type did not come back: %s",
                  parley_status(t, st, sizeof st));
    expect_screen(t, vt_contains(t, "(snapshot") && !vt_contains(t, "snapshot ignored"), "the snapshot did not fit");
    parley_stop(t);
    free(home);
}
