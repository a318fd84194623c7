/* turn.c — one chat turn, written once for every front end (see turn.h).
 *
 * The prompt: messages rendered with the template (or raw text) and
 * tokenized; if it does not fit with the reserve, whole turns after the
 * system prompt are left out, oldest first, when the policy allows. The
 * sequence keeps the longest common prefix of its cached tokens and the
 * prompt; only the rest is decoded (the last prompt token always is, for
 * its logits). Generation: sample, stop at an end-of-generation token, a
 * stop string, n_predict, cancel, or a full context (after shifting out half
 * of what follows the system prompt, when the policy allows). Text goes
 * through the stopper (engine/stop.c: no stop string nor a piece of one is
 * released) and then out in complete UTF-8 characters; what an unfinished
 * character leaves at the end comes with END for the caller to drop or show.
 */
#include <stdlib.h>
#include <string.h>

#include "turn.h"

struct pl_turn {
    const pl_model       *m;
    pl_ctx               *c;
    int                   seq;
    const pl_turn_params *p;
    pl_gen_params         gen;         /* live: pl_turn_update changes it */
    pl_sampler           *smp;
    pl_stopper           *stopper;
    int32_t              *toks;        /* the prompt */
    int                   n_toks;
    int                   first;       /* messages before it are kept (the system prompt) */
    char                 *out;         /* released by the stopper, not yet complete UTF-8 */
    size_t                n_out, cap_out;
    size_t                stop_bytes;  /* the stop strings' lengths, summed */
    pl_turn_stats         stats;
};

/* Hand an event to the caller's sink, if any. */
static void turn_emit(pl_turn *t, pl_turn_event ev)
{
    ev.stats = &t->stats;
    if (t->p->sink) t->p->sink(t->p->ud, t, &ev);
}

/* ---- prompt ---------------------------------------------------------------- */

/* Tokenize len bytes of text into a malloc'd array; -1 with st on failure. */
static int turn_tokenize(const pl_model *m, const char *text, size_t len, bool special,
                         int32_t **out, pl_status *st)
{
    int cap = (int)len + 16;
    for (int tries = 0; tries < 2; tries++) {
        int32_t *toks = malloc(sizeof(int32_t) * (size_t)cap);
        if (!toks) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), -1;
        int n = pl_tokenize(m, text, len, toks, cap, true, special);
        if (n >= 0 && n <= cap) { *out = toks; return n; }
        free(toks);
        if (n < 0) break;
        cap = n;
    }
    return pl_status_set(st, PL_ERR_FORMAT, "tokenizing the prompt failed"), -1;
}

/* Render msgs[0..first) + msgs[from..n) (malloc'd text); NULL with st. */
static char *turn_render(pl_turn *t, int from, bool gen_prompt, size_t *len, pl_status *st)
{
    const pl_turn_params *p = t->p;
    pl_chat_msg *m = malloc(sizeof *m * (size_t)(p->n_msgs + 1));
    if (!m) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), NULL;
    int n = 0;
    for (int i = 0; i < t->first; i++) m[n++] = p->msgs[i];
    for (int i = from; i < p->n_msgs; i++) m[n++] = p->msgs[i];
    const char *tmpl = t->gen.tmpl_override;
    int need = pl_chat_render(t->m, tmpl, m, n, gen_prompt, NULL, 0, st);
    char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
    if (text && pl_chat_render(t->m, tmpl, m, n, gen_prompt, text, need + 1, st) < 0) {
        free(text);
        text = NULL;
    } else if (!text && need >= 0) {
        pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    }
    free(m);
    *len = text ? (size_t)need : 0;
    return text;
}

/* The tokens of msgs[0..first) + msgs[from..n) into *toks (malloc'd); their count or -1. */
static int turn_chat_tokens(pl_turn *t, int from, bool gen_prompt, int32_t **toks, pl_status *st)
{
    size_t len;
    char *text = turn_render(t, from, gen_prompt, &len, st);
    if (!text) return -1;
    int n = turn_tokenize(t->m, text, len, true, toks, st);
    free(text);
    int32_t bos = pl_token_bos(t->m);   /* a template that writes BOS itself: keep one */
    if (n >= 2 && (*toks)[0] == bos && (*toks)[1] == bos) memmove(*toks, *toks + 1, sizeof(int32_t) * (size_t)--n);
    return n;
}

/* Build the prompt from msgs[from..] (or the raw text) into t->toks. */
static int turn_prompt(pl_turn *t, int from, pl_status *st)
{
    free(t->toks);
    t->toks = NULL;
    if (!t->p->prompt) t->n_toks = turn_chat_tokens(t, from, !t->p->prefill_only, &t->toks, st);
    else t->n_toks = turn_tokenize(t->m, t->p->prompt, strlen(t->p->prompt), false, &t->toks, st);
    return t->n_toks;
}

/* Index after the turn starting at i: the user message and the replies that follow. */
static int turn_end_of(const pl_turn_params *p, int i)
{
    i++;
    while (i < p->n_msgs && strcmp(p->msgs[i].role, "user") != 0) i++;
    return i;
}

/* Tokenize and make the prompt fit, dropping the oldest turns if allowed. */
static int turn_fit(pl_turn *t, pl_status *st)
{
    const pl_turn_params *p = t->p;
    int n_ctx = pl_ctx_n_ctx(t->c), reserve = p->n_reserve >= 0 ? p->n_reserve : n_ctx / 8;
    t->first = !p->prompt && p->n_msgs > 0 && strcmp(p->msgs[0].role, "system") == 0 ? 1 : 0;
    int from = t->first;
    for (;;) {
        if (turn_prompt(t, from, st) < 0) return -1;
        if (t->n_toks == 0 && !p->prefill_only) return pl_status_set(st, PL_ERR_ARG, "the prompt is empty"), -1;
        t->stats.n_prompt = t->n_toks;
        t->stats.n_need = t->n_toks + reserve;
        if (t->n_toks + reserve <= n_ctx) break;
        int next = p->prompt ? p->n_msgs : turn_end_of(p, from);
        if (p->prompt || !t->gen.shift_on_full || next >= p->n_msgs)
            return pl_status_set(st, PL_ERR_CONTEXT_FULL, "context full: the prompt needs %d tokens, "
                                 "the context holds %d", t->stats.n_need, n_ctx), -1;
        for (int i = from; i < next; i++) t->stats.n_dropped_turns += strcmp(p->msgs[i].role, "user") == 0;
        from = next;
    }
    if (t->stats.n_dropped_turns) turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_DROPPED, .n = t->stats.n_dropped_turns});
    turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_PROMPT, .toks = t->toks, .n = t->n_toks});
    return 0;
}

/* True once the caller asked to stop. */
static bool turn_cancelled(const pl_turn *t)
{
    return t->p->cancel && atomic_load(t->p->cancel);
}

/* Keep the cached common prefix and decode the rest in chunks. */
static int turn_prefill(pl_turn *t, pl_status *st)
{
    int have = pl_seq_len(t->c, t->seq), k = 0;
    const int32_t *old = pl_seq_tokens(t->c, t->seq);
    while (old && k < have && k < t->n_toks && old[k] == t->toks[k]) k++;
    if (k == t->n_toks && !t->p->prefill_only) k--;   /* the last prompt token is re-decoded for its logits */
    if (k < have && pl_seq_truncate(t->c, t->seq, k) < 0)
        return pl_status_set(st, PL_ERR_ARG, "cannot truncate the KV cache to %d tokens", k), -1;
    t->stats.n_reused = k;
    int batch = t->p->n_batch > 0 ? t->p->n_batch : t->n_toks;
    double t0 = pl_now_s();
    for (int i = k; i < t->n_toks; i += batch) {
        if (turn_cancelled(t)) return pl_status_set(st, PL_ERR_CANCELLED, "cancelled"), -1;
        int n = t->n_toks - i < batch ? t->n_toks - i : batch;
        turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_PREFILL, .done = i - k, .total = t->n_toks - k});
        if (pl_decode(t->c, t->seq, t->toks + i, n, st) < 0) return -1;
    }
    t->stats.prefill_s = pl_now_s() - t0;
    return 0;
}

/* ---- text out ---------------------------------------------------------------- */

/* Send the complete UTF-8 characters of the released text; keep an unfinished one. */
static void turn_send(pl_turn *t)
{
    size_t n = pl_utf8_complete_len(t->out, t->n_out);
    if (n) turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_TEXT, .text = t->out, .len = n});
    memmove(t->out, t->out + n, t->n_out - n);
    t->n_out -= n;
}

/* One token's bytes through the stopper; true when a stop string completed. */
static bool turn_text(pl_turn *t, const char *piece, int len, pl_status *st)
{
    size_t need = t->n_out + (size_t)len + t->stop_bytes + 256;   /* the stopper's bound: piece + stops */
    if (need > t->cap_out) {
        char *o = realloc(t->out, need);
        if (!o) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), true;
        t->out = o;
        t->cap_out = need;
    }
    bool stopped = false;
    int k = pl_stopper_feed(t->stopper, piece, len, t->out + t->n_out, (int)(t->cap_out - t->n_out), &stopped);
    if (k < 0) return pl_status_set(st, PL_ERR_ARG, "stop-string matching failed"), true;
    t->n_out += (size_t)k;
    turn_send(t);
    return stopped;
}

/* End of the answer: what the stopper still holds, then the complete characters. */
static void turn_text_flush(pl_turn *t)
{
    if (!t->stopper) return;
    for (;;) {
        if (t->cap_out - t->n_out < 256) {
            char *o = realloc(t->out, t->cap_out * 2 + 256);
            if (!o) return;
            t->out = o;
            t->cap_out = t->cap_out * 2 + 256;
        }
        int k = pl_stopper_flush(t->stopper, t->out + t->n_out, (int)(t->cap_out - t->n_out));
        if (k <= 0) break;
        t->n_out += (size_t)k;
    }
    turn_send(t);
}

/* ---- generation ---------------------------------------------------------------- */

/* A fresh sampler with the last penalty_last_n tokens of toks as history. */
static pl_sampler *turn_sampler(const pl_sampler_params *sp, const int32_t *toks, int n)
{
    pl_sampler *s = pl_sampler_new(sp);
    int last = sp->penalty_last_n;
    for (int i = n > last ? n - last : 0; s && toks && i < n; i++) pl_sampler_accept(s, toks[i]);
    return s;
}

/* The cache is full mid-answer: shift out half of what follows the system prompt, or stop. */
static bool turn_shift(pl_turn *t, pl_status *st)
{
    int n = pl_seq_len(t->c, t->seq);
    if (!t->gen.shift_on_full) return false;
    int32_t *sys = NULL;
    int keep = 0, k = 0;
    if (t->first > 0) {
        pl_status ignore;
        keep = turn_chat_tokens(t, t->p->n_msgs, false, &sys, &ignore);
    }
    const int32_t *have = pl_seq_tokens(t->c, t->seq);
    while (k < keep && have && sys && have[k] == sys[k]) k++;
    free(sys);
    int discard = (n - k) / 2;
    if (discard <= 0 || pl_seq_shift(t->c, t->seq, k, discard, st) < 0) {
        pl_status_ok(st);
        return false;
    }
    t->stats.n_shifted += discard;
    turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_SHIFTED, .n = discard});
    return true;
}

/* Sample, send, decode: one token per iteration until something ends the answer. */
static int turn_generate(pl_turn *t, pl_status *st)
{
    const int n_vocab = pl_n_vocab(t->m), n_ctx = pl_ctx_n_ctx(t->c);
    char piece[256];
    double t0 = pl_now_s();
    for (;;) {
        turn_emit(t, (pl_turn_event){.kind = PL_TURN_EV_STEP});
        if (turn_cancelled(t)) { t->stats.stop = PL_TURN_STOP_CANCELLED; break; }
        if (t->gen.n_predict >= 0 && t->stats.n_gen >= t->gen.n_predict) { t->stats.stop = PL_TURN_STOP_LIMIT; break; }
        const float *logits = pl_logits(t->c, t->seq);
        if (!logits) { pl_status_set(st, PL_ERR_ARG, "no logits after decode"); break; }
        int32_t tok = pl_sampler_sample(t->smp, logits, n_vocab);
        pl_sampler_accept(t->smp, tok);
        if (pl_token_is_eog(t->m, tok)) { t->stats.stop = PL_TURN_STOP_EOG; break; }
        int len = pl_token_to_piece(t->m, tok, piece, sizeof piece, false);
        t->stats.n_gen++;
        if (len > 0 && turn_text(t, piece, len, st)) {
            if (st->code == PL_OK) t->stats.stop = PL_TURN_STOP_STRING;
            break;
        }
        if (t->gen.n_predict >= 0 && t->stats.n_gen >= t->gen.n_predict) { t->stats.stop = PL_TURN_STOP_LIMIT; break; }
        if (pl_seq_len(t->c, t->seq) >= n_ctx && !turn_shift(t, st)) { t->stats.stop = PL_TURN_STOP_CONTEXT_FULL; break; }
        if (pl_decode(t->c, t->seq, &tok, 1, st) < 0) break;
    }
    t->stats.gen_s = pl_now_s() - t0;
    if (st->code == PL_ERR_CANCELLED) { pl_status_ok(st); t->stats.stop = PL_TURN_STOP_CANCELLED; }
    return st->code == PL_OK ? 0 : -1;
}

/* Stopper and sampler for the answer (penalty history from the prompt's tail). */
static int turn_start(pl_turn *t, pl_status *st)
{
    int n_stop = 0;
    for (; t->gen.stop && t->gen.stop[n_stop]; n_stop++) t->stop_bytes += strlen(t->gen.stop[n_stop]);
    t->stopper = pl_stopper_new(t->gen.stop, n_stop);
    t->smp = t->stopper ? turn_sampler(&t->gen.sampler, t->toks, t->n_toks) : NULL;
    if (!t->smp) return pl_status_set(st, PL_ERR_NOMEM, "cannot create the sampler"), -1;
    return 0;
}

/* The whole turn; END last, whatever happened. */
int pl_turn_run(const pl_model *m, pl_ctx *c, int seq, const pl_turn_params *p,
                pl_turn_stats *stats, pl_status *st)
{
    pl_turn t = {.m = m, .c = c, .seq = seq, .p = p, .gen = p->gen};
    pl_status_ok(st);
    t.stats.n_ctx = c ? pl_ctx_n_ctx(c) : 0;
    if (!m || !c || (!p->prompt && p->n_msgs > 0 && !p->msgs)) {
        pl_status_set(st, PL_ERR_ARG, "a turn needs a model, a context and a prompt or messages");
    } else if (turn_fit(&t, st) == 0 && turn_prefill(&t, st) == 0 && !p->prefill_only &&
               turn_start(&t, st) == 0) {
        turn_generate(&t, st);
        turn_text_flush(&t);
    }
    if (st->code == PL_ERR_CANCELLED) { pl_status_ok(st); t.stats.stop = PL_TURN_STOP_CANCELLED; }
    turn_emit(&t, (pl_turn_event){.kind = PL_TURN_EV_END, .text = t.out, .len = t.n_out});
    if (stats) *stats = t.stats;
    pl_sampler_free(t.smp);
    pl_stopper_free(t.stopper);
    free(t.toks);
    free(t.out);
    return st->code == PL_OK ? 0 : st->code;
}

/* New sampling settings, length and policy between two tokens. */
int pl_turn_update(pl_turn *t, const pl_gen_params *g)
{
    t->gen.n_predict = g->n_predict;
    t->gen.shift_on_full = g->shift_on_full;
    if (!t->smp || memcmp(&t->gen.sampler, &g->sampler, sizeof g->sampler) == 0) return 0;
    int n = pl_seq_len(t->c, t->seq);
    pl_sampler *s = turn_sampler(&g->sampler, pl_seq_tokens(t->c, t->seq), n);
    if (!s) return -1;
    pl_sampler_free(t->smp);
    t->smp = s;
    t->gen.sampler = g->sampler;
    return 0;
}
