/* weight_read.c — the memory-bandwidth yardstick for generation speed.
 *
 * A generated token reads every weight byte once, so its time is bounded
 * below by the time a plain read of those bytes takes. A bandwidth figure
 * taken by another program at another moment is a poor yardstick on a shared
 * machine, where what memory gives moves by half within seconds; this reads
 * the very bytes a token reads, in the same pages, with the context's own
 * threads, so `parley bench --bench-bw` can time it right after each token and set
 * the two side by side. The read is a sum (nothing is written), split into
 * equal byte ranges, one per thread, in one pool job.
 */
#include <stdlib.h>
#include <string.h>

#include "context_impl.h"
#include "model.h"
#include "../backends/backend.h"

#ifndef WR_PF
#define WR_PF 8192  /* bytes ahead: with no prefetch the read was slower than generation itself (106% on 1.1B q4_0, Zen 5); 4096 and 16384 read no faster */
#endif

/* 64 bytes as 8 words: the compiler reads them with the widest loads it has. */
typedef uint64_t wr_line __attribute__((vector_size(64), may_alias));

typedef struct wr_job {
    const pl_weight **ws;
    int               n;
    uint64_t          total;        /* bytes over all of ws */
    uint64_t          sums[64];     /* per thread, so the reads cannot be dropped */
} wr_job;

/* Sum of bytes [from, to) of p: the unaligned ends byte by byte, the middle by 64-byte lines. */
static uint64_t wr_sum(const uint8_t *p, uint64_t from, uint64_t to)
{
    uint64_t s = 0;
    while (from < to && ((uintptr_t)(p + from) & 63)) s += p[from++];
    wr_line a = {0}, b = {0};
    for (; from + 128 <= to; from += 128) {
        if (WR_PF) __builtin_prefetch(p + from + WR_PF), __builtin_prefetch(p + from + WR_PF + 64);
        a += *(const wr_line *)(p + from);
        b += *(const wr_line *)(p + from + 64);
    }
    a += b;
    for (int k = 0; k < 8; k++) s += a[k];
    while (from < to) s += p[from++];
    return s;
}

/* Thread ith reads bytes [total*ith/nth, total*(ith+1)/nth) of the weights laid end to end. */
static void wr_thread(int ith, int nth, void *arg)
{
    wr_job *j = arg;
    uint64_t lo = j->total * (uint64_t)ith / (uint64_t)nth, hi = j->total * (uint64_t)(ith + 1) / (uint64_t)nth;
    uint64_t at = 0, s = 0;
    for (int i = 0; i < j->n && at < hi; i++) {
        uint64_t len = model_weight_bytes(j->ws[i]);
        uint64_t a = lo > at ? lo - at : 0, b = hi - at < len ? hi - at : len;
        if (a < b) s += wr_sum(j->ws[i]->data, a, b);
        at += len;
    }
    if (ith < 64) j->sums[ith] = s;
}

double pl_ctx_read_weights_s(pl_ctx *c)
{
    wr_job *j = calloc(1, sizeof *j);
    const pl_weight **ws = malloc(sizeof *ws * (size_t)model_token_weights_max(c->m));
    if (!j || !ws) {
        free(j), free(ws);
        return -1;
    }
    j->ws = ws;
    j->n = model_token_weights(c->m, ws);
    for (int i = 0; i < j->n; i++) j->total += model_weight_bytes(ws[i]);
    double t0 = pl_now_s();
    pl_pool_run(c->be_cpu->ops->pool(c->be_cpu), wr_thread, j);   /* the context's one pool */
    double dt = pl_now_s() - t0;
    uint64_t s = 0;
    for (int i = 0; i < 64; i++) s += j->sums[i];
    __asm__ __volatile__("" : : "r"(s));   /* the sum is used: the reads stay */
    free(ws), free(j);
    return dt;
}
