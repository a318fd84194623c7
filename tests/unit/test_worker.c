/* test_worker.c — the worker's life cycle under memory faults.
 *
 * The unit binary is linked with -Wl,--wrap=calloc, so calloc calls made by
 * parley's objects go through fault_calloc below: a test arms it to fail
 * every call from some point on (SQLite-style fault injection).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

void *__real_calloc(size_t n, size_t size);
static int g_calloc_fail;   /* 1: every calloc from parley's objects fails */

/* The wrapped calloc: the real one unless a test armed the fault. */
void *__wrap_calloc(size_t n, size_t size)
{
    if (g_calloc_fail) return NULL;
    return __real_calloc(n, size);
}

/* Threads of this process (entries of /proc/self/task). */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert(d, "no /proc/self/task");
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* pl_worker_free must stop and join the thread even when memory has run
 * out by then (it used to allocate its QUIT request there and, failing,
 * freed the worker under a thread still running). */
Test(worker, free_joins_the_thread_when_memory_is_out)
{
    int before = thread_count();
    pl_status st;
    pl_worker *w = pl_worker_new(&st);
    cr_assert(w, "%s", st.msg);
    cr_expect_eq(thread_count(), before + 1);
    g_calloc_fail = 1;
    pl_worker_free(w);
    g_calloc_fail = 0;
    cr_expect_eq(thread_count(), before, "the worker thread was left running");
}

/* Out of memory at start: no worker, a message, no thread left behind. */
Test(worker, new_out_of_memory_says_so)
{
    int before = thread_count();
    pl_status st;
    g_calloc_fail = 1;
    pl_worker *w = pl_worker_new(&st);
    g_calloc_fail = 0;
    cr_expect_null(w);
    cr_expect_eq(st.code, PL_ERR_NOMEM);
    cr_expect(strstr(st.msg, "out of memory"), "%s", st.msg);
    cr_expect_eq(thread_count(), before);
}
