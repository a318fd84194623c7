/* status.c — filling pl_status messages; the one place errors get their text. */
#include <stdarg.h>

#include "engine.h"

/* Record code and a formatted message; a NULL status is allowed and ignored. */
pl_code pl_status_set(pl_status *st, pl_code code, const char *fmt, ...)
{
    if (!st) return code;
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return code;
}
