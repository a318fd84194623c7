/* cli.c — see cli.h. */
#include "cli.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

const char *cli_bin(void)
{
    const char *b = getenv("PARLEY_BIN");
    cr_assert(b && *b && access(b, X_OK) == 0, "PARLEY_BIN is not set to a built parley (run `make test-e2e`)");
    return b;
}

int cli_run(const char *cmd, bool with_stderr, char *out, size_t len)
{
    char full[4096];
    /* stdin from /dev/null unless cmd pipes into parley itself: `parley run`
     * reads a piped stdin, and the runner's own stdin may be an open pipe. */
    snprintf(full, sizeof full, "( %s )%s </dev/null", cmd, with_stderr ? " 2>&1" : "");
    FILE *p = popen(full, "r");
    cr_assert(p, "popen %s", full);
    size_t n = 0, r;
    char sink[4096];
    while ((r = fread(n < len - 1 ? out + n : sink, 1, n < len - 1 ? len - 1 - n : sizeof sink, p)) > 0)
        if (n < len - 1) n += r;
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* nftw callback: remove whatever it is (a test may have made it read-only). */
static int cli_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

void cli_rm_tree(char *dir)
{
    if (dir) nftw(dir, cli_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *cli_home(const char *tag)
{
    char *dir = NULL, cfg[1024];
    cr_assert(asprintf(&dir, "/tmp/parley-%s-XXXXXX", tag) > 0 && mkdtemp(dir), "cannot make a temporary folder");
    setenv("PARLEY_DATA", dir, 1);
    snprintf(cfg, sizeof cfg, "%s/no-config.ini", dir);
    setenv("PARLEY_CONFIG", cfg, 1);
    return dir;
}
