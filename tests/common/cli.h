/* cli.h — running the real parley binary from the e2e tests, as a user would
 * from a shell: its path from $PARLEY_BIN (set by `make test-e2e`), its output
 * captured. Failures are Criterion asserts that say what to run. */
#ifndef PL_TEST_CLI_H
#define PL_TEST_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* $PARLEY_BIN, or fail saying to run the tests through make. */
const char *cli_bin(void);
/* Run cmd through the shell; capture its stdout (and stderr when
 * with_stderr) up to len-1 bytes, the rest read and dropped; exit status,
 * or -1 if it did not exit. */
int cli_run(const char *cmd, bool with_stderr, char *out, size_t len);
/* A fresh folder /tmp/parley-TAG-XXXXXX as PARLEY_DATA, with PARLEY_CONFIG
 * pointing at a file that is not there (the user's config must not change
 * the results); returns it (free with cli_rm_tree). */
char *cli_home(const char *tag);
/* Remove the folder dir and all below it (a test's temporary home), then free dir. */
void cli_rm_tree(char *dir);

#endif
