/* test_turn.c — the chat turn (engine/turn.h) driven directly, without the
 * TUI's worker or `parley run`: its events come in order and END comes once,
 * last; greedy text is the bytes of a hand-written decode loop; stop strings
 * are never sent; text is complete UTF-8 and a character cut by the end comes
 * with END; a second turn reuses the cached prefix; a full context drops
 * turns, shifts, or stops as the policy says; cancel and live changes land
 * between two tokens; the worker sends the same text as TOKEN events. Runs on
 * the default model (PARLEY_MODEL). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../engine/engine.h"
#include "../common/fixture.h"

/* What a turn told its sink. */
typedef struct rec {
    pl_turn_event_kind kinds[4096];
    int    n;
    char   text[32768];
    size_t n_text;
    char   tail[16];
    size_t n_tail;
    int    n_end, n_steps, n_dropped, n_shifted;
    bool   bad_utf8;         /* a TEXT event ended inside a character */
    bool   text_after_end;
    atomic_int *cancel;      /* set at step cancel_at */
    int    cancel_at;
    const pl_gen_params *update;   /* applied at the first step */
} rec;

/* The sink: record everything, act on cancel_at and update. */
static void rec_sink(void *ud, pl_turn *t, const pl_turn_event *ev)
{
    rec *r = ud;
    if (r->n < 4096) r->kinds[r->n++] = ev->kind;
    if (r->n_end) r->text_after_end = true;
    switch (ev->kind) {
    case PL_TURN_EV_TEXT:
        if (pl_utf8_complete_len(ev->text, ev->len) != ev->len) r->bad_utf8 = true;
        cr_assert_lt(r->n_text + ev->len, sizeof r->text);
        memcpy(r->text + r->n_text, ev->text, ev->len);
        r->n_text += ev->len;
        break;
    case PL_TURN_EV_END:
        cr_assert_lt(ev->len, sizeof r->tail);
        if (ev->len) memcpy(r->tail, ev->text, ev->len);
        r->n_tail = ev->len;
        r->n_end++;
        break;
    case PL_TURN_EV_STEP:
        if (r->update && r->n_steps == 0) cr_assert_eq(pl_turn_update(t, r->update), 0);
        r->n_steps++;
        if (r->cancel && r->n_steps > r->cancel_at) atomic_store(r->cancel, 1);
        break;
    case PL_TURN_EV_DROPPED: r->n_dropped += ev->n; break;
    case PL_TURN_EV_SHIFTED: r->n_shifted += ev->n; break;
    default: break;
    }
}

static pl_model *model;
static pl_ctx   *ctx;

/* The default model and a context of n_ctx positions. */
static void open_model(int n_ctx)
{
    pl_status st;
    pl_model_params mp = pl_model_default_params();
    model = pl_model_load(fixt_model("PARLEY_MODEL", "model"), &mp, &st);
    cr_assert(model, "%s", st.msg);
    ctx = fixt_ctx(model, n_ctx, 0, PL_TYPE_F16, PL_TYPE_F16);
}

static void close_model(void)
{
    pl_ctx_free(ctx);
    pl_model_free(model);
}

/* Greedy settings for n tokens, no stops, policy stop. */
static pl_turn_params greedy(rec *r, int n_predict)
{
    pl_turn_params p = {.n_reserve = 1, .sink = rec_sink, .ud = r};
    p.gen.sampler = pl_sampler_default_params();
    p.gen.sampler.temp = 0;
    p.gen.n_predict = n_predict;
    return p;
}

/* The hand-written loop: decode the raw prompt, argmax, piece bytes; returns their length. */
static size_t reference(const char *prompt, int n_predict, char *out, size_t cap)
{
    pl_status st;
    int32_t toks[512];
    int n = pl_tokenize(model, prompt, strlen(prompt), toks, 512, true, false);
    cr_assert(n > 0 && n < 512);
    int seq = pl_seq_new(ctx, &st);
    cr_assert_geq(seq, 0, "%s", st.msg);
    cr_assert_eq(pl_decode(ctx, seq, toks, n, &st), 0, "%s", st.msg);
    pl_sampler_params sp = pl_sampler_default_params();
    sp.temp = 0;
    pl_sampler *s = pl_sampler_new(&sp);
    size_t len = 0;
    for (int i = 0; i < n_predict; i++) {
        int32_t tok = pl_sampler_sample(s, pl_logits(ctx, seq), pl_n_vocab(model));
        if (pl_token_is_eog(model, tok)) break;
        char piece[256];
        int k = pl_token_to_piece(model, tok, piece, sizeof piece, false);
        if (k > 0 && len + (size_t)k < cap) { memcpy(out + len, piece, (size_t)k); len += (size_t)k; }
        cr_assert_eq(pl_decode(ctx, seq, &tok, 1, &st), 0, "%s", st.msg);
    }
    pl_sampler_free(s);
    pl_seq_free(ctx, seq);
    return len;
}

/* One turn of p on a new sequence; its stats. */
static pl_turn_stats run_new(const pl_turn_params *p, int *seq_out)
{
    pl_status st;
    int seq = pl_seq_new(ctx, &st);
    cr_assert_geq(seq, 0, "%s", st.msg);
    pl_turn_stats ts;
    cr_assert_eq(pl_turn_run(model, ctx, seq, p, &ts, &st), 0, "%s", st.msg);
    if (seq_out) *seq_out = seq;
    else pl_seq_free(ctx, seq);
    return ts;
}

Test(turn, events_in_order_and_greedy_text_is_the_reference)
{
    open_model(512);
    const char *prompt = "The capital of France is";
    char want[4096];
    size_t n_want = reference(prompt, 24, want, sizeof want);
    rec r = {0};
    pl_turn_params p = greedy(&r, 24);
    p.prompt = prompt;
    pl_turn_stats ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_LIMIT);
    cr_assert_eq(ts.n_gen, 24);
    cr_assert_gt(ts.n_prompt, 0);
    cr_assert_eq(ts.n_reused, 0);
    cr_assert_eq(r.n_text + r.n_tail, n_want);
    cr_assert(memcmp(r.text, want, r.n_text) == 0 && memcmp(r.tail, want + r.n_text, r.n_tail) == 0,
              "turn: '%.*s'\nloop: '%.*s'", (int)r.n_text, r.text, (int)n_want, want);
    /* PROMPT, PREFILL, then STEP (TEXT)* per token, END once and last */
    cr_assert_eq(r.kinds[0], PL_TURN_EV_PROMPT);
    cr_assert_eq(r.kinds[1], PL_TURN_EV_PREFILL);
    cr_assert_eq(r.kinds[2], PL_TURN_EV_STEP);
    cr_assert_eq(r.kinds[r.n - 1], PL_TURN_EV_END);
    cr_assert_eq(r.n_end, 1);
    cr_assert_not(r.text_after_end);
    cr_assert_eq(r.n_steps, 24, "one STEP before each token");
    for (int i = 2; i < r.n - 1; i++)
        cr_assert(r.kinds[i] == PL_TURN_EV_STEP || r.kinds[i] == PL_TURN_EV_TEXT, "event %d is %d", i, r.kinds[i]);
    cr_assert_not(r.bad_utf8);
    close_model();
}

Test(turn, a_stop_string_ends_the_text_and_is_never_sent)
{
    open_model(512);
    const char *prompt = "The capital of France is";
    char want[4096];
    size_t n_want = reference(prompt, 32, want, sizeof want);
    cr_assert_gt(n_want, 20);
    char stop[8];
    memcpy(stop, want + 12, 5);   /* five bytes from the middle of the greedy text */
    stop[5] = 0;
    size_t at = (size_t)(strstr(want, stop) - want);
    const char *stops[] = {"never generated", stop, NULL};
    rec r = {0};
    pl_turn_params p = greedy(&r, 32);
    p.prompt = prompt;
    p.gen.stop = stops;
    pl_turn_stats ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_STRING);
    cr_assert_eq(r.n_text + r.n_tail, at, "text '%.*s', stop '%s'", (int)r.n_text, r.text, stop);
    cr_assert(memcmp(r.text, want, r.n_text) == 0);
    cr_assert_eq(r.kinds[r.n - 1], PL_TURN_EV_END);
    close_model();
}

Test(turn, text_is_whole_characters_and_the_end_hands_over_a_cut_one)
{
    open_model(512);
    const char *prompt = "Emoji: 😀 🎉 🚀 🌍 🍕 🎸 🐱 🌈 😀 🎉 🚀 🌍 🍕 🎸 🐱 🌈";
    char want[4096];
    size_t n_want = reference(prompt, 24, want, sizeof want);
    int cut = 0;
    for (int n = 1; n <= 24; n++) {
        rec r = {0};
        pl_turn_params p = greedy(&r, n);
        p.prompt = prompt;
        run_new(&p, NULL);
        cr_assert_not(r.bad_utf8, "n_predict %d: a TEXT event ends inside a character", n);
        cr_assert_leq(r.n_text + r.n_tail, n_want);
        cr_assert(memcmp(r.text, want, r.n_text) == 0 && memcmp(r.tail, want + r.n_text, r.n_tail) == 0);
        cr_assert_eq(pl_utf8_complete_len(r.text, r.n_text), r.n_text);
        cut += r.n_tail > 0;
    }
    cr_assert_gt(cut, 0, "no answer ended inside a character: pick a prompt whose answer does ('%.*s')",
                 (int)n_want, want);
    close_model();
}

Test(turn, a_second_turn_reuses_the_cached_prefix)
{
    open_model(1024);
    pl_chat_msg msgs[4] = {{"system", "You are brief."}, {"user", "Name a colour."}};
    rec r1 = {0};
    pl_turn_params p = greedy(&r1, 12);
    p.msgs = msgs;
    p.n_msgs = 2;
    int seq;
    pl_turn_stats t1 = run_new(&p, &seq);
    cr_assert_eq(t1.n_reused, 0);
    /* the same turn again (regenerate): everything but the last prompt token is reused */
    pl_status st;
    rec r2 = {0};
    p.ud = &r2;
    pl_turn_stats t2;
    cr_assert_eq(pl_turn_run(model, ctx, seq, &p, &t2, &st), 0, "%s", st.msg);
    cr_assert_eq(t2.n_reused, t2.n_prompt - 1);
    cr_assert_gt(t2.n_gen, 0);
    /* the next turn: the whole first prompt and the answer's tokens are reused */
    char answer[4096];
    snprintf(answer, sizeof answer, "%.*s", (int)r1.n_text, r1.text);
    msgs[2] = (pl_chat_msg){"assistant", answer};
    msgs[3] = (pl_chat_msg){"user", "And another?"};
    rec r3 = {0};
    p.ud = &r3;
    p.n_msgs = 4;
    int held = pl_seq_len(ctx, seq);
    pl_turn_stats t3;
    cr_assert_eq(pl_turn_run(model, ctx, seq, &p, &t3, &st), 0, "%s", st.msg);
    cr_assert_geq(t3.n_reused, t1.n_prompt, "reused %d of %d", t3.n_reused, t3.n_prompt);
    cr_assert_leq(t3.n_reused, held);
    cr_assert_lt(t3.n_reused, t3.n_prompt);
    close_model();
}

Test(turn, a_prompt_too_long_for_the_context_is_refused_with_numbers)
{
    open_model(16);
    rec r = {0};
    pl_turn_params p = greedy(&r, 8);
    p.prompt = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
               "sixteen seventeen eighteen nineteen twenty";
    pl_status st;
    int seq = pl_seq_new(ctx, &st);
    pl_turn_stats ts;
    cr_assert_eq(pl_turn_run(model, ctx, seq, &p, &ts, &st), PL_ERR_CONTEXT_FULL);
    cr_assert_eq(ts.n_ctx, 16);
    cr_assert_gt(ts.n_need, 16);
    cr_assert(strstr(st.msg, "context"), "%s", st.msg);
    cr_assert_eq(r.kinds[r.n - 1], PL_TURN_EV_END);
    cr_assert_eq(pl_seq_len(ctx, seq), 0, "nothing was decoded");
    close_model();
}

Test(turn, a_full_context_stops_or_shifts_as_the_policy_says)
{
    open_model(32);
    rec r = {0};
    pl_turn_params p = greedy(&r, 40);
    p.prompt = "Once upon a time";
    pl_turn_stats ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_CONTEXT_FULL);
    cr_assert_eq(ts.n_prompt + ts.n_gen, 32 + 1, "the last token is sampled, not decoded");
    cr_assert_gt(r.n_text, 0);
    /* shift: half of the answer's positions go, the answer goes on to n_predict */
    rec r2 = {0};
    p.ud = &r2;
    p.gen.shift_on_full = true;
    ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_LIMIT);
    cr_assert_eq(ts.n_gen, 40);
    cr_assert_gt(r2.n_shifted, 0);
    cr_assert_eq(ts.n_shifted, r2.n_shifted);
    close_model();
}

Test(turn, the_oldest_turns_are_dropped_to_fit_and_the_system_prompt_kept)
{
    open_model(96);
    pl_chat_msg msgs[] = {
        {"system", "Be brief."},
        {"user", "Tell me about the history of the printing press in Europe, in detail please."},
        {"assistant", "Gutenberg built a press with movable type around 1440 in Mainz, and it spread fast."},
        {"user", "And the telegraph, who invented it and when did it become common?"},
        {"assistant", "Several people did; Morse's system became common in the 1840s in America."},
        {"user", "Thanks."},
    };
    rec r = {0};
    pl_turn_params p = greedy(&r, 4);
    p.msgs = msgs;
    p.n_msgs = 6;
    p.n_reserve = -1;
    p.gen.shift_on_full = true;
    pl_turn_stats ts = run_new(&p, NULL);
    cr_assert_gt(ts.n_dropped_turns, 0);
    cr_assert_eq(r.n_dropped, ts.n_dropped_turns);
    cr_assert_eq(r.kinds[0], PL_TURN_EV_DROPPED);
    cr_assert_leq(ts.n_prompt + 96 / 8, 96);
    /* policy stop: refused instead */
    pl_status st;
    int seq = pl_seq_new(ctx, &st);
    p.gen.shift_on_full = false;
    cr_assert_eq(pl_turn_run(model, ctx, seq, &p, &ts, &st), PL_ERR_CONTEXT_FULL);
    close_model();
}

Test(turn, cancel_and_live_changes_land_between_two_tokens)
{
    open_model(256);
    atomic_int cancel = 0;
    rec r = {.cancel = &cancel, .cancel_at = 3};
    pl_turn_params p = greedy(&r, 20);
    p.prompt = "Once upon a time";
    p.cancel = &cancel;
    pl_turn_stats ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_CANCELLED);
    cr_assert_eq(ts.n_gen, 3);
    /* n_predict lowered at the first step */
    pl_gen_params g = p.gen;
    g.n_predict = 5;
    g.sampler.repeat_penalty = 1.3f;   /* a sampler rebuilt mid-turn */
    rec r2 = {.update = &g};
    p.ud = &r2;
    p.cancel = NULL;
    ts = run_new(&p, NULL);
    cr_assert_eq(ts.stop, PL_TURN_STOP_LIMIT);
    cr_assert_eq(ts.n_gen, 5);
    close_model();
}

Test(turn, prefill_only_fills_the_cache_and_generates_nothing)
{
    open_model(256);
    pl_chat_msg msgs[] = {{"user", "Hello there."}, {"assistant", "Hi! How can I help?"}};
    rec r = {0};
    pl_turn_params p = greedy(&r, 8);
    p.msgs = msgs;
    p.n_msgs = 2;
    p.prefill_only = true;
    p.n_batch = 4;
    int seq;
    pl_turn_stats ts = run_new(&p, &seq);
    cr_assert_eq(ts.n_gen, 0);
    cr_assert_eq(ts.stop, PL_TURN_STOP_NONE);
    cr_assert_eq(pl_seq_len(ctx, seq), ts.n_prompt);
    int prefills = 0;
    for (int i = 0; i < r.n; i++) prefills += r.kinds[i] == PL_TURN_EV_PREFILL;
    cr_assert_eq(prefills, (ts.n_prompt + 3) / 4, "one PREFILL per chunk of n_batch");
    /* again: everything is reused, nothing decoded */
    pl_status st;
    cr_assert_eq(pl_turn_run(model, ctx, seq, &p, &ts, &st), 0, "%s", st.msg);
    cr_assert_eq(ts.n_reused, ts.n_prompt);
    close_model();
}

/* Next event of the worker, waiting up to 60 s; false on timeout. */
static bool next_event(pl_worker *w, pl_event *ev)
{
    for (int i = 0; i < 6000; i++) {
        if (pl_worker_next_event(w, ev)) return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

Test(turn, the_workers_tokens_are_the_turns_text, .timeout = 120)
{
    open_model(512);
    pl_chat_msg msgs[] = {{"user", "Name three rivers."}};
    rec r = {0};
    pl_turn_params p = greedy(&r, 20);
    p.msgs = msgs;
    p.n_msgs = 1;
    run_new(&p, NULL);
    pl_status st;
    pl_worker *w = pl_worker_new(&st);
    cr_assert(w, "%s", st.msg);
    pl_load_params lp = {.path = fixt_model("PARLEY_MODEL", "model"), .model = pl_model_default_params(),
                         .ctx = pl_ctx_default_params()};
    lp.ctx.n_ctx = 512;
    lp.ctx.n_threads = 2;
    pl_worker_load(w, &lp);
    uint32_t id = pl_worker_generate(w, msgs, 1, &p.gen);
    char text[4096];
    size_t n = 0;
    pl_event ev;
    bool done = false;
    while (!done && next_event(w, &ev)) {
        cr_assert_neq(ev.kind, PL_EV_ERROR, "%s", ev.text);
        if (ev.kind == PL_EV_TOKEN && ev.req_id == id && n + ev.len < sizeof text) {
            memcpy(text + n, ev.text, ev.len);
            n += ev.len;
        }
        if (ev.kind == PL_EV_DONE && ev.req_id == id) {
            done = true;
            cr_assert_eq(ev.stats.n_gen, 20);
            cr_assert(ev.stats.hit_limit);
        }
        pl_event_free(&ev);
    }
    cr_assert(done, "no DONE");
    cr_assert_eq(n, r.n_text, "worker '%.*s'\nturn '%.*s'", (int)n, text, (int)r.n_text, r.text);
    cr_assert(memcmp(text, r.text, n) == 0);
    pl_worker_free(w);
    close_model();
}
