/* tui_load.c — a message sent while the model loads never leaves the screen
 * stuck on "answering": Esc, or switching the model, before the load ends
 * brings it back to idle at once, and once a model is loaded the next message
 * is answered. The load is held open on purpose: the model path is a FIFO,
 * so the worker waits in open() until the test lets it go (then that load
 * fails, the way a bad file does). A resumed session is used because sending
 * the first message of a new one reads the model file on the UI thread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ANSWERING "answering (Esc stops)"   /* the empty input box's hint while an answer is awaited */
#define IDLE      "> Type a message"        /* ... and when none is */

/* A saved one-question chat; returns its home (caller frees). */
static char *saved_chat(void)
{
    vt_term *t = parley_start(24, 80, NULL);
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    cr_assert(vt_wait_text(t, "Paris", 15000), "the first answer (Paris) did not appear");
    cr_assert(parley_wait_status(t, "tok/s", 10000), "the first answer did not finish");
    vt_send(t, VT_KEY_CTRL('d'));
    cr_assert(vt_wait_exit(t, 10000, NULL), "Ctrl-D did not quit");
    return parley_stop_keep(t);
}

/* parley resuming home's chat with a FIFO as its model: the load hangs in open(). */
static vt_term *start_stuck_load(const char *home, char *fifo, size_t len)
{
    snprintf(fifo, len, "%s/slow.gguf", home);
    cr_assert(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    vt_term *t = parley_start(24, 100, &(parley_opts){.home = home, .args = {"-m", fifo, "--continue", NULL}});
    parley_wait_ui(t);
    assert_screen(t, parley_wait_status(t, "loading", 3000), "the status line does not say loading");
    return t;
}

/* Let the hanging load go: open the FIFO's other end (the worker is waiting in open), close it. */
static void release_load(vt_term *t, const char *fifo)
{
    int fd = -1;
    for (long long end = parley_ms() + 3000; fd < 0 && parley_ms() < end; vt_pump(t, 20))
        fd = open(fifo, O_WRONLY | O_NONBLOCK);
    cr_assert(fd >= 0, "the model load never opened %s", fifo);
    close(fd);
}

/* The real model loads and a question is answered; then /quit exits cleanly. */
static void answer_then_quit(vt_term *t)
{
    parley_wait_ready(t);
    parley_type(t, "What is the capital of Italy?");
    assert_screen(t, vt_wait_text(t, "Rome", 15000), "no answer after the stuck load");
    assert_screen(t, parley_wait_status(t, "tok/s", 10000), "the answer did not finish");
    parley_type(t, "/quit");
    int status = -1;
    assert_screen(t, vt_wait_exit(t, 10000, &status), "/quit did not exit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
}

Test(tui_load, esc_during_load_returns_to_idle, .timeout = 60)
{
    char *home = saved_chat(), fifo[512], cmd[1200];
    vt_term *t = start_stuck_load(home, fifo, sizeof fifo);
    parley_type(t, "Hello there");
    assert_screen(t, vt_wait_text(t, ANSWERING, 3000), "the message sent during the load is not awaited");
    vt_send(t, VT_KEY_ESC);
    /* the load still hangs: only the answer that never started is stopped */
    assert_screen(t, vt_wait_text(t, IDLE, 3000), "still answering after Esc while the model loads");
    assert_screen(t, parley_wait_status(t, "loading", 500), "the load was abandoned too");
    release_load(t, fifo);
    assert_screen(t, vt_wait_text(t, "cannot load slow.gguf", 5000), "the failed load was not reported");
    snprintf(cmd, sizeof cmd, "/model %s", getenv("PARLEY_MODEL"));
    parley_type(t, cmd);
    answer_then_quit(t);
    parley_stop(t);
    free(home);
}

Test(tui_load, model_switch_during_load_returns_to_idle, .timeout = 60)
{
    char *home = saved_chat(), fifo[512], cmd[1200];
    vt_term *t = start_stuck_load(home, fifo, sizeof fifo);
    parley_type(t, "Hello there");
    assert_screen(t, vt_wait_text(t, ANSWERING, 3000), "the message sent during the load is not awaited");
    snprintf(cmd, sizeof cmd, "/model %s", getenv("PARLEY_MODEL"));
    parley_type(t, cmd);   /* switch: the queued answer is dropped, the new load waits its turn */
    assert_screen(t, vt_wait_text(t, IDLE, 3000), "still answering after switching the model during a load");
    release_load(t, fifo);
    answer_then_quit(t);
    parley_stop(t);
    free(home);
}
