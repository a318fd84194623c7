/* status.c — filling pl_status messages; the one place errors get their text.
 * Messages quote file contents (an architecture, a pre-tokenizer, a token), so
 * they are made safe for a terminal here, once, whoever prints them. */
#include <stdarg.h>
#include <time.h>

#include "engine.h"

/* Record code and a formatted message; a NULL status is allowed and ignored. */
pl_code pl_status_set(pl_status *st, pl_code code, const char *fmt, ...)
{
    if (!st) return code;
    st->code = code;
    char raw[sizeof st->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    pl_term_sanitize_str(raw, st->msg, sizeof st->msg);
    return code;
}

double pl_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
