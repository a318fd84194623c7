/* test_layers_on.c — `parley run --layers-on BE:A-B` (a developer flag): the
 * layers named go to that backend before the prompt, and what a user sees:
 * the same greedy answer as an all-CPU run, up to where ref's other order of
 * summation tips a close choice (its logits are within the tolerance
 * tests/unit/test_placement_e2e.c measures; here the first line, " Paris.",
 * is the same and later words may part); a backend this build has not, or
 * a malformed range, refused with a message naming it and a failing exit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common/cli.h"
#include "tests/common/fixture.h"

static int lo_run(const char *flags, char *out, size_t len)
{
    const char *model = fixt_model("PARLEY_MODEL", "model");
    char *home = cli_home("layers");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' --temp 0 -n 16 -t 2 -p 'The capital of France is' %s",
             cli_bin(), model, flags);
    int rc = cli_run(cmd, true, out, len);
    cli_rm_tree(home);
    return rc;
}

Test(layers_on, greedy_answer_unchanged_with_layers_on_ref, .timeout = 300)
{
    static char want[4096], got[4096];
    cr_assert_eq(lo_run("", want, sizeof want), 0, "%s", want);
    const char *nl = strchr(want, '\n');
    cr_assert(nl && strncmp(want, " Paris.", 7) == 0, "all-CPU answer: %s", want);
    const size_t line = (size_t)(nl - want) + 1;
    cr_assert_eq(lo_run("--layers-on ref:10-29", got, sizeof got), 0, "%s", got);
    cr_assert(strncmp(got, want, line) == 0 && strlen(got) > line, "with ref:10-29: %s\nall-CPU: %s", got, want);
    cr_assert_eq(lo_run("--layers-on ref:0-14,cpu:5-9", got, sizeof got), 0, "%s", got);
    cr_assert(strncmp(got, want, line) == 0 && strlen(got) > line, "with ref:0-14,cpu:5-9: %s\nall-CPU: %s", got, want);
}

Test(layers_on, unknown_backend_and_bad_range_are_refused, .timeout = 120)
{
    static char out[4096];
    cr_assert_neq(lo_run("--layers-on tpu:1-2", out, sizeof out), 0);
    cr_assert(strstr(out, "no backend 'tpu'"), "%s", out);
    cr_assert_neq(lo_run("--layers-on ref:3", out, sizeof out), 0);
    cr_assert(strstr(out, "'ref:3' is not BACKEND:FIRST-LAST"), "%s", out);
    cr_assert_neq(lo_run("--layers-on ref:20-40", out, sizeof out), 0);
    cr_assert(strstr(out, "layers 20-40: the model has layers 0-29"), "%s", out);
    cr_assert_neq(lo_run("--layers-on ref:0-99999999999999", out, sizeof out), 0);   /* no wrap to a small number */
    cr_assert(strstr(out, "is not BACKEND:FIRST-LAST"), "%s", out);
    cr_assert_neq(lo_run("--layers-on ref:-1-3", out, sizeof out), 0);
    cr_assert(strstr(out, "is not BACKEND:FIRST-LAST"), "%s", out);
    cr_assert_neq(lo_run("--layers-on ref:3-1", out, sizeof out), 0);
    cr_assert(strstr(out, "layers 3-1: the first is after the last"), "%s", out);
}
