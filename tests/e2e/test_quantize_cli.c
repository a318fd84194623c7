/* test_quantize_cli.c — `parley quantize` as a user runs it: the real binary
 * ($PARLEY_BIN) converts the default model ($PARLEY_MODEL), reports progress
 * and a summary on stderr, and `parley run` on the result still answers the
 * capital question. Bad input: exit status and message.
 * (llama.cpp's view of the output is checked by scripts/check-quantize-llamacpp.py,
 * by hand: the tests never need llama.cpp.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/cli.h"

static char qe_dir[64];

static const char *qe_model(void)
{
    const char *p = getenv("PARLEY_MODEL");
    cr_assert(p && *p && access(p, R_OK) == 0, "default model missing: run `make model`");
    return p;
}

static void qe_setup(void)
{
    snprintf(qe_dir, sizeof qe_dir, "/tmp/parley-quant-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(qe_dir));
}

static void qe_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", qe_dir);
    if (qe_dir[0] && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", qe_dir);
}

TestSuite(quant_cmd_e2e, .init = qe_setup, .fini = qe_teardown, .timeout = 180);

Test(quant_cmd_e2e, q4_k_m_output_still_answers)
{
    static char out[1 << 16];
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' quantize -t 2 '%s' '%s/m.gguf' q4_k_m", cli_bin(), qe_model(), qe_dir);
    cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    cr_expect(strstr(out, "/ 272] blk.0.attn_v.weight") && strstr(out, "q4_1  -> q8_0"), "progress:\n%.2000s", out);
    cr_expect(strstr(out, "fallback"), "fallbacks are reported");
    cr_expect(strstr(out, "requantiz"), "the requantize note is printed");
    cr_expect(strstr(out, "wrote ") && strstr(out, "272 tensors"), "summary missing:\n%s", out + (strlen(out) > 600 ? strlen(out) - 600 : 0));
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s/m.gguf' --chat -p 'What is the capital of France?' -n 16 "
             "--temp 0 -t 2 2>/dev/null", cli_bin(), qe_dir);
    cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
    cr_expect(strstr(out, "Paris"), "answer from the quantized model: '%s'", out);
}

Test(quant_cmd_e2e, unknown_type_is_usage_error)
{
    char out[4096], cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s/m.gguf' Q9_9", cli_bin(), qe_model(), qe_dir);
    cr_expect_eq(cli_run(cmd, true, out, sizeof out), 2);
    cr_expect(strstr(out, "unknown type 'Q9_9'") && strstr(out, "Q4_K_M") && strstr(out, "Q8_0"), "%s", out);
}

Test(quant_cmd_e2e, missing_output_folder_fails_fast)
{
    char out[4096], cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s/nope/m.gguf' Q8_0", cli_bin(), qe_model(), qe_dir);
    cr_expect_eq(cli_run(cmd, true, out, sizeof out), 1);
    cr_expect(strstr(out, "does not exist") && !strstr(out, "[   1/"), "fails before converting: %s", out);
}

/* q8_0 and q4_0 matrices are repacked at load into the CPU's 16-row layout
 * (backends/cpu/r16.c) and run on their own prefill and decode kernels; with
 * --mmap they stay as in the file and run on the row kernels. A user must not
 * be able to tell the two apart: same greedy answer, token for token. */
Test(quant_cmd_e2e, repacked_weights_answer_as_the_file_layout_does)
{
    static char out[1 << 16], resident[4096], mapped[4096];
    char cmd[1024];
    const char *types[] = { "q8_0", "q4_0" };
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "'%s' quantize -t 2 '%s' '%s/%s.gguf' %s", cli_bin(), qe_model(), qe_dir, types[k],
                 types[k]);
        cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
        const char *ask = "run --chat -p 'What is the capital of France?' -n 24 --temp 0 -t 2";
        snprintf(cmd, sizeof cmd, "{ '%s' %s -m '%s/%s.gguf' -v >/dev/null; }", cli_bin(), ask, qe_dir, types[k]);
        cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s failed:\n%s", cmd, out);
        const char *w = strstr(out, "weights: copied into 2 MiB pages, ");
        cr_assert(w, "%s: no 'weights:' line in -v:\n%s", types[k], out);
        cr_expect(atof(w + strlen("weights: copied into 2 MiB pages, ")) >= 50,
                  "%s: the matrices were not repacked: %.120s", types[k], w);
        snprintf(cmd, sizeof cmd, "'%s' %s -m '%s/%s.gguf' 2>/dev/null", cli_bin(), ask, qe_dir, types[k]);
        cr_assert_eq(cli_run(cmd, true, resident, sizeof resident), 0);
        snprintf(cmd, sizeof cmd, "'%s' %s -m '%s/%s.gguf' --mmap 2>/dev/null", cli_bin(), ask, qe_dir, types[k]);
        cr_assert_eq(cli_run(cmd, true, mapped, sizeof mapped), 0);
        cr_expect(strstr(resident, "Paris"), "%s repacked: '%s'", types[k], resident);
        cr_expect_str_eq(resident, mapped, "%s: repacked '%s' vs file layout '%s'", types[k], resident, mapped);
    }
}
