/* test_bench_cli.c — `parley bench` as scripts/bench.sh and a user run it:
 * the real binary ($PARLEY_BIN) on the default model ($PARLEY_MODEL) prints
 * llama-bench's table shape with a row per test, --bench-bw its bandwidth
 * line, --weight-bytes a byte count; a missing model is a clear error.
 * Speeds are only checked to be there and positive: timing is for
 * `make bench`, never for a test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/common/cli.h"
#include "tests/common/fixture.h"

static char out[8192];

/* The t/s of the table row for test (e.g. "tg8"): "| ... | tg8 | 123.45 ± 6.78 |". */
static double bench_row_rate(const char *test)
{
    char key[32];
    snprintf(key, sizeof key, " %s |", test);
    const char *row = strstr(out, key);
    cr_assert(row, "no %s row in:\n%s", test, out);
    return strtod(row + strlen(key), NULL);
}

Test(bench_cli, table_has_a_row_per_test, .timeout = 120)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' -p 16 -n 8 -r 2 -t 2", cli_bin(), fixt_model("PARLEY_MODEL", "model"));
    cr_assert_eq(cli_run(cmd, false, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    cr_expect(strstr(out, "| model | size | params | backend | threads | test | t/s |"), "no header:\n%s", out);
    cr_expect(strstr(out, "| CPU | 2 |"), "threads column is not 2:\n%s", out);
    cr_expect_gt(bench_row_rate("pp16"), 0);
    cr_expect_gt(bench_row_rate("tg8"), 0);
    cr_expect_null(strstr(out, "bandwidth"), "bandwidth line without --bench-bw:\n%s", out);
}

/* The line scripts/bench.sh reads "of limit" from: both speeds positive, the
 * share a plausible fraction (the two are timed in turn, so a share far past
 * 100% would mean the plain read is not the bound it claims to be). */
Test(bench_cli, bench_bw_sets_generation_against_a_plain_read, .timeout = 120)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' -p 0 -n 16 -r 1 -t 2 --bench-bw", cli_bin(),
             fixt_model("PARLEY_MODEL", "model"));
    cr_assert_eq(cli_run(cmd, false, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    const char *l = strstr(out, "tg16 bandwidth: generation reads ");
    cr_assert(l, "no bandwidth line:\n%s", out);
    double gen = 0, rd = 0, share = 0;
    cr_assert_eq(sscanf(l, "tg16 bandwidth: generation reads %lf GB/s, a plain read of the same weights %lf GB/s, "
                           "median per token %lf%%", &gen, &rd, &share), 3, "bandwidth line: %s", l);
    cr_expect_gt(gen, 0.1);
    cr_expect_gt(rd, 0.1);
    cr_expect(share > 1 && share < 300, "share %.0f%% is not plausible:\n%s", share, l);
}

Test(bench_cli, weight_bytes_are_the_matrices_not_the_embedding_table, .timeout = 60)
{
    const char *model = fixt_model("PARLEY_MODEL", "model");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' --weight-bytes", cli_bin(), model);
    cr_assert_eq(cli_run(cmd, false, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    struct stat sb;
    cr_assert_eq(stat(model, &sb), 0);
    double wb = strtod(out, NULL);
    /* SmolLM2's embedding table doubles as its output matrix, so a token reads
     * nearly the whole file: more than 80% of it, never more than all. */
    cr_expect(wb > 0.8 * (double)sb.st_size && wb <= (double)sb.st_size, "%.0f bytes of a %lld-byte file",
              wb, (long long)sb.st_size);
}

Test(bench_cli, missing_model_is_an_error, .timeout = 30)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' bench -m /nonexistent/model.gguf -p 8 -n 8", cli_bin());
    cr_expect_neq(cli_run(cmd, true, out, sizeof out), 0);
    cr_expect(strstr(out, "parley bench:") && strstr(out, "/nonexistent/model.gguf"), "message:\n%s", out);
}

/* -d N: the tests run with N tokens already in the cache, rows named as
 * llama-bench names them ("tg4 @ d64") so scripts/bench.sh pairs them. */
Test(bench_cli, depth_runs_after_tokens_in_the_cache, .timeout = 120)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' -p 8 -n 4 -d 64 -r 1 -t 2", cli_bin(), fixt_model("PARLEY_MODEL", "model"));
    cr_assert_eq(cli_run(cmd, false, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    cr_expect_gt(bench_row_rate("pp8 @ d64"), 0);
    cr_expect_gt(bench_row_rate("tg4 @ d64"), 0);
    snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' -p 0 -n 4 -d 100000000 -r 1 -t 2", cli_bin(),
             fixt_model("PARLEY_MODEL", "model"));
    cr_expect_eq(cli_run(cmd, true, out, sizeof out), 2, "a depth past the option's range: %s", out);
}
