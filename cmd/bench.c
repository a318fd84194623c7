/* bench.c — `parley bench`: prompt-processing and generation speed, printed
 * as a table in llama-bench's shape so scripts/bench.sh can set the two side
 * by side.
 *
 *   pp<N>: N tokens decoded as one batched prefill into an empty context;
 *   tg<N>: N tokens decoded one at a time from an empty context.
 * With -d D (--bench-depth) both start with D tokens already in the KV cache
 * (decoded once, kept between runs), as llama-bench's -d: the speed of a
 * long conversation, where attention reads the whole cache every token.
 * The rows then read "pp512 @ d4096", as llama-bench writes them.
 * Each test runs once to warm up (page in the weights, size the buffers),
 * then -r times; the table shows the mean and standard deviation of tok/s.
 * Token ids are arbitrary (speed does not depend on them).
 * --bench-bw adds one line: generation's read speed against a plain read of
 * the same weight bytes timed right after each token (scripts/bench.sh turns
 * it into the "of limit" column).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

/* One timed run of a test after depth tokens: seconds, or a negative value on error. */
static double bench_once(pl_ctx *ctx, int seq, int depth, const int32_t *toks, int n, bool batched, pl_status *st)
{
    if (pl_seq_truncate(ctx, seq, depth) != 0) {
        pl_status_set(st, PL_ERR_ARG, "cannot clear the sequence");
        return -1;
    }
    double t0 = pl_now_s();
    if (batched) {
        if (pl_decode(ctx, seq, toks, n, st) != 0) return -1;
    } else {
        for (int i = 0; i < n; i++)
            if (pl_decode(ctx, seq, &toks[i], 1, st) != 0) return -1;
    }
    return pl_now_s() - t0;
}

/* Warm up, run reps times, print one table row. */
static int bench_test(pl_ctx *ctx, int seq, int depth, const char *label, const int32_t *toks, int n,
                      bool batched, int reps, const char *prefix, pl_status *st)
{
    if (n <= 0) return 0;
    if (bench_once(ctx, seq, depth, toks, n, batched, st) < 0) return -1;
    double sum = 0, sum2 = 0;
    for (int r = 0; r < reps; r++) {
        double s = bench_once(ctx, seq, depth, toks, n, batched, st);
        if (s < 0) return -1;
        double tps = n / s;
        sum += tps;
        sum2 += tps * tps;
    }
    double mean = sum / reps, var = reps > 1 ? (sum2 - sum * sum / reps) / (reps - 1) : 0;
    char test[48];
    if (depth > 0) snprintf(test, sizeof test, "%s%d @ d%d", label, n, depth);
    else snprintf(test, sizeof test, "%6s%d", label, n);
    cmd_term_printf(stdout, false, "%s | %s | %10.2f ± %.2f |\n", prefix, test, mean, sqrt(var > 0 ? var : 0));
    fflush(stdout);
    return 0;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --bench-bw: n more tokens, each between two plain reads of the weight
 * bytes it reads (pl_ctx_read_weights_s), so each token is set against the
 * memory of its own moment, the faster read of the two (the bandwidth is
 * never understated); prints both bandwidths and the median per-token share. */
static int bench_bw(pl_ctx *ctx, int seq, int depth, const int32_t *toks, int n, uint64_t wbytes, pl_status *st)
{
    double *share = malloc(sizeof *share * (size_t)n);
    double prev = share ? pl_ctx_read_weights_s(ctx) : -1;
    if (prev < 0 || pl_seq_truncate(ctx, seq, depth) != 0) {
        free(share);
        pl_status_set(st, prev < 0 ? PL_ERR_NOMEM : PL_ERR_ARG, prev < 0 ? "out of memory" : "cannot clear the sequence");
        return -1;
    }
    double td = 0, tr = 0;
    for (int i = 0; i < n; i++) {
        double t0 = pl_now_s();
        if (pl_decode(ctx, seq, &toks[i], 1, st) != 0) {
            free(share);
            return -1;
        }
        double d = pl_now_s() - t0, r = pl_ctx_read_weights_s(ctx);
        if (r < 0) {
            free(share);
            pl_status_set(st, PL_ERR_NOMEM, "out of memory");
            return -1;
        }
        double best = r < prev ? r : prev;
        td += d, tr += best, share[i] = best / d, prev = r;
    }
    qsort(share, (size_t)n, sizeof *share, bench_cmp_double);
    double med = n % 2 ? share[n / 2] : (share[n / 2 - 1] + share[n / 2]) / 2;
    printf("tg%d bandwidth: generation reads %.1f GB/s, a plain read of the same weights %.1f GB/s, "
           "median per token %.0f%%\n", n, (double)wbytes * n / td / 1e9, (double)wbytes * n / tr / 1e9, 100 * med);
    fflush(stdout);
    free(share);
    return 0;
}

/* "llama 135M Q4_1 | 93.80 MiB | 134.52 M | CPU | 2": the type is the file's
 * general.file_type (Q4_K_M), as llama-bench labels it, else the dominant one. */
static void bench_prefix(const pl_model *m, const char *path, int threads, char *buf, size_t len)
{
    pl_model_info info;
    pl_model_get_info(m, &info);
    pl_model_entry e;
    char ftype[32];
    if (pl_catalog_inspect(path, &e) == 0 && e.quant[0]) snprintf(ftype, sizeof ftype, "%s", e.quant);
    else snprintf(ftype, sizeof ftype, "%s", info.ftype);
    for (char *p = ftype; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    char size[32];
    pl_catalog_fmt_params(info.n_params, size, sizeof size);
    snprintf(buf, len, "| %s %s %s | %.2f MiB | %.2f M | CPU | %d", info.arch, size, ftype,
             info.file_size / 1048576.0, info.n_params / 1e6, threads);
}

int cmd_bench(int argc, char **argv)
{
    pl_config cfg;
    char err[256];
    int first = 0;
    config_init(&cfg);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err) < 0) {
        cmd_term_printf(stderr, false, "parley bench: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    int rc = 1;
    pl_status st = {0};
    char *path = NULL;
    pl_model *m = cmd_model_open(&cfg, &path, &st);
    pl_ctx *ctx = NULL;
    int32_t *toks = NULL;
    if (!m) { cmd_term_printf(stderr, false, "parley bench: %s\n", st.msg); goto done; }
    if (cfg.weight_bytes) {
        printf("%llu\n", (unsigned long long)pl_model_weight_bytes_per_token(m));
        rc = 0;
        goto done;
    }
    pl_ctx_params cp;
    config_to_ctx_params(&cfg, &cp);
    int depth = cfg.bench_depth;
    int need = depth + (cfg.bench_pp > cfg.bench_tg ? cfg.bench_pp : cfg.bench_tg) + 1;
    cp.n_ctx = need;                                                        /* sized to the tests */
    cp.n_batch = cfg.bench_pp > 0 ? cfg.bench_pp : depth > 0 ? 512 : 1;   /* pp as one batch; the depth too */
    if (!(ctx = pl_ctx_new(m, &cp, &st)) || config_apply_layers_on(&cfg, ctx, &st)) {
        cmd_term_printf(stderr, false, "parley bench: %s\n", st.msg);
        goto done;
    }
    int seq = pl_seq_new(ctx, &st);
    toks = malloc(sizeof *toks * (size_t)need);
    if (seq < 0 || !toks) { cmd_term_printf(stderr, false, "parley bench: %s\n", seq < 0 ? st.msg : "out of memory"); goto done; }
    int nv = pl_n_vocab(m);
    for (int i = 0; i < need; i++) toks[i] = (int32_t)((i * 7919u + 13u) % (unsigned)nv);
    char prefix[256];
    int threads = cfg.threads > 0 ? cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    bench_prefix(m, path, threads, prefix, sizeof prefix);
    printf("| model | size | params | backend | threads | test | t/s |\n");
    printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    if ((depth > 0 && pl_decode(ctx, seq, toks, depth, &st) != 0) ||   /* kept: each run truncates back to it */
        bench_test(ctx, seq, depth, "pp", toks + depth, cfg.bench_pp, true, cfg.bench_reps, prefix, &st) < 0 ||
        bench_test(ctx, seq, depth, "tg", toks + depth, cfg.bench_tg, false, cfg.bench_reps, prefix, &st) < 0 ||
        (cfg.bench_bw && cfg.bench_tg > 0 &&
         bench_bw(ctx, seq, depth, toks + depth, cfg.bench_tg, pl_model_weight_bytes_per_token(m), &st) < 0)) {
        cmd_term_printf(stderr, false, "parley bench: %s\n", st.msg);
        goto done;
    }
    rc = 0;
done:
    free(toks);
    pl_ctx_free(ctx);
    pl_model_free(m);
    free(path);
    config_free(&cfg);
    return rc;
}
