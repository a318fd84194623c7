/* test_run_stdin.c — `parley run` in a pipeline, as with ollama and llm:
 * `echo Q | parley run`, `-p -`, and `cat file | parley run -p "Summarize:"`
 * (the prompt, a blank line, then the piped text) must give what the same
 * text given with -p gives; a context that fills up mid-answer keeps the text
 * written so far, says so on stderr and exits non-zero. Greedy, real binary,
 * default model; the tokens --verbose prints prove which prompt was used. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/common/cli.h"
#include "tests/common/fixture.h"

static char a[8192], b[8192];

/* `parley run ARGS` with PRE piped in front (or "" for none); -n 6 greedy, -v. */
static int run(const char *pre, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s'%s' run -m '%s' -n 6 --temp 0 -t 2 -v %s 2>&1 %s",
             pre, cli_bin(), fixt_model("PARLEY_MODEL", "model"), args, *pre ? "" : "</dev/null");
    return cli_run(cmd, false, out, len);
}

/* The "prompt: N tokens: ..." line of --verbose (static copy). */
static const char *prompt_line(const char *out)
{
    static char line[4096];
    const char *p = strstr(out, "prompt: ");
    cr_assert(p, "no prompt line in:\n%s", out);
    size_t n = strcspn(p, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    return line;
}

Test(run_stdin, piped_prompt_is_the_prompt, .timeout = 120)
{
    cr_assert_eq(run("", "-p 'The capital of France is'", a, sizeof a), 0, "%s", a);
    cr_assert_eq(run("echo 'The capital of France is' | ", "", b, sizeof b), 0, "%s", b);
    cr_expect_str_eq(prompt_line(b), prompt_line(a), "echo | run read another prompt");
    cr_assert_eq(run("printf 'The capital of France is' | ", "-p -", b, sizeof b), 0, "%s", b);
    cr_expect_str_eq(prompt_line(b), prompt_line(a), "-p - read another prompt");
}

Test(run_stdin, prompt_then_piped_text, .timeout = 120)
{
    cr_assert_eq(run("", "-p \"$(printf 'Summarize:\\n\\nParis is the capital of France.')\"", a, sizeof a), 0, "%s", a);
    cr_assert_eq(run("echo 'Paris is the capital of France.' | ", "-p 'Summarize:'", b, sizeof b), 0, "%s", b);
    cr_expect_str_eq(prompt_line(b), prompt_line(a), "the piped text did not follow the prompt");
    /* With --chat the piped text is the user's turn. */
    cr_assert_eq(run("echo 'What is 2+2?' | ", "--chat", b, sizeof b), 0, "%s", b);
    cr_assert_eq(run("", "--chat -p 'What is 2+2?'", a, sizeof a), 0, "%s", a);
    cr_expect_str_eq(prompt_line(b), prompt_line(a));
}

Test(run_stdin, nothing_to_read_is_a_usage_error)
{
    cr_assert_eq(run("", "", a, sizeof a), 2, "%s", a);
    cr_expect(strstr(a, "no prompt; give one with -p TEXT, -p - or on stdin"), "%s", a);
    cr_assert_eq(run("true | ", "", a, sizeof a), 2, "an empty pipe: %s", a);
}

Test(run_stdin, full_context_says_so_and_fails, .timeout = 120)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -c 16 -n 64 --temp 0 -t 2 -p 'Once upon a time' 2>'%s' </dev/null",
             cli_bin(), fixt_model("PARLEY_MODEL", "model"), "/tmp/parley-run-stdin.err");
    int rc = cli_run(cmd, false, a, sizeof a);
    FILE *f = fopen("/tmp/parley-run-stdin.err", "r");
    size_t n = f ? fread(b, 1, sizeof b - 1, f) : 0;
    if (f) fclose(f);
    b[n] = 0;
    remove("/tmp/parley-run-stdin.err");
    cr_expect_eq(rc, 1, "exit status %d; stderr:\n%s", rc, b);
    cr_expect(strstr(b, "the context is full (16 tokens)"), "stderr:\n%s", b);
    cr_expect_gt(strlen(a), 1, "the text written before the context filled is gone");
}

Test(run_stdin, an_idle_pipe_is_not_waited_for, .timeout = 60)
{
    /* A pipe left open with nothing in it (a runner, a subprocess, ssh -T):
     * -p TEXT goes ahead alone after a grace second. */
    cr_assert_eq(run("sleep 3 | ", "-p 'The capital of France is'", b, sizeof b), 0, "%s", b);
    cr_expect(strstr(b, "nothing on stdin within 1000 ms; the prompt is -p alone"), "%s", b);
    cr_assert_eq(run("", "-p 'The capital of France is'", a, sizeof a), 0, "%s", a);
    cr_expect_str_eq(prompt_line(b), prompt_line(a));
}

/* An answer cut inside a character by -n ends at its last whole character,
 * as the chat stores it (no U+FFFD); --raw keeps the cut bytes. The default
 * model answers this prompt with emoji, and its fourth token ends inside one. */
Test(run_stdin, an_answer_cut_inside_a_character_ends_at_the_last_whole_one, .timeout = 60)
{
    char cmd[2048];
    const char *fmt = "'%s' run -m '%s' --chat -p 'Reply with three emoji.' -n 4 --temp 0 -t 2 %s";
    snprintf(cmd, sizeof cmd, fmt, cli_bin(), fixt_model("PARLEY_MODEL", "model"), "");
    cr_assert_eq(cli_run(cmd, false, a, sizeof a), 0, "%s", a);
    cr_expect_null(strstr(a, "\xef\xbf\xbd"), "a cut character shown as U+FFFD: '%s'", a);
    snprintf(cmd, sizeof cmd, fmt, cli_bin(), fixt_model("PARLEY_MODEL", "model"), "--raw");
    cr_assert_eq(cli_run(cmd, false, b, sizeof b), 0, "%s", b);
    size_t la = strlen(a), lb = strlen(b);
    cr_expect_gt(lb, la, "--raw dropped the cut bytes too ('%s' vs '%s')", b, a);
    cr_expect_eq(memcmp(a, b, la - 1), 0, "the whole characters differ");
}
