/* cmd.h — the door of cmd/: one function per subcommand, called by main.c with
 * argv[0] = the subcommand's name. Each returns the process exit status
 * (0 ok, 1 runtime error, 2 usage error) and prints its own messages. */
#ifndef PL_CMD_H
#define PL_CMD_H

#include <stdbool.h>
#include <stdio.h>

int cmd_run(int argc, char **argv);       /* cmd/run.c */
int cmd_bench(int argc, char **argv);     /* cmd/bench.c */
int cmd_models(int argc, char **argv);    /* cmd/models.c */
int cmd_quantize(int argc, char **argv);  /* cmd/quantize.c */
int cmd_sessions(int argc, char **argv);  /* cmd/sessions.c */
int cmd_tui(int argc, char **argv);       /* cmd/tui.c */

/* Printing text parley did not write (cmd/term_out.c): control characters
 * and ill-formed UTF-8 shown as U+FFFD, or the bytes as they are when raw. */
void cmd_term_write(FILE *out, const char *s, size_t len, bool raw);
void cmd_term_printf(FILE *out, bool raw, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cmd_term_line(FILE *out, const char *s);   /* one line: newlines and tabs as spaces */

/* cmd/model_open.c: load the model -m names (a path, or a name as `parley
 * models` lists it) or the default one; *path_out gets the file (caller
 * frees). NULL with st (a message naming the file or the name) on failure. */
struct pl_config;
struct pl_model;
struct pl_status;
struct pl_model *cmd_model_open(const struct pl_config *cfg, char **path_out, struct pl_status *st);

/* A subcommand as completions list it: its name and a one-line summary. */
typedef struct cmd_word { const char *name, *summary; } cmd_word;

/* cmd/completion.c: the bash|zsh|fish completion script (-1: unknown shell),
 * and an example config.ini with every key commented out at its default. */
int  cmd_completion(FILE *out, const char *shell, const cmd_word *subs, int n_subs);
void cmd_config_example(FILE *out);

/* cmd/sessions.c: the i-th verb of `parley sessions` (NULL past the last);
 * *usage, if given, gets its usage line ("show ID"). */
const char *cmd_sessions_verb(int i, const char **usage);

#endif
