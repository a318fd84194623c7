/* config.c — setting, reading and loading options from the table.
 *
 * Values always pass through config_set, so a bad value gets the same
 * one-line message whether it came from a flag, the config file or the
 * environment: "--threads: 'x' is not a number (0..512)".
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FIELD(c, o, type) ((type *)((char *)(c) + (o)->offset))
#define CFIELD(c, o, type) ((const type *)((const char *)(c) + (o)->offset))

/* Format a message into err; returns -1 so callers can `return fail(...)`. */
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && len) vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* "N..M" (or "one of a|b") for messages. */
static const char *range_text(const pl_option *o, char *buf, size_t len)
{
    if (o->kind == OPT_ENUM) snprintf(buf, len, "one of %s", o->choices);
    else if (o->kind == OPT_BOOL) snprintf(buf, len, "true or false");
    else if (o->kind == OPT_FLOAT) snprintf(buf, len, "%g..%g", o->min, o->max);
    else if (o->kind == OPT_SIZE) snprintf(buf, len, "bytes, or K, M, G, T such as 512M or 2G");
    else snprintf(buf, len, "%.0f..%.0f", o->min, o->max);
    return buf;
}

/* Is v one of the '|'-separated choices? */
static bool enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* Parse a boolean the way people write them in files and env vars. */
static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* "512M", "1.5G", "0", "4096" -> bytes (K, M, G, T are powers of 1024; a trailing B is fine). */
static int parse_size(const char *v, double *out)
{
    static const char units[] = "KMGT";
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || errno || !isfinite(x) || x < 0 || end == v) return -1;
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (u) {
        for (const char *p = units; p <= u; p++) x *= 1024;
        end++;
        if (toupper((unsigned char)*end) == 'I') end++;
    }
    if (toupper((unsigned char)*end) == 'B') end++;
    *out = floor(x);
    return *end ? -1 : 0;
}

/* Bytes as the shortest exact "2G", "512M", "64K" or plain number. */
static void size_text(int64_t b, char *buf, size_t len)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4 && b; i++) {
        int64_t unit = (int64_t)1 << (10 * (4 - i));
        if (b % unit == 0) { snprintf(buf, len, "%lld%c", (long long)(b / unit), units[i]); return; }
    }
    snprintf(buf, len, "%lld", (long long)b);
}

/* Set one option from text, checking type and range. */
int config_set(pl_config *c, const pl_option *o, const char *v, char *err, size_t len)
{
    char rng[96], *end = NULL;
    range_text(o, rng, sizeof rng);
    switch (o->kind) {
    case OPT_BOOL:
        if (parse_bool(v, FIELD(c, o, bool)) < 0)
            return fail(err, len, "--%s: '%s' is not a boolean (%s)", o->name, v, rng);
        return 0;
    case OPT_INT: case OPT_I64: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) return fail(err, len, "--%s: '%s' is not a whole number (%s)", o->name, v, rng);
        if ((double)x < o->min || (double)x > o->max)
            return fail(err, len, "--%s: %s is out of range (%s)", o->name, v, rng);
        if (o->kind == OPT_INT) *FIELD(c, o, int) = (int)x;
        else *FIELD(c, o, int64_t) = x;
        return 0;
    }
    case OPT_SIZE: {
        double x;
        if (parse_size(v, &x) < 0) return fail(err, len, "--%s: '%s' is not a size (%s)", o->name, v, rng);
        if (x < o->min || x > o->max) return fail(err, len, "--%s: %s is out of range (at most %.0f bytes)", o->name, v, o->max);
        *FIELD(c, o, int64_t) = (int64_t)x;
        return 0;
    }
    case OPT_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x))
            return fail(err, len, "--%s: '%s' is not a number (%s)", o->name, v, rng);
        if (x < o->min || x > o->max) return fail(err, len, "--%s: %s is out of range (%s)", o->name, v, rng);
        *FIELD(c, o, float) = (float)x;
        return 0;
    }
    case OPT_ENUM:
        if (!enum_has(o->choices, v)) return fail(err, len, "--%s: '%s' is not %s", o->name, v, rng);
        /* fall through */
    case OPT_STR: {
        char **dst = FIELD(c, o, char *);
        char *copy = strdup(v);
        if (!copy) return fail(err, len, "--%s: out of memory", o->name);
        free(*dst);
        *dst = copy;
        return 0;
    }
    }
    return fail(err, len, "--%s: unknown option kind", o->name);
}

/* Current value as text. */
const char *config_get(const pl_config *c, const pl_option *o, char *buf, size_t len)
{
    switch (o->kind) {
    case OPT_BOOL: snprintf(buf, len, "%s", *CFIELD(c, o, bool) ? "true" : "false"); break;
    case OPT_INT: snprintf(buf, len, "%d", *CFIELD(c, o, int)); break;
    case OPT_I64: snprintf(buf, len, "%lld", (long long)*CFIELD(c, o, int64_t)); break;
    case OPT_FLOAT: snprintf(buf, len, "%g", (double)*CFIELD(c, o, float)); break;
    case OPT_SIZE: size_text(*CFIELD(c, o, int64_t), buf, len); break;
    case OPT_STR: case OPT_ENUM: {
        const char *s = *CFIELD(c, o, char *);
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    }
    return buf;
}

/* Every option at its default. Defaults in the table are valid by construction. */
void config_init(pl_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < pl_n_options; i++) config_set(c, &pl_options[i], pl_options[i].def, NULL, 0);
}

void config_free(pl_config *c)
{
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        if (o->kind == OPT_STR || o->kind == OPT_ENUM) {
            free(*FIELD(c, o, char *));
            *FIELD(c, o, char *) = NULL;
        }
    }
}

/* Look an option up by its name (config key / long flag). */
const pl_option *config_find(const char *name)
{
    for (int i = 0; i < pl_n_options; i++)
        if (strcmp(pl_options[i].name, name) == 0) return &pl_options[i];
    return NULL;
}

bool config_from_cli(const pl_config *c, const pl_option *o)
{
    return o >= pl_options && o < pl_options + pl_n_options && (c->from_cli >> (o - pl_options) & 1);
}

/* Map a subcommand name to its scope bit; anything else is the TUI. */
int config_scope_of(const char *sub)
{
    static const struct { const char *name; int scope; } subs[] = {
        {"run", CFG_RUN}, {"bench", CFG_BENCH}, {"models", CFG_MODELS},
        {"sessions", CFG_SESSIONS}, {"quantize", CFG_QUANTIZE},
    };
    for (size_t i = 0; sub && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(sub, subs[i].name) == 0) return subs[i].scope;
    return CFG_TUI;
}

/* Append a stop string ('\n'-joined) instead of replacing: --stop repeats. */
static int append_stop(pl_config *c, const char *v, char *err, size_t len)
{
    size_t old = c->stop ? strlen(c->stop) : 0;
    if (old == 0) return config_set(c, config_find("stop"), v, err, len);
    char *s = malloc(old + strlen(v) + 2);
    if (!s) return fail(err, len, "--stop: out of memory");
    sprintf(s, "%s\n%s", c->stop, v);
    free(c->stop);
    c->stop = s;
    return 0;
}

/* A value given on the command line: like config_set, but --stop accumulates. */
int config_set_from_flag(pl_config *c, const pl_option *o, const char *v, char *err, size_t len)
{
    if (strcmp(o->name, "stop") == 0) return append_stop(c, v, err, len);
    return config_set(c, o, v, err, len);
}
