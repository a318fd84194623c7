/* registry.c — the backends this build has, by name, and what their error
 * codes mean. A GPU backend adds one row when it exists. */
#include <string.h>

#include "backend_impl.h"

static const pl_backend_ops *const k_backends[] = { &pl_backend_cpu_ops, &pl_backend_ref_ops };

const pl_backend_ops *pl_backend_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof k_backends / sizeof k_backends[0]; i++)
        if (strcmp(k_backends[i]->name, name) == 0) return k_backends[i];
    return NULL;
}

const char *pl_backend_strerror(int err)
{
    switch (err) {
    case PL_BACKEND_OK: return "ok";
    case PL_BACKEND_ENOMEM: return "out of memory (or over the backend's memory limit)";
    case PL_BACKEND_EUNSUPPORTED: return "not supported by this backend (type, layout or shape)";
    case PL_BACKEND_EARG: return "bad argument";
    default: return "unknown backend error";
    }
}
