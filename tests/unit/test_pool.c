/* test_pool.c — the thread pool runs every share of every job exactly once,
 * and idle workers sleep instead of burning a core. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

#include "cpu_test_util.h"

typedef struct count_job { atomic_long sum; atomic_int calls; int nth_seen; } count_job;

/* Each share adds ith + 1, so a missing or doubled share changes the sum. */
static void count_fn(int ith, int nth, void *arg)
{
    count_job *j = arg;
    atomic_fetch_add(&j->sum, ith + 1);
    atomic_fetch_add(&j->calls, 1);
    j->nth_seen = nth;
}

Test(pool_cpu, thousand_jobs_each_share_once)
{
    for (int nth = 1; nth <= 4; nth++) {
        pl_pool *p = pl_pool_new(nth);
        cr_assert_not_null(p);
        cr_assert_eq(pl_pool_size(p), nth);
        for (int i = 0; i < 1000; i++) {
            count_job j = { 0 };
            pl_pool_run(p, count_fn, &j);
            cr_assert_eq(atomic_load(&j.calls), nth, "job %d: %d shares ran, want %d", i, j.calls, nth);
            cr_assert_eq(atomic_load(&j.sum), nth * (nth + 1) / 2);
            cr_assert_eq(j.nth_seen, nth);
        }
        pl_pool_free(p);
    }
}

Test(pool_cpu, null_pool_runs_inline)
{
    count_job j = { 0 };
    pl_pool_run(NULL, count_fn, &j);
    cr_assert_eq(j.calls, 1);
    cr_assert_eq(pl_pool_size(NULL), 1);
}

/* CPU time of the whole process in milliseconds. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

Test(pool_cpu, idle_workers_sleep)
{
    pl_pool *p = pl_pool_new(3);
    count_job j = { 0 };
    for (int i = 0; i < 50; i++) pl_pool_run(p, count_fn, &j);
    double before = cpu_ms();
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    double used = cpu_ms() - before;
    cr_assert(used < 20, "idle pool used %.1f ms of CPU in 200 ms", used);
    /* and it still works after sleeping */
    count_job k = { 0 };
    pl_pool_run(p, count_fn, &k);
    cr_assert_eq(k.calls, 3);
    pl_pool_free(p);
}
