/* test_worker_events.c — the worker's promise to the UI: every request ends
 * with one event carrying its id, even when it never ran. A chat turn or a
 * restore dropped by cancel while a model load is still going is answered at
 * once (DONE / RESTORED, marked cancelled), not after the load, and not
 * never. The load is held open with a FIFO as the model path: the worker
 * waits in open() until the test opens the other end. No model is needed,
 * but for the last test: a failed load keeps the model in use (PARLEY_MODEL). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../engine/engine.h"
#include "../common/fixture.h"

/* Milliseconds on a clock that never jumps. */
static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to ms for an event of kind answering id (others are dropped); true if it came. */
static bool wait_event(pl_worker *w, pl_event_kind kind, uint32_t id, int ms, pl_event *out)
{
    for (long long end = ms_now() + ms; ms_now() < end;) {
        pl_event ev;
        while (pl_worker_next_event(w, &ev)) {
            if (ev.kind == kind && ev.req_id == id) { *out = ev; return true; }
            pl_event_free(&ev);
        }
        struct pollfd p = {pl_worker_event_fd(w), POLLIN, 0};
        poll(&p, 1, 20);
    }
    return false;
}

static const pl_chat_msg chat[] = {{"user", "hello"}};

/* Sampling for a short turn (it never runs: no model). */
static pl_gen_params gen_params(void)
{
    pl_gen_params g;
    memset(&g, 0, sizeof g);
    g.sampler = pl_sampler_default_params();
    g.n_predict = 4;
    return g;
}

/* Queue a load of path with default settings; its request id. */
static uint32_t load(pl_worker *w, const char *path)
{
    pl_load_params p = {.path = path, .model = pl_model_default_params(), .ctx = pl_ctx_default_params()};
    return pl_worker_load(w, &p);
}

Test(worker_events, requests_dropped_during_a_load_are_answered_at_once, .timeout = 20)
{
    char dir[] = "/tmp/parley-wk-XXXXXX", fifo[64];
    cr_assert(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/slow.gguf", dir);
    cr_assert(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    pl_status st;
    pl_worker *w = pl_worker_new(&st);
    cr_assert(w, "%s", st.msg);
    pl_gen_params g = gen_params();
    uint32_t lid = load(w, fifo);
    uint32_t gid = pl_worker_generate(w, chat, 1, &g);
    uint32_t rid = pl_worker_restore(w, NULL, chat, 1, &g);
    cr_assert(lid && gid && rid);
    pl_worker_cancel(w);   /* the load still hangs in open() */
    pl_event ev;
    cr_assert(wait_event(w, PL_EV_DONE, gid, 2000, &ev), "no DONE for a chat turn dropped during a load");
    cr_expect(ev.stats.cancelled, "the dropped turn's DONE does not say cancelled");
    cr_expect_eq(ev.stats.n_gen, 0);
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_RESTORED, rid, 2000, &ev), "no RESTORED for a restore dropped during a load");
    cr_expect(ev.stats.cancelled);
    pl_event_free(&ev);
    int fd = -1;
    for (long long end = ms_now() + 3000; fd < 0 && ms_now() < end; usleep(10000)) fd = open(fifo, O_WRONLY | O_NONBLOCK);
    cr_assert(fd >= 0, "the load never opened the FIFO");
    close(fd);
    cr_assert(wait_event(w, PL_EV_ERROR, lid, 5000, &ev), "the failed load did not end with ERROR");
    cr_expect(ev.text && strstr(ev.text, "slow.gguf"), "the load error does not name the file: %s", ev.text);
    pl_event_free(&ev);
    pl_worker_free(w);
    unlink(fifo);
    rmdir(dir);
}

Test(worker_events, every_request_ends_with_its_event, .timeout = 20)
{
    pl_status st;
    pl_worker *w = pl_worker_new(&st);
    cr_assert(w, "%s", st.msg);
    pl_gen_params g = gen_params();
    uint32_t lid = load(w, "/nonexistent/missing.gguf");
    uint32_t gid = pl_worker_generate(w, chat, 1, &g);
    uint32_t rid = pl_worker_restore(w, "snap", chat, 1, &g);
    uint32_t sid = pl_worker_save_state(w, "snap");
    uint32_t kid = pl_worker_set_knob(w, "temp", "0.5");
    uint32_t bid = pl_worker_set_knob(w, "no-such-knob", "1");
    pl_event ev;
    cr_assert(wait_event(w, PL_EV_ERROR, lid, 3000, &ev), "a failed load did not end with ERROR");
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_DONE, gid, 3000, &ev), "a turn without a model did not end with DONE");
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_RESTORED, rid, 3000, &ev), "a restore without a model did not end with RESTORED");
    cr_expect(ev.text != NULL, "RESTORED without a model does not say why nothing was decoded");
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_STATE_SAVED, sid, 3000, &ev), "a snapshot request did not end with STATE_SAVED");
    cr_expect(ev.text != NULL, "STATE_SAVED without snapshots set up claims it saved");
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_KNOB, kid, 3000, &ev), "a knob change did not end with KNOB");
    cr_expect_str_eq(ev.text, "temp=0.5");
    pl_event_free(&ev);
    cr_assert(wait_event(w, PL_EV_NOTICE, bid, 3000, &ev), "an unknown knob was not answered");
    pl_event_free(&ev);
    pl_worker_free(w);
}

/* A load that fails (no such file, then not a GGUF) leaves the model in use:
 * the ERROR carries a loaded state, and the next turn of the same
 * conversation reuses the KV cache the first one left (nothing re-decoded). */
Test(worker_events, a_failed_load_keeps_the_model_and_its_cache, .timeout = 60)
{
    const char *model = fixt_model("PARLEY_MODEL", "model");
    pl_status st;
    pl_worker *w = pl_worker_new(&st);
    cr_assert(w, "%s", st.msg);
    pl_event ev;
    cr_assert(wait_event(w, PL_EV_LOADED, load(w, model), 30000, &ev), "the model did not load");
    pl_event_free(&ev);
    pl_gen_params g = gen_params();
    g.sampler.temp = 0;
    cr_assert(wait_event(w, PL_EV_DONE, pl_worker_generate(w, chat, 1, &g), 30000, &ev), "no first answer");
    pl_event_free(&ev);
    char bad[] = "/tmp/parley-badgguf-XXXXXX";
    int fd = mkstemp(bad);
    cr_assert(fd >= 0);
    cr_assert(write(fd, "GGUF not a model", 16) == 16);
    close(fd);
    const char *paths[] = {"/nonexistent/missing.gguf", bad};
    for (int i = 0; i < 2; i++) {
        cr_assert(wait_event(w, PL_EV_ERROR, load(w, paths[i]), 10000, &ev), "%s: no ERROR", paths[i]);
        cr_expect(ev.state.loaded, "%s: the failed load unloaded the model in use (%s)", paths[i], ev.text);
        cr_expect(ev.text && strstr(ev.text, "the model in use stays"), "%s", ev.text);
        pl_event_free(&ev);
    }
    unlink(bad);
    const pl_chat_msg again[] = {{"user", "hello"}, {"assistant", "Hello!"}, {"user", "hello"}};
    cr_assert(wait_event(w, PL_EV_DONE, pl_worker_generate(w, again, 3, &g), 30000, &ev), "no answer after the failed loads");
    cr_expect(!ev.stats.cancelled && ev.stats.n_gen > 0, "the model in use did not answer");
    cr_expect_gt(ev.stats.n_reused, 5, "the KV cache of the conversation was lost (%d tokens reused)", ev.stats.n_reused);
    pl_event_free(&ev);
    pl_worker_free(w);
}
