/* pool.c — persistent worker threads with a cheap fork/join.
 *
 * A decode step of a small model is ~200 short ops, so one pl_pool_run must
 * cost microseconds, not a condvar round trip per worker. The caller publishes
 * the job and bumps a generation counter; workers that are spinning see it at
 * once, sleeping ones are woken with one futex call (only if someone sleeps).
 * The caller runs share 0 itself, then waits for the pending count to hit 0.
 *
 * Idle workers never burn a core: after a job they spin for a bounded time
 * (PL_POOL_SPIN_US, default 50 us; PARLEY_SPIN_US overrides, 0 = never spin)
 * so back-to-back jobs of a decode burst do not pay a wake-up, then sleep on
 * the futex. The machine may have no spare core, so the spin is kept short.
 *
 * Ordering: both sides use seq_cst on {generation, sleepers} and
 * {pending, caller_sleeping}, so a waker either sees the sleeper's flag or the
 * sleeper's futex sees the new value (the futex re-checks atomically).
 * pl_pool_run must not be called from inside a job (it would deadlock).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cpu_impl.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define PL_POOL_SPIN_US 50

typedef void (*pool_job_fn)(int ith, int nth, void *arg);

struct pl_pool {
    int          n;            /* threads including the caller */
    pthread_t   *threads;      /* n - 1 workers */
    pool_job_fn  fn;
    void        *arg;
    atomic_uint  gen;          /* futex word: bumped once per job */
    atomic_int   pending;      /* futex word: workers still running the job */
    atomic_int   sleepers;     /* workers asleep on gen */
    atomic_int   caller_sleeping;
    atomic_bool  stop;
    int          spin_us;
#ifndef __linux__
    pthread_mutex_t mu;
    pthread_cond_t  cv;
#endif
};

typedef struct pool_worker_arg { pl_pool *p; int ith; } pool_worker_arg;

/* Block while *w == val (spurious returns allowed). */
static void pool_futex_wait(pl_pool *p, void *w, int val)
{
#ifdef __linux__
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    pthread_mutex_lock(&p->mu);
    if (atomic_load((atomic_int *)w) == val) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
#endif
}

/* Wake every thread blocked on w. */
static void pool_futex_wake(pl_pool *p, void *w)
{
#ifdef __linux__
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
#endif
}

/* Monotonic microseconds. */
static int64_t pool_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Spin up to spin_us for *w to differ from val; true if it did. */
static bool pool_spin_until_change(const atomic_uint *w, unsigned val, int spin_us)
{
    if (spin_us <= 0) return atomic_load(w) != val;
    int64_t deadline = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(w, memory_order_acquire) != val) return true;
        CPU_RELAX();
        if ((i & 63) == 0) {
            int64_t now = pool_now_us();
            if (!deadline) deadline = now + spin_us;
            else if (now >= deadline) return false;
        }
    }
}

/* Worker: wait for a new generation, run the job, report done. */
static void *pool_worker_main(void *varg)
{
    pool_worker_arg *wa = varg;
    pl_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        while (!pool_spin_until_change(&p->gen, seen, p->spin_us)) {
            atomic_fetch_add(&p->sleepers, 1);
            pool_futex_wait(p, &p->gen, (int)seen);
            atomic_fetch_sub(&p->sleepers, 1);
        }
        seen = atomic_load(&p->gen);
        if (atomic_load(&p->stop)) break;
        p->fn(ith, p->n, p->arg);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping))
            pool_futex_wake(p, &p->pending);
    }
    return NULL;
}

/* Spin time from PARLEY_SPIN_US, else the default. */
static int pool_spin_setting(void)
{
    const char *s = getenv("PARLEY_SPIN_US");
    if (!s || !*s) return PL_POOL_SPIN_US;
    long v = strtol(s, NULL, 10);
    return v < 0 ? 0 : v > 10000 ? 10000 : (int)v;
}

/* A pool of n_threads (the caller counts as one); NULL if out of memory. */
pl_pool *pl_pool_new(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    pl_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    p->spin_us = pool_spin_setting();
#ifndef __linux__
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
#endif
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        pool_worker_arg *wa = malloc(sizeof *wa);
        if (wa) wa->p = p, wa->ith = i;
        if (!wa || pthread_create(&p->threads[i - 1], NULL, pool_worker_main, wa) != 0) {
            free(wa);
            p->n = i;            /* keep the workers that did start */
            break;
        }
    }
    return p;
}

/* Stop and join the workers. */
void pl_pool_free(pl_pool *p)
{
    if (!p) return;
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->gen, 1);
    pool_futex_wake(p, &p->gen);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
#ifndef __linux__
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
#endif
    free(p->threads);
    free(p);
}

/* Threads in the pool, caller included (1 for a NULL pool). */
int pl_pool_size(const pl_pool *p) { return p ? p->n : 1; }

/* Wait until every worker has finished the current job. */
static void pool_join(pl_pool *p)
{
    int64_t deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; i++) {
        CPU_RELAX();
        if ((i & 63) != 0) continue;
        int64_t now = pool_now_us();
        if (!deadline) { deadline = now + (p->spin_us > 0 ? p->spin_us : 0); continue; }
        if (now < deadline) continue;
        atomic_store(&p->caller_sleeping, 1);
        int v;
        while ((v = atomic_load(&p->pending)) != 0) pool_futex_wait(p, &p->pending, v);
        atomic_store(&p->caller_sleeping, 0);
        break;
    }
}

/* Run fn(ith, nth, arg) on every thread, the caller as ith 0, and wait. */
void pl_pool_run(pl_pool *p, void (*fn)(int ith, int nth, void *arg), void *arg)
{
    if (!p || p->n == 1) { fn(0, 1, arg); return; }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);            /* seq_cst: publishes fn/arg */
    if (atomic_load(&p->sleepers) > 0) pool_futex_wake(p, &p->gen);
    fn(0, p->n, arg);
    pool_join(p);
}
