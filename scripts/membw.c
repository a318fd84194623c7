/* membw.c — memory read bandwidth with N threads (STREAM-style sum over a
 * 1 GiB buffer), the ceiling for token generation: a decode step reads every
 * weight once. Used by scripts/bench.sh, built with -O3 -march=native.
 *
 * The buffer is in 2 MiB pages where the kernel gives them (madvise), as
 * parley's weights are: with 4 KiB pages the same loop reads ~15% less here
 * (29.5 vs 34 GB/s, 2 threads), which would flatter anything measured
 * against it. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BYTES (1ull << 30)

typedef struct { const uint64_t *p; size_t n; uint64_t sum; } job;

/* Sum a slice with 4 independent accumulators so the loads, not the adds, bound it. */
static void *reader(void *arg)
{
    job *j = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) { a += j->p[i]; b += j->p[i + 1]; c += j->p[i + 2]; d += j->p[i + 3]; }
    j->sum = a + b + c + d;
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int nt = argc > 1 ? atoi(argv[1]) : 2;
    if (nt < 1 || nt > 256) nt = 2;
    uint64_t *buf = aligned_alloc((size_t)2 << 20, BYTES);
    if (!buf) { fprintf(stderr, "membw: out of memory\n"); return 1; }
    madvise(buf, BYTES, MADV_HUGEPAGE);
    memset(buf, 1, BYTES);
    size_t words = BYTES / 8, per = words / (size_t)nt;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[256];
        job jobs[256];
        double t0 = now();
        for (int i = 0; i < nt; i++) {
            jobs[i] = (job){buf + per * (size_t)i, per, 0};
            pthread_create(&th[i], NULL, reader, &jobs[i]);
        }
        uint64_t s = 0;
        for (int i = 0; i < nt; i++) { pthread_join(th[i], NULL); s += jobs[i].sum; }
        double gbs = (double)(per * (size_t)nt * 8) / (now() - t0) / 1e9;
        if (gbs > best) best = gbs;
        if (s == 42) puts("");  /* keep the sum alive */
    }
    printf("%.1f\n", best);
    free(buf);
    return 0;
}
