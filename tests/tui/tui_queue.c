/* tui_queue.c — a message sent while an answer is awaited is queued, not
 * thrown away: shown above the box as queued, Up takes the newest back into
 * the box to edit, Esc on an empty box drops it, and the queue is sent in
 * order (a FIFO) as answers end, whether stopped or finished.
 *
 * The answer is held open on purpose: /model switches to a FIFO, so the
 * worker waits in open() and the message sent meanwhile waits behind the
 * load; the test then lets the load go (it fails, the model in use stays)
 * and the waiting message and the queue are answered by the model in use. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The input box's row (the last) as text. */
static char *box(vt_term *t, char *buf, size_t len) { return vt_row(t, vt_rows(t) - 1, buf, len); }

/* Let the hanging load go: open the FIFO's other end (the worker waits in open), close it. */
static void release_load(vt_term *t, const char *fifo)
{
    int fd = -1;
    for (long long end = parley_ms() + 3000; fd < 0 && parley_ms() < end; vt_pump(t, 20))
        fd = open(fifo, O_WRONLY | O_NONBLOCK);
    cr_assert(fd >= 0, "the model load never opened %s", fifo);
    close(fd);
}

/* Rows of the screen that hold needle. */
static int count_rows(vt_term *t, const char *needle)
{
    char row[512];
    int n = 0;
    for (int r = 0; r < vt_rows(t); r++) n += strstr(vt_row(t, r, row, sizeof row), needle) != NULL;
    return n;
}

Test(tui_queue, queued_while_answering_edited_dropped_then_sent_in_order, .timeout = 120)
{
    vt_term *t = parley_start(40, 100, NULL);
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    assert_screen(t, vt_wait_text(t, "Paris", 20000), "no first answer");
    assert_screen(t, parley_wait_status(t, "ready", 15000), "the first answer did not finish");
    char fifo[600], cmd[700], b[512];
    char *home = parley_stop_keep(t);
    snprintf(fifo, sizeof fifo, "%s/slow.gguf", home);
    cr_assert(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    t = parley_start(40, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    parley_wait_ready(t);
    snprintf(cmd, sizeof cmd, "/model %s", fifo);
    parley_type(t, cmd);
    assert_screen(t, parley_wait_status(t, "loading", 3000), "the switch to the FIFO does not load");

    parley_type(t, "Hello there");   /* waits behind the load: an answer is awaited */
    assert_screen(t, vt_wait_text(t, "answering (Esc stops)", 3000), "the first message is not awaited");
    parley_type(t, "What is the capital of Italy?");
    assert_screen(t, vt_wait_text(t, "queued: What is the capital of Italy?", 3000), "the message sent while "
                  "answering is not shown as queued");
    assert_screen(t, strstr(box(t, b, sizeof b), "answering"), "the box did not empty for the next message");
    parley_type(t, "Tell me a joke");
    assert_screen(t, vt_wait_text(t, "queued: Tell me a joke", 3000), "a second message is not queued");
    cr_expect(vt_contains(t, "queued: What is the capital of Italy?"), "the first queued message went");

    vt_send(t, VT_KEY_UP);   /* the newest back into the box */
    assert_screen(t, vt_wait_text(t, "> Tell me a joke", 3000), "Up did not bring the queued message back");
    assert_screen(t, !vt_contains(t, "queued: Tell me a joke"), "the recalled message is still queued");
    vt_send(t, VT_KEY_CTRL('u'));
    parley_type(t, "What is the capital of Germany?");   /* edited: queued again */
    assert_screen(t, vt_wait_text(t, "queued: What is the capital of Germany?", 3000), "the edit was not queued");
    vt_send(t, VT_KEY_ESC);   /* empty box: drops the newest */
    assert_screen(t, vt_wait_gone(t, "queued: What is the capital of Germany?", 3000), "Esc did not drop it");
    assert_screen(t, vt_wait_text(t, "dropped", 2000), "dropping said nothing");
    assert_screen(t, parley_wait_status(t, "loading", 500), "Esc on the queue touched the load");
    parley_type(t, "What is the capital of Spain?");
    assert_screen(t, vt_wait_text(t, "queued: What is the capital of Spain?", 3000), "Spain is not queued");

    vt_send(t, VT_KEY_CTRL('c'));   /* stop the awaited answer: the oldest queued one goes */
    assert_screen(t, vt_wait_gone(t, "queued: What is the capital of Italy?", 3000), "stopping did not send the queue");
    assert_screen(t, count_rows(t, "What is the capital of Italy?") == 1, "Italy is not in the conversation");
    assert_screen(t, vt_contains(t, "queued: What is the capital of Spain?"), "Spain did not keep waiting its turn");

    release_load(t, fifo);   /* the switch fails; the model in use answers Italy, then Spain */
    assert_screen(t, vt_wait_text(t, "cannot load slow.gguf", 5000), "the failed load was not reported");
    assert_screen(t, vt_wait_text(t, "Rome", 20000), "the queued question was not answered");
    assert_screen(t, vt_wait_gone(t, "queued: What is the capital of Spain?", 20000), "the last queued one was never sent");
    assert_screen(t, parley_wait_status(t, "ready", 20000), "the last answer did not finish");
    assert_screen(t, count_rows(t, "What is the capital of Spain?") == 1, "Spain is not in the conversation");
    cr_expect(!vt_contains(t, "Germany") && !vt_contains(t, "joke"), "a dropped or edited message was sent");
    char *s = vt_text(t);
    char *rome = strstr(s, "Rome"), *spain = strstr(s, "What is the capital of Spain?");
    cr_expect(rome && spain && rome < spain, "the queue was not answered in order:\n%s", s);
    free(s);
    parley_stop(t);
    free(home);
}

Test(tui_queue, queued_message_is_sent_after_a_finished_answer, .timeout = 60)
{
    vt_term *t = parley_start(40, 100, &(parley_opts){.args = {"-n", "300", NULL}});
    parley_wait_ready(t);
    vt_send(t, VT_KEY_F1);   /* the help says how the queue works */
    assert_screen(t, vt_wait_text(t, "while answering: queue it", 3000), "F1 help does not mention the queue");
    vt_send(t, VT_KEY_ESC);
    assert_screen(t, vt_wait_gone(t, "while answering: queue it", 3000), "the help did not close");
    parley_type(t, "Write a long story about a dragon.");
    assert_screen(t, parley_wait_status(t, "answering", 5000), "no answer started");
    parley_type(t, "What is the capital of France?");
    assert_screen(t, vt_wait_text(t, "queued: What is the capital of France?", 3000),
                  "the message sent while the answer streams is not queued");
    assert_screen(t, vt_wait_text(t, "Paris", 40000), "the queued message was never answered");
    assert_screen(t, !vt_contains(t, "queued:"), "the queue row stayed");
    parley_stop(t);
}
