/* run.c — `parley run`: one-shot completion streamed to stdout.
 *
 *   parley run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--chat] [--system S]
 *
 * The turn is the engine's (engine/turn.h, the one the TUI's worker runs): the
 * prompt is tokenized raw (or, with --chat, rendered as one user turn through
 * the chat template and tokenized with special tokens parsed), decoded in one
 * batched prefill, then tokens are sampled and printed as they come.
 * Output is flushed per token; bytes that could still be the start of a stop
 * string or of an unfinished UTF-8 character are held back, so nothing invalid
 * and no part of a stop string is ever printed. The model's text is made safe
 * for the terminal (control characters as U+FFFD, see pl_term_stream) unless
 * --raw asks for its bytes as they are. Generation ends at an
 * end-of-generation token, a stop string, -n tokens or a full context.
 * --verbose reports the model, the prompt tokens and both speeds on stderr.
 *
 * Piped text is part of the prompt, as with ollama and llm: `-p -` or no -p
 * reads the whole prompt from stdin; -p TEXT with a pipe or file on stdin
 * sends TEXT, a blank line, then the piped text (if the pipe says something
 * within a second: an idle pipe left open is not waited for). A full context ends the run
 * with a message on stderr and exit status 1, after the text written so far.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

/* Streamed output: the turn sends complete characters with no stop string
 * in them; the terminal stream makes them safe to show (unless --raw). */
typedef struct run_out {
    pl_term_stream  term;
    bool            raw;       /* --raw: bytes as generated, escapes included */
    bool            verbose;
    const pl_model *m;
    const pl_ctx   *c;
} run_out;

/* Print text, made safe for the terminal unless --raw. */
static void run_print(run_out *o, const char *s, size_t n)
{
    enum { CHUNK = 256 };
    char buf[PL_TERM_STREAM_MAX(CHUNK)];
    if (o->raw) fwrite(s, 1, n, stdout);
    for (size_t i = 0; !o->raw && i < n; i += CHUNK) {
        size_t take = n - i < CHUNK ? n - i : CHUNK;
        fwrite(buf, 1, pl_term_stream_feed(&o->term, s + i, take, buf, sizeof buf), stdout);
    }
    fflush(stdout);
}

/* End of output: an unfinished character as U+FFFD, a newline. */
static void run_flush(run_out *o)
{
    char repl[PL_TERM_STREAM_MAX(0)];
    fwrite(repl, 1, pl_term_stream_end(&o->term, repl, sizeof repl), stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* --verbose: what was loaded and what the prompt became. */
static void run_print_info(const pl_model *m, const pl_ctx *c, const int32_t *toks, int n)
{
    pl_model_info mi;
    pl_model_get_info(m, &mi);
    cmd_term_printf(stderr, false, "model: %s (%s, %s, %.1fM params, %u layers, embd %u, heads %u/%u, "
            "vocab %u, template %s), context %d\n", mi.name, mi.arch, mi.ftype,
            mi.n_params / 1e6, mi.n_layer, mi.n_embd, mi.n_head, mi.n_head_kv, mi.n_vocab,
            mi.chat_template, pl_ctx_n_ctx(c));
    if (mi.resident)
        fprintf(stderr, "weights: copied into 2 MiB pages, %.0f MB of matrices in the CPU's 16-row layout\n",
                mi.repacked_bytes / 1e6);
    else
        fprintf(stderr, "weights: read in place from the file mapping (--mmap, or too big for memory)\n");
    fprintf(stderr, "prompt: %d tokens:", n);
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", toks[i]);
    fputc('\n', stderr);
}

/* The turn's events: -v info once the prompt is known, text as it comes.
 * An answer cut inside a character (-n, the context) ends at its last whole
 * character, as the chat stores it; --raw still gets the cut bytes. */
static void run_sink(void *ud, pl_turn *t, const pl_turn_event *ev)
{
    run_out *o = ud;
    if (ev->kind == PL_TURN_EV_PROMPT && o->verbose) run_print_info(o->m, o->c, ev->toks, ev->n);
    if ((ev->kind == PL_TURN_EV_TEXT || (ev->kind == PL_TURN_EV_END && o->raw)) && ev->len)
        run_print(o, ev->text, ev->len);
}

/* Model and context are ready: one turn (engine/turn.c) on a new sequence. */
static int run_with(pl_model *m, pl_ctx *c, const pl_config *cfg, pl_status *st)
{
    run_out o = { .raw = cfg->raw, .verbose = cfg->verbose, .m = m, .c = c };
    pl_turn_params tp = { .n_reserve = 1, .sink = run_sink, .ud = &o };
    char **stops = NULL;
    config_to_gen_params(cfg, &tp.gen, &stops);
    tp.gen.shift_on_full = false;   /* a full context ends the run */
    pl_chat_msg msgs[2];
    if (cfg->chat) {   /* one user turn (after the system prompt) through the template */
        if (cfg->system && cfg->system[0]) msgs[tp.n_msgs++] = (pl_chat_msg){ "system", cfg->system };
        msgs[tp.n_msgs++] = (pl_chat_msg){ "user", cfg->prompt };
        tp.msgs = msgs;
    } else {
        tp.prompt = cfg->prompt;
    }
    pl_turn_stats ts = { 0 };
    int seq = pl_seq_new(c, st);
    int rc = seq < 0 ? -1 : pl_turn_run(m, c, seq, &tp, &ts, st);
    free(stops);
    if (rc == PL_ERR_CONTEXT_FULL)
        pl_status_set(st, PL_ERR_CONTEXT_FULL, "prompt is %d tokens, context is %d; raise --ctx-size",
                      ts.n_prompt, ts.n_ctx);
    if (rc) return 1;
    run_flush(&o);   /* what was written stays, even when the context filled */
    if (ts.stop == PL_TURN_STOP_CONTEXT_FULL)
        return pl_status_set(st, PL_ERR_CONTEXT_FULL, "the context is full (%d tokens): the answer "
                             "was cut off; raise --ctx-size", ts.n_ctx), 1;
    if (cfg->verbose)
        fprintf(stderr, "prefill: %d tokens in %.3f s, %.1f tok/s\ngeneration: %d tokens in "
                "%.3f s, %.1f tok/s\n", ts.n_prompt, ts.prefill_s, ts.n_prompt / ts.prefill_s, ts.n_gen,
                ts.gen_s, ts.n_gen > 0 ? ts.n_gen / ts.gen_s : 0.0);
    return 0;
}

#define RUN_STDIN_MAX (64u << 20)   /* piped prompt text; more is refused, never cut */
#define RUN_STDIN_GRACE_MS 1000      /* -p TEXT: how long a pipe may stay silent */

/* Read all of stdin (malloc'd, NUL-terminated, trailing newlines dropped).
 * A pipe that stays silent gets a note, so a user who did not mean to pipe
 * anything (ssh without -t, a cron job) sees why parley waits. */
static char *run_read_stdin(char *err, size_t len)
{
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    if (!isatty(STDIN_FILENO) && poll(&pfd, 1, 2000) == 0)
        fprintf(stderr, "parley run: waiting for the text piped on stdin (give </dev/null for none)\n");
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > RUN_STDIN_MAX) {
                snprintf(err, len, "the text on stdin is over %u MiB; give less", RUN_STDIN_MAX >> 20);
                free(buf);
                return NULL;
            }
            char *more = realloc(buf, cap * 2);
            if (!more) break;
            buf = more;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - 1 - n, stdin);
        n += k;
        if (k == 0) {
            if (ferror(stdin)) { snprintf(err, len, "cannot read stdin"); free(buf); return NULL; }
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
            buf[n] = 0;
            return buf;
        }
    }
    free(buf);
    snprintf(err, len, "out of memory reading stdin");
    return NULL;
}

/* True if stdin is a pipe or a file (not a terminal, /dev/null or nothing). */
static bool run_stdin_piped(void)
{
    struct stat sb;
    return fstat(STDIN_FILENO, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISREG(sb.st_mode));
}

/* The prompt from -p and stdin into cfg->prompt; -1 with err on failure. */
static int run_take_stdin(pl_config *cfg, char *err, size_t len)
{
    bool dash = cfg->prompt && strcmp(cfg->prompt, "-") == 0;
    bool none = !cfg->prompt || !cfg->prompt[0];
    if (!dash && !(run_stdin_piped())) return 0;
    /* With -p TEXT a pipe adds to the prompt only if it has something to say
     * soon: an idle pipe left open (a test runner, a subprocess, ssh without
     * -t) must not hang the run. */
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    if (!dash && !none && poll(&pfd, 1, RUN_STDIN_GRACE_MS) == 0) {
        if (cfg->verbose) fprintf(stderr, "parley run: nothing on stdin within %d ms; the prompt is -p alone\n",
                                  RUN_STDIN_GRACE_MS);
        return 0;
    }
    if (dash && isatty(STDIN_FILENO)) fprintf(stderr, "parley run: reading the prompt from the terminal; end it with Ctrl-D\n");
    char *text = run_read_stdin(err, len);
    if (!text) return -1;
    char *prompt = text;
    if (!dash && !none && *text && asprintf(&prompt, "%s\n\n%s", cfg->prompt, text) < 0) prompt = NULL;
    if (prompt != text) free(text);
    if (!prompt) { snprintf(err, len, "out of memory"); return -1; }
    if (!dash && !none && !*prompt) {   /* an empty pipe: -p alone */
        free(prompt);
        return 0;
    }
    free(cfg->prompt);
    cfg->prompt = prompt;
    return 0;
}

/* Entry point from main.c (argv[0] == "run"). */
int cmd_run(int argc, char **argv)
{
    pl_config cfg;
    char err[256];
    int first = argc;
    config_init(&cfg);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err)) {
        cmd_term_printf(stderr, false, "parley run: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (run_take_stdin(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "parley run: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    if (!cfg.prompt || !cfg.prompt[0]) {
        fprintf(stderr, "parley run: no prompt; give one with -p TEXT, -p - or on stdin\n");
        config_free(&cfg);
        return 2;
    }
    pl_status st = { 0 };
    char *path = NULL;
    pl_model *m = cmd_model_open(&cfg, &path, &st);
    pl_ctx *c = NULL;
    int rc = 1;
    if (m) {
        pl_model_info mi;
        pl_model_get_info(m, &mi);
        if (mi.warning[0]) fprintf(stderr, "parley run: warning: %s\n", mi.warning);
        pl_ctx_params cp;
        config_to_ctx_params(&cfg, &cp);
        c = pl_ctx_new(m, &cp, &st);
        if (c && config_apply_layers_on(&cfg, c, &st)) pl_ctx_free(c), c = NULL;
    }
    if (c) rc = run_with(m, c, &cfg, &st);
    if (rc) cmd_term_printf(stderr, false, "parley run: %s\n", st.msg[0] ? st.msg : "failed");
    pl_ctx_free(c);
    pl_model_free(m);
    free(path);
    config_free(&cfg);
    return rc;
}
