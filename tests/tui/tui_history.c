/* tui_history.c — what a user of a shell or Ollama expects of the message
 * line: Up brings back what was typed before a restart (per data dir, a
 * private file, multi-line messages whole); /bye and /exit leave as /quit
 * does; """ opens a multi-line message that the closing """ sends, without
 * the quotes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

/* Wait until row r from the bottom (1: the input row) reads exactly text. */
static bool wait_row(vt_term *t, int from_bottom, const char *text, int timeout_ms)
{
    char row[1024];
    for (long long end = parley_ms() + timeout_ms; parley_ms() < end; vt_pump(t, 20)) {
        vt_row(t, vt_rows(t) - from_bottom, row, sizeof row);
        for (size_t n = strlen(row); n > 0 && row[n - 1] == ' '; n--) row[n - 1] = 0;
        if (strcmp(row, text) == 0) return true;
    }
    return false;
}

/* Start without a model in home (NULL: a fresh one). */
static vt_term *start_in(const char *home)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.no_model = true, .home = home});
    parley_wait_ui(t);
    return t;
}

/* Quit with cmd; it must exit 0. */
static void quit_with(vt_term *t, const char *cmd)
{
    parley_type(t, cmd);
    int status = -1;
    assert_screen(t, vt_wait_exit(t, 5000, &status), "%s did not quit", cmd);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %d", cmd, status);
}

Test(tui_history, up_recalls_messages_after_a_restart, .timeout = 40)
{
    vt_term *t = start_in(NULL);
    parley_type(t, "first question");
    vt_send(t, "two\x0alines");   /* Ctrl-J: a new line */
    vt_send(t, VT_KEY_ENTER);
    vt_pump(t, 200);
    quit_with(t, "/bye");
    char *home = parley_stop_keep(t);
    char path[512];
    snprintf(path, sizeof path, "%s/input_history", home);
    struct stat sb, db;
    cr_assert(stat(path, &sb) == 0, "no history file in the data dir");
    cr_expect_eq(sb.st_mode & 0777, 0600, "the history file is %o, not private", sb.st_mode & 0777);
    cr_expect(stat(home, &db) == 0 && (db.st_mode & 077) == 0, "the data dir is open to others: %o", db.st_mode & 0777);

    t = start_in(home);
    vt_send(t, VT_KEY_UP);
    assert_screen(t, wait_row(t, 1, "> /bye", 2000), "Up after a restart did not bring back /bye");
    vt_send(t, VT_KEY_UP);
    assert_screen(t, wait_row(t, 2, "> two", 2000) && wait_row(t, 1, "  lines", 500),
                  "the multi-line message did not come back whole");
    vt_send(t, VT_KEY_UP VT_KEY_UP);   /* first Up moves to its first line */
    assert_screen(t, wait_row(t, 1, "> first question", 2000), "the first message is not in the history");
    vt_send(t, "\x15");   /* Ctrl-U: empty the box */
    quit_with(t, "/exit");
    parley_stop(t);   /* removes home */
    free(home);
}

Test(tui_history, bye_and_exit_quit, .timeout = 20)
{
    vt_term *t = start_in(NULL);
    quit_with(t, "/bye");
    parley_stop(t);
    t = start_in(NULL);
    quit_with(t, "/exit");
    parley_stop(t);
}

/* """ Enter, two lines, """ Enter: one message of two lines, no quotes. */
Test(tui_history, triple_quotes_send_one_multi_line_message, .timeout = 60)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "4", NULL}});
    parley_wait_ready(t);
    parley_type(t, "\"\"\"");
    parley_type(t, "Say hi to Ann.");
    parley_type(t, "And to Bob.");
    vt_wait_text(t, "And to Bob.", 3000);   /* the box has drawn the typing (under load it comes late) */
    assert_screen(t, !vt_contains(t, "You"), "a line was sent before the closing \"\"\"");
    assert_screen(t, vt_contains(t, "> \"\"\"") && vt_contains(t, "  Say hi to Ann.") && vt_contains(t, "  And to Bob."),
                  "Enter inside \"\"\" did not make a new line");
    parley_type(t, "\"\"\"");
    assert_screen(t, vt_wait_text(t, "You", 3000) && vt_wait_text(t, "> Type a message", 3000),
                  "the closing \"\"\" did not send");
    int r = vt_find_row(t, "Say hi to Ann.");
    char next[512];
    assert_screen(t, r >= 0 && strstr(vt_row(t, r + 1, next, sizeof next), "And to Bob."),
                  "the message is not the two lines");
    char *scr = vt_text(t);
    cr_expect(!strstr(scr, "\"\"\""), "the quotes were sent or left in the box:\n%s", scr);
    free(scr);
    parley_stop(t);
}
