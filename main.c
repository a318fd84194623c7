/* main.c — parley's entry point: subcommand dispatch only.
 *
 *   parley [options]                 the chat TUI
 *   parley run -m MODEL -p PROMPT    one-shot completion to stdout
 *   parley bench | models | quantize | sessions ...
 * Each subcommand lives in cmd/ (or tui/) and parses its own flags through
 * config/, which holds every option in one table.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"run",      cmd_run,      "run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--chat]", "one-shot completion"},
    {"bench",    cmd_bench,    "bench -m MODEL [-p 512] [-n 128] [-t N] [-r 3]",               "prefill/generation speed"},
    {"models",   cmd_models,   "models [--names]",                                             "list GGUF models found on this machine"},
    {"quantize", cmd_quantize, "quantize IN.gguf OUT.gguf TYPE",                               "re-quantize a model"},
    {"sessions", cmd_sessions, "sessions ls|show ID|export ID --format md|json|rm ID|import FILE|search WORDS",
                               "saved conversations"},
};
#define N_SUBCOMMANDS (int)(sizeof subcommands / sizeof subcommands[0])

/* --completion SHELL: the script, from the options table and the list above. */
static int print_completion(const char *shell)
{
    cmd_word words[N_SUBCOMMANDS];
    for (int i = 0; i < N_SUBCOMMANDS; i++) words[i] = (cmd_word){subcommands[i].name, subcommands[i].summary};
    if (cmd_completion(stdout, shell, words, N_SUBCOMMANDS) == 0) return 0;
    fprintf(stderr, "parley: --completion takes bash, zsh or fish\n");
    return 2;
}

/* parley --help: usage, subcommands, then the TUI's options from the table. */
static void print_help(FILE *out, unsigned scope, const char *sub)
{
    if (sub) {
        fprintf(out, "usage: parley %s\n\noptions:\n", sub);
    } else {
        fprintf(out, "parley %s — chat with local GGUF models in the terminal\n\n"
                     "usage: parley [options]            open the chat (TUI)\n", PARLEY_VERSION);
        for (int i = 0; i < N_SUBCOMMANDS; i++)
            fprintf(out, "       parley %-62s %s\n", subcommands[i].usage, subcommands[i].summary);
        fprintf(out, "\n'parley COMMAND --help' lists a command's options.\n\noptions:\n");
    }
    config_print_help(out, scope);
    fprintf(out, "  %-30s %s\n  %-30s %s\n", "-h, --help", "show this help", "-V, --version", "show the version");
    if (!sub)
        fprintf(out, "  %-30s %s\n  %-30s %s\n", "--completion bash|zsh|fish",
                "print the shell's completion script (installed by make install)",
                "--config-example", "print a config.ini with every key commented out at its default");
    if (!sub)
        fprintf(out, "\nOptions may also be set in ~/.config/parley/config.ini (key = value) or with\n"
                     "PARLEY_* environment variables; flags win over both. See parley(1).\n");
}

/* True if argv holds -h/--help (before a "--"). */
static bool wants(int argc, char **argv, const char *s, const char *l)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], s) == 0 || strcmp(argv[i], l) == 0) return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    if (wants(argc, argv, "-V", "--version")) {
        printf("parley %s\n", PARLEY_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--man-options") == 0) {  /* for man/parley.1 */
        config_print_man_options(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--completion") == 0) return print_completion(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--config-example") == 0) {
        cmd_config_example(stdout);
        return 0;
    }
    for (int i = 0; argc > 1 && i < N_SUBCOMMANDS; i++) {
        if (strcmp(argv[1], subcommands[i].name) != 0) continue;
        if (wants(argc - 1, argv + 1, "-h", "--help")) {
            print_help(stdout, (unsigned)config_scope_of(argv[1]), subcommands[i].usage);
            return 0;
        }
        return subcommands[i].fn(argc - 1, argv + 1);
    }
    if (wants(argc, argv, "-h", "--help")) {
        print_help(stdout, CFG_TUI, NULL);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        cmd_term_printf(stderr, false, "parley: unknown command '%s' (see parley --help)\n", argv[1]);
        return 2;
    }
    return cmd_tui(argc, argv);
}
