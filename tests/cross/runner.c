/* runner.c — runs the tests registered through tests/cross/criterion/criterion.h,
 * each in a child process, and prints a summary like Criterion's; exit status
 * 1 when any test failed or crashed. `--filter SUITE` runs one suite. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

enum { XT_MAX = 256, XT_FAIL = 3, XT_SKIP = 4 };
static struct { const char *suite, *name; xt_fn fn; } xt_tests[XT_MAX];
static int xt_n;

void xt_register(const char *suite, const char *name, xt_fn fn)
{
    if (xt_n == XT_MAX) { fprintf(stderr, "cross runner: more than %d tests\n", XT_MAX); exit(2); }
    xt_tests[xt_n].suite = suite, xt_tests[xt_n].name = name, xt_tests[xt_n].fn = fn;
    xt_n++;
}

void xt_check(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
    if (ok) return;
    fprintf(stderr, "  %s:%d: assertion failed: %s\n", file, line, expr);
    if (*fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    exit(XT_FAIL);
}

void xt_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  skipped: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(XT_SKIP);
}

int main(int argc, char **argv)
{
    const char *only = argc > 2 && strcmp(argv[1], "--filter") == 0 ? argv[2] : NULL;
    int run = 0, pass = 0, fail = 0, skip = 0;
    for (int i = 0; i < xt_n; i++) {
        if (only && strcmp(only, xt_tests[i].suite) != 0) continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) { xt_tests[i].fn(); fflush(NULL); _exit(0); }
        int st;
        waitpid(pid, &st, 0);
        run++;
        const char *what = "PASS";
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) pass++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == XT_SKIP) skip++, what = "SKIP";
        else fail++, what = WIFSIGNALED(st) ? "CRASH" : "FAIL";
        printf("[%s] %s::%s\n", what, xt_tests[i].suite, xt_tests[i].name);
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Skipped: %d\n", run, pass, fail, skip);
    return fail ? 1 : 0;
}
