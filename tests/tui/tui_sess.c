/* tui_sess.c — sessions through the real UI: a chat is saved as it goes,
 * `parley --continue` brings it back (transcript at once, KV cache from the
 * snapshot, the time it took said) and the next answer works; a damaged
 * snapshot is reported and the transcript re-decoded; the sidebar lists
 * sessions newest first, searches with highlighted matches, renames, and
 * deletes only after a y/n question; a hang-up (SIGHUP) mid-answer finishes
 * and saves the answer; a corrupt database is moved aside (said where),
 * chatting goes on and a new store saves the chat;
 * a locked store is reported, and what could not be written is written, in
 * order, once the lock is gone.
 * Every run has its own temporary HOME and PARLEY_DATA (harness.c). */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "../common/cli.h"
#include "harness.h"

/* A chat of one question and its answer, then Ctrl-D; returns the kept home. */
static char *chat_and_quit(const char *question, const char *answer_word)
{
    vt_term *t = parley_start(24, 80, NULL);
    parley_wait_ready(t);
    parley_type(t, question);
    cr_assert(vt_wait_text(t, answer_word, 15000), "the answer (%s) did not appear", answer_word);
    cr_assert(parley_wait_status(t, "tok/s", 10000), "the answer did not finish");
    vt_send(t, VT_KEY_CTRL('d'));
    int status = 0;
    cr_assert(vt_wait_exit(t, 10000, &status), "Ctrl-D did not quit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    return parley_stop_keep(t);
}

Test(tui_sess_resume, continue_after_quit, .timeout = 45)
{
    char *home = chat_and_quit("What is the capital of France?", "Paris");
    long long t0 = parley_ms();
    vt_term *t = parley_start(24, 80, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    cr_assert(vt_wait_text(t, "Paris", 3000), "--continue did not show the saved transcript");
    cr_expect(vt_contains(t, "What is the capital of France?"), "the question is missing after --continue");
    long long shown = parley_ms() - t0;
    cr_assert(vt_wait_text(t, "resumed in", 15000), "no resume timing notice");
    expect_screen(t, vt_contains(t, "(snapshot"), "the KV cache was not restored from the snapshot");
    cr_log_info("transcript shown %lld ms after start", shown);
    parley_wait_ready(t);
    parley_type(t, "And the capital of Germany?");
    cr_assert(parley_wait_status(t, "tok/s", 15000), "the next answer did not finish after the resume");
    char ans[8192];
    parley_answer(t, ans, sizeof ans);
    size_t letters = 0;
    for (char *p = ans; *p; p++) letters += *p > ' ';
    expect_screen(t, letters > 3, "the answer after the resume is empty");
    parley_stop(t);
    free(home);
}

Test(tui_sess_resume, damaged_snapshot_is_reported_and_redecoded, .timeout = 45)
{
    char *home = chat_and_quit("What is the capital of France?", "Paris");
    char path[600];
    snprintf(path, sizeof path, "%s/snapshots/1.snap", home);
    FILE *f = fopen(path, "r+b");
    cr_assert(f, "no snapshot was written at %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    cr_assert(vt_wait_text(t, "re-decoded", 15000), "the transcript was not re-decoded");
    expect_screen(t, vt_contains(t, "snapshot ignored") && vt_contains(t, "checksum"),
                  "the damaged snapshot was not reported");
    cr_expect(vt_contains(t, "Paris"), "the transcript is missing");
    parley_stop(t);
    free(home);
}

/* Import a conversation with the CLI (the sidebar test needs no model). */
static void import(const char *home, const char *name, const char *json)
{
    char path[600], out[2048], args[700];
    snprintf(path, sizeof path, "%s/%s.json", home, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(json, f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "import failed: %s", out);
}

/* Column of needle in row r (bytes = columns: ASCII rows), or -1. */
static int col_of(vt_term *t, int r, const char *needle)
{
    char row[1024];
    char *p = strstr(vt_row(t, r, row, sizeof row), needle);
    return p ? (int)(p - row) : -1;
}

Test(tui_sess_sidebar, list_search_rename_delete, .timeout = 30)
{
    char *home = parley_mkhome();
    import(home, "a", "{\"parley_session\":1,\"title\":\"Dragons and knights\",\"created\":1700000000000,"
                      "\"updated\":1700000000000,\"messages\":[{\"role\":\"user\",\"text\":\"Tell me about dragons\"},"
                      "{\"role\":\"assistant\",\"text\":\"Dragons are large flying reptiles of legend.\"}]}");
    import(home, "b", "{\"parley_session\":1,\"title\":\"Pancake recipe\",\"created\":1700000100000,"
                      "\"updated\":1700000100000,\"messages\":[{\"role\":\"user\",\"text\":\"How do I make pancakes?\"},"
                      "{\"role\":\"assistant\",\"text\":\"Mix flour, eggs and milk, then fry the batter.\"}]}");
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home});
    parley_wait_ui(t);
    vt_send(t, VT_KEY_CTRL('b'));
    cr_assert(vt_wait_text(t, "Sessions (2)", 3000), "Ctrl-B did not open the sidebar");
    cr_assert(vt_wait_text(t, "Dragons and knights", 3000) && vt_wait_text(t, "Pancake recipe", 3000),
              "the sidebar does not list both sessions");
    int newer = vt_find_row(t, "Pancake recipe"), older = vt_find_row(t, "Dragons and knights");
    expect_screen(t, newer >= 0 && older > newer, "not newest first (Pancake row %d, Dragons row %d)", newer, older);
    /* Another parley (here the CLI) adds a session: the open sidebar shows it. */
    import(home, "c", "{\"parley_session\":1,\"title\":\"Third one\",\"messages\":[{\"role\":\"user\",\"text\":\"hi\"}]}");
    cr_assert(vt_wait_text(t, "Sessions (3)", 4000), "the sidebar did not refresh after another process's change");
    cr_expect(vt_find_row(t, "Third one") >= 0 && vt_find_row(t, "Third one") < vt_find_row(t, "Pancake recipe"),
              "the new session is not listed first");
    /* Search: the match is highlighted, the text around it is not. */
    vt_send(t, "/");
    vt_send(t, "flour");
    cr_assert(vt_wait_text(t, "Search: flour", 3000), "the search prompt did not open");
    cr_assert(vt_wait_text(t, "Mix flour", 3000), "the search found nothing");
    int r = vt_find_row(t, "Mix flour"), c = col_of(t, r, "flour");
    expect_screen(t, vt_cell_colored(t, r, c) || vt_cell_reverse(t, r, c), "the match is not highlighted");
    cr_expect(!vt_cell_colored(t, r, c - 4) && !vt_cell_reverse(t, r, c - 4), "text outside the match is highlighted");
    vt_send(t, VT_KEY_ESC);
    cr_assert(vt_wait_text(t, "Sessions (3)", 3000), "Esc did not leave the search");
    /* Rename Pancake recipe (the second entry). */
    vt_send(t, VT_KEY_DOWN);
    vt_send(t, "r");
    cr_assert(vt_wait_text(t, "Title: Pancake recipe", 3000), "r did not ask for a new title for Pancake recipe");
    vt_send(t, VT_KEY_CTRL('u'));
    vt_send(t, "Breakfast plans");
    vt_send(t, VT_KEY_ENTER);
    cr_assert(vt_wait_text(t, "Breakfast plans", 3000), "the new title is not listed");
    expect_screen(t, vt_wait_gone(t, "Pancake recipe", 2000), "the old title is still listed");
    /* Delete asks first; n keeps it, y deletes it. */
    vt_send(t, "d");
    cr_assert(vt_wait_text(t, "Delete \"Breakfast plans\"?", 3000), "d did not ask for confirmation");
    vt_send(t, "n");
    cr_assert(vt_wait_gone(t, "Delete \"", 3000), "the question did not go away");
    cr_expect(vt_contains(t, "Sessions (3)"), "answering n deleted it");
    vt_send(t, "d");
    cr_assert(vt_wait_text(t, "Delete \"Breakfast plans\"?", 3000), "d did not ask for confirmation");
    vt_send(t, "y");
    cr_assert(vt_wait_text(t, "Sessions (2)", 3000), "y did not delete it");
    expect_screen(t, vt_wait_gone(t, "Breakfast plans", 2000), "the deleted session is still listed");
    /* Enter resumes the selected one (Dragons, below the deleted): its transcript appears. */
    vt_send(t, VT_KEY_DOWN);
    vt_send(t, VT_KEY_DOWN);
    vt_send(t, VT_KEY_ENTER);
    cr_assert(vt_wait_text(t, "large flying reptiles", 3000), "Enter did not resume the session");
    parley_assert_sane(t);
    parley_stop(t);
    free(home);
}

Test(tui_sess_hangup, sighup_mid_answer_saves_it, .timeout = 60)
{
    vt_term *t = parley_start(40, 100, &(parley_opts){.args = {"--n-predict", "120", NULL}});
    parley_wait_ready(t);
    parley_type(t, "Write a long story about a dragon and a knight.");
    char ans[8192] = "";
    for (long long end = parley_ms() + 15000; parley_ms() < end && strlen(parley_answer(t, ans, sizeof ans)) < 24;)
        vt_pump(t, 20);
    cr_assert(strlen(ans) >= 24, "the answer did not start");
    char start[16];
    snprintf(start, sizeof start, "%.12s", ans + 2);   /* rows are indented by two */
    cr_assert(parley_wait_status(t, "answering", 2000), "the answer ended before the hang-up");
    kill(vt_pid(t), SIGHUP);
    int status = 0;
    cr_assert(vt_wait_exit(t, 40000, &status), "parley did not exit after SIGHUP");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "not a clean exit after SIGHUP (status %d)", status);
    char *home = parley_stop_keep(t);
    char out[16384];
    cr_assert_eq(parley_cli(home, "sessions show 1", out, sizeof out), 0, "sessions show: %s", out);
    cr_expect(strstr(out, "[assistant] 120 tokens") && !strstr(out, "incomplete") && !strstr(out, "stopped"),
              "the answer was not finished (120 tokens) and saved:\n%s", out);
    t = parley_start(40, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    cr_assert(vt_wait_text(t, "dragon and a knight", 3000), "--continue did not show the question");
    expect_screen(t, vt_contains(t, start), "the answer's beginning ('%s') is missing after --continue", start);
    cr_expect(!vt_contains(t, "(incomplete)") && !vt_contains(t, "(stopped)"), "the finished answer is marked stopped");
    parley_stop(t);
    free(home);
}

Test(tui_sess_store, corrupt_database_keeps_chatting, .timeout = 30)
{
    char *home = parley_mkhome();
    char path[600];
    snprintf(path, sizeof path, "%s/sessions.db", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < 512; i++) fputs("this is not a database ", f);
    fclose(f);
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home});
    parley_wait_ready(t);
    expect_screen(t, vt_contains(t, "was damaged") && vt_contains(t, "moved to"), "the broken store was not reported");
    parley_type(t, "What is the capital of France?");
    cr_expect(vt_wait_text(t, "Paris", 15000), "chatting stopped with a broken store");
    cr_expect(parley_wait_status(t, "tok/s", 10000), "the answer did not finish");
    char cmd[800], out[4096];
    snprintf(cmd, sizeof cmd, "cat '%s'.corrupt-*", path);   /* the old bytes, kept aside */
    cr_assert_eq(cli_run(cmd, false, out, sizeof out), 0, "the damaged file was not kept: %s", out);
    cr_expect(strncmp(out, "this is not a database", 22) == 0, "the damaged file was changed: %.40s", out);
    cr_expect_eq(parley_cli(home, "sessions ls", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "What is the capital of France?"), "the new store did not save the chat: %s", out);
    parley_stop(t);
    free(home);
}

Test(tui_sess_store, locked_store_catches_up, .timeout = 40)
{
    char *home = parley_mkhome(), db[600];
    snprintf(db, sizeof db, "%s/sessions.db", home);
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home});
    parley_wait_ready(t);
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK, "cannot open %s", db);
    cr_assert_eq(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK, "cannot lock the store");
    parley_type(t, "What is the capital of France?");
    cr_assert(vt_wait_text(t, "busy", 10000), "the locked store was not reported");
    cr_expect(vt_wait_text(t, "Paris", 15000), "chatting stopped while the store was locked");
    cr_expect(parley_wait_status(t, "not saved", 3000), "the status line does not say 'not saved'");
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    cr_assert(parley_wait_status(t, "saving again", 8000), "saving did not resume by itself after the lock was gone");
    parley_type(t, "And of Spain?");
    cr_assert(parley_wait_status(t, "tok/s", 15000), "the second answer did not finish");
    vt_send(t, VT_KEY_CTRL('d'));
    cr_assert(vt_wait_exit(t, 10000, NULL), "Ctrl-D did not quit");
    free(parley_stop_keep(t));
    char out[8192];
    cr_assert_eq(parley_cli(home, "sessions show 1", out, sizeof out), 0, "sessions show: %s", out);
    char *q1 = strstr(out, "capital of France"), *a1 = strstr(out, "Paris"), *q2 = strstr(out, "And of Spain");
    cr_expect(q1 && a1 && q2 && q1 < a1 && a1 < q2, "not everything was saved, in order:\n%s", out);
    parley_rm_home(home);
    free(home);
}
