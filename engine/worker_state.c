/* worker_state.c — snapshots of the conversation's KV cache, on the worker.
 *
 * The worker owns the context, so it is the one that writes and reads the
 * state. Where the bytes go (an atomic, checksummed file under the session
 * store) is the caller's business: it registered pl_snapshot_io callbacks,
 * and we hand them pl_state_save / pl_state_load bound to our sequence.
 * A snapshot is only ever a cache: when it cannot be used, RESTORE re-decodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_impl.h"

typedef struct state_io {
    pl_worker *w;
    pl_status  st;
} state_io;

/* pl_state_write_fn over the conversation's sequence. */
static int state_write(void *vctx, FILE *f)
{
    state_io *s = vctx;
    return pl_state_save(s->w->ctx, s->w->seq, f, &s->st) == 0 ? 0 : -1;
}

/* pl_state_read_fn over the conversation's sequence. */
static int state_read(void *vctx, FILE *f, uint64_t size)
{
    state_io *s = vctx;
    return pl_state_load(s->w->ctx, s->w->seq, f, size, &s->st) == 0 ? 0 : -1;
}

/* What a snapshot of the sequence records, for the callbacks' header. */
static pl_state_desc state_desc(pl_worker *w)
{
    pl_state_desc d = {.model_path = w->model_path ? w->model_path : ""};
    pl_state_kv_types(w->ctx, &d.type_k, &d.type_v);
    d.n_tokens = pl_seq_len(w->ctx, w->seq);
    return d;
}

/* SAVE_STATE: write the snapshot; STATE_SAVED says how it went. */
void wk_do_save_state(pl_worker *w, wk_req *r)
{
    double t0 = pl_now_s();
    char msg[512] = "";
    if (!w->io.save) snprintf(msg, sizeof msg, "snapshots are not set up");
    else if (!w->ctx || w->seq < 0) snprintf(msg, sizeof msg, "no model is loaded: no snapshot written");
    else if (pl_seq_len(w->ctx, w->seq) > 0) {
        state_io s = {.w = w};
        pl_status_ok(&s.st);
        pl_state_desc d = state_desc(w);
        if (w->io.save(w->io.ud, r->key, &d, state_write, &s, msg, sizeof msg) != 0 && !msg[0])
            snprintf(msg, sizeof msg, "%s", s.st.msg[0] ? s.st.msg : "snapshot not written");
        if (msg[0] && s.st.msg[0] && !strstr(msg, s.st.msg)) {
            size_t used = strlen(msg);
            snprintf(msg + used, sizeof msg - used, " (%.*s)", (int)(sizeof msg - used > 4 ? sizeof msg - used - 4 : 0),
                     s.st.msg);
        }
    }
    pl_event ev = {.kind = PL_EV_STATE_SAVED, .req_id = r->id, .state = w->state, .seconds = pl_now_s() - t0};
    if (msg[0]) { ev.text = strdup(msg); ev.len = ev.text ? strlen(ev.text) : 0; }
    wk_end(w, r, &ev);
}

/* Load the snapshot named by r->key; tokens restored or 0 (why says why, if it matters). */
int wk_state_try_load(pl_worker *w, wk_req *r, char *why, size_t len)
{
    if (!w->io.load || !r->key || !r->key[0] || !w->ctx || w->seq < 0) return 0;
    state_io s = {.w = w};
    pl_status_ok(&s.st);
    pl_state_desc d = state_desc(w);
    char msg[512] = "";
    int rc = w->io.load(w->io.ud, r->key, &d, state_read, &s, msg, sizeof msg);
    if (rc == 0) return pl_seq_len(w->ctx, w->seq);
    if (rc < 0) {
        pl_seq_truncate(w->ctx, w->seq, 0);   /* whatever was read is not trusted */
        snprintf(why, len, "%s%s%s", msg[0] ? msg : "snapshot ignored", s.st.msg[0] ? ": " : "", s.st.msg);
    }
    return 0;
}
