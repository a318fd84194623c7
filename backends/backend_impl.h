/* backend_impl.h — what the host-memory backends (cpu, ref) share inside
 * backends/: a counted allocator with an optional limit, and their vtables.
 * Not a door: the engine sees only backend.h.
 */
#ifndef PL_BACKEND_IMPL_H
#define PL_BACKEND_IMPL_H

#include <stdatomic.h>

#include "backend.h"

/* Host memory a backend hands out: every buffer counted, refused past limit. */
typedef struct pl_hostmem {
    size_t         limit;   /* 0: none */
    atomic_size_t  used;    /* bytes of live buffers (what callers asked for) */
} pl_hostmem;

/* A 64-byte aligned buffer of bytes, or NULL (out of memory, over the limit). */
void *pl_hostmem_alloc(pl_hostmem *m, size_t bytes);
/* Give back a buffer of m (NULL is fine); a buffer of another owner asserts. */
void  pl_hostmem_release(pl_hostmem *m, void *p);
void  pl_hostmem_info(const pl_hostmem *m, size_t *total, size_t *used, size_t *free);

/* upload and download of a host-memory backend: a copy (dst, src non-NULL unless bytes is 0). */
int pl_hostmem_copy(pl_backend *be, void *dst, const void *src, size_t bytes);
/* dst <- src for two backends that both live in host memory (cpu, ref). */
int pl_hostmem_copy_from(pl_backend *be, void *dst, pl_backend *from, const void *src, size_t bytes);

extern const pl_backend_ops pl_backend_cpu_ops;
extern const pl_backend_ops pl_backend_ref_ops;

#endif
