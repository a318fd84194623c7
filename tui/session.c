/* session.c — the chat and the session store (sessions/): save as you go, resume.
 *
 * Every message is written the moment it is final: a user message when it is
 * sent, an answer token by token (the store batches the checkpoints, so kill -9
 * loses at most ~200 ms of text and the row stays "incomplete"). The session is
 * created with the first message, titled by the store from it. After each
 * answer the worker writes a KV snapshot (atomic, checksummed), so a resume
 * shows the transcript at once and the cache comes back in milliseconds; when
 * the snapshot does not fit (other model, other KV types, damaged) it is
 * reported and the transcript is re-decoded in the background.
 *
 * The store is a convenience, never a reason to stop chatting: a store that
 * cannot be opened or written (disk full, read-only, locked, corrupt) is
 * reported once, the status line says "not saved", the conversation stays on
 * screen and goes on. Messages that could not be written are written later,
 * in order, as soon as a write works again. Nothing here blocks for long: the
 * busy timeout is short, and a failing store is retried every few seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

#define BUSY_MS 250          /* a locked store costs the UI at most ~1 s per write */
#define RETRY_CKPT_MS 5000   /* while failing, try the streaming checkpoint this often */

static const char *const role_names[] = {[TR_USER] = "user", [TR_ASSISTANT] = "assistant", [TR_SYSTEM] = "system"};

static bool store_writable(const tui_app *a) { return a->store && !sess_store_read_only(a->store); }

/* Worth a write now? Not while a failing store waits for its next retry. */
static bool store_try(const tui_app *a)
{
    return store_writable(a) && (!a->save_off || tui_now() >= a->save_retry_at);
}

/* A write failed: say so once (until writes work again); chatting goes on unsaved. */
static void store_fail(tui_app *a, const char *what, const sess_status *st)
{
    bool first = !a->save_off;
    a->save_off = true;
    a->save_retry_at = tui_now() + RETRY_CKPT_MS / 1000.0;
    snprintf(a->save_why, sizeof a->save_why, "%s", st->msg);
    if (a->store) sess_store_set_checkpoint(a->store, RETRY_CKPT_MS, 1 << 20);
    if (first)
        tui_notice(a, TR_ERROR, "%s was not saved: %s. The conversation stays here and chatting goes on "
                   "without saving; parley retries as you go.", what, st->msg);
}

/* A write worked: back to normal if we were failing. */
static void store_ok(tui_app *a)
{
    if (!a->save_off || !store_writable(a)) return;
    a->save_off = false;
    a->save_why[0] = 0;
    sess_store_set_checkpoint(a->store, 200, 256);
    tui_status_msg(a, "saving again");
}

/* The fingerprint of the model in use (cached per path). */
static uint64_t model_fp(tui_app *a)
{
    if (strcmp(a->fp_path, a->model_path) != 0) {
        a->model_fp = a->model_path[0] ? sess_model_fingerprint(a->model_path, NULL) : 0;
        snprintf(a->fp_path, sizeof a->fp_path, "%s", a->model_path);
    }
    return a->model_fp;
}

/* ---- snapshots: callbacks the worker runs on its thread --------------------- */

/* The model's fingerprint, cached per path (worker thread only). */
static uint64_t snap_fp(tui_app *a, const char *path)
{
    if (strcmp(a->snap_fp_path, path) != 0) {
        a->snap_fp = sess_model_fingerprint(path, NULL);
        snprintf(a->snap_fp_path, sizeof a->snap_fp_path, "%s", path);
    }
    return a->snap_fp;
}

static int snap_save_cb(void *ud, const char *key, const pl_state_desc *d, pl_state_write_fn write, void *wctx,
                        char *msg, size_t len)
{
    sess_snap_meta m = {snap_fp(ud, d->model_path), (uint32_t)d->type_k, (uint32_t)d->type_v,
                        (uint32_t)d->n_tokens, 0};
    sess_status st;
    if (sess_snap_save(key, &m, write, wctx, &st) == 0) return 0;
    snprintf(msg, len, "%s", st.msg);
    return -1;
}

static int snap_load_cb(void *ud, const char *key, const pl_state_desc *d, pl_state_read_fn read, void *rctx,
                        char *msg, size_t len)
{
    sess_snap_meta expect = {snap_fp(ud, d->model_path), (uint32_t)d->type_k, (uint32_t)d->type_v, 0, 0};
    sess_status st;
    sess_snap_reason r = sess_snap_load(key, &expect, read, rctx, NULL, &st);
    if (r == SNAP_OK) return 0;
    if (r == SNAP_MISSING) return 1;
    snprintf(msg, len, "%s", st.msg);
    return -1;
}

/* ---- the snapshot budget (sessions/snap_budget.c) --------------------------------- */

/* Keep the snapshots within --snapshot-budget, least recently used first; true
 * if the shown session's own snapshot had to go. */
static bool snap_trim(tui_app *a)
{
    if (!store_writable(a)) return false;
    char *dir = sess_data_dir(a->cfg), *mine = a->sid > 0 ? sess_store_snap_path(a->store, a->sid) : NULL;
    bool had = mine && access(mine, F_OK) == 0;
    sess_trim r;
    sess_status st;
    if (dir && sess_snap_trim(dir, (uint64_t)a->cfg->snapshot_budget, &r, &st) < 0) tui_status_msg(a, "%s", st.msg);
    else if (dir && r.n_removed)
        tui_status_msg(a, "removed %d least recently used snapshot%s (%.0f MB) to stay within snapshot-budget",
                       r.n_removed, r.n_removed == 1 ? "" : "s", (double)r.bytes_removed / (1 << 20));
    bool lost = had && access(mine, F_OK) != 0;
    free(dir);
    free(mine);
    return lost;
}

/* A snapshot was written: trim; say once (until one is kept) if this session's own is over the budget. */
void tui_sess_snap_written(tui_app *a)
{
    if (!snap_trim(a)) { a->snap_fail_said = false; return; }
    if (a->snap_fail_said) return;
    char b[32];
    a->snap_fail_said = true;
    tui_notice(a, TR_NOTICE, "this session's snapshot does not fit in snapshot-budget %s (--snapshot-budget): "
               "resuming it will re-decode", config_get(a->cfg, config_find("snapshot-budget"), b, sizeof b));
}

/* ---- the store ------------------------------------------------------------------ */

/* Open <data dir>/sessions.db; trouble is a notice, never a reason to stop. */
void tui_sess_open(tui_app *a)
{
    pl_snapshot_io io = {a, snap_save_cb, snap_load_cb};
    pl_worker_set_snapshot_io(a->wk, &io);
    char *dir = sess_data_dir(a->cfg);
    sess_status st = {0};
    a->store = dir ? sess_store_open(dir, 0, &st) : NULL;
    free(dir);
    if (!a->store) {
        a->save_off = true;
        snprintf(a->save_why, sizeof a->save_why, "%s", dir ? st.msg : "no data directory");
        tui_notice(a, TR_ERROR, "sessions: %s. Chatting works, but this conversation will not be saved.",
                   a->save_why);
        return;
    }
    sess_store_set_busy_timeout(a->store, BUSY_MS);
    if (!sess_store_read_only(a->store) && sess_store_note(a->store))   /* moved aside, not private: said once */
        tui_notice(a, TR_ERROR, "sessions: %s", sess_store_note(a->store));
    if (sess_store_read_only(a->store)) {
        a->save_off = true;
        const char *note = sess_store_note(a->store);
        snprintf(a->save_why, sizeof a->save_why, "%s", note ? note : "the session store is read-only");
        tui_notice(a, TR_ERROR, "%s. Saved sessions can be read; this conversation will not be saved.", a->save_why);
    }
    tui_sess_startup_settings(a);   /* before the model loads */
    snap_trim(a);
}

static void sess_sync(tui_app *a);

/* The store gets the settings, system prompt and model the session runs with
 * now (resume brings the settings back; ls and the sidebar compare its
 * snapshot with them); true if they had changed. */
static bool settings_sync(tui_app *a)
{
    if (a->sid <= 0 || !store_try(a)) return false;
    sess_info info;
    sess_status st;
    if (sess_get_info(a->store, a->sid, &info, &st) < 0) return false;
    char *json = sess_settings_from_config(a->cfg);
    const char *sys = a->cfg->system ? a->cfg->system : "";
    bool knobs = json && strcmp(json, info.settings) != 0, prompt = strcmp(sys, info.system_prompt) != 0;
    bool model = a->es.loaded && a->model_path[0] && strcmp(a->model_path, info.model_path) != 0;
    bool name = a->es.loaded && a->model_path[0] && strcmp(a->model_name, info.model_name) != 0;
    int rc = knobs ? sess_set_settings(a->store, a->sid, json, &st) : 0;
    if (rc == 0 && prompt) rc = sess_set_system(a->store, a->sid, sys, &st);
    if (rc == 0 && model) rc = sess_set_model(a->store, a->sid, a->model_path, model_fp(a), &st);
    if (rc == 0 && name) rc = sess_set_model_name(a->store, a->sid, a->model_name, &st);
    if (rc < 0) store_fail(a, "the session's settings", &st);
    free(json);
    sess_info_clear(&info);
    return rc == 0 && (knobs || prompt || model);
}

/* The answer being written is kept as it stands (incomplete); a snapshot for next time. */
void tui_sess_close(tui_app *a)
{
    if (a->save_off && store_writable(a)) {   /* a last try for what could not be written */
        a->save_retry_at = 0;
        sess_sync(a);
    }
    if (a->stream_id && a->store) sess_msg_flush(a->store, a->stream_id, NULL);
    a->stream_id = 0;
    if (settings_sync(a) && a->es.loaded && a->es.n_ctx_used > 0) a->snap_dirty = true;   /* K/V types may differ now */
    if (a->sid > 0 && a->snap_dirty) tui_sess_snapshot(a);
}

void tui_sess_free(tui_app *a)
{
    snap_trim(a);   /* the worker has written its last snapshot */
    sess_store_close(a->store);
    a->store = NULL;
    sess_info_free_list(a->sb_list, a->sb_n);
    sess_hit_free_list(a->sb_hits, a->sb_nhits);
    a->sb_list = NULL;
    a->sb_hits = NULL;
}

/* Queue a KV snapshot of the current session (the worker writes it). */
void tui_sess_snapshot(tui_app *a)
{
    if (a->sid <= 0 || !store_writable(a) || !a->es.loaded) return;   /* read-only: said once at open */
    if (a->cfg->snapshot_budget <= 0) { a->snap_dirty = false; return; }   /* --snapshot-budget 0 */
    char *path = sess_store_snap_path(a->store, a->sid);
    if (path && pl_worker_save_state(a->wk, path)) a->snap_dirty = false;
    free(path);
}

/* The session exists in the store (created with the model and settings now in use). */
static bool sess_ensure(tui_app *a)
{
    if (a->sid > 0) return true;
    if (!store_try(a)) return false;
    model_fp(a);
    char *settings = sess_settings_from_config(a->cfg);
    sess_new p = {NULL, a->model_path, a->model_fp, settings, a->cfg->system};
    sess_status st;
    int64_t id = sess_create(a->store, &p, &st);
    free(settings);
    if (id <= 0) { store_fail(a, "the session", &st); return false; }
    if (a->model_name[0]) sess_set_model_name(a->store, id, a->model_name, NULL);   /* "smollm2:135m"; a miss is
                                                                                      retried by settings_sync */
    a->sid = id;
    a->sb_stale = true;
    return true;
}

/* Write every final message not in the store yet, in order (the first time, or after a failure). */
static void sess_sync(tui_app *a)
{
    if (!store_try(a) || !sess_ensure(a)) return;
    for (int i = 0; i < a->tr.n; i++) {
        tr_msg *m = &a->tr.msgs[i];
        if (m->db_id || m->streaming || m->kind > TR_SYSTEM || (m->kind == TR_ASSISTANT && m->len == 0)) continue;
        sess_status st;
        int64_t id = sess_msg_add(a->store, a->sid, role_names[m->kind], m->text ? m->text : "", m->len, NULL, &st);
        if (id < 0) { store_fail(a, "your message", &st); return; }
        m->db_id = id;
    }
    store_ok(a);
    a->sb_stale = true;
}

/* A user message was sent. */
void tui_sess_user(tui_app *a, int idx)
{
    (void)idx;
    sess_sync(a);
}

/* A piece of the streaming answer: begin the row on the first one. */
void tui_sess_token(tui_app *a, const char *text, size_t len)
{
    if (!store_writable(a) || a->gen_msg < 0) return;
    sess_status st;
    if (!a->stream_id) {
        if (!store_try(a)) return;   /* the whole answer is written at its end instead */
        if (!sess_ensure(a)) return;
        if (a->save_off) sess_sync(a);   /* earlier messages first, in order */
        if (a->save_off) return;
        int64_t id = sess_msg_begin(a->store, a->sid, "assistant", &st);
        if (id < 0) { store_fail(a, "the answer", &st); return; }
        a->stream_id = id;
        a->tr.msgs[a->gen_msg].db_id = id;
        text = a->tr.msgs[a->gen_msg].text;   /* everything so far, also what came while we could not write */
        len = a->tr.msgs[a->gen_msg].len;
    }
    if (sess_msg_append(a->store, a->stream_id, text, len, &st) < 0) store_fail(a, "the answer", &st);
}

/* The answer ended: complete, or kept as it stands (stopped, cut); then a snapshot. */
void tui_sess_answer_end(tui_app *a, int idx, const pl_gen_stats *s)
{
    sess_status st;
    if (a->stream_id && a->store) {
        double dt = tui_now() - a->gen_started;
        sess_msg_stats ms = {s->n_gen, (int)(dt * 1000), s->gen_tps};
        bool whole = !s->cancelled && !s->context_full;
        int rc = whole ? sess_msg_finish(a->store, a->stream_id, &ms, &st) : sess_msg_flush(a->store, a->stream_id, &st);
        if (rc < 0) store_fail(a, "the answer", &st);
        else store_ok(a);
        a->stream_id = 0;
    } else if (idx >= 0 && !a->tr.msgs[idx].db_id) {
        sess_sync(a);
    }
    a->sb_stale = true;
    settings_sync(a);   /* what the snapshot below is made with */
    if (a->sid > 0 && s->n_gen > 0) { a->snap_dirty = true; tui_sess_snapshot(a); }
}

/* Messages from transcript index idx on are about to go (edit, regenerate). */
void tui_sess_truncate(tui_app *a, int idx)
{
    if (a->sid <= 0 || !store_writable(a)) return;
    int64_t first = 0;
    for (int i = idx; i < a->tr.n && !first; i++) first = a->tr.msgs[i].db_id;
    if (!first) return;
    sess_msg *list = NULL;
    int n = 0, seq = -1;
    sess_status st;
    if (sess_msg_list(a->store, a->sid, &list, &n, &st) == 0)
        for (int i = 0; i < n; i++) if (list[i].id == first) seq = list[i].seq;
    sess_msg_free_list(list, n);
    if (seq >= 0 && sess_msg_truncate(a->store, a->sid, seq, &st) < 0) store_fail(a, "the edit", &st);
    a->sb_stale = true;
}

/* /clear, `n` in the sidebar: the next message starts a new session. */
void tui_sess_new(tui_app *a)
{
    if (a->stream_id && a->store) sess_msg_flush(a->store, a->stream_id, NULL);
    a->stream_id = 0;
    a->sid = 0;
    a->restoring = false;
    a->restore_id = 0;   /* a restore still running only warms the cache now */
    a->sb_stale = true;
}

/* /save [TITLE]: make sure everything is in the store; name the session. */
int tui_sess_save(tui_app *a, const char *title)
{
    if (!store_writable(a)) {
        tui_notice(a, TR_ERROR, "cannot save: %s (/export md FILE writes a Markdown copy)",
                   a->save_why[0] ? a->save_why : "no session store");
        return -1;
    }
    sess_sync(a);
    if (a->sid <= 0) return -1;   /* store_fail said why */
    sess_status st;
    if (title && *title && sess_rename(a->store, a->sid, title, &st) < 0) { store_fail(a, "the title", &st); return -1; }
    sess_info info;
    if (sess_get_info(a->store, a->sid, &info, &st) < 0) { tui_notice(a, TR_ERROR, "%s", st.msg); return -1; }
    tui_notice(a, TR_NOTICE, "saved as session %lld \"%s\" (%d messages; /load %lld or Ctrl-B to come back)",
               (long long)a->sid, info.title[0] ? info.title : "untitled", info.n_messages, (long long)a->sid);
    sess_info_clear(&info);
    a->sb_stale = true;
    return 0;
}

/* From the poll loop: a failing store is retried on its own, between answers. */
void tui_sess_tick(tui_app *a, double now)
{
    if (a->save_off && !a->generating && store_writable(a) && now >= a->save_retry_at) sess_sync(a);
}
