/* host_mem.c — counted host buffers for the backends that live in host memory.
 *
 * Each buffer carries a 64-byte header (its size and owner) in front of the
 * aligned bytes the caller gets, so release needs no size and a buffer handed
 * back to the wrong backend is caught at once. The count is what callers
 * asked for, not malloc's overhead: the numbers a placement decision compares
 * against the limit are the model's bytes.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_impl.h"

#define HM_HEAD 64
#define HM_MAGIC 0x706c686d656d3031ull   /* "plhmem01" */

typedef struct hm_head {
    uint64_t          magic;
    size_t            bytes;
    const pl_hostmem *owner;
} hm_head;

void *pl_hostmem_alloc(pl_hostmem *m, size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * HM_HEAD) return NULL;
    size_t now = atomic_fetch_add(&m->used, bytes);
    if (m->limit && (now + bytes > m->limit || now + bytes < now)) {
        atomic_fetch_sub(&m->used, bytes);
        return NULL;
    }
    uint8_t *p = aligned_alloc(HM_HEAD, HM_HEAD + ((bytes + HM_HEAD - 1) & ~(size_t)(HM_HEAD - 1)));
    if (!p) {
        atomic_fetch_sub(&m->used, bytes);
        return NULL;
    }
    *(hm_head *)(void *)p = (hm_head){ HM_MAGIC, bytes, m };
    return p + HM_HEAD;
}

void pl_hostmem_release(pl_hostmem *m, void *p)
{
    if (!p) return;
    hm_head *h = (hm_head *)(void *)((uint8_t *)p - HM_HEAD);
    assert(h->magic == HM_MAGIC && h->owner == m && "buffer released to a backend that did not allocate it");
    atomic_fetch_sub(&m->used, h->bytes);
    h->magic = 0;
    free(h);
}

/* Without a limit the machine is the limit: total is its RAM, free what the OS has free. */
void pl_hostmem_info(const pl_hostmem *m, size_t *total, size_t *used, size_t *free_b)
{
    size_t u = atomic_load(&m->used), page = (size_t)sysconf(_SC_PAGESIZE);
    size_t t = m->limit ? m->limit : (size_t)sysconf(_SC_PHYS_PAGES) * page;
    size_t f = m->limit ? (u < m->limit ? m->limit - u : 0) : (size_t)sysconf(_SC_AVPHYS_PAGES) * page;
    if (total) *total = t;
    if (used) *used = u;
    if (free_b) *free_b = f;
}

/* Both ends are host memory: a copy is a memcpy; any other source backend is not ours to read. */
int pl_hostmem_copy_from(pl_backend *be, void *dst, pl_backend *from, const void *src, size_t bytes)
{
    if (!from || (from->ops != &pl_backend_cpu_ops && from->ops != &pl_backend_ref_ops))
        return PL_BACKEND_EUNSUPPORTED;
    if (bytes && (!dst || !src)) return PL_BACKEND_EARG;
    if (bytes) memmove(dst, src, bytes);
    return 0;
}

int pl_hostmem_copy(pl_backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes && (!dst || !src)) return PL_BACKEND_EARG;
    if (bytes) memcpy(dst, src, bytes);
    return 0;
}
