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
 *
 * pl_pool_run_items is the same fork without the join: the job is a list of
 * items taken from a counter, and the caller returns when every item is DONE,
 * not when every worker has checked in. On a shared machine a worker the OS
 * has not scheduled would otherwise hold the caller for a time slice even when
 * the caller already did all the work. The counter word carries the job's
 * generation in its high half, so a worker that wakes after its job is over
 * fails its claim and touches nothing of it; a worker that did claim an item
 * is waited for (the done count includes it), so the job's memory outlives it.
 * A worker snapshots (generation, job) and re-checks the generation, because
 * after an items job the caller may publish the next job while it reads.
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
typedef void (*pool_item_fn)(int ith, int64_t k, void *arg);

struct pl_pool {
    int          n;            /* threads including the caller */
    pthread_t   *threads;      /* n - 1 workers */
    _Atomic(pool_job_fn) fn;   /* job fields: written under seq (a seqlock) */
    _Atomic(void *)      arg;
    atomic_uint  gen;          /* futex word: bumped once per job */
    atomic_int   pending;      /* futex word: workers still running the job */
    atomic_int   sleepers;     /* workers asleep on gen */
    atomic_int   caller_sleeping;
    atomic_bool  stop;
    _Atomic(pool_item_fn) item_fn;   /* items job (fn == NULL): item_fn over n_items */
    _Atomic(int64_t)      n_items;
    atomic_uint  seq;          /* odd while the caller rewrites the job fields and gen */
    _Atomic uint64_t items;    /* generation << 32 | next item */
    atomic_int   items_done;   /* futex word: items finished */
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

/* Publish a job: fields and generation change together inside the seqlock. */
static void pool_publish(pl_pool *p, pool_job_fn fn, pool_item_fn item_fn, void *arg, int64_t n)
{
    unsigned s = atomic_load_explicit(&p->seq, memory_order_relaxed);
    atomic_store_explicit(&p->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->item_fn, item_fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->n_items, n, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1);            /* seq_cst */
    atomic_store_explicit(&p->seq, s + 2, memory_order_release);
}

/* Read a consistent (generation, job); false if the caller was rewriting it. */
static bool pool_snapshot(pl_pool *p, unsigned *g, pool_job_fn *fn, pool_item_fn *item_fn, void **arg, int64_t *n)
{
    unsigned s1 = atomic_load_explicit(&p->seq, memory_order_acquire);
    if (s1 & 1) { CPU_RELAX(); return false; }
    *g = atomic_load_explicit(&p->gen, memory_order_relaxed);
    *fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    *item_fn = atomic_load_explicit(&p->item_fn, memory_order_relaxed);
    *arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
    *n = atomic_load_explicit(&p->n_items, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&p->seq, memory_order_relaxed) == s1;
}

/* Claim and run items of generation g until none are left (or g is over). */
static void pool_items_drain(pl_pool *p, int ith, unsigned g, pool_item_fn fn, void *arg, int64_t n)
{
    uint64_t w = atomic_load(&p->items);
    for (;;) {
        if ((unsigned)(w >> 32) != g || (int64_t)(w & 0xffffffffu) >= n) return;
        if (!atomic_compare_exchange_weak(&p->items, &w, w + 1)) continue;
        fn(ith, (int64_t)(w & 0xffffffffu), arg);
        if (atomic_fetch_add(&p->items_done, 1) + 1 == n && atomic_load(&p->caller_sleeping))
            pool_futex_wake(p, &p->items_done);
        w = atomic_load(&p->items);
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
        unsigned g;
        pool_job_fn fn;
        pool_item_fn item_fn;
        void *arg;
        int64_t n;
        if (!pool_snapshot(p, &g, &fn, &item_fn, &arg, &n)) continue;   /* the caller is rewriting it */
        seen = g;
        if (atomic_load(&p->stop)) break;
        if (!fn) { pool_items_drain(p, ith, g, item_fn, arg, n); continue; }
        fn(ith, p->n, arg);
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
    atomic_store(&p->pending, p->n - 1);
    pool_publish(p, fn, NULL, arg, 0);
    if (atomic_load(&p->sleepers) > 0) pool_futex_wake(p, &p->gen);
    fn(0, p->n, arg);
    pool_join(p);
}

/* Wait until n items of the current items job are done. */
static void pool_items_join(pl_pool *p, int64_t n)
{
    int64_t deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(&p->items_done, memory_order_acquire) != n; i++) {
        CPU_RELAX();
        if ((i & 63) != 0) continue;
        int64_t now = pool_now_us();
        if (!deadline) { deadline = now + (p->spin_us > 0 ? p->spin_us : 0); continue; }
        if (now < deadline) continue;
        atomic_store(&p->caller_sleeping, 1);
        int v;
        while ((v = atomic_load(&p->items_done)) != n) pool_futex_wait(p, &p->items_done, v);
        atomic_store(&p->caller_sleeping, 0);
        break;
    }
}

/* Run item(ith, k, arg) for every k < n_items over the pool, the caller
 * included, and return when all are done (not when all workers checked in). */
void pl_pool_run_items(pl_pool *p, void (*item)(int ith, int64_t k, void *arg), int64_t n_items, void *arg)
{
    if (n_items <= 0) return;
    if (!p || p->n == 1 || n_items == 1 || n_items > INT_MAX) {
        for (int64_t k = 0; k < n_items; k++) item(0, k, arg);
        return;
    }
    unsigned g = atomic_load(&p->gen) + 1;   /* the generation pool_publish makes */
    atomic_store(&p->items_done, 0);
    atomic_store(&p->items, (uint64_t)g << 32);
    pool_publish(p, NULL, item, arg, n_items);
    if (atomic_load(&p->sleepers) > 0) pool_futex_wake(p, &p->gen);
    pool_items_drain(p, 0, g, item, arg, n_items);
    pool_items_join(p, n_items);
}
