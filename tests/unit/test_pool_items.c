/* test_pool_items.c — pl_pool_run_items: every item runs exactly once, the
 * call returns only when all are done, and items jobs interleave safely with
 * plain pl_pool_run jobs (a late worker of an items job must neither claim an
 * item of a later job nor disturb the next plain job's join). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cpu_test_util.h"

typedef struct items_job { atomic_int *hits; int64_t n; atomic_int calls; } items_job;

/* Marks item k; a slow item now and then lets the other threads race ahead. */
static void item_fn(int ith, int64_t k, void *arg)
{
    items_job *j = arg;
    cr_assert(k >= 0 && k < j->n, "item %ld out of [0, %ld)", (long)k, (long)j->n);
    atomic_fetch_add(&j->hits[k], 1);
    if (k % 7 == 3)
        for (volatile int i = 0; i < 2000; i++) { }
    (void)ith;
}

typedef struct count_job2 { atomic_int calls; } count_job2;
static void share_fn(int ith, int nth, void *arg)
{
    atomic_fetch_add(&((count_job2 *)arg)->calls, 1);
    (void)ith, (void)nth;
}

Test(pool_items, every_item_once_mixed_with_plain_jobs)
{
    for (int nth = 1; nth <= 4; nth++) {
        pl_pool *p = pl_pool_new(nth);
        for (int it = 0; it < 600; it++) {
            int64_t n = 1 + (it * 37) % 61;
            items_job j = { .hits = calloc((size_t)n, sizeof(atomic_int)), .n = n };
            pl_pool_run_items(p, item_fn, n, &j);
            for (int64_t k = 0; k < n; k++)
                cr_assert_eq(atomic_load(&j.hits[k]), 1, "threads %d job %d: item %ld ran %d times", nth, it,
                             (long)k, atomic_load(&j.hits[k]));
            free(j.hits);   /* a late worker touching it after return would be caught by ASan */
            if (it % 3 == 0) {
                count_job2 c = { 0 };
                pl_pool_run(p, share_fn, &c);
                cr_assert_eq(atomic_load(&c.calls), nth, "plain job after items: %d shares, want %d",
                             atomic_load(&c.calls), nth);
            }
        }
        pl_pool_free(p);
    }
}

Test(pool_items, null_pool_and_empty_jobs)
{
    atomic_int hits[3] = { 0 };
    items_job j = { .hits = hits, .n = 3 };
    pl_pool_run_items(NULL, item_fn, 3, &j);
    pl_pool_run_items(NULL, item_fn, 0, &j);
    for (int k = 0; k < 3; k++) cr_assert_eq(atomic_load(&hits[k]), 1);
}
