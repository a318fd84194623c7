/* tui_store_ro.c — the chat on a store it cannot write: a data folder on a
 * read-only mount (tests run as root in CI, and root ignores permission bits,
 * so the test gets its own mount namespace with the folder mounted read-only).
 * `parley --continue` still shows the last conversation, the chat works, the
 * user is told once that nothing new is saved (not again after each answer),
 * and the store is exactly as it was. And a full disk under the snapshots:
 * "disk full" is said once, not after every answer, and chatting goes on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/mount_ro.h"
#include "harness.h"

/* How many times needle is on the screen. */
static int count_on_screen(vt_term *t, const char *needle)
{
    char *s = vt_text(t);
    int n = 0;
    for (char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    free(s);
    return n;
}

Test(tui_store_ro, continue_on_a_read_only_store, .timeout = 60)
{
    char *home = parley_mkhome(), path[600], out[4096], args[700];
    snprintf(path, sizeof path, "%s/chat.json", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"parley_session\":1,\"title\":\"Old chat\",\"messages\":[{\"role\":\"user\",\"text\":"
          "\"What is the capital of France?\"},{\"role\":\"assistant\",\"text\":\"Paris, on the Seine.\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    const char *why = mount_ro(home);
    cr_assert_null(why, "%s", why);
    vt_term *t = parley_start(40, 110, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    cr_assert(vt_wait_text(t, "Paris, on the Seine.", 5000), "--continue did not show the conversation");
    if (!vt_wait_text(t, "nothing new is saved", 3000)) {
        char *screen = vt_text(t);
        cr_assert_fail("not told the store is read-only:\n%s", screen);
    }
    parley_wait_ready(t);
    parley_type(t, "And of Italy?");
    cr_assert(vt_wait_text(t, "tok/s", 20000), "the chat did not answer on a read-only store");
    parley_type(t, "Thanks.");
    cr_assert(vt_wait_text(t, "Thanks.", 5000));
    char st[256];
    for (int i = 0; i < 100 && !strstr(parley_status(t, st, sizeof st), "tok/s"); i++) vt_pump(t, 100);
    vt_pump(t, 500);
    cr_expect_eq(count_on_screen(t, "nothing new is saved"), 1, "told more than once");
    cr_expect_eq(count_on_screen(t, "snapshot not written"), 0, "a snapshot was tried on a read-only store");
    parley_stop_keep(t);
    mount_ro_undo(home);
    cr_assert_eq(parley_cli(home, "sessions ls", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "Old chat") && strstr(out, "  2  "), "the store changed: %s", out);
    parley_rm_home(home);
    free(home);
}

/* Wait until the status line shows the speed of a finished answer. */
static void wait_answer(vt_term *t)
{
    char st[256];
    for (int i = 0; i < 200 && !strstr(parley_status(t, st, sizeof st), "tok/s"); i++) vt_pump(t, 100);
    cr_assert(strstr(st, "tok/s"), "the answer did not finish: %s", st);
}

Test(tui_store_ro, full_disk_for_snapshots_is_said_once, .timeout = 90)
{
    char *home = parley_mkhome(), snaps[600];
    snprintf(snaps, sizeof snaps, "%s/snapshots", home);
    cr_assert_eq(mkdir(snaps, 0700), 0);
    const char *why = mount_small_tmpfs(snaps, "16k");
    cr_assert_null(why, "%s", why);
    vt_term *t = parley_start(40, 110, &(parley_opts){.home = home});
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    wait_answer(t);
    cr_assert(vt_wait_text(t, "disk full", 5000), "a full disk under the snapshots was not reported as disk full");
    parley_type(t, "And of Italy?");
    vt_pump(t, 300);
    wait_answer(t);
    parley_type(t, "And of Spain?");
    vt_pump(t, 300);
    wait_answer(t);
    vt_pump(t, 1000);
    cr_expect_eq(count_on_screen(t, "disk full"), 1, "disk full was said more than once");
    parley_stop_keep(t);
    mount_ro_undo(snaps);
    parley_rm_home(home);
    free(home);
}
