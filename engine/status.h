/* status.h — the engine's error report: a code and a message a person can act on.
 *
 * Every fallible engine call fills a pl_status; none prints, exits or aborts.
 */
#ifndef PL_ENGINE_STATUS_H
#define PL_ENGINE_STATUS_H

#include "../backends/types.h"   /* pl_type, pl_type_name, pl_type_from_name */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum pl_code {
    PL_OK = 0,
    PL_ERR_IO,           /* open/read/write/mmap failed */
    PL_ERR_FORMAT,       /* malformed, truncated or hostile file */
    PL_ERR_UNSUPPORTED,  /* valid but not supported (architecture, type, template) */
    PL_ERR_NOMEM,
    PL_ERR_ARG,          /* bad argument from the caller */
    PL_ERR_CONTEXT_FULL, /* tokens do not fit the context */
    PL_ERR_CANCELLED
} pl_code;

typedef struct pl_status {
    pl_code code;
    char msg[512];
} pl_status;

/* Fill st (if not NULL) with code and a printf-style message; returns code. */
pl_code pl_status_set(pl_status *st, pl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void pl_status_ok(pl_status *st) { if (st) { st->code = PL_OK; st->msg[0] = 0; } }

/* Seconds on a monotonic clock: the one clock for the timings the engine and
 * its callers report (prefill, generation, bench, quantize). */
double pl_now_s(void);

#ifdef __cplusplus
}
#endif
#endif
