/* bench_matmul.c — micro benchmark of the CPU matmul (not a test).
 *
 *   bench_matmul [threads] [filter]      (make bench-kernels BENCH_ARGS="2 q4_0")
 *
 * Decode shapes are run "cold": the weights cycle through 640 MB of copies to
 * overflow the last-level cache, so GB/s is real memory bandwidth (compare
 * with `parley bench --bench-bw`'s plain read, same threads); "hot" repeats one matrix (L2/L3-resident,
 * as a small model's weights are). Each is timed in the file's row layout and,
 * for the types that have one, in the 16-row layout (r16.c) the engine uses. Prefill shapes
 * report GFLOP/s (2*rows*cols*n per call) on the best CPU path and, for a ratio taken
 * in the same run, on the AVX2 path. Every figure is the best of many calls: the
 * machine is shared, and the minimum is the least disturbed. Also times an empty
 * pool dispatch. Filter words: a type name, "decode", "prefill".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* Random weights of type t: rows x cols, as copies enough to exceed caches,
 * in 2 MiB pages as the engine loads them (engine/gguf_resident.c). */
static uint8_t *make_weights(pl_type t, int64_t rows, int64_t cols, int copies)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    size_t rs = pl_row_size(t, cols);
    size_t huge = (size_t)2 << 20, len = (rs * rows * copies + huge - 1) / huge * huge;
    uint8_t *w = aligned_alloc(huge, len);
    if (w) madvise(w, len, MADV_HUGEPAGE);
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

/* One decode call on W in the given layout. */
static void decode_call(pl_pool *p, const uint8_t *w, pl_type t, pl_layout lay, int64_t rows, int64_t cols,
                        const float *x, float *y)
{
    pl_matmul_w mw = { w, t, rows, y, lay };
    pl_cpu_matmul_multi(p, &mw, 1, cols, x, 1);
}

/* Best seconds per call over all the copies ("cold": from memory) and over
 * 2000 calls on the first ("hot": cache-resident for small shapes). */
static void decode_time(pl_pool *p, const uint8_t *w, size_t bytes, int copies, pl_type t, pl_layout lay,
                        int64_t rows, int64_t cols, const float *x, float *y, double *cold, double *hot)
{
    for (int i = 0; i < copies; i++) decode_call(p, w + bytes * i, t, lay, rows, cols, x, y);
    *cold = *hot = 1e9;
    for (int pass = 0; pass < 4; pass++) {
        double t0 = now_s();
        for (int i = 0; i < copies; i++) decode_call(p, w + bytes * i, t, lay, rows, cols, x, y);
        double d = (now_s() - t0) / copies;
        *cold = d < *cold ? d : *cold;
    }
    for (int i = 0; i < 2000; i++) {
        double t1 = now_s();
        decode_call(p, w, t, lay, rows, cols, x, y);
        double d = now_s() - t1;
        *hot = d < *hot ? d : *hot;
    }
}

/* Decode: y = W x for one token, cold and hot, in the file's row layout and,
 * where the type has one, in the 16-row layout the engine loads it into. */
static void bench_decode(pl_pool *p, pl_type t, int64_t rows, int64_t cols)
{
    size_t bytes = pl_row_size(t, cols) * rows;
    if (!bytes) return;   /* cols not a multiple of the block */
    int copies = (int)(640e6 / bytes) + 1;   /* > 640 MB in all: past any last-level cache */
    uint8_t *w = make_weights(t, rows, cols, copies);
    float *x = calloc(cols, sizeof *x), *y = calloc(rows, sizeof *y);
    for (int64_t k = 0; k < cols; k++) x[k] = (float)(k % 7) - 3;
    double dt, dh;
    decode_time(p, w, bytes, copies, t, PL_LAYOUT_ROWS, rows, cols, x, y, &dt, &dh);
    printf("decode  %-5s %6ldx%-5ld rows cold %6.1f GB/s hot %6.1f GB/s", pl_type_name(t), (long)rows, (long)cols,
           bytes / dt / 1e9, bytes / dh / 1e9);
    if (pl_cpu_r16_supported(t, rows, cols)) {
        for (int i = 0; i < copies; i++) pl_cpu_r16_repack(t, w + bytes * i, rows, cols);
        decode_time(p, w, bytes, copies, t, PL_LAYOUT_R16, rows, cols, x, y, &dt, &dh);
        printf(" | r16 cold %6.1f GB/s %7.1f us hot %6.1f GB/s", bytes / dt / 1e9, dt * 1e6, bytes / dh / 1e9);
    }
    printf("\n");
    free(w), free(x), free(y);
}

/* Best seconds per call of one prefill matmul over ~0.4 s of calls. */
static double prefill_best(pl_pool *p, const uint8_t *w, pl_type t, int64_t rows, int64_t cols,
                           const float *x, int64_t n, float *y)
{
    pl_cpu_matmul(p, w, t, rows, cols, x, n, y);
    double best = 1e9, t0 = now_s();
    do {
        double t1 = now_s();
        pl_cpu_matmul(p, w, t, rows, cols, x, n, y);
        double d = now_s() - t1;
        best = d < best ? d : best;
    } while (now_s() - t0 < 0.4);
    return best;
}

/* Prefill: Y = X W^T for n tokens; prints GFLOP/s on the best path and on AVX2. */
static void bench_prefill(pl_pool *p, pl_type t, int64_t rows, int64_t cols, int64_t n)
{
    if (!pl_row_size(t, cols)) cols = 768;   /* K-quants: 256-blocks */
    uint8_t *w = make_weights(t, rows, cols, 1);
    float *x = malloc(n * cols * sizeof *x), *y = malloc(n * rows * sizeof *y);
    for (int64_t k = 0; k < n * cols; k++) x[k] = (float)(k % 13) * 0.1f - 0.6f;
    double flop = 2.0 * rows * cols * n, dt = prefill_best(p, w, t, rows, cols, x, n, y);
    printf("prefill %-5s %5ldx%-5ld n=%-4ld %8.2f ms %7.1f GFLOP/s", pl_type_name(t), (long)rows,
           (long)cols, (long)n, dt * 1e3, flop / dt / 1e9);
    if (pl_cpu_level() == PL_CPU_AVX512) {
        pl_cpu_force_level(PL_CPU_AVX2);
        double d2 = prefill_best(p, w, t, rows, cols, x, n, y);
        pl_cpu_force_level(-1);
        printf(" | avx2 %7.1f GFLOP/s (x%.2f)", flop / d2 / 1e9, d2 / dt);
    }
    printf("\n");
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
    pl_type dec[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0, PL_TYPE_Q8_0, PL_TYPE_Q4_K, PL_TYPE_Q6_K, PL_TYPE_F16 };
    bool typed = false;   /* a type named in the filter: only those */
    for (int k = 0; k < 7; k++) typed = typed || strstr(filter, pl_type_name(dec[k]));
    bool dec_on = !strstr(filter, "prefill"), pre_on = !strstr(filter, "decode");
    for (int i = 0; i < 7; i++) {
        if (typed && !strstr(filter, pl_type_name(dec[i]))) continue;
        if (dec_on) {
            bench_decode(p, dec[i], 576, 1536);    /* SmolLM2 ffn_down: cache-resident */
            bench_decode(p, dec[i], 5632, 2048);   /* 1.1B ffn_up */
            if (dec[i] == PL_TYPE_Q8_0) bench_decode(p, dec[i], 262144, 640);   /* Gemma 3 270M tied output */
        }
        if (pre_on) bench_prefill(p, dec[i], 1536, 576, 512);
    }
    pl_pool_free(p);
    return 0;
}
