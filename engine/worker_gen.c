/* worker_gen.c — a chat turn and a session restore on the worker thread.
 *
 * The turn itself (render, tokenize, fit, prefix reuse, prefill, sampling,
 * stop strings, UTF-8) is engine/turn.c's; this file turns its sink into the
 * worker's events: TOKEN for text (with the live context use), NOTICE for
 * turns dropped or tokens shifted out and for a full context, knob requests
 * applied at each STEP between two tokens, RESTORE_PROGRESS while a restore
 * prefills. DONE (or RESTORED) always ends the request, whatever happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_impl.h"

/* What the sink needs besides the worker. */
typedef struct wk_turn {
    pl_worker *w;
    bool       restore;   /* RESTORE: progress events */
} wk_turn;

/* Apply knob requests queued while the answer streams; the turn takes the new settings. */
static void knobs_between_tokens(pl_worker *w, pl_turn *t)
{
    wk_req *k = wk_take_knobs(w);
    if (!k) return;
    for (wk_req *n; k; k = n) {
        n = k->next;
        wk_apply_knob(w, k);
        wk_req_free(k);
    }
    if (pl_turn_update(t, &w->gp) < 0) wk_emitf(w, PL_EV_NOTICE, "out of memory: the sampler keeps its old settings");
}

/* The turn's events as the worker's. */
static void turn_sink(void *ud, pl_turn *t, const pl_turn_event *ev)
{
    wk_turn *g = ud;
    pl_worker *w = g->w;
    switch (ev->kind) {
    case PL_TURN_EV_DROPPED:
        wk_emitf(w, PL_EV_NOTICE, "context full: dropped %d oldest turn%s (system prompt kept)", ev->n, ev->n == 1 ? "" : "s");
        break;
    case PL_TURN_EV_PREFILL:
        if (g->restore) {   /* a moving progress bar */
            pl_event e = {.kind = PL_EV_RESTORE_PROGRESS, .req_id = w->cur_id,
                          .progress = (float)ev->done / (float)ev->total, .state = w->state};
            wk_emit(w, &e);
        }
        break;
    case PL_TURN_EV_STEP:
        knobs_between_tokens(w, t);
        break;
    case PL_TURN_EV_TEXT:
        w->state.n_ctx_used = pl_seq_len(w->ctx, w->seq) + 1;
        wk_emit_text(w, PL_EV_TOKEN, ev->text, ev->len);
        break;
    case PL_TURN_EV_SHIFTED:
        wk_emitf(w, PL_EV_NOTICE, "context full: dropped %d tokens of the oldest turns to keep answering "
                 "(system prompt kept)", ev->n);
        break;
    default:   /* PROMPT; END: a cut character at the end is dropped */
        break;
    }
}

/* Run r's conversation through the turn; st says what failed, in the chat's words. */
static void run_turn(pl_worker *w, wk_req *r, wk_turn *g, pl_turn_stats *ts, pl_status *st)
{
    w->gp = r->gen;   /* the live settings knobs change */
    pl_turn_params tp = {.msgs = r->msgs, .n_msgs = r->n_msgs, .gen = r->gen, .prefill_only = g->restore,
                         .n_reserve = -1, .cancel = &w->cancel, .sink = turn_sink, .ud = g};
    tp.gen.stop = (const char *const *)r->stop;
    tp.gen.tmpl_override = r->tmpl;
    tp.n_batch = w->lp.ctx.n_batch > 0 ? w->lp.ctx.n_batch : 512;
    if (g->restore && tp.n_batch > 128) tp.n_batch = 128;   /* a moving progress bar, a prompt cancel */
    if (pl_turn_run(w->model, w->ctx, w->seq, &tp, ts, st) != PL_ERR_CONTEXT_FULL) return;
    if (!r->gen.shift_on_full)
        pl_status_set(st, PL_ERR_CONTEXT_FULL, "context full: the conversation needs %d tokens, the context holds %d "
                      "(/clear, or /set context-policy shift)", ts->n_need, ts->n_ctx);
    else
        pl_status_set(st, PL_ERR_CONTEXT_FULL, "context full: the last message alone needs %d tokens, the context "
                      "holds %d (raise ctx-size and reload)", ts->n_need, ts->n_ctx);
}

/* The worker's stats from the turn's. */
static pl_gen_stats gen_stats(const pl_turn_stats *ts)
{
    pl_gen_stats s = {.n_prompt = ts->n_prompt, .n_reused = ts->n_reused, .n_gen = ts->n_gen,
                      .n_dropped_turns = ts->n_dropped_turns,
                      .cancelled = ts->stop == PL_TURN_STOP_CANCELLED,
                      .context_full = ts->stop == PL_TURN_STOP_CONTEXT_FULL,
                      .hit_limit = ts->stop == PL_TURN_STOP_LIMIT};
    s.prefill_tps = ts->prefill_s > 0 ? (ts->n_prompt - ts->n_reused) / ts->prefill_s : 0;
    s.gen_tps = ts->gen_s > 0 ? ts->n_gen / ts->gen_s : 0;
    return s;
}

/* GENERATE: one chat turn; always ends with DONE. */
void wk_do_generate(pl_worker *w, wk_req *r)
{
    wk_turn g = {.w = w};
    pl_turn_stats ts = {0};
    pl_status st;
    pl_status_ok(&st);
    if (!w->ctx) pl_status_set(&st, PL_ERR_ARG, "no model is loaded (Ctrl-O or /model to pick one)");
    else run_turn(w, r, &g, &ts, &st);
    if (ts.stop == PL_TURN_STOP_CONTEXT_FULL) {
        int n = pl_seq_len(w->ctx, w->seq);
        if (!w->gp.shift_on_full)
            wk_emitf(w, PL_EV_NOTICE, "context full (%d tokens): answer stopped (/clear, or /set context-policy shift)", n);
        else
            wk_emitf(w, PL_EV_NOTICE, "context full (%d tokens) and it cannot be shifted: answer stopped", n);
    }
    if (st.code != PL_OK) wk_emitf(w, PL_EV_ERROR, "%s", st.msg);
    wk_state_refresh(w);
    pl_event ev = {.kind = PL_EV_DONE, .req_id = r->id, .stats = gen_stats(&ts), .state = w->state};
    ev.stats.n_ctx_used = w->state.n_ctx_used;
    ev.stats.n_ctx = w->state.n_ctx;
    wk_end(w, r, &ev);
}

/* RESTORE: the snapshot first, then decode what it lacks; always ends with RESTORED. */
void wk_do_restore(pl_worker *w, wk_req *r)
{
    double t0 = pl_now_s();
    wk_turn g = {.w = w, .restore = true};
    pl_turn_stats ts = {0};
    pl_status st;
    pl_status_ok(&st);
    char why[512] = "";
    int n_restored = 0;
    if (!w->ctx) {
        snprintf(why, sizeof why, "no model is loaded: the transcript is shown, nothing was decoded");
    } else {
        n_restored = wk_state_try_load(w, r, why, sizeof why);
        run_turn(w, r, &g, &ts, &st);
        if (st.code != PL_OK) snprintf(why, sizeof why, "%s", st.msg);
    }
    wk_state_refresh(w);
    pl_event ev = {.kind = PL_EV_RESTORED, .req_id = r->id, .stats = gen_stats(&ts), .state = w->state,
                   .seconds = pl_now_s() - t0};
    ev.stats.n_restored = n_restored;
    ev.stats.n_ctx_used = w->state.n_ctx_used;
    ev.stats.n_ctx = w->state.n_ctx;
    if (why[0]) { ev.text = strdup(why); ev.len = ev.text ? strlen(ev.text) : 0; }
    wk_end(w, r, &ev);
}
