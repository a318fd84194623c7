/* worker.h — the worker thread that owns a model and context for a UI, behind queues.
 */
#ifndef PL_ENGINE_WORKER_H
#define PL_ENGINE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infer.h"
#include "text.h"
#include "turn.h"   /* pl_gen_params */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- worker thread (engine/worker.c) ---------------------------------
 * The worker owns the model and context on its own thread; the UI talks to it
 * only through a request queue, an event queue and a wake-up fd that becomes
 * readable when events are waiting (poll it beside stdin). Requests are typed
 * (LOAD, GENERATE, SET_KNOB, SAVE_STATE, RESTORE, QUIT); CANCEL is an atomic flag checked between
 * tokens and prefill chunks. Knob requests are applied between two tokens,
 * so a change lands mid-answer. Every request returns its id (0: out of
 * memory); every event carries the id of the request it answers. */

typedef struct pl_worker pl_worker;

typedef struct pl_load_params {
    const char     *path;          /* copied */
    pl_model_params model;
    pl_ctx_params   ctx;
} pl_load_params;

typedef enum pl_event_kind {
    PL_EV_LOAD_PROGRESS,  /* progress 0..1, or < 0 when unknown; text = stage */
    PL_EV_LOADED,         /* state */
    PL_EV_TOKEN,          /* text/len: complete UTF-8 only (partial sequences are held back) */
    PL_EV_DONE,           /* stats */
    PL_EV_ERROR,          /* text: a message a person can act on */
    PL_EV_NOTICE,         /* text, e.g. "context full: dropped 3 oldest turns" */
    PL_EV_KNOB,           /* text "name=value" as applied; state */
    PL_EV_RESTORE_PROGRESS, /* RESTORE re-decoding: progress 0..1 */
    PL_EV_RESTORED,       /* RESTORE done: stats (n_prompt, n_reused, n_restored), seconds;
                             text = why the snapshot was not used (NULL if used or absent) */
    PL_EV_STATE_SAVED     /* SAVE_STATE done: seconds; text = the error, NULL if saved */
} pl_event_kind;

typedef struct pl_gen_stats {
    int    n_prompt;          /* tokens of the rendered conversation */
    int    n_reused;          /* of which were already in the KV cache (common prefix) */
    int    n_gen;             /* tokens generated */
    double prefill_tps, gen_tps;
    int    n_ctx_used, n_ctx;
    int    n_dropped_turns;   /* oldest turns left out to fit the context */
    bool   cancelled, context_full, hit_limit;
    int    n_restored;        /* RESTORED: tokens read from the snapshot (0: none used) */
} pl_gen_stats;

typedef struct pl_engine_state {
    bool          loaded;
    pl_model_info info;
    int           n_ctx, n_ctx_used, n_threads, n_gpu_layers;
    pl_type       type_k, type_v;
} pl_engine_state;

typedef struct pl_event {
    pl_event_kind   kind;
    uint32_t        req_id;
    float           progress;
    char           *text;     /* NUL-terminated, owned by the event */
    size_t          len;
    pl_gen_stats    stats;
    pl_engine_state state;
    double          seconds;  /* RESTORED, STATE_SAVED: how long it took */
} pl_event;

pl_worker *pl_worker_new(pl_status *st);
void       pl_worker_free(pl_worker *w);          /* cancels, QUITs, joins */
int        pl_worker_event_fd(const pl_worker *w);
uint32_t   pl_worker_load(pl_worker *w, const pl_load_params *p);
uint32_t   pl_worker_generate(pl_worker *w, const pl_chat_msg *msgs, int n, const pl_gen_params *p);
uint32_t   pl_worker_set_knob(pl_worker *w, const char *name, const char *value);
/* Stop the answer being generated (what was sent stays sent) or the RESTORE
 * being decoded, and drop queued GENERATEs and RESTOREs. A dropped request is
 * still answered at once: DONE / RESTORED with stats.cancelled set. Every
 * request but QUIT ends with exactly one event carrying its id (DONE,
 * RESTORED, STATE_SAVED, LOADED or ERROR for a load, KNOB/ERROR/NOTICE for a
 * knob), even out of memory; pl_worker_free drops queued loads (ERROR). */
void       pl_worker_cancel(pl_worker *w);
/* Snapshots: the worker owns the context, so it writes and reads the state
 * itself, on its thread, through these callbacks (the TUI wraps them around
 * sessions/' atomic, checksummed snapshot files). key: what the request named
 * (a file path). write/read are handed to the callback to produce or consume
 * the payload (they call pl_state_save / pl_state_load). */
typedef struct pl_state_desc {
    const char *model_path;
    pl_type     type_k, type_v;
    int         n_tokens;
} pl_state_desc;
typedef int (*pl_state_write_fn)(void *wctx, FILE *f);
typedef int (*pl_state_read_fn)(void *rctx, FILE *f, uint64_t size);
typedef struct pl_snapshot_io {
    void *ud;
    /* 0 saved, -1 with msg. */
    int (*save)(void *ud, const char *key, const pl_state_desc *d, pl_state_write_fn write, void *wctx,
                char *msg, size_t len);
    /* 0 restored; 1 no snapshot (re-decode quietly); -1 rejected (stale, corrupt): msg says why. */
    int (*load)(void *ud, const char *key, const pl_state_desc *d, pl_state_read_fn read, void *rctx,
                char *msg, size_t len);
} pl_snapshot_io;

/* Set once, before requests that use it; io is copied. */
void       pl_worker_set_snapshot_io(pl_worker *w, const pl_snapshot_io *io);
/* SAVE_STATE: snapshot the conversation's sequence under key (-> STATE_SAVED). */
uint32_t   pl_worker_save_state(pl_worker *w, const char *key);
/* RESTORE: make the KV cache hold msgs (rendered without a generation prompt):
 * from the snapshot under key when it loads, then decode what is missing,
 * in the background with RESTORE_PROGRESS events (-> RESTORED). Cancel stops it;
 * a later GENERATE reuses whatever was decoded. */
uint32_t   pl_worker_restore(pl_worker *w, const char *key, const pl_chat_msg *msgs, int n, const pl_gen_params *p);
/* Pop one event (false: none left; the fd is drained). Free with pl_event_free. */
bool       pl_worker_next_event(pl_worker *w, pl_event *ev);
void       pl_event_free(pl_event *ev);

#ifdef __cplusplus
}
#endif
#endif
