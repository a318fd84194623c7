/* worker_impl.h — what worker.c (queues, thread), worker_gen.c (a chat turn through engine/turn.c)
 * and worker_knob.c (load, knobs) share. Engine-internal. */
#ifndef PL_WORKER_IMPL_H
#define PL_WORKER_IMPL_H

#include <pthread.h>

#include "engine.h"

typedef enum wk_kind { WK_LOAD, WK_GENERATE, WK_KNOB, WK_QUIT, WK_SAVE_STATE, WK_RESTORE } wk_kind;

typedef struct wk_event wk_event;

typedef struct wk_req {
    struct wk_req *next;
    wk_event      *end;         /* the node of the event that ends it (DONE, RESTORED,
                                   STATE_SAVED, LOADED/ERROR, KNOB...), allocated when it
                                   was queued, so it is answered even out of memory or dropped */
    wk_kind        kind;
    uint32_t       id;
    pl_load_params load;        /* LOAD; load.path == path */
    char          *path;
    pl_chat_msg   *msgs;        /* GENERATE; each role/content malloc'd */
    int            n_msgs;
    pl_gen_params  gen;         /* gen.stop unused: see stop */
    char         **stop;        /* NULL-terminated */
    char          *tmpl;
    char          *name, *value;/* KNOB */
    char          *key;         /* SAVE_STATE, RESTORE: the snapshot's name */
} wk_req;

struct wk_event {
    struct wk_event *next;
    pl_event         ev;
};

struct pl_worker {
    pthread_t       thread;
    pthread_mutex_t mu;          /* guards both lists, next_id and wake_pending */
    pthread_cond_t  cv;
    wk_req         *rq_head, *rq_tail;
    wk_event       *ev_head, *ev_tail;
    int             pipe_r, pipe_w;
    bool            wake_pending;
    pl_engine_state shown;       /* the state the last event carried (a dropped request's answer) */
    uint32_t        next_id;
    atomic_int      cancel;      /* set by the UI, read between tokens */
    struct wk_req  *quit;        /* the QUIT pl_worker_free sends, allocated up front */
    /* worker thread only */
    uint32_t        cur_id;
    pl_model       *model;
    pl_ctx         *ctx;
    int             seq;
    pl_load_params  lp;          /* as loaded; lp.path == model_path */
    char           *model_path;
    pl_engine_state state;
    pl_gen_params   gp;          /* of the turn being generated: knobs change it, the turn takes it */
    pl_snapshot_io  io;          /* set before the first request */
};

void     wk_emit(pl_worker *w, const pl_event *ev);
void     wk_emit_text(pl_worker *w, pl_event_kind kind, const char *text, size_t len);
void     wk_emitf(pl_worker *w, pl_event_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The last event of request r (every request ends with exactly one): never lost. */
void     wk_end(pl_worker *w, wk_req *r, const pl_event *ev);
void     wk_endf(pl_worker *w, wk_req *r, pl_event_kind kind, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
wk_req  *wk_take_knobs(pl_worker *w);
void     wk_req_free(wk_req *r);

void     wk_do_load(pl_worker *w, wk_req *r);
void     wk_unload(pl_worker *w);
void     wk_apply_knob(pl_worker *w, wk_req *r);
void     wk_do_generate(pl_worker *w, wk_req *r);
void     wk_state_refresh(pl_worker *w);
void     wk_do_restore(pl_worker *w, wk_req *r);     /* worker_gen.c */
void     wk_do_save_state(pl_worker *w, wk_req *r);  /* worker_state.c */
/* Load r->key's snapshot into the conversation's sequence: tokens restored,
 * or 0 (none, or rejected: why says so; the sequence is then empty). */
int      wk_state_try_load(pl_worker *w, wk_req *r, char *why, size_t len);

#endif
