/* cmd.h — the door of cmd/: one function per subcommand, called by main.c with
 * argv[0] = the subcommand's name. Each returns the process exit status
 * (0 ok, 1 runtime error, 2 usage error) and prints its own messages. */
#ifndef PL_CMD_H
#define PL_CMD_H

int cmd_run(int argc, char **argv);       /* cmd/run.c */
int cmd_bench(int argc, char **argv);     /* cmd/bench.c */
int cmd_models(int argc, char **argv);    /* cmd/models.c */
int cmd_quantize(int argc, char **argv);  /* cmd/quantize.c */
int cmd_sessions(int argc, char **argv);  /* cmd/sessions.c */
int cmd_tui(int argc, char **argv);       /* tui/ */

#endif
