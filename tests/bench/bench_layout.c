/* bench_layout.c — what laying out a streaming answer costs per token.
 *
 * A long Markdown answer (paragraphs, nested lists, a table, code blocks) is
 * appended to the transcript a few bytes at a time, as the worker does, and
 * layout_update runs after every token as a frame would. Prints the mean and
 * the worst cost per token over the whole answer and over its last tenth
 * (where a re-parse of the whole message would cost the most), then the
 * same for one long code block (a piece that cannot be cut), and what one
 * layout of the whole finished answer costs (a resize, or the end of the
 * stream; what every token would cost if the message were re-parsed whole).
 *   make bench-layout [BENCH_ARGS="REPEATS"]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tui/tui.h"

/* A long answer of the shape models write, about 24 KB. */
static char *long_answer(size_t *len)
{
    static const char *part =
        "## Step %d: what the code does\n\n"
        "The function **parses** the input, *checks* each field and returns `0` on success. "
        "See [the manual](https://example.org/manual) for the details of every flag.\n\n"
        "- first, open the file\n  - then read the header\n  - check its magic\n- finally close it\n\n"
        "1. build\n2. test\n3. ship\n\n"
        "| option | default | meaning |\n|---|---:|---|\n| -j | 2 | parallel jobs |\n| -v | off | verbose |\n\n"
        "```c\n#include <stdio.h>\n\nint main(void)\n{\n    /* say hello */\n    printf(\"hello %%d\\n\", 42);\n"
        "    return 0;\n}\n```\n\n"
        "> A quote that explains why, in a sentence long enough to wrap at eighty columns of text.\n\n";
    size_t cap = 32768, n = 0;
    char *s = malloc(cap);
    for (int i = 1; n + 1024 < cap - 1024 && i < 40; i++) n += (size_t)snprintf(s + n, cap - n, part, i);
    *len = n;
    return s;
}

/* One long fenced code block of about 16 KB. */
static char *long_code(size_t *len)
{
    size_t cap = 16384, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "```c\n");
    for (int i = 0; n + 128 < cap; i++)
        n += (size_t)snprintf(s + n, cap - n, "    int v%d = f(%d, \"s\"); /* step %d */\n", i, i * 7, i);
    n += (size_t)snprintf(s + n, cap - n, "```\n");
    *len = n;
    return s;
}

/* Seconds since an arbitrary start. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Stream text in tok-byte tokens; best mean, best last-tenth mean, worst (seconds). */
static void stream(const char *text, size_t len, size_t tok, int reps, double *mean, double *tail, double *worst)
{
    *mean = *tail = 1e9;
    *worst = 0;
    for (int r = 0; r < reps; r++) {
        transcript tr;
        layout L;
        transcript_init(&tr);
        layout_init(&L);
        transcript_add(&tr, TR_USER, "explain the build");
        int a = transcript_add(&tr, TR_ASSISTANT, "");
        tr.msgs[a].streaming = true;
        double t_all = 0, t_tail = 0;
        size_t n_tok = 0, n_tail = 0;
        for (size_t p = 0; p < len; p += tok) {
            size_t k = len - p < tok ? len - p : tok;
            transcript_append(&tr, a, text + p, k);
            double t0 = now();
            layout_update(&L, &tr, 100);
            double dt = now() - t0;
            t_all += dt;
            n_tok++;
            if (p >= len - len / 10) { t_tail += dt; n_tail++; }
            if (dt > *worst) *worst = dt;
        }
        if (t_all / (double)n_tok < *mean) *mean = t_all / (double)n_tok;
        if (t_tail / (double)n_tail < *tail) *tail = t_tail / (double)n_tail;
        layout_done(&L);
        transcript_done(&tr);
    }
}

/* One layout of the whole text, best of reps (seconds). */
static double whole(const char *text, int reps)
{
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        transcript tr;
        layout L;
        transcript_init(&tr);
        layout_init(&L);
        transcript_add(&tr, TR_ASSISTANT, text);
        double t0 = now();
        layout_update(&L, &tr, 100);
        double dt = now() - t0;
        if (dt < best) best = dt;
        layout_done(&L);
        transcript_done(&tr);
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    size_t len, clen;
    char *text = long_answer(&len), *code = long_code(&clen);
    const size_t tok = 4;   /* bytes per token, about what a BPE model emits */
    double mean, tail, worst;
    stream(text, len, tok, reps, &mean, &tail, &worst);
    printf("answer of %zu bytes in %zu-byte tokens at 100 columns\n", len, tok);
    printf("  per token: mean %.1f us, last tenth %.1f us, worst %.1f us\n", mean * 1e6, tail * 1e6, worst * 1e6);
    printf("  whole answer laid out once: %.1f us\n", whole(text, reps) * 1e6);
    stream(code, clen, tok, reps, &mean, &tail, &worst);
    printf("one code block of %zu bytes\n", clen);
    printf("  per token: mean %.1f us, last tenth %.1f us, worst %.1f us\n", mean * 1e6, tail * 1e6, worst * 1e6);
    printf("  laid out once: %.1f us\n", whole(code, reps) * 1e6);
    free(text);
    free(code);
    return 0;
}
