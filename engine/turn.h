/* turn.h — one chat turn, run by the engine: the door the TUI's worker,
 * `parley run` and (later) a server share.
 *
 *   messages (or raw prompt text) -> render with the chat template ->
 *   tokenize -> fit the context (drop the oldest turns, or refuse) ->
 *   keep the sequence's cached common prefix -> prefill the rest ->
 *   { sample -> stop strings -> complete UTF-8 -> TEXT } -> END(stats)
 *
 * The caller owns the context and the sequence; the turn borrows them for one
 * call and reports through a sink: text that is complete UTF-8 and never a
 * stop string or a piece of one, notes (turns dropped, tokens shifted out),
 * prefill progress, a STEP between two tokens where the caller may change the
 * settings (pl_turn_update), and END with the stats. Nothing here prints or
 * words a message for a person beyond st: each caller says things its own way
 * (the worker as events for the TUI, `parley run` on stderr).
 */
#ifndef PL_ENGINE_TURN_H
#define PL_ENGINE_TURN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infer.h"
#include "text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a turn generates with: sampling, length, stops, template, policy. */
typedef struct pl_gen_params {
    pl_sampler_params  sampler;
    int                n_predict;      /* -1: until the end of the answer */
    const char *const *stop;           /* NULL-terminated stop strings or NULL; copied */
    const char        *tmpl_override;  /* NULL: the model's template; copied */
    bool               shift_on_full;  /* context full: drop oldest turns (true) or stop */
} pl_gen_params;

/* Why generation ended. */
typedef enum pl_turn_stop {
    PL_TURN_STOP_NONE = 0,      /* prefill only, or an error (see the return code) */
    PL_TURN_STOP_EOG,           /* the model ended its turn */
    PL_TURN_STOP_STRING,        /* a stop string was generated (it is not in the text) */
    PL_TURN_STOP_LIMIT,         /* n_predict tokens */
    PL_TURN_STOP_CONTEXT_FULL,  /* no room left: policy "stop", or nothing could be shifted out */
    PL_TURN_STOP_CANCELLED      /* the cancel flag was set */
} pl_turn_stop;

typedef struct pl_turn_stats {
    int          n_prompt;         /* tokens of the prompt as decoded */
    int          n_reused;         /* of which were already in the sequence's cache */
    int          n_need;           /* positions the prompt needed with the reserve (context full) */
    int          n_ctx;            /* positions the context holds */
    int          n_gen;            /* tokens generated (the end-of-turn token not counted) */
    int          n_dropped_turns;  /* oldest turns left out to fit the context */
    int          n_shifted;        /* positions shifted out mid-answer to keep answering */
    double       prefill_s, gen_s; /* seconds */
    pl_turn_stop stop;
} pl_turn_stats;

typedef enum pl_turn_event_kind {
    PL_TURN_EV_DROPPED,   /* n: oldest turns left out to fit the context (system prompt kept) */
    PL_TURN_EV_PROMPT,    /* toks/n: the prompt as it will be decoded */
    PL_TURN_EV_PREFILL,   /* before each prefill chunk: done of total new tokens */
    PL_TURN_EV_STEP,      /* before each token: the place for pl_turn_update */
    PL_TURN_EV_TEXT,      /* text/len: complete UTF-8, no stop string nor a piece of one */
    PL_TURN_EV_SHIFTED,   /* n: positions dropped after the system prompt to keep answering */
    PL_TURN_EV_END        /* stats; text/len: an unfinished UTF-8 character the end cut
                             (usually empty): drop it, or show it as U+FFFD */
} pl_turn_event_kind;

typedef struct pl_turn_event {
    pl_turn_event_kind   kind;
    const char          *text;
    size_t               len;
    const int32_t       *toks;
    int                  n;
    int                  done, total;
    const pl_turn_stats *stats;
} pl_turn_event;

typedef struct pl_turn pl_turn;
typedef void (*pl_turn_sink_fn)(void *ud, pl_turn *t, const pl_turn_event *ev);

typedef struct pl_turn_params {
    const pl_chat_msg *msgs;        /* the conversation, rendered with the chat template
                                       (special tokens parsed); the last is usually "user" */
    int                n_msgs;
    const char        *prompt;      /* or raw text instead (non-NULL: msgs unused): BOS
                                       added, special tokens read as text */
    pl_gen_params      gen;
    bool               prefill_only;/* make the cache hold the conversation (no generation
                                       prompt) and generate nothing: resume a session */
    int                n_batch;     /* tokens per prefill call (progress, cancel); 0: all in one */
    int                n_reserve;   /* positions kept free for the answer when fitting
                                       the prompt; < 0: a context's eighth */
    atomic_int        *cancel;      /* checked between prefill chunks and tokens; NULL: none */
    pl_turn_sink_fn    sink;        /* NULL: no events */
    void              *ud;
} pl_turn_params;

/* Run one turn on seq of c (a model of m). Returns 0 with stats->stop saying
 * why it ended (cancelled included), or a code with st: the prompt does not
 * fit (PL_ERR_CONTEXT_FULL, stats n_need/n_ctx), an empty prompt, a template
 * or decode failure, out of memory. END is always the last event. */
int  pl_turn_run(const pl_model *m, pl_ctx *c, int seq, const pl_turn_params *p,
                 pl_turn_stats *stats, pl_status *st);

/* From a STEP event: new sampling settings (the sampler is rebuilt, its
 * penalty history from the sequence), n_predict and context policy, from the
 * next token on; stop strings and template keep their values for this turn.
 * 0, or -1 out of memory (the old sampler stays). */
int  pl_turn_update(pl_turn *t, const pl_gen_params *g);

#ifdef __cplusplus
}
#endif
#endif
