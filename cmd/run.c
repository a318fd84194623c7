/* run.c — `parley run`: one-shot completion streamed to stdout.
 *
 *   parley run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--chat] [--system S]
 *
 * The prompt is tokenized raw (or, with --chat, rendered as one user turn
 * through the chat template and tokenized with special tokens parsed), decoded
 * in one batched prefill, then tokens are sampled and printed as they come.
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
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

/* Streamed output: the stopper holds back possible stop strings, then the
 * terminal stream holds an unfinished UTF-8 character until it completes. */
typedef struct run_out {
    pl_stopper    *stopper;
    pl_term_stream term;
    bool           raw;       /* --raw: bytes as generated, escapes included */
    bool           stopped;   /* a stop string was generated */
} run_out;

/* Seconds on a monotonic clock. */
static double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Print released bytes, keeping an unfinished character for later. */
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

/* A token's bytes through the stopper to stdout. */
static int run_emit(run_out *o, const char *piece, int n)
{
    char out[512];
    int k = pl_stopper_feed(o->stopper, piece, n, out, sizeof out, &o->stopped);
    if (k < 0) return -1;
    run_print(o, out, (size_t)k);
    return 0;
}

/* End of output: held text, an unfinished character as U+FFFD, a newline. */
static void run_flush(run_out *o)
{
    char out[512];
    int k = pl_stopper_flush(o->stopper, out, sizeof out);
    if (k > 0) run_print(o, out, (size_t)k);
    char repl[PL_TERM_STREAM_MAX(0)];
    fwrite(repl, 1, pl_term_stream_end(&o->term, repl, sizeof repl), stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* The prompt as text: raw, or rendered through the chat template (malloc'd). */
static char *run_prompt_text(const pl_model *m, const pl_config *cfg, pl_status *st)
{
    if (!cfg->chat) return strdup(cfg->prompt);
    pl_chat_msg msgs[2];
    int n = 0;
    if (cfg->system && cfg->system[0]) msgs[n++] = (pl_chat_msg){ "system", cfg->system };
    msgs[n++] = (pl_chat_msg){ "user", cfg->prompt };
    const char *tmpl = cfg->chat_template && cfg->chat_template[0] ? cfg->chat_template : NULL;
    int need = pl_chat_render(m, tmpl, msgs, n, true, NULL, 0, st);
    if (need < 0) return NULL;
    char *buf = malloc((size_t)need + 1);
    if (!buf || pl_chat_render(m, tmpl, msgs, n, true, buf, need + 1, st) < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Tokenize text; *n gets the count. NULL + message on failure. */
static int32_t *run_tokenize(const pl_model *m, const char *text, bool chat, int *n, pl_status *st)
{
    size_t len = strlen(text);
    int cap = (int)len + 8;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)cap);
    if (!toks) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); return NULL; }
    *n = pl_tokenize(m, text, len, toks, cap, true, chat);
    if (*n < 0 || *n > cap) {
        pl_status_set(st, PL_ERR_ARG, "could not tokenize the prompt");
        free(toks);
        return NULL;
    }
    return toks;
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

/* Sampler settings from the configuration; seed -1 picks one from the clock. */
static pl_sampler *run_sampler(const pl_config *cfg)
{
    pl_sampler_params sp = pl_sampler_default_params();
    sp.temp = cfg->temp;
    sp.top_k = cfg->top_k;
    sp.top_p = cfg->top_p;
    sp.min_p = cfg->min_p;
    sp.repeat_penalty = cfg->repeat_penalty;
    sp.penalty_last_n = cfg->repeat_last_n;
    sp.freq_penalty = cfg->freq_penalty;
    sp.presence_penalty = cfg->presence_penalty;
    sp.seed = cfg->seed >= 0 ? (uint64_t)cfg->seed : PL_SEED_RANDOM;
    return pl_sampler_new(&sp);
}

/* The generation loop: sample, print, decode, until a reason to stop. */
static int run_generate(pl_ctx *c, const pl_model *m, int seq, pl_sampler *smp, run_out *o,
                        int n_predict, int *n_gen, pl_status *st)
{
    char piece[256];
    const int n_vocab = pl_n_vocab(m);
    for (*n_gen = 0; n_predict < 0 || *n_gen < n_predict; ) {
        int32_t tok = pl_sampler_sample(smp, pl_logits(c, seq), n_vocab);
        if (pl_token_is_eog(m, tok)) break;
        pl_sampler_accept(smp, tok);
        (*n_gen)++;
        int len = pl_token_to_piece(m, tok, piece, sizeof piece, false);
        if (len > 0 && run_emit(o, piece, len))
            return pl_status_set(st, PL_ERR_ARG, "stop-string matching failed");
        if (o->stopped || (n_predict >= 0 && *n_gen >= n_predict)) break;
        if (pl_seq_len(c, seq) >= pl_ctx_n_ctx(c))
            return pl_status_set(st, PL_ERR_CONTEXT_FULL, "the context is full (%d tokens): the answer "
                                 "was cut off; raise --ctx-size", pl_ctx_n_ctx(c));
        if (pl_decode(c, seq, &tok, 1, st)) return st->code;
    }
    return 0;
}

/* Model, context and prompt are ready: prefill, then generate. */
static int run_with(pl_model *m, pl_ctx *c, const pl_config *cfg, pl_status *st)
{
    char *text = run_prompt_text(m, cfg, st);
    if (!text) return 1;
    int n = 0;
    int32_t *toks = run_tokenize(m, text, cfg->chat, &n, st);
    free(text);
    if (!toks) return 1;
    if (cfg->verbose) run_print_info(m, c, toks, n);
    int rc = 1, seq = -1, n_gen = 0;
    run_out o = { .raw = cfg->raw };
    pl_sampler *smp = NULL;
    if (n == 0) { pl_status_set(st, PL_ERR_ARG, "the prompt is empty"); goto done; }
    if (n >= pl_ctx_n_ctx(c)) {
        pl_status_set(st, PL_ERR_CONTEXT_FULL, "prompt is %d tokens, context is %d; raise "
                      "--ctx-size", n, pl_ctx_n_ctx(c));
        goto done;
    }
    seq = pl_seq_new(c, st);
    smp = run_sampler(cfg);
    if (seq < 0 || !smp) goto done;
    for (int i = 0; i < n; i++) pl_sampler_accept(smp, toks[i]);
    double t0 = run_now();
    if (pl_decode(c, seq, toks, n, st)) goto done;
    double t1 = run_now();
    int n_stops = 0;
    char **stops = config_stop_list(cfg, &n_stops);
    o.stopper = pl_stopper_new((const char *const *)stops, n_stops);
    free(stops);
    if (!o.stopper) { pl_status_set(st, PL_ERR_NOMEM, "out of memory"); goto done; }
    int gen = run_generate(c, m, seq, smp, &o, cfg->n_predict, &n_gen, st);
    if (gen == PL_ERR_CONTEXT_FULL) run_flush(&o);   /* what was written stays; then the error */
    if (gen) goto done;
    double t2 = run_now();
    run_flush(&o);
    if (cfg->verbose)
        fprintf(stderr, "prefill: %d tokens in %.3f s, %.1f tok/s\ngeneration: %d tokens in "
                "%.3f s, %.1f tok/s\n", n, t1 - t0, n / (t1 - t0), n_gen, t2 - t1,
                n_gen > 0 ? n_gen / (t2 - t1) : 0.0);
    rc = 0;
done:
    if (o.stopper) pl_stopper_free(o.stopper);
    if (smp) pl_sampler_free(smp);
    free(toks);
    return rc;
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
    char *path = config_model_path(&cfg);
    pl_status st = { 0 };
    if (path && (!cfg.model || !cfg.model[0]) && access(path, R_OK) != 0) {
        cmd_term_printf(stderr, false, "parley run: the default model is not at %s; run `make model` or "
                        "give one with -m FILE\n", path);
        free(path);
        config_free(&cfg);
        return 1;
    }
    pl_model_params mp = pl_model_default_params();
    mp.n_gpu_layers = cfg.n_gpu_layers;
    mp.mmap = cfg.mmap;
    if (path && cfg.model && cfg.model[0]) {   /* -m NAME as `parley models` lists it */
        char *file = pl_catalog_resolve(path, cfg.models_dir, cfg.model_paths, &st);
        free(path);
        path = file;
    }
    pl_model *m = path ? pl_model_load(path, &mp, &st) : NULL;
    pl_ctx *c = NULL;
    int rc = 1;
    if (m) {
        pl_model_info mi;
        pl_model_get_info(m, &mi);
        if (mi.warning[0]) fprintf(stderr, "parley run: warning: %s\n", mi.warning);
        pl_ctx_params cp = pl_ctx_default_params();
        cp.n_ctx = cfg.ctx_size;
        cp.n_threads = cfg.threads;
        cp.n_batch = cfg.batch_size;
        if (pl_type_from_name(cfg.cache_type_k) >= 0) cp.type_k = (pl_type)pl_type_from_name(cfg.cache_type_k);
        if (pl_type_from_name(cfg.cache_type_v) >= 0) cp.type_v = (pl_type)pl_type_from_name(cfg.cache_type_v);
        c = pl_ctx_new(m, &cp, &st);
    }
    if (c) rc = run_with(m, c, &cfg, &st);
    if (rc) cmd_term_printf(stderr, false, "parley run: %s\n", st.msg[0] ? st.msg : "failed");
    pl_ctx_free(c);
    pl_model_free(m);
    free(path);
    config_free(&cfg);
    return rc;
}
