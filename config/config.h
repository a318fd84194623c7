/* config.h — the door of config/: every option of parley in ONE table.
 *
 * The table (config/options.c) drives the command-line parser, the INI config
 * file parser, PARLEY_* environment variables, --help, the man page's option
 * list and the TUI's /set command. Precedence, lowest first:
 *   defaults < ~/.config/parley/config.ini (PARLEY_CONFIG overrides) < PARLEY_* env < flags
 * Unknown flags and out-of-range values give a one-line error naming the
 * option and the valid range.
 */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Which subcommands an option applies to (bit mask). */
enum {
    CFG_TUI = 1 << 0, CFG_RUN = 1 << 1, CFG_BENCH = 1 << 2, CFG_MODELS = 1 << 3,
    CFG_SESSIONS = 1 << 4, CFG_QUANTIZE = 1 << 5,
    CFG_GEN = CFG_TUI | CFG_RUN,                /* generation knobs */
    CFG_ENGINE = CFG_TUI | CFG_RUN | CFG_BENCH, /* engine knobs */
    CFG_ALL = 0xff
};

typedef enum { OPT_BOOL, OPT_INT, OPT_I64, OPT_FLOAT, OPT_STR, OPT_ENUM,
               OPT_SIZE /* int64_t bytes, written 512M, 2G */ } cfg_kind;

/* When a change made in the chat (/set, the settings panel) takes effect: the
 * one statement of it that --help, the man page, the panel and the README show. */
typedef enum {
    LIVE_NONE = 0,      /* not a knob of the chat */
    LIVE_NOW,           /* "live": between two tokens, mid-answer */
    LIVE_CONVERTS,      /* "live, converts the cache": in place, the context kept */
    LIVE_NEXT_MESSAGE,  /* "next message" */
    LIVE_NEXT_LOAD,     /* "next load": kept, used when a model is loaded */
    LIVE_NOT_YET        /* "not supported yet": accepted and kept, the engine ignores it */
} cfg_live;

typedef struct pl_config {
    /* model and files */
    char   *model;          /* path to a .gguf; NULL/"" = default model */
    char   *models_dir;     /* where `make model` and the picker look */
    char   *model_paths;    /* extra directories, ':'-separated */
    char   *data_dir;       /* sessions.db and snapshots */
    int64_t snapshot_budget; /* bytes KV snapshots may take on disk (0 = no snapshots) */
    /* engine */
    int     threads;        /* 0 = all cores */
    int     ctx_size;       /* 0 = model's training length, capped at 4096 */
    int     batch_size;
    int     n_gpu_layers;
    bool    mmap;           /* weights mapped in place, not copied into huge pages */
    char   *layers_on;      /* run, bench: "BE:A-B[,BE:A-B]" layer placement after loading ("" = all on the CPU) */
    char   *cache_type_k, *cache_type_v;
    char   *draft_model;
    int     draft_max;
    char   *context_policy; /* "shift" | "stop" */
    /* sampling */
    float   temp, top_p, min_p, repeat_penalty, freq_penalty, presence_penalty;
    int     top_k, repeat_last_n;
    int64_t seed;           /* -1 = random */
    int     n_predict;      /* -1 = until end of turn */
    /* conversation */
    char   *prompt;
    char   *system;
    char   *chat_template;  /* NULL = from the model */
    char   *stop;           /* stop strings, '\n'-separated (--stop repeats) */
    bool    chat;
    bool    verbose;
    bool    raw;            /* run output, sessions show/export: bytes as they are, escapes included */
    /* sessions */
    char   *resume;         /* session id to resume */
    bool    continue_last;
    char   *format;         /* parley sessions export: "md" | "json" */
    char   *output;         /* parley sessions export -o FILE ("" = stdout) */
    bool    force;          /* parley sessions export: overwrite FILE */
    /* ui */
    bool    names;          /* models, sessions ls: names / ids alone, one a line */
    char   *color;          /* "auto" | "always" | "never" */
    /* bench */
    int     bench_pp, bench_tg, bench_reps;
    int     bench_depth;    /* bench: tokens in the cache before each test (llama-bench -d) */
    bool    bench_bw;       /* bench: pair each generated token with a plain read of the weights */
    bool    weight_bytes;   /* bench: print weight bytes per token */
    uint64_t from_cli;      /* bit i: pl_options[i] was given on the command line */
} pl_config;

typedef struct pl_option {
    const char *name;       /* config-file key and /set name: "threads" */
    char        short_flag; /* 't' or 0 */
    const char *env;        /* "PARLEY_THREADS" or NULL */
    cfg_kind    kind;
    const char *def;        /* default, as text */
    double      min, max;   /* numeric range (inclusive) */
    const char *choices;    /* OPT_ENUM: "shift|stop" */
    size_t      offset;     /* into pl_config */
    unsigned    scope;      /* CFG_* */
    const char *metavar;    /* "N", "PATH" */
    const char *help;
    cfg_live    live;       /* when a change in the chat applies (LIVE_NONE: not a knob) */
} pl_option;

extern const pl_option pl_options[];
extern const int pl_n_options;

/* Defaults only (no file, env, flags). */
void config_init(pl_config *c);
void config_free(pl_config *c);

/* Full load for the subcommand named argv[0] ("run", "bench", ...; anything else
 * is the TUI): defaults, config file, env, then flags from argv[1..].
 * Positional arguments are moved to argv[*first_positional] onwards, in order,
 * and the list is NULL-terminated: for (i = first; argv[i]; i++).
 * Returns 0, or -1 with a one-line message in err. */
int config_load(pl_config *c, int argc, char **argv, int *first_positional, char *err, size_t errlen);

/* Pieces of config_load, for tests and the TUI's /set. */
int  config_scope_of(const char *subcommand);
int  config_load_file(pl_config *c, const char *path, unsigned scope, char *err, size_t errlen);
/* The INI parser on text in memory (name for messages): for the fuzzer and tests. */
int  config_load_text(pl_config *c, const char *name, const char *text, size_t n, unsigned scope,
                      char *err, size_t errlen);
/* Bounds on a config file: its size, and one line (a longer one is an error naming it). */
enum { CONFIG_MAX_BYTES = 1 << 20, CONFIG_MAX_LINE = 4096 };
int  config_load_env(pl_config *c, unsigned scope, char *err, size_t errlen);
int  config_parse_args(pl_config *c, unsigned scope, int argc, char **argv, int *first_positional,
                       char *err, size_t errlen);   /* returns the positional count or -1 */
int  config_set_from_flag(pl_config *c, const pl_option *o, const char *value, char *err, size_t errlen);
const pl_option *config_find(const char *name);
/* Was o given as a flag on this command line (it then wins over a resumed session's value)? */
bool config_from_cli(const pl_config *c, const pl_option *o);
int  config_set(pl_config *c, const pl_option *o, const char *value, char *err, size_t errlen);
/* Current value as text (buf), for /set and --help. */
const char *config_get(const pl_config *c, const pl_option *o, char *buf, size_t len);

/* Paths. Caller frees. */
char *config_file_path(void);          /* $PARLEY_CONFIG or ~/.config/parley/config.ini */
bool  config_file_given(void);         /* true when PARLEY_CONFIG names the file */
char *config_default_models_dir(void); /* $PARLEY_MODELS or ~/.local/share/parley/models */
char *config_default_data_dir(void);   /* $PARLEY_DATA or ~/.local/share/parley */
char *config_default_model_path(void); /* models_dir/SmolLM2-135M-Instruct.Q4_1.gguf */
/* cfg->model, or the default model when unset. Caller frees. */
char *config_model_path(const pl_config *c);
/* Split cfg->stop into a NULL-terminated array (one allocation; free() it). */
char **config_stop_list(const pl_config *c, int *n);

/* The engine's settings from the configuration (config/engine_params.c): the
 * one place an option becomes an engine parameter, for the CLI and the TUI.
 * The structs are the engine's (engine/infer.h, engine/turn.h). */
struct pl_model_params;
struct pl_ctx_params;
struct pl_sampler_params;
struct pl_gen_params;
void config_to_model_params(const pl_config *c, struct pl_model_params *out);
void config_to_ctx_params(const pl_config *c, struct pl_ctx_params *out);
void config_to_sampler_params(const pl_config *c, struct pl_sampler_params *out);
/* *stops (free() it) holds the strings out->stop points to. */
void config_to_gen_params(const pl_config *c, struct pl_gen_params *out, char ***stops);
struct pl_ctx;
struct pl_status;
/* --layers-on: move the layers it names on ctx ("" does nothing); 0, or a code with st. */
int  config_apply_layers_on(const pl_config *c, struct pl_ctx *ctx, struct pl_status *st);

/* The words for o->live ("live", "next load", ...); NULL for LIVE_NONE. */
const char *config_live_text(const pl_option *o);

/* --help for a scope; the man page's OPTIONS section as roff. */
void config_print_help(FILE *out, unsigned scope);
void config_print_man_options(FILE *out);

#endif
