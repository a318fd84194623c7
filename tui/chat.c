/* chat.c — what the user can ask for, as actions on the app: send a
 * message, stop, regenerate, edit and resend, load a model, change a setting.
 * Keys (app.c), slash commands (commands.c) and overlays all call these, so
 * each behaviour exists once. Every engine request goes through the worker
 * queue; nothing here waits for the engine. The worker reuses the KV cache's
 * common prefix, so regenerate and edit-and-resend only send the new
 * conversation and it decodes just the part that changed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

double tui_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A message in the status line for a few seconds. */
void tui_status_msg(tui_app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status_msg, sizeof a->status_msg, fmt, ap);
    va_end(ap);
    a->status_until = tui_now() + 4.0;
    a->dirty = true;
}

/* A notice or error in the transcript: visible and kept, never silent. */
void tui_notice(tui_app *a, tr_kind kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    a->dirty = true;
    tr_msg *last = a->tr.n ? &a->tr.msgs[a->tr.n - 1] : NULL;
    size_t n = strlen(buf);
    if (last && last->kind == kind && last->text && strncmp(last->text, buf, n) == 0 &&
        (last->text[n] == 0 || strncmp(last->text + n, " (x", 3) == 0)) {
        int count = last->text[n] ? atoi(last->text + n + 3) + 1 : 2;   /* the same again: count it */
        char tail[32];
        snprintf(tail, sizeof tail, " (x%d)", count);
        last->len = n;
        transcript_append(&a->tr, a->tr.n - 1, tail, strlen(tail));
        return;
    }
    transcript_add(&a->tr, kind, buf);
}

/* Sampling and policy for one turn, from the current settings (config/'s
 * mapping); a random seed differs from turn to turn even within a second. */
pl_gen_params tui_gen_params(tui_app *a, char ***stops)
{
    static uint64_t counter;
    pl_gen_params g;
    config_to_gen_params(a->cfg, &g, stops);
    if (a->cfg->seed < 0) g.sampler.seed = (uint64_t)time(NULL) * 6364136223846793005ull + ++counter;
    return g;
}

/* Add an empty streaming answer and ask the worker for it. */
static int start_answer(tui_app *a)
{
    pl_chat_msg *msgs;
    int n = transcript_chat(&a->tr, a->cfg->system, &msgs);
    if (n < 0) return -1;
    char **stops = NULL;
    pl_gen_params g = tui_gen_params(a, &stops);
    a->gen_id = pl_worker_generate(a->wk, msgs, n, &g);
    free(msgs);
    free(stops);
    if (!a->gen_id) { tui_notice(a, TR_ERROR, "out of memory"); return -1; }
    a->gen_msg = transcript_add(&a->tr, TR_ASSISTANT, "");
    if (a->gen_msg < 0) return -1;
    a->tr.msgs[a->gen_msg].streaming = true;
    a->generating = true;
    a->gen_started = tui_now();
    a->scroll = 0;
    a->dirty = true;
    return 0;
}

/* Enter: send a user message (or the edited one, cutting what came after);
 * while an answer is awaited it is queued (queue.c). */
int tui_send(tui_app *a, const char *text)
{
    if (a->generating) return tui_queue_add(a, text);   /* sent when the answer ends */
    if (!a->es.loaded && !a->loading) {
        tui_notice(a, TR_ERROR, "no model is loaded - press Ctrl-O (or /model) to pick one");
        return -1;
    }
    if (a->edit_from >= 0 && a->edit_from < a->tr.n) {
        tui_sess_truncate(a, a->edit_from);
        transcript_truncate(&a->tr, a->edit_from);
    }
    a->edit_from = -1;
    int idx = transcript_add(&a->tr, TR_USER, text);
    if (idx < 0) return -1;
    tui_sess_user(a, idx);
    return start_answer(a);
}

/* Esc / Ctrl-C: stop the answer; what was written stays. */
void tui_cancel(tui_app *a)
{
    if (!a->generating) return;
    pl_worker_cancel(a->wk);
    tui_status_msg(a, "stopping...");
}

/* Ctrl-R / /regen: drop the last answer and ask again. */
int tui_regenerate(tui_app *a)
{
    if (a->generating) { tui_status_msg(a, "still answering - Esc stops it"); return -1; }
    int u = transcript_last(&a->tr, TR_USER);
    if (u < 0) { tui_status_msg(a, "nothing to regenerate yet"); return -1; }
    tui_sess_truncate(a, u + 1);
    transcript_truncate(&a->tr, u + 1);
    return start_answer(a);
}

/* /edit: put the last user message back in the editor; Enter resends it. */
void tui_edit_last(tui_app *a)
{
    if (a->n_queued) {   /* the queued one would be sent into the conversation being rewritten */
        tui_status_msg(a, "a message is queued: Up takes it back into the box, Esc drops it; then /edit");
        return;
    }
    if (a->generating) tui_cancel(a);
    int u = transcript_last(&a->tr, TR_USER);
    if (u < 0) { tui_status_msg(a, "no message to edit yet"); return; }
    input_set(&a->in, a->tr.msgs[u].text ? a->tr.msgs[u].text : "");
    a->edit_from = u;
    tui_status_msg(a, "editing: Enter resends, Esc cancels");
}

/* The name users know path by, when the catalog has one the file name
 * hides: an Ollama blob ("sha256-b179c9...") is "smollm2:135m". */
static void catalog_name(tui_app *a, const char *path, char *out, size_t len)
{
    out[0] = 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (strncmp(base, "sha256-", 7) != 0) return;
    pl_model_entry *v = NULL;
    pl_status st;
    int n = pl_catalog_scan(a->cfg->models_dir, a->cfg->model_paths, &v, &st);
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].path, path) == 0) { snprintf(out, len, "%s", v[i].display); break; }
    pl_catalog_free(v);
}

/* What the status line, resume and the session call the model: the name users know, else its file name. */
const char *tui_model_label(const tui_app *a, char *buf, size_t len)
{
    const char *p = a->model_name[0] ? a->model_name : strrchr(a->model_path, '/');
    p = a->model_name[0] ? p : p ? p + 1 : a->model_path;
    snprintf(buf, len, "%s", p);
    size_t n = strlen(buf);
    if (!a->model_name[0] && n > 5 && strcmp(buf + n - 5, ".gguf") == 0) buf[n - 5] = 0;
    return buf;
}

/* -m, /model NAME: a path, or a name as `parley models` lists it (-m smollm2:135m). */
int tui_load_model(tui_app *a, const char *name)
{
    pl_config *c = a->cfg;
    pl_status st;
    char *path = pl_catalog_resolve(name, c->models_dir, c->model_paths, &st);
    if (!path) { tui_notice(a, TR_ERROR, "%s", st.msg); return -1; }
    int rc = tui_load_model_as(a, path, strcmp(path, name) != 0 ? name : NULL);
    free(path);
    return rc;
}

/* Queue a model load with the current engine settings; the model in use
 * stays until the new one works (the worker swaps only on success). */
int tui_load_model_as(tui_app *a, const char *path, const char *name)
{
    pl_config *c = a->cfg;
    if (a->generating) tui_cancel(a);
    pl_load_params p;
    memset(&p, 0, sizeof p);
    p.path = path;
    config_to_model_params(c, &p.model);
    config_to_ctx_params(c, &p.ctx);
    uint32_t id = pl_worker_load(a->wk, &p);
    if (!id) { tui_notice(a, TR_ERROR, "out of memory"); return -1; }
    if (a->es.loaded) {   /* what the status line and session go back to if this load fails */
        snprintf(a->kept_path, sizeof a->kept_path, "%s", a->model_path);
        snprintf(a->kept_name, sizeof a->kept_name, "%s", a->model_name);
    }
    a->load_id = id;
    snprintf(a->model_path, sizeof a->model_path, "%s", path);
    if (name) snprintf(a->model_name, sizeof a->model_name, "%s", name);
    else catalog_name(a, path, a->model_name, sizeof a->model_name);
    a->loading = true;
    a->load_progress = -1;
    a->es.loaded = false;
    a->dirty = true;
    return 0;
}

/* /set and the knobs panel: check through the options table, then route. */
int tui_set_option(tui_app *a, const char *name, const char *value, char *err, size_t len)
{
    const pl_option *o = config_find(name);
    if (!o || !(o->scope & CFG_TUI)) {
        snprintf(err, len, "unknown setting '%s' (/set lists them)", name);
        return -1;
    }
    if (strcmp(name, "model") == 0) return tui_load_model(a, value);
    if (config_set(a->cfg, o, value, err, len) < 0) return -1;
    char v[256];
    config_get(a->cfg, o, v, sizeof v);
    const tui_knob *k = tui_knob_find(name);
    if (k && k->engine) pl_worker_set_knob(a->wk, name, v);
    tui_status_msg(a, "%s = %s (%s)", name, v, k ? tui_knob_when(k) : "this session");
    return 0;
}

/* /clear: a new conversation, a new session (the worker trims its cache on the next turn). */
void tui_clear(tui_app *a)
{
    if (a->generating) tui_cancel(a);
    tui_queue_to_box(a, "new conversation");   /* typed for the old one: the user decides */
    tui_sess_new(a);
    a->gen_msg = -1;   /* late tokens of a stopped answer go nowhere */
    transcript_truncate(&a->tr, 0);
    a->scroll = 0;
    a->edit_from = -1;
    a->have_last = false;
    a->dirty = true;
}

void tui_open(tui_app *a, const tui_view *v)
{
    a->overlay = v;
    a->dirty = true;
}

void tui_scroll(tui_app *a, int lines)
{
    a->scroll += lines;
    if (a->scroll < 0) a->scroll = 0;
    a->dirty = true;
}
