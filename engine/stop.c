/* stop.c — stop strings over streamed text.
 *
 * Tokens arrive a few bytes at a time and a stop string can span several of
 * them ("<|im" + "_end|>"). The stopper keeps a small held-back buffer: after
 * each piece, text up to the earliest complete stop string is released and
 * generation stops; otherwise everything is released except the longest tail
 * that is still the beginning of some stop string. So the caller never shows
 * a stop string, nor a piece of one, and loses no other byte. Matching is on
 * bytes; the held tail is at most (longest stop - 1) bytes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* memmem */
#endif
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct pl_stopper {
    char  **stops;
    size_t *lens;
    int     n;
    char   *held;        /* text not yet released */
    size_t  held_len, held_cap;
    bool    stopped;     /* held now ends where the stop string began */
};

/* Copy the non-empty stop strings. */
pl_stopper *pl_stopper_new(const char *const *stops, int n)
{
    pl_stopper *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (n > 0 && stops) {
        s->stops = calloc((size_t)n, sizeof *s->stops);
        s->lens = calloc((size_t)n, sizeof *s->lens);
        if (!s->stops || !s->lens) { pl_stopper_free(s); return NULL; }
        for (int i = 0; i < n; i++) {
            if (!stops[i] || !stops[i][0]) continue;
            if (!(s->stops[s->n] = strdup(stops[i]))) { pl_stopper_free(s); return NULL; }
            s->lens[s->n++] = strlen(stops[i]);
        }
    }
    return s;
}

/* Free the stopper; NULL is fine. */
void pl_stopper_free(pl_stopper *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->stops[i]);
    free(s->stops);
    free(s->lens);
    free(s->held);
    free(s);
}

/* Ready for a new answer: nothing held, not stopped. */
void pl_stopper_reset(pl_stopper *s)
{
    if (!s) return;
    s->held_len = 0;
    s->stopped = false;
}

/* Append bytes to the held buffer, growing it geometrically. */
static bool stop_hold(pl_stopper *s, const char *p, size_t n)
{
    if (s->held_len + n > s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap : 64;
        while (cap < s->held_len + n) cap *= 2;
        char *h = realloc(s->held, cap);
        if (!h) return false;
        s->held = h;
        s->held_cap = cap;
    }
    if (n) memcpy(s->held + s->held_len, p, n);
    s->held_len += n;
    return true;
}

/* Offset of the earliest complete stop string in the held text, or -1. */
static long stop_find(const pl_stopper *s)
{
    long best = -1;
    for (int i = 0; i < s->n; i++) {
        const char *hit = memmem(s->held, s->held_len, s->stops[i], s->lens[i]);
        if (hit && (best < 0 || hit - s->held < best)) best = hit - s->held;
    }
    return best;
}

/* Length of the longest held tail that begins some stop string. */
static size_t stop_partial(const pl_stopper *s)
{
    size_t best = 0;
    for (int i = 0; i < s->n; i++) {
        size_t k = s->lens[i] - 1 < s->held_len ? s->lens[i] - 1 : s->held_len;
        for (; k > best; k--)
            if (memcmp(s->held + s->held_len - k, s->stops[i], k) == 0) { best = k; break; }
    }
    return best;
}

/* Move up to cap of the first safe bytes to out. */
static int stop_release(pl_stopper *s, size_t safe, char *out, int cap)
{
    size_t k = safe < (size_t)cap ? safe : (size_t)cap;
    if (k) {
        memcpy(out, s->held, k);
        memmove(s->held, s->held + k, s->held_len - k);
        s->held_len -= k;
    }
    return (int)k;
}

/* Feed generated text; see engine.h. */
int pl_stopper_feed(pl_stopper *s, const char *piece, int len, char *out, int cap, bool *stopped)
{
    if (!s || len < 0 || (len > 0 && !piece) || cap < 0 || (cap > 0 && !out)) return -1;
    if (!s->stopped) {
        if (!stop_hold(s, piece, (size_t)len)) return -1;
        long at = stop_find(s);
        if (at >= 0) {
            s->stopped = true;
            s->held_len = (size_t)at;   /* the stop string and what follows are dropped */
        }
    }
    if (stopped) *stopped = s->stopped;
    size_t safe = s->stopped ? s->held_len : s->held_len - stop_partial(s);
    return stop_release(s, safe, out, cap);
}

/* End of generation: everything still held is ordinary text. */
int pl_stopper_flush(pl_stopper *s, char *out, int cap)
{
    if (!s || cap < 0 || (cap > 0 && !out)) return -1;
    return stop_release(s, s->held_len, out, cap);
}
