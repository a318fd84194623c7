/* worker.c — the thread that owns the engine, in the shape of redis's bio.c.
 *
 * The UI must never block on the model, so one worker thread owns the model,
 * the context and the sampler. Requests arrive on a queue guarded by one mutex
 * and a condition variable; events go back on a second list under the same
 * mutex, and a self-pipe byte wakes the UI's poll() when that list stops being
 * empty. Work is done outside the lock.
 *
 * A chat turn: render the whole conversation with the chat template, tokenize,
 * keep the KV cache's common prefix with the previous turn (regenerate and
 * edit-and-resend therefore decode only what changed), prefill the rest in
 * chunks, then sample token by token. Between two tokens the worker checks the
 * cancel flag and applies queued knob changes. Token text is sent as complete
 * UTF-8 only, and text that might be the start of a stop string is held back
 * until it is known not to be one. The turn itself is in worker_gen.c, knob
 * changes in worker_knob.c.
 *
 * Context policy: a conversation that does not fit loses its oldest turns after
 * the system prompt ("shift") or is refused ("stop"), and a NOTICE says so; an
 * answer that fills the context mid-way shifts the cache or stops, with a
 * NOTICE too. Nothing is dropped silently.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "worker_impl.h"

/* ---- queues ----------------------------------------------------------- */

/* Append e to the event list (caller holds mu) and wake the UI if it was empty. */
static void ev_append_locked(pl_worker *w, wk_event *e)
{
    e->next = NULL;
    if (w->ev_tail) w->ev_tail->next = e; else w->ev_head = e;
    w->ev_tail = e;
    w->shown = e->ev.state;
    if (!w->wake_pending) {
        w->wake_pending = true;
        ssize_t r = write(w->pipe_w, "x", 1);
        (void)r;
    }
}

/* Append an event and wake the UI if the list was empty. Takes ownership of text. */
void wk_emit(pl_worker *w, const pl_event *ev)
{
    wk_event *e = calloc(1, sizeof *e);
    if (!e) { free(ev->text); return; }
    e->ev = *ev;
    pthread_mutex_lock(&w->mu);
    ev_append_locked(w, e);
    pthread_mutex_unlock(&w->mu);
}

/* The event that ends r, in the node allocated when r was queued: an answer
 * the UI waits for must not be lost to a failed malloc. Takes ownership of text. */
void wk_end(pl_worker *w, wk_req *r, const pl_event *ev)
{
    wk_event *e = r->end;
    r->end = NULL;
    if (!e) { wk_emit(w, ev); return; }
    e->ev = *ev;
    pthread_mutex_lock(&w->mu);
    ev_append_locked(w, e);
    pthread_mutex_unlock(&w->mu);
}

/* Printf-style last event of r (ERROR, NOTICE, KNOB); without memory for the text it still goes. */
void wk_endf(pl_worker *w, wk_req *r, pl_event_kind kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pl_event ev = {.kind = kind, .req_id = r->id, .state = w->state};
    ev.text = n >= 0 ? strdup(buf) : NULL;
    ev.len = ev.text ? strlen(ev.text) : 0;
    wk_end(w, r, &ev);
}

/* An event carrying a copy of text (ERROR, NOTICE, TOKEN, progress stage). */
void wk_emit_text(pl_worker *w, pl_event_kind kind, const char *text, size_t len)
{
    pl_event ev = {.kind = kind, .req_id = w->cur_id, .len = len};
    ev.text = malloc(len + 1);
    if (!ev.text) return;
    memcpy(ev.text, text, len);
    ev.text[len] = 0;
    ev.state = w->state;
    wk_emit(w, &ev);
}

/* Pop the first request (blocking when block is true); NULL if none. */
static wk_req *queue_pop(pl_worker *w, bool block)
{
    pthread_mutex_lock(&w->mu);
    while (block && !w->rq_head) pthread_cond_wait(&w->cv, &w->mu);
    wk_req *r = w->rq_head;
    if (r) {
        w->rq_head = r->next;
        if (!w->rq_head) w->rq_tail = NULL;
        if (r->kind == WK_GENERATE || r->kind == WK_RESTORE) __atomic_store_n(&w->cancel, 0, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* Take the queued knob requests out of the queue (the others stay, in order). */
wk_req *wk_take_knobs(pl_worker *w)
{
    wk_req *knobs = NULL, **kt = &knobs;
    pthread_mutex_lock(&w->mu);
    wk_req **pp = &w->rq_head;
    w->rq_tail = NULL;
    while (*pp) {
        wk_req *r = *pp;
        if (r->kind == WK_KNOB) {
            *pp = r->next;
            r->next = NULL;
            *kt = r;
            kt = &r->next;
        } else {
            w->rq_tail = r;
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return knobs;
}

/* Give a request a fresh id and queue it. */
static uint32_t queue_push(pl_worker *w, wk_req *r)
{
    pthread_mutex_lock(&w->mu);
    r->id = ++w->next_id;
    if (r->id == 0) r->id = ++w->next_id;
    uint32_t id = r->id;   /* r belongs to the worker once the lock is released */
    if (w->rq_tail) w->rq_tail->next = r; else w->rq_head = r;
    w->rq_tail = r;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return id;
}

/* Free a request and everything it copied. */
void wk_req_free(wk_req *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_msgs; i++) {
        free((char *)r->msgs[i].role);
        free((char *)r->msgs[i].content);
    }
    free(r->msgs);
    for (int i = 0; r->stop && r->stop[i]; i++) free(r->stop[i]);
    free(r->stop);
    free(r->tmpl);
    free(r->path);
    free(r->name);
    free(r->value);
    free(r->key);
    free(r->end);
    free(r);
}

/* A request of this kind with its ending event's node; NULL out of memory. */
static wk_req *req_new(wk_kind kind)
{
    wk_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->kind = kind;
    r->end = calloc(1, sizeof *r->end);
    if (!r->end) { free(r); return NULL; }
    return r;
}

/* ---- the thread ------------------------------------------------------ */

/* Serve requests until QUIT. */
static void *worker_main(void *arg)
{
    pl_worker *w = arg;
    for (;;) {
        wk_req *r = queue_pop(w, true);
        w->cur_id = r->id;
        bool quit = r->kind == WK_QUIT;
        if (r->kind == WK_LOAD) wk_do_load(w, r);
        else if (r->kind == WK_GENERATE) wk_do_generate(w, r);
        else if (r->kind == WK_KNOB) wk_apply_knob(w, r);
        else if (r->kind == WK_RESTORE) wk_do_restore(w, r);
        else if (r->kind == WK_SAVE_STATE) wk_do_save_state(w, r);
        wk_req_free(r);
        if (quit) break;
    }
    wk_unload(w);
    return NULL;
}

/* Start the thread and its wake-up pipe. */
pl_worker *pl_worker_new(pl_status *st)
{
    pl_worker *w = calloc(1, sizeof *w);
    if (!w) { pl_status_set(st, PL_ERR_NOMEM, "worker: out of memory"); return NULL; }
    int fds[2];
    if (pipe(fds) < 0) {
        pl_status_set(st, PL_ERR_IO, "worker: pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    w->pipe_r = fds[0];
    w->pipe_w = fds[1];
    w->seq = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pl_status_set(st, PL_ERR_NOMEM, "worker: cannot start the thread");
        close(fds[0]);
        close(fds[1]);
        free(w);
        return NULL;
    }
    pl_status_ok(st);
    return w;
}

static void queue_drop(pl_worker *w, unsigned kinds);

/* Cancel, drop the loads nobody will use, QUIT, join, then free the queues. */
void pl_worker_free(pl_worker *w)
{
    if (!w) return;
    pl_worker_cancel(w);
    queue_drop(w, 1u << WK_LOAD | 1u << WK_GENERATE | 1u << WK_RESTORE);   /* the queued snapshot still runs */
    wk_req *q = calloc(1, sizeof *q);   /* QUIT needs no answer */
    if (q) {
        q->kind = WK_QUIT;
        queue_push(w, q);
        pthread_join(w->thread, NULL);
    }
    for (wk_req *r = w->rq_head, *n; r; r = n) { n = r->next; wk_req_free(r); }
    pl_event ev;
    while (pl_worker_next_event(w, &ev)) pl_event_free(&ev);
    free(w->model_path);
    close(w->pipe_r);
    close(w->pipe_w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int pl_worker_event_fd(const pl_worker *w) { return w->pipe_r; }

/* Queue a model load; the path is copied. */
uint32_t pl_worker_load(pl_worker *w, const pl_load_params *p)
{
    wk_req *r = req_new(WK_LOAD);
    if (!r) return 0;
    r->load = *p;
    r->path = strdup(p->path ? p->path : "");
    if (!r->path) { wk_req_free(r); return 0; }
    r->load.path = r->path;
    return queue_push(w, r);
}

/* strdup that tolerates NULL; sets *fail on out of memory. */
static char *dup_or_null(const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = true;
    return d;
}

/* A GENERATE-shaped request: the messages, stop strings and template name are copied. */
static wk_req *req_conversation(const pl_chat_msg *msgs, int n, const pl_gen_params *p)
{
    wk_req *r = req_new(WK_GENERATE);
    if (!r) return NULL;
    bool fail = false;
    r->gen = *p;
    r->msgs = calloc((size_t)(n > 0 ? n : 1), sizeof *r->msgs);
    fail = !r->msgs;
    for (int i = 0; !fail && i < n; i++, r->n_msgs++) {
        r->msgs[i].role = dup_or_null(msgs[i].role ? msgs[i].role : "user", &fail);
        r->msgs[i].content = dup_or_null(msgs[i].content ? msgs[i].content : "", &fail);
    }
    int ns = 0;
    while (p->stop && p->stop[ns]) ns++;
    r->stop = calloc((size_t)ns + 1, sizeof *r->stop);
    fail |= !r->stop;
    for (int i = 0; !fail && i < ns; i++) r->stop[i] = dup_or_null(p->stop[i], &fail);
    r->tmpl = dup_or_null(p->tmpl_override && *p->tmpl_override ? p->tmpl_override : NULL, &fail);
    r->gen.stop = NULL;
    r->gen.tmpl_override = r->tmpl;
    if (fail) { wk_req_free(r); return NULL; }
    return r;
}

/* Queue a chat turn. */
uint32_t pl_worker_generate(pl_worker *w, const pl_chat_msg *msgs, int n, const pl_gen_params *p)
{
    wk_req *r = req_conversation(msgs, n, p);
    return r ? queue_push(w, r) : 0;
}

/* Queue a restore of msgs (snapshot under key first, then decode the rest). */
uint32_t pl_worker_restore(pl_worker *w, const char *key, const pl_chat_msg *msgs, int n, const pl_gen_params *p)
{
    wk_req *r = req_conversation(msgs, n, p);
    if (!r) return 0;
    r->kind = WK_RESTORE;
    bool fail = false;
    r->key = dup_or_null(key, &fail);
    if (fail) { wk_req_free(r); return 0; }
    return queue_push(w, r);
}

/* Queue a snapshot of the conversation's sequence. */
uint32_t pl_worker_save_state(pl_worker *w, const char *key)
{
    wk_req *r = req_new(WK_SAVE_STATE);
    if (!r) return 0;
    bool fail = false;
    r->key = dup_or_null(key ? key : "", &fail);
    if (fail) { wk_req_free(r); return 0; }
    return queue_push(w, r);
}

/* The snapshot callbacks (before the first request that needs them). */
void pl_worker_set_snapshot_io(pl_worker *w, const pl_snapshot_io *io)
{
    pthread_mutex_lock(&w->mu);
    w->io = io ? *io : (pl_snapshot_io){0};
    pthread_mutex_unlock(&w->mu);
}

/* Queue a knob change; applied between two tokens if an answer is streaming. */
uint32_t pl_worker_set_knob(pl_worker *w, const char *name, const char *value)
{
    wk_req *r = req_new(WK_KNOB);
    if (!r) return 0;
    bool fail = false;
    r->name = dup_or_null(name ? name : "", &fail);
    r->value = dup_or_null(value ? value : "", &fail);
    if (fail) { wk_req_free(r); return 0; }
    return queue_push(w, r);
}

/* The answer of a request dropped before it ran (UI thread, mu held): what
 * the UI waits for, marked cancelled, with the state the last event carried. */
static void drop_answer_locked(pl_worker *w, wk_req *r)
{
    wk_event *e = r->end;
    r->end = NULL;
    if (!e) return;
    static const pl_event_kind answer[] = {[WK_LOAD] = PL_EV_ERROR, [WK_GENERATE] = PL_EV_DONE,
                                           [WK_RESTORE] = PL_EV_RESTORED};   /* the only kinds ever dropped */
    e->ev = (pl_event){.kind = answer[r->kind], .req_id = r->id, .state = w->shown};
    e->ev.stats.cancelled = true;
    if (r->kind == WK_LOAD) {
        e->ev.text = strdup("model load cancelled: parley is quitting");
        e->ev.len = e->ev.text ? strlen(e->ev.text) : 0;
    }
    ev_append_locked(w, e);
}

/* Take the queued requests whose kind is in the kinds mask (1 << wk_kind) out of
 * the queue; each is still answered (DONE, RESTORED, ERROR) so no one waits forever. */
static void queue_drop(pl_worker *w, unsigned kinds)
{
    pthread_mutex_lock(&w->mu);
    wk_req **pp = &w->rq_head, *dropped = NULL;
    w->rq_tail = NULL;
    while (*pp) {
        wk_req *r = *pp;
        if (kinds & 1u << r->kind) {
            *pp = r->next;
            drop_answer_locked(w, r);
            r->next = dropped;
            dropped = r;
        } else {
            w->rq_tail = r;
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&w->mu);
    for (wk_req *n; dropped; dropped = n) { n = dropped->next; wk_req_free(dropped); }
}

/* Set the flag and drop the GENERATE and RESTORE requests that have not started. */
void pl_worker_cancel(pl_worker *w)
{
    queue_drop(w, 1u << WK_GENERATE | 1u << WK_RESTORE);
    __atomic_store_n(&w->cancel, 1, __ATOMIC_SEQ_CST);
}

/* Pop one event; when none are left, drain the wake-up pipe. */
bool pl_worker_next_event(pl_worker *w, pl_event *ev)
{
    pthread_mutex_lock(&w->mu);
    wk_event *e = w->ev_head;
    if (e) {
        w->ev_head = e->next;
        if (!w->ev_head) w->ev_tail = NULL;
    } else if (w->wake_pending) {
        char buf[64];
        while (read(w->pipe_r, buf, sizeof buf) > 0) {}
        w->wake_pending = false;
    }
    pthread_mutex_unlock(&w->mu);
    if (!e) return false;
    *ev = e->ev;
    free(e);
    return true;
}

void pl_event_free(pl_event *ev)
{
    free(ev->text);
    ev->text = NULL;
}
