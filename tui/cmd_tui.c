/* cmd_tui.c — `parley [options]`: the chat. Options come from the one
 * table (config/) in the TUI's scope; the chat needs a terminal, scripts
 * are pointed at `parley run`. */
#include <stdio.h>
#include <unistd.h>

#include "../cmd/cmd.h"
#include "tui.h"

int cmd_tui(int argc, char **argv)
{
    pl_config cfg;
    char err[512];
    int first = 1;
    config_init(&cfg);
    argv[0] = "parley";
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
