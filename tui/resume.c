/* resume.c — opening a saved session: transcript at once, KV cache after.
 *
 * The store's messages become the transcript immediately (an answer that was
 * cut off shows "(stopped)"), so the user can read and even type while the
 * worker brings the KV cache back: from the session's snapshot when it fits,
 * else by re-decoding the transcript in the background (the status line shows
 * a progress bar). When it is done a notice says how long it took, and which
 * way: "resumed in 12 ms (snapshot)" or "re-decoded 812 tokens in 1.9 s".
 * A message sent meanwhile simply queues behind the restore.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* "12 ms" or "1.9 s". */
static void fmt_time(double s, char *buf, size_t len)
{
    if (s < 1.0) snprintf(buf, len, "%d ms", (int)(s * 1000 + 0.5));
    else snprintf(buf, len, "%.1f s", s);
}

/* The store's messages into the transcript. */
static void transcript_from_store(tui_app *a, const sess_msg *m, int n)
{
    transcript_truncate(&a->tr, 0);
    for (int i = 0; i < n; i++) {
        tr_kind k = strcmp(m[i].role, "user") == 0 ? TR_USER : strcmp(m[i].role, "system") == 0 ? TR_SYSTEM : TR_ASSISTANT;
        int idx = transcript_add(&a->tr, k, "");
        if (idx < 0) return;
        transcript_append(&a->tr, idx, m[i].text, m[i].len);
        a->tr.msgs[idx].db_id = m[i].id;
        a->tr.msgs[idx].incomplete = !m[i].complete;
    }
}

/* The session's settings back (sess_settings.c); say what differs (settings, model). */
static void resume_settings(tui_app *a, const sess_info *info)
{
    if (!a->resume_note[0]) tui_sess_settings_restore(a, info, true);   /* at startup: done before the load */
    if (a->resume_note[0]) tui_notice(a, TR_NOTICE, "%s", a->resume_note);
    a->resume_note[0] = 0;
    if (info->model_path[0] && a->model_path[0] && strcmp(info->model_path, a->model_path) != 0) {
        const char *was = strrchr(info->model_path, '/');   /* by the names users know ("smollm2:135m") */
        char now[256];
        tui_notice(a, TR_NOTICE, "this session ran with %s; it continues with %s (Ctrl-O to switch)",
                   info->model_name[0] ? info->model_name : was ? was + 1 : info->model_path,
                   tui_model_label(a, now, sizeof now));
    }
}

/* Stop what the old conversation was doing; keep the answer written so far. */
static void resume_leave_current(tui_app *a)
{
    tui_queue_to_box(a, "another session");   /* typed for this one: the user decides */
    if (a->generating) {
        tui_cancel(a);
        if (a->stream_id && a->store) sess_msg_flush(a->store, a->stream_id, NULL);
        a->stream_id = 0;
        a->gen_msg = -1;   /* late tokens of the old answer go nowhere */
    }
    if (a->restoring) pl_worker_cancel(a->wk);
    if (a->sid > 0 && a->snap_dirty) tui_sess_snapshot(a);
}

/* Show session sid and bring the KV cache back in the background. */
int tui_sess_resume(tui_app *a, int64_t sid)
{
    if (!a->store) { tui_notice(a, TR_ERROR, "no session store: %s", a->save_why); return -1; }
    sess_info info;
    sess_msg *msgs = NULL;
    int n = 0;
    sess_status st;
    if (sess_get_info(a->store, sid, &info, &st) < 0) { tui_notice(a, TR_ERROR, "%s", st.msg); return -1; }
    if (sess_msg_list(a->store, sid, &msgs, &n, &st) < 0) {
        tui_notice(a, TR_ERROR, "%s", st.msg);
        sess_info_clear(&info);
        return -1;
    }
    resume_leave_current(a);
    transcript_from_store(a, msgs, n);
    sess_msg_free_list(msgs, n);
    a->sid = sid;
    a->scroll = 0;
    a->edit_from = -1;
    a->have_last = false;
    a->snap_dirty = false;
    char when[32];
    sess_time_text(info.updated, when, sizeof when);
    tui_notice(a, TR_NOTICE, "session %lld \"%s\" (%d messages, %s)", (long long)sid,
               info.title[0] ? info.title : "untitled", info.n_messages, when);
    if (sess_store_read_only(a->store))   /* the notice at open went with the old transcript */
        tui_notice(a, TR_ERROR, "%s. This conversation is shown but nothing new is saved.", a->save_why);
    resume_settings(a, &info);
    sess_info_clear(&info);
    return tui_sess_restore_cache(a);
}

/* Ask the worker to make its cache hold the transcript (snapshot, else decode). */
int tui_sess_restore_cache(tui_app *a)
{
    pl_chat_msg *cm;
    int n = transcript_chat(&a->tr, a->cfg->system, &cm);
    if (n < 0) return -1;
    char **stops = NULL;
    pl_gen_params g = tui_gen_params(a, &stops);
    char *path = a->store && a->sid > 0 ? sess_store_snap_path(a->store, a->sid) : NULL;
    a->restore_id = n > 0 ? pl_worker_restore(a->wk, path, cm, n, &g) : 0;
    free(path);
    free(cm);
    free(stops);
    a->restoring = a->restore_id != 0;
    a->restore_progress = 0;
    a->dirty = true;
    return 0;
}

/* RESTORE_PROGRESS */
void tui_sess_restore_progress(tui_app *a, const pl_event *ev)
{
    if (ev->req_id == a->restore_id) a->restore_progress = ev->progress;
}

/* RESTORED: how long it took and which way; a snapshot ignored is said, not hidden. */
void tui_sess_restored(tui_app *a, const pl_event *ev)
{
    if (ev->req_id != a->restore_id) return;
    a->restoring = false;
    a->restore_id = 0;
    if (ev->state.loaded) a->es = ev->state;
    const pl_gen_stats *s = &ev->stats;
    if (s->n_dropped_turns) transcript_drop_turns(&a->tr, s->n_dropped_turns);
    if (ev->text) tui_notice(a, TR_NOTICE, "%s", ev->text);
    if (s->cancelled || !ev->state.loaded || s->n_prompt == 0) return;
    char t[32];
    fmt_time(ev->seconds, t, sizeof t);
    int decoded = s->n_prompt - s->n_reused;
    if (decoded < 0) decoded = 0;
    if (s->n_restored > 0 && decoded == 0) tui_notice(a, TR_NOTICE, "resumed in %s (snapshot, %d tokens)", t, s->n_restored);
    else if (s->n_restored > 0)
        tui_notice(a, TR_NOTICE, "resumed in %s (snapshot, %d tokens + %d decoded)", t, s->n_restored, decoded);
    else if (decoded > 0) tui_notice(a, TR_NOTICE, "re-decoded %d tokens in %s", decoded, t);
    else tui_notice(a, TR_NOTICE, "resumed in %s (the cache already held it)", t);
    if (decoded > 0) a->snap_dirty = true;   /* next time: instant */
    tui_status_msg(a, "resumed");
}

/* STATE_SAVED: a failed snapshot only costs a slower resume; say so once (not after every answer). */
void tui_sess_state_saved(tui_app *a, const pl_event *ev)
{
    if (!ev->text) { tui_sess_snap_written(a); return; }
    if (a->snap_fail_said) return;
    a->snap_fail_said = true;
    tui_notice(a, TR_NOTICE, "snapshot not written (resume will re-decode; not said again until one works): %s",
               ev->text);
}

/* The session --resume ID / --continue opens: its id, 0 for none (why says
 * so, an error if *bad), -1 when none was asked for. */
static int64_t startup_id(tui_app *a, char *why, size_t len, bool *bad)
{
    const char *r = a->cfg->resume;
    why[0] = 0;
    *bad = true;
    if (r && *r && strcmp(r, "pick") != 0) {
        char *end;
        long long id = strtoll(r, &end, 10);
        if (*end || id <= 0) snprintf(why, len, "--resume %s: not a session id (parley sessions ls lists them)", r);
        return *end || id <= 0 ? 0 : id;
    }
    if (!a->cfg->continue_last || !a->store || (r && *r)) return -1;
    sess_status st;
    int64_t id = sess_last(a->store, &st);
    if (id < 0) snprintf(why, len, "--continue: %s", st.msg);
    else if (id == 0) {
        *bad = false;
        snprintf(why, len, "--continue: no saved session yet; this is a new one");
    }
    return id < 0 ? 0 : id;
}

/* Before the model loads: the settings of the session the startup will open
 * (so the context is made with its size and K/V types). */
void tui_sess_startup_settings(tui_app *a)
{
    char why[600];
    bool bad;
    int64_t id = startup_id(a, why, sizeof why, &bad);
    sess_info info;
    if (id <= 0 || sess_get_info(a->store, id, &info, NULL) < 0) return;
    tui_sess_settings_restore(a, &info, false);
    sess_info_clear(&info);
}

/* --resume ID / --resume (pick) / --continue, after the model load is queued. */
void tui_sess_startup(tui_app *a)
{
    if (a->cfg->resume && strcmp(a->cfg->resume, "pick") == 0) { tui_sidebar_open(a); return; }
    char why[600];
    bool bad;
    int64_t id = startup_id(a, why, sizeof why, &bad);
    if (id > 0) tui_sess_resume(a, id);
    a->resume_note[0] = 0;   /* said by the resume, or it failed and said why */
    if (id > 0) return;
    if (why[0]) tui_notice(a, bad ? TR_ERROR : TR_NOTICE, "%s", why);
}
