/* backend_test_util.h — shared helpers of the backend interface tests
 * (test_backend_*.c): start the cpu and ref backends, and move host arrays in
 * and out of a backend's memory the way the engine will. */
#ifndef PL_BACKEND_TEST_UTIL_H
#define PL_BACKEND_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "backends/backend.h"
#include "cpu_test_util.h"

/* A started backend by name (limit 0: none), or the test fails with why. */
static inline pl_backend *bt_start(const char *name, int n_threads, size_t limit)
{
    const pl_backend_ops *ops = pl_backend_find(name);
    cr_assert(ops, "no backend %s", name);
    char err[128] = "";
    pl_backend_params p = { .n_threads = n_threads, .mem_limit = limit };
    pl_backend *be = ops->init(&p, err, sizeof err);
    cr_assert(be, "%s: %s", name, err);
    return be;
}

static inline void bt_stop(pl_backend *be) { be->ops->free(be); }

/* A buffer of be holding a copy of bytes of host. */
static inline void *bt_put(pl_backend *be, const void *host, size_t bytes)
{
    void *d = be->ops->alloc(be, bytes);
    cr_assert(d, "%s: alloc %zu", be->ops->name, bytes);
    if (host) cr_assert_eq(be->ops->upload(be, d, host, bytes), 0);
    return d;
}

/* A fresh host array with a copy of bytes of be's buffer src (free it). */
static inline void *bt_get(pl_backend *be, const void *src, size_t bytes)
{
    void *h = malloc(bytes);
    cr_assert(h);
    cr_assert_eq(be->ops->download(be, h, src, bytes), 0);
    return h;
}

/* Random normal floats (never all zero) in a fresh host array. */
static inline float *bt_rand(int64_t n, uint64_t seed, float scale)
{
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    cr_assert(x);
    ct_fill_normal(x, n, seed, scale);
    return x;
}

/* Largest |a - b| over n values. */
static inline double bt_max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs((double)a[i] - b[i]) > m ? fabs((double)a[i] - b[i]) : m;
    return m;
}

#endif
