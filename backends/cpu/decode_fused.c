/* decode_fused.c — one generated token through a run of layers in ONE pool dispatch.
 *
 * Why: a decode step of a small model is ~150 short steps. As separate pool
 * dispatches, each one needs every thread to wake and check in, and on a
 * shared 2-core machine a thread that is not running when a dispatch starts
 * costs a spin and a sleep per step: generation slows down several times as
 * soon as another process wants a core. Here the whole token is one job.
 * Inside it, the steps are phases of independent work items (row slices of a
 * weight, attention chunks) taken from per-phase counters; a phase is over
 * when all its items are DONE, not when all threads have arrived, so a thread
 * the OS has not scheduled simply takes no items and the others finish the
 * token without it. The thread that completes a phase's last item runs its
 * tiny serial tail and opens the next.
 * A thread with nothing left in a phase claims its first item of the next
 * one at once and prefetches that item's weights until the phase opens.
 *
 * Per layer, with the element-wise steps fused into the items where they work
 * on an item's own rows and into the tails where they need whole rows:
 *   QKV slices (+ biases)      | tail: q/k head norms, rope, q scale, KV store
 *   attention items (cpu_attention_layer's plan: blocked chunks or exact heads)
 *   Wo slices (+ residual)     | tail: [post-norm + residual], FFN norm
 *   gate/up slices (+ act)
 *   down slices (+ residual)   | tail: [post-norm + residual], next norm
 * then, when the run ends the model and logits are asked for, the output
 * projection (+ soft cap). The residual add joins an item
 * only when the layer has no post-norm (which needs the whole row first).
 * Each slice is a single-threaded matmul on a run of weight rows
 * (rows are contiguous, so a slice is itself a matrix; in the 16-row layout
 * slices start on a multiple of 16). The phase's input gets an id, so a
 * thread prepares it once for all its slices of the phase (R16 kernels)
 * instead of once per slice.
 *
 * The numbers are those of cpu_run_batch for nb = 1 (same kernels, same row
 * functions, same attention items, same order per output), so batch and
 * token-by-token decoding agree exactly. A matmul slice that cannot run
 * (scratch out of memory) records its code in the run; run_layers returns it.
 */
#include <sched.h>
#include <string.h>

#include "decode_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FD_RELAX() _mm_pause()
#else
#define FD_RELAX() ((void)0)
#endif

enum { FD_QKV, FD_ATTN, FD_WO, FD_FFN_UP, FD_FFN_DOWN, FD_STAGES };
#define FD_SPIN 4000   /* pauses before a waiting thread yields its core */
#define FD_GUIDE 1     /* an item takes 1/(FD_GUIDE * nth) of the phase's work left */
#define FD_MIN_ROWS 64 /* smallest row slice: a slice's set-up and stream start stay cheap */
#define FD_AHEAD (256 * 1024) /* weight bytes a waiting thread prefetches (an eighth of its L2) */

/* A weight cut into row slices that shrink toward the end of its phase. */
typedef struct fd_w {
    const pl_wview *w;
    const float    *bias;     /* added to the item's rows, or NULL */
    float          *y;
    int64_t         after;    /* cost (rows x cost) of the phase's later weights */
    int             cost;     /* cost of one row (2 for gate+up rows done together) */
    int             nth, n_items;
} fd_w;

typedef struct fd_job {
    cpu_run       *r;
    int            n_phases;   /* 5 per layer of the run, + 1 for the logits */
    int            out_phase;  /* the output projection's phase (== n_phases - 1), or -1 */
    cpu_attn       fa[1];      /* this layer's attention (planned in the QKV tail) */
    atomic_int    *next, *done, *ready;   /* (n_phases) each */
    uint64_t       x_id0;      /* phase p's input is named x_id0 + p: a thread prepares it once */
} fd_job;

/* Rows of the next item when `left` rows of f remain (guided scheduling):
 * 1/(FD_GUIDE * nth) of the phase's remaining work, a multiple of 16 rows
 * and at least FD_MIN_ROWS, so the last items are small and the threads
 * finish a phase together instead of one waiting for the other's big slice.
 * Measured (1.1B Q4_0, 2 threads): fixed thirds 29.5 tok/s, guided 1/4 of
 * the rest 32.3, 1/2 of the rest 33.5 (+ min 64 rows 33.9); 1/6 31.0 -- fewer,
 * longer slices stream better, so the big first items are worth keeping. */
static int64_t fd_chunk(const fd_w *f, int64_t left)
{
    int64_t c = ((left * f->cost + f->after) / (FD_GUIDE * f->nth) / f->cost + 15) & ~(int64_t)15;
    if (c < FD_MIN_ROWS) c = FD_MIN_ROWS;
    return c < left ? c : left;
}

/* y_i[r0..r1) = W_i[r0..r1) . x for n weights of one input, on this thread alone. */
static void fd_slice(fd_job *j, const pl_wview *const *w, float *const *y, int n, const float *x, uint64_t x_id,
                     int64_t r0, int64_t r1)
{
    pl_matmul_w s[2];
    for (int i = 0; i < n; i++)
        s[i] = (pl_matmul_w){ .W = (const uint8_t *)w[i]->data + pl_row_size(w[i]->type, w[i]->cols) * r0,
                              .type = w[i]->type, .rows = r1 - r0, .Y = y[i] + r0, .layout = w[i]->layout };
    int rc = pl_cpu_matmul_multi_id_try(NULL, s, n, w[0]->cols, x, 1, x_id);
    if (rc) {
        int zero = 0;
        atomic_compare_exchange_strong(&j->r->err, &zero, rc);
    }
}

/* Item k of a list of sliced weights: which weight and rows. */
static const fd_w *fd_pick(const fd_w *ws, int nw, int *k, int64_t *r0, int64_t *r1)
{
    int i = 0;
    while (i < nw - 1 && *k >= ws[i].n_items) *k -= ws[i++].n_items;
    int64_t r = 0, rows = ws[i].w->rows;
    for (int t = 0; t < *k; t++) r += fd_chunk(&ws[i], rows - r);
    *r0 = r;
    *r1 = r + fd_chunk(&ws[i], rows - r);
    return &ws[i];
}

/* A weight of a phase whose later weights cost `after` (rows x cost). */
static fd_w fd_weight(const pl_wview *w, const float *b, float *y, int64_t after, int cost, int nth)
{
    fd_w f = { w, b, y, after, cost, nth, 0 };
    for (int64_t r = 0; r < w->rows; f.n_items++) r += fd_chunk(&f, w->rows - r);
    return f;
}

/* Layer of phase p (stage p % FD_STAGES of the run's layer l0 + p / FD_STAGES). */
static const pl_decoder_layer *fd_layer(const fd_job *j, int p)
{
    return &j->r->d->layers[j->r->l0 + p / FD_STAGES];
}

/* Phase p's items. */
static int fd_items(const fd_job *j, int p, int nth, fd_w *ws, int *nw)
{
    const cpu_decode *s = &j->r->c->dec;
    *nw = 0;
    if (p == j->out_phase) {
        ws[(*nw)++] = fd_weight(&j->r->d->out, NULL, j->r->logits, 0, 1, nth);
        return ws[0].n_items;
    }
    const pl_decoder_layer *L = fd_layer(j, p);
    switch (p % FD_STAGES) {
    case FD_QKV:
        ws[0] = fd_weight(&L->wq, L->bq, s->q, L->wk.rows + L->wv.rows, 1, nth);
        ws[1] = fd_weight(&L->wk, L->bk, s->k, L->wv.rows, 1, nth);
        ws[2] = fd_weight(&L->wv, L->bv, s->v, 0, 1, nth), *nw = 3;
        return ws[0].n_items + ws[1].n_items + ws[2].n_items;
    case FD_ATTN: return j->fa->n_items;
    case FD_WO: ws[0] = fd_weight(&L->wo, NULL, s->xb, 0, 1, nth), *nw = 1; return ws[0].n_items;
    case FD_FFN_UP:   /* gate and up rows together: a row costs two */
        ws[0] = fd_weight(&L->ffn_gate, NULL, s->gate, 0, 2, nth), *nw = 1;
        return ws[0].n_items;
    default:
        ws[0] = fd_weight(&L->ffn_down, NULL, s->xb, 0, 1, nth), *nw = 1;
        return ws[0].n_items;
    }
}

/* Run item k of phase p, with its fused element-wise step on the same rows. */
static void fd_run_item(fd_job *j, int p, int k, int ith, const fd_w *ws, int nw)
{
    const cpu_decode *s = &j->r->c->dec;
    const int stage = p == j->out_phase ? -1 : p % FD_STAGES;
    if (stage == FD_ATTN) { cpu_attn_item(j->fa, ith, k); return; }
    int64_t r0, r1;
    const fd_w *w = fd_pick(ws, nw, &k, &r0, &r1);
    const float *x = stage == FD_WO ? s->att : stage == FD_FFN_DOWN ? s->gate : s->norm;
    const pl_decoder_layer *L = stage < 0 ? NULL : fd_layer(j, p);
    const int n = (int)(r1 - r0);
    if (stage == FD_FFN_UP) {   /* gate and up rows together, then the activation on them */
        fd_slice(j, (const pl_wview *[]){ &L->ffn_gate, &L->ffn_up }, (float *[]){ s->gate, s->up }, 2,
                 x, j->x_id0 + (uint64_t)p, r0, r1);
        cpu_act(j->r->d->glu, s->gate + r0, s->up + r0, n, s->gate + r0);
        return;
    }
    fd_slice(j, &w->w, &w->y, 1, x, j->x_id0 + (uint64_t)p, r0, r1);
    if (w->bias) pl_cpu_add(w->y + r0, w->bias + r0, n, w->y + r0);
    const bool post = stage == FD_WO ? L->attn_post_norm != NULL
                    : stage == FD_FFN_DOWN ? L->ffn_post_norm != NULL : true;
    if (!post)   /* residual: x += y on these rows (a post-norm waits for the tail) */
        pl_cpu_add(j->r->x + r0, w->y + r0, n, j->r->x + r0);
    if (stage < 0 && j->r->d->softcap > 0.0f) cpu_softcap(w->y + r0, n, j->r->d->softcap);
}

/* The serial tail of phase p, run by the thread that finished its last item. */
static void fd_tail(fd_job *j, int p)
{
    cpu_run *r = j->r;
    cpu_decode *s = &r->c->dec;
    if (p == j->out_phase) return;
    const int il = r->l0 + p / FD_STAGES;
    const pl_decoder_layer *L = &r->d->layers[il];
    const bool last = il + 1 == r->l1;
    switch (p % FD_STAGES) {
    case FD_QKV:   /* the items added the biases */
        cpu_row_qkv(r, il, 0, r->pos0, false);
        cpu_attention_layer(r, il, 1, r->pos0, j->fa);
        break;
    case FD_WO:    /* without a post-norm the items added the residual already */
        cpu_row_residual(r->d, r->x, s->xb, L->attn_post_norm, L->attn_post_norm != NULL, L->ffn_norm, s->norm);
        break;
    case FD_FFN_DOWN:
        cpu_row_residual(r->d, r->x, s->xb, L->ffn_post_norm, L->ffn_post_norm != NULL,
                         last ? (r->logits ? r->d->out_norm : NULL) : r->d->layers[il + 1].attn_norm, s->norm);
        break;
    default: break;
    }
}

/* Weight bytes [*at, end) still to pull toward this core while it waits. */
typedef struct fd_ahead { const char *at, *end; } fd_ahead;

/* Wait for phase p to open; spin briefly, then give the core away. While it
 * spins, the thread streams the start of the weight rows it has already
 * claimed into its L2: weights do not depend on the phase before, so the
 * memory bus stays busy while the other thread finishes that phase's last
 * item and tail. Measured (1.1B Q4_0, 2 threads): threads wait 2.1% of
 * their time at phase ends and spend 1.3 of those points prefetching. */
static void fd_wait(atomic_int *flag, fd_ahead *ah)
{
    for (int i = 0; !atomic_load_explicit(flag, memory_order_acquire); i++) {
        if (ah && ah->at < ah->end) {
#if defined(__x86_64__) || defined(__i386__)
            _mm_prefetch(ah->at, _MM_HINT_T1);
            _mm_prefetch(ah->at + 64, _MM_HINT_T1);
#endif
            ah->at += 128;
            i--;   /* prefetching is not spinning */
        } else if (i < FD_SPIN) FD_RELAX();
        else sched_yield();
    }
}

/* The first bytes (at most FD_AHEAD) of item k's weight rows. */
static fd_ahead fd_item_bytes(int k, const fd_w *ws, int nw)
{
    int64_t r0, r1;
    const fd_w *w = fd_pick(ws, nw, &k, &r0, &r1);
    size_t rs = pl_row_size(w->w->type, w->w->cols), n = rs * (size_t)(r1 - r0);
    const char *at = (const char *)w->w->data + rs * (size_t)r0;
    return (fd_ahead){ at, at + (n < FD_AHEAD ? n : FD_AHEAD) };
}

/* Every thread walks the phases in order, taking items while there are any.
 * A thread that runs out of items claims its first item of the next phase
 * before that phase opens, and prefetches its weights while it waits. */
static void fd_worker(int ith, int nth, void *arg)
{
    fd_job *j = arg;
    fd_w ws[3];
    int nw;
    for (int p = 0; p < j->n_phases; p++) {
        int k = atomic_fetch_add(&j->next[p], 1);
        if (p > 0 && !atomic_load_explicit(&j->ready[p - 1], memory_order_acquire)) {
            fd_ahead ah = { NULL, NULL };
            /* attention's items exist only once the phase before has run */
            if ((p == j->out_phase || p % FD_STAGES != FD_ATTN) && k < fd_items(j, p, nth, ws, &nw)) ah = fd_item_bytes(k, ws, nw);
            fd_wait(&j->ready[p - 1], &ah);
        }
        const int n = fd_items(j, p, nth, ws, &nw);
        for (; k < n; k = atomic_fetch_add(&j->next[p], 1)) {
            fd_run_item(j, p, k, ith, ws, nw);
            if (atomic_fetch_add(&j->done[p], 1) == n - 1) {
                fd_tail(j, p);
                atomic_store_explicit(&j->ready[p], 1, memory_order_release);
            }
        }
    }
    fd_wait(&j->ready[j->n_phases - 1], NULL);
}

/* One token at position pos0 through the run's layers: x in, x out. */
int cpu_run_fused(cpu_run *r)
{
    cpu_decode *s = &r->c->dec;
    cpu_row_residual(r->d, r->x, s->xb, NULL, false, r->d->layers[r->l0].attn_norm, s->norm);
    const int n = (r->l1 - r->l0) * FD_STAGES;
    const int np = n + (r->logits ? 1 : 0);
    fd_job j = { .r = r, .n_phases = np, .out_phase = r->logits ? n : -1, .next = s->sync, .done = s->sync + np,
                 .ready = s->sync + 2 * np };
    j.x_id0 = pl_cpu_x_ids_new(j.n_phases);
    for (int i = 0; i < 3 * np; i++) atomic_store_explicit(&s->sync[i], 0, memory_order_relaxed);
    pl_pool_run(r->c->pool, fd_worker, &j);
    return 0;
}
