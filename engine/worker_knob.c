/* worker_knob.c — model loading and knob changes on the worker thread.
 *
 * Knobs are a table: name -> handler. A handler says honestly what happened:
 * applied live, stored for the next load, or not supported by the engine yet
 * (a NOTICE then says so). The engine has no progress hook in pl_model_load,
 * so loading reports stages: an indeterminate step (progress < 0) while the
 * model is read, then the context, then LOADED.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker_impl.h"

/* Printf-style NOTICE/ERROR. */
void wk_emitf(pl_worker *w, pl_event_kind kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    wk_emit_text(w, kind, buf, strlen(buf));
}

/* A LOAD_PROGRESS event (p < 0: unknown) naming the stage. */
static void emit_progress(pl_worker *w, float p, const char *stage)
{
    pl_event ev = {.kind = PL_EV_LOAD_PROGRESS, .req_id = w->cur_id, .progress = p};
    ev.text = strdup(stage);
    ev.len = ev.text ? strlen(ev.text) : 0;
    ev.state = w->state;
    wk_emit(w, &ev);
}

/* Re-read what the status line shows from the live context. */
void wk_state_refresh(pl_worker *w)
{
    pl_engine_state *s = &w->state;
    s->loaded = w->ctx != NULL;
    if (w->model) pl_model_get_info(w->model, &s->info);
    s->n_ctx = w->ctx ? pl_ctx_n_ctx(w->ctx) : 0;
    s->n_ctx_used = w->ctx && w->seq >= 0 ? pl_seq_len(w->ctx, w->seq) : 0;
    s->n_threads = w->lp.ctx.n_threads > 0 ? w->lp.ctx.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    s->n_gpu_layers = w->lp.model.n_gpu_layers;
    s->type_k = w->lp.ctx.type_k;
    s->type_v = w->lp.ctx.type_v;
}

/* Free context and model (worker thread, or at exit). */
void wk_unload(pl_worker *w)
{
    if (w->ctx) pl_ctx_free(w->ctx);
    if (w->model) pl_model_free(w->model);
    w->ctx = NULL;
    w->model = NULL;
    w->seq = -1;
    w->state.loaded = false;
}

/* LOAD: the new model and its context are built beside the old ones, which
 * go only once the new pair works: a bad path or file (ERROR) leaves the
 * working model, its context and its KV cache (the conversation) as they
 * were. For that moment both models are in memory. */
void wk_do_load(pl_worker *w, wk_req *r)
{
    pl_status st;
    const char *base = strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path;
    char stage[300];
    snprintf(stage, sizeof stage, "loading %s", base);
    emit_progress(w, -1.0f, stage);
    pl_load_params lp = r->load;
    pl_model *model = pl_model_load(r->path, &lp.model, &st);
    if (!model) {
        wk_endf(w, r, PL_EV_ERROR, "cannot load %s: %s%s", base, st.msg, w->ctx ? "; the model in use stays" : "");
        return;
    }
    emit_progress(w, 0.8f, "creating the context");
    pl_ctx *ctx = pl_ctx_new(model, &lp.ctx, &st);
    int seq = ctx ? pl_seq_new(ctx, &st) : -1;
    if (!ctx || seq < 0) {
        if (ctx) pl_ctx_free(ctx);
        pl_model_free(model);
        wk_endf(w, r, PL_EV_ERROR, "cannot create a context for %s: %s%s", base, st.msg,
                w->ctx ? "; the model in use stays" : "");
        return;
    }
    wk_unload(w);
    w->model = model;
    w->ctx = ctx;
    w->seq = seq;
    free(w->model_path);
    w->model_path = r->path;   /* take it over */
    r->path = NULL;
    w->lp = lp;
    w->lp.path = w->model_path;
    pl_ctx_set_abort(w->ctx, &w->cancel);
    emit_progress(w, 1.0f, "ready");
    wk_state_refresh(w);
    pl_event ev = {.kind = PL_EV_LOADED, .req_id = r->id, .state = w->state};
    if (w->state.info.warning[0]) wk_emitf(w, PL_EV_NOTICE, "%s", w->state.info.warning);   /* before the end of the load */
    wk_end(w, r, &ev);
}

/* ---- knob handlers: return 0 and fill msg (a NOTICE) if not applied live */

/* threads: live through the context. */
static int knob_threads(pl_worker *w, const char *v, char *msg, size_t len)
{
    int n = atoi(v);
    w->lp.ctx.n_threads = n;
    if (w->ctx && pl_ctx_set_threads(w->ctx, n) < 0)
        snprintf(msg, len, "threads = %s: the engine refused it; applies on next load", v);
    return 0;
}

#define SAMPLER_KNOB(fname, field, conv) \
    static int fname(pl_worker *w, const char *v, char *msg, size_t len) \
    { w->gp.sampler.field = conv; return 0; }   /* the turn rebuilds its sampler (pl_turn_update) */
SAMPLER_KNOB(knob_temp, temp, (float)atof(v))
SAMPLER_KNOB(knob_top_k, top_k, atoi(v))
SAMPLER_KNOB(knob_top_p, top_p, (float)atof(v))
SAMPLER_KNOB(knob_min_p, min_p, (float)atof(v))
SAMPLER_KNOB(knob_repeat, repeat_penalty, (float)atof(v))
SAMPLER_KNOB(knob_repeat_n, penalty_last_n, atoi(v))
SAMPLER_KNOB(knob_freq, freq_penalty, (float)atof(v))
SAMPLER_KNOB(knob_presence, presence_penalty, (float)atof(v))
SAMPLER_KNOB(knob_seed, seed, (uint64_t)strtoull(v, NULL, 10))

/* n-predict and context-policy: read by the generation loop. */
static int knob_n_predict(pl_worker *w, const char *v, char *msg, size_t len)
{
    w->gp.n_predict = atoi(v);
    return 0;
}

static int knob_policy(pl_worker *w, const char *v, char *msg, size_t len)
{
    w->gp.shift_on_full = strcmp(v, "stop") != 0;
    return 0;
}

/* Context parameters: kept for the next load. */
static int knob_next_load(pl_worker *w, const char *name, const char *v, char *msg, size_t len)
{
    if (strcmp(name, "ctx-size") == 0) w->lp.ctx.n_ctx = atoi(v);
    else if (strcmp(name, "batch-size") == 0) w->lp.ctx.n_batch = atoi(v);
    else if (strcmp(name, "n-gpu-layers") == 0) w->lp.model.n_gpu_layers = atoi(v);
    else if (strcmp(name, "mmap") == 0) w->lp.model.mmap = strcmp(v, "true") == 0;
    else {
        int t = pl_type_from_name(v);
        if (t < 0) { snprintf(msg, len, "%s: unknown type '%s'", name, v); return -1; }
        if (strcmp(name, "cache-type-k") == 0) w->lp.ctx.type_k = (pl_type)t;
        else w->lp.ctx.type_v = (pl_type)t;
    }
    snprintf(msg, len, "%s = %s: applies on next load (%s/model reloads)", name, v,
             strcmp(name, "mmap") == 0 ? "" : "live change is not in the engine yet; ");
    return 0;
}

static int knob_ctx(pl_worker *w, const char *v, char *m, size_t l) { return knob_next_load(w, "ctx-size", v, m, l); }
static int knob_batch(pl_worker *w, const char *v, char *m, size_t l) { return knob_next_load(w, "batch-size", v, m, l); }
static int knob_ngl(pl_worker *w, const char *v, char *m, size_t l) { return knob_next_load(w, "n-gpu-layers", v, m, l); }
static int knob_mmap(pl_worker *w, const char *v, char *m, size_t l) { return knob_next_load(w, "mmap", v, m, l); }
/* KV cache types: the live cache is converted in place between two tokens,
 * so the conversation keeps its context; on refusal the old types stay. */
static int knob_kv_type(pl_worker *w, bool is_k, const char *v, char *msg, size_t len)
{
    int t = pl_type_from_name(v);
    if (t < 0) { snprintf(msg, len, "cache-type-%c: unknown type '%s'", is_k ? 'k' : 'v', v); return -1; }
    pl_type k = is_k ? (pl_type)t : w->lp.ctx.type_k, vt = is_k ? w->lp.ctx.type_v : (pl_type)t;
    if (w->ctx) {
        pl_status st;
        pl_status_ok(&st);
        if (pl_ctx_set_kv_types(w->ctx, k, vt, &st) != 0) {
            snprintf(msg, len, "cache-type-%c = %s refused: %s", is_k ? 'k' : 'v', v, st.msg);
            return -1;
        }
    }
    w->lp.ctx.type_k = k;
    w->lp.ctx.type_v = vt;
    return 0;
}

static int knob_tk(pl_worker *w, const char *v, char *m, size_t l) { return knob_kv_type(w, true, v, m, l); }
static int knob_tv(pl_worker *w, const char *v, char *m, size_t l) { return knob_kv_type(w, false, v, m, l); }

/* Speculative decoding has no engine entry point yet. */
static int knob_draft(pl_worker *w, const char *v, char *msg, size_t len)
{
    snprintf(msg, len, "speculative decoding is not supported by the engine yet (setting kept)");
    return 0;
}

static const struct {
    const char *name;
    int (*apply)(pl_worker *w, const char *value, char *msg, size_t len);
} knobs[] = {
    {"threads", knob_threads},       {"temp", knob_temp},           {"top-k", knob_top_k},
    {"top-p", knob_top_p},           {"min-p", knob_min_p},         {"repeat-penalty", knob_repeat},
    {"repeat-last-n", knob_repeat_n}, {"frequency-penalty", knob_freq}, {"presence-penalty", knob_presence},
    {"seed", knob_seed},             {"n-predict", knob_n_predict}, {"context-policy", knob_policy},
    {"ctx-size", knob_ctx},          {"batch-size", knob_batch},    {"n-gpu-layers", knob_ngl},
    {"cache-type-k", knob_tk},       {"cache-type-v", knob_tv},     {"draft-model", knob_draft},
    {"draft-max", knob_draft},       {"mmap", knob_mmap},
};

/* SET_KNOB: look the name up, apply, then KNOB (and a NOTICE if not live). */
void wk_apply_knob(pl_worker *w, wk_req *r)
{
    char msg[512] = "";
    size_t i, n = sizeof knobs / sizeof knobs[0];
    for (i = 0; i < n && strcmp(knobs[i].name, r->name) != 0; i++) {}
    if (i == n) {
        wk_endf(w, r, PL_EV_NOTICE, "%s: not an engine knob (nothing to apply)", r->name);
        return;
    }
    uint32_t id = w->cur_id;
    w->cur_id = r->id;
    int rc = knobs[i].apply(w, r->value, msg, sizeof msg);
    wk_state_refresh(w);
    if (rc < 0) {
        wk_endf(w, r, PL_EV_ERROR, "%s", msg);
    } else {
        if (msg[0]) wk_emitf(w, PL_EV_NOTICE, "%s", msg);
        wk_endf(w, r, PL_EV_KNOB, "%s=%s", r->name, r->value);
    }
    w->cur_id = id;
}
