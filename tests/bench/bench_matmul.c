/* bench_matmul.c — micro benchmark of the CPU matmul (not a test).
 *
 *   bench_matmul [threads] [filter]
 *
 * Decode shapes are run "cold": the weights cycle through 640 MB of copies to
 * overflow the last-level cache (480 MB here), so GB/s is real memory
 * bandwidth (compare with scripts/membw: ~43 GB/s for 2 threads, idle machine). Prefill shapes report
 * GFLOP/s (2*rows*cols*n per call). Also times an empty pool dispatch.
 * Build (no Makefile target yet):
 *   make build/libparley.a && cc -O2 -I. -D_GNU_SOURCE -pthread tests/bench/bench_matmul.c \
 *       build/libparley.a -lm -o build/bench_matmul
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend.h"
#include "engine/engine.h"

/* Wall seconds. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Random weights of type t: rows x cols, as copies enough to exceed caches. */
static uint8_t *make_weights(pl_type t, int64_t rows, int64_t cols, int copies)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    size_t rs = pl_row_size(t, cols);
    uint8_t *w = malloc(rs * rows * copies);
    float *f = malloc(cols * sizeof *f);
    unsigned s = 1;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t k = 0; k < cols; k++) s = s * 1103515245 + 12345, f[k] = ((s >> 9) & 0xffff) / 65536.f - 0.5f;
        tr->from_float(f, w + r * rs, cols);
    }
    for (int c = 1; c < copies; c++) memcpy(w + rs * rows * c, w, rs * rows);
    free(f);
    return w;
}

/* Decode: y = W x for one token, cold weights; prints GB/s and us/call. */
static void bench_decode(pl_pool *p, pl_type t, int64_t rows, int64_t cols)
{
    size_t bytes = pl_row_size(t, cols) * rows;
    if (!bytes) return;   /* cols not a multiple of the block */
    int copies = (int)(640e6 / bytes) + 1;   /* > 640 MB in all: past the 480 MB L3 */
    uint8_t *w = make_weights(t, rows, cols, copies);
    float *x = calloc(cols, sizeof *x), *y = calloc(rows, sizeof *y);
    for (int64_t k = 0; k < cols; k++) x[k] = (float)(k % 7) - 3;
    int iters = copies * 4;
    for (int i = 0; i < copies; i++) pl_cpu_matmul(p, w + bytes * i, t, rows, cols, x, 1, y);
    double t0 = now_s();
    for (int i = 0; i < iters; i++) pl_cpu_matmul(p, w + bytes * (i % copies), t, rows, cols, x, 1, y);
    double dt = (now_s() - t0) / iters;
    /* hot: same matrix again and again (cache-resident for small shapes) */
    double t1 = now_s();
    for (int i = 0; i < 2000; i++) pl_cpu_matmul(p, w, t, rows, cols, x, 1, y);
    double dh = (now_s() - t1) / 2000;
    printf("decode  %-5s %5ldx%-5ld  cold %7.1f us %6.1f GB/s | hot %7.1f us %6.1f GB/s\n",
           pl_type_name(t), (long)rows, (long)cols, dt * 1e6, bytes / dt / 1e9, dh * 1e6, bytes / dh / 1e9);
    free(w), free(x), free(y);
}

/* Prefill: Y = X W^T for n tokens; prints GFLOP/s. */
static void bench_prefill(pl_pool *p, pl_type t, int64_t rows, int64_t cols, int64_t n)
{
    if (!pl_row_size(t, cols)) cols = 768;   /* K-quants: 256-blocks */
    uint8_t *w = make_weights(t, rows, cols, 1);
    float *x = malloc(n * cols * sizeof *x), *y = malloc(n * rows * sizeof *y);
    for (int64_t k = 0; k < n * cols; k++) x[k] = (float)(k % 13) * 0.1f - 0.6f;
    pl_cpu_matmul(p, w, t, rows, cols, x, n, y);
    int iters = 0;
    double t0 = now_s(), dt;
    do {
        pl_cpu_matmul(p, w, t, rows, cols, x, n, y);
        iters++;
    } while ((dt = now_s() - t0) < 0.5);
    dt /= iters;
    printf("prefill %-5s %5ldx%-5ld n=%-4ld %8.2f ms %7.1f GFLOP/s\n", pl_type_name(t), (long)rows,
           (long)cols, (long)n, dt * 1e3, 2.0 * rows * cols * n / dt / 1e9);
    free(w), free(x), free(y);
}

/* Empty job: the fixed cost of one pl_pool_run. */
static void noop(int ith, int nth, void *arg) { (void)ith, (void)nth, (void)arg; }

static void bench_dispatch(pl_pool *p)
{
    for (int i = 0; i < 1000; i++) pl_pool_run(p, noop, NULL);
    double t0 = now_s();
    for (int i = 0; i < 100000; i++) pl_pool_run(p, noop, NULL);
    printf("pool dispatch (%d threads): %.2f us per pl_pool_run\n", pl_pool_size(p), (now_s() - t0) / 100000 * 1e6);
}

int main(int argc, char **argv)
{
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    const char *filter = argc > 2 ? argv[2] : "";
    pl_pool *p = pl_pool_new(nth);
    printf("cpu path %s, %d threads\n", pl_cpu_level_name(pl_cpu_level()), nth);
    if (!*filter || strstr(filter, "pool")) bench_dispatch(p);
    pl_type dec[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q8_0, PL_TYPE_Q4_K, PL_TYPE_Q6_K, PL_TYPE_F16 };
    for (int i = 0; i < 6; i++) {
        if (*filter && !strstr(filter, pl_type_name(dec[i]))) continue;
        bench_decode(p, dec[i], 1536, 576);
        bench_decode(p, dec[i], 5632, 2048);
        if (!strstr(filter, "decode")) bench_prefill(p, dec[i], 1536, 576, 512);
    }
    pl_pool_free(p);
    return 0;
}
