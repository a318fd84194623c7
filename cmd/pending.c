/* pending.c — weak placeholders for subcommands whose room is still being
 * built: each says so and fails, and is replaced at link time by the real
 * definition as soon as that file exists. Delete a line when its command lands. */
#include <stdio.h>

#include "cmd.h"

/* One message for every command that is not there yet. */
static int not_yet(const char *name)
{
    fprintf(stderr, "parley %s: not available in this build yet\n", name);
    return 1;
}

__attribute__((weak)) int cmd_run(int argc, char **argv) { return not_yet("run"); }
