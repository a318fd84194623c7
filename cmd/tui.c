/* tui.c — `parley [options]`: the chat. Options come from the one
 * table (config/) in the TUI's scope; the chat needs a terminal, scripts
 * are pointed at `parley run`. `--resume` takes an optional ID: alone (last
 * argument, or followed by another option) it opens the session list. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../tui/tui.h"
#include "cmd.h"

/* "--resume" / "-r" without an ID becomes "--resume=pick" (the sidebar opens). */
static void resume_default(int argc, char **argv)
{
    static char pick[] = "--resume=pick";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return;
        bool bare = strcmp(argv[i], "--resume") == 0 || strcmp(argv[i], "-r") == 0;
        if (bare && (i + 1 == argc || argv[i + 1][0] == '-')) argv[i] = pick;
    }
}

/* The chat's entry: its options, then the TUI room's one door (tui_run). */
int cmd_tui(int argc, char **argv)
{
    pl_config cfg;
    char err[512];
    int first = 1;
    config_init(&cfg);
    argv[0] = "parley";
    resume_default(argc, argv);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err) < 0) {
        fprintf(stderr, "parley: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (argv[first]) {
        fprintf(stderr, "parley: unexpected argument '%s' (see parley --help)\n", argv[first]);
        config_free(&cfg);
        return 2;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "parley: the chat needs a terminal; for scripts use 'parley run -p PROMPT'\n");
        config_free(&cfg);
        return 1;
    }
    int rc = tui_run(&cfg);
    config_free(&cfg);
    return rc;
}
