/* sampler.c — picking the next token from the logits.
 *
 * The chain follows llama.cpp's default order:
 *   penalties -> top_k -> top_p -> min_p -> temperature -> random draw
 * (temp <= 0: greedy, the argmax of the penalised logits, lowest id on ties).
 *  - penalties (llama.cpp semantics) over the distinct tokens among the last
 *    penalty_last_n accepted ones: logit > 0 ? logit / repeat : logit * repeat,
 *    then logit -= count * freq_penalty + presence_penalty.
 *  - top_p and min_p use probabilities at temperature 1; top_p keeps the
 *    smallest prefix (by probability) whose mass reaches top_p, including the
 *    token that crosses it; min_p keeps p >= min_p * p_max.
 *  - the draw uses our own xoshiro256** seeded by splitmix64, so one seed gives
 *    the same tokens on every platform (up to libm's expf in the last bit).
 *
 * Speed for 49k-262k vocabularies, without a full sort per token:
 *  - top_k: a k-entry min-heap over the vocabulary (one compare per token
 *    once the heap is warm), then a sort of the k survivors.
 *  - top_p without top_k: since top_p then min_p both keep a prefix of the
 *    sorted order, min_p is applied first as a plain threshold; a histogram of
 *    probability mass by logit distance to the max finds a logit cut-off that
 *    is sure to contain the top_p prefix, and only tokens above it are sorted.
 * Buffers belong to the sampler and grow only when a larger vocabulary comes:
 * no allocation per token.
 *
 * Seeds: every value is used as given (seed 0 included), so sampling is
 * deterministic by default (default seed 42); PL_SEED_RANDOM draws a seed
 * from the clock at creation and at each pl_sampler_reset.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler.h"

#define HIST_BINS  512
#define HIST_RANGE 32.0f   /* logits further than this below the max share the last bin */

struct pl_sampler {
    pl_sampler_params p;
    uint64_t seed_used;
    uint64_t rng[4];
    int32_t *hist;       /* ring of the last penalty_last_n accepted tokens */
    int      hist_cap, hist_len, hist_pos;
    int      n_alloc;    /* vocabulary size the buffers below hold */
    float   *work;       /* (n_vocab) penalised logits */
    float   *prob;       /* (n_vocab) unnormalised probabilities of candidates */
    int32_t *cand;       /* (n_vocab) candidate ids */
    int32_t *count;      /* (n_vocab) occurrences in the window; zero between calls */
};

/* ---- random numbers ------------------------------------------------------- */

/* Seed expander (Steele et al.): spreads one 64-bit seed over the state. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Rotate left. */
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** step. */
uint64_t sampler_rng_next(pl_sampler *s)
{
    uint64_t *r = s->rng, out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0]; r[3] ^= r[1]; r[1] ^= r[2]; r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return out;
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double rng_uniform(pl_sampler *s) { return (double)(sampler_rng_next(s) >> 11) * 0x1.0p-53; }

/* Fill the generator state from the configured seed (or the clock). */
static void sampler_seed(pl_sampler *s)
{
    uint64_t x = s->p.seed;
    if (x == PL_SEED_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)s;
    }
    s->seed_used = x;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

/* ---- life cycle ------------------------------------------------------------ */

/* Defaults: llama.cpp's common ones, with a fixed seed for reproducible runs. */
pl_sampler_params pl_sampler_default_params(void)
{
    return (pl_sampler_params){ .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                                .repeat_penalty = 1.0f, .freq_penalty = 0.0f,
                                .presence_penalty = 0.0f, .penalty_last_n = 64, .seed = 42 };
}

/* A sampler with its own history and generator; NULL params = defaults. */
pl_sampler *pl_sampler_new(const pl_sampler_params *p)
{
    pl_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p ? *p : pl_sampler_default_params();
    if (s->p.penalty_last_n < 0) s->p.penalty_last_n = 0;
    if (s->p.penalty_last_n > (1 << 20)) s->p.penalty_last_n = 1 << 20;
    s->hist_cap = s->p.penalty_last_n;
    if (s->hist_cap && !(s->hist = malloc((size_t)s->hist_cap * sizeof *s->hist))) {
        free(s);
        return NULL;
    }
    sampler_seed(s);
    return s;
}

/* Free the sampler and its buffers; NULL is fine. */
void pl_sampler_free(pl_sampler *s)
{
    if (!s) return;
    free(s->hist); free(s->work); free(s->prob); free(s->cand); free(s->count);
    free(s);
}

/* Forget the history and start the generator again from the seed. */
void pl_sampler_reset(pl_sampler *s)
{
    if (!s) return;
    s->hist_len = s->hist_pos = 0;
    sampler_seed(s);
}

/* Remember a token (generated or from the prompt) for the penalties. */
void pl_sampler_accept(pl_sampler *s, int32_t tok)
{
    if (!s || s->hist_cap == 0) return;
    s->hist[s->hist_pos] = tok;
    s->hist_pos = (s->hist_pos + 1) % s->hist_cap;
    if (s->hist_len < s->hist_cap) s->hist_len++;
}

/* Grow the per-vocabulary buffers (only when a larger vocabulary comes). */
static bool sampler_reserve(pl_sampler *s, int n)
{
    if (n <= s->n_alloc) return true;
    free(s->work); free(s->prob); free(s->cand); free(s->count);
    s->work = malloc((size_t)n * sizeof *s->work);
    s->prob = malloc((size_t)n * sizeof *s->prob);
    s->cand = malloc((size_t)n * sizeof *s->cand);
    s->count = calloc((size_t)n, sizeof *s->count);
    s->n_alloc = (s->work && s->prob && s->cand && s->count) ? n : 0;
    return s->n_alloc != 0;
}

/* ---- the chain ---------------------------------------------------------------- */

/* The logits the chain works on: the caller's, or a penalised copy when a
 * penalty is on and there is history. */
static const float *chain_penalties(pl_sampler *s, const float *logits, int n)
{
    const pl_sampler_params *p = &s->p;
    if (s->hist_len == 0 || (p->repeat_penalty == 1.0f && p->freq_penalty == 0.0f && p->presence_penalty == 0.0f))
        return logits;
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    for (int i = 0; i < s->hist_len; i++)
        if (s->hist[i] >= 0 && s->hist[i] < n) s->count[s->hist[i]]++;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[i];
        if (t < 0 || t >= n || s->count[t] == 0) continue;   /* done already */
        float *l = &s->work[t];
        if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0.0f)
            *l = *l > 0.0f ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)s->count[t] * p->freq_penalty + p->presence_penalty;
        s->count[t] = 0;
    }
    return s->work;
}

/* a ranks before b: higher logit, then lower id. */
static bool ranks_before(const float *w, int32_t a, int32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); }

/* qsort has no context argument: the logits of the sort in progress on this thread. */
static _Thread_local const float *sort_logits;

/* qsort order: best first. */
static int cmp_rank(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return ranks_before(sort_logits, x, y) ? -1 : ranks_before(sort_logits, y, x) ? 1 : 0;
}

/* Sort ids best first. */
static void sort_ranked(const float *w, int32_t *ids, int n)
{
    sort_logits = w;
    qsort(ids, (size_t)n, sizeof *ids, cmp_rank);
}

/* Restore the min-heap (worst candidate at the root) below position i. */
static void heap_down(const float *w, int32_t *h, int k, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && ranks_before(w, h[m], h[l])) m = l;
        if (r < k && ranks_before(w, h[m], h[r])) m = r;
        if (m == i) return;
        int32_t t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

/* The k best ids of the vocabulary, sorted best first, by partial selection. */
static int chain_top_k(const float *w, int n, int k, int32_t *out)
{
    for (int i = 0; i < k; i++) out[i] = i;
    for (int i = k / 2 - 1; i >= 0; i--) heap_down(w, out, k, i);
    for (int i = k; i < n; i++) {
        if (!ranks_before(w, i, out[0])) continue;
        out[0] = i;
        heap_down(w, out, k, 0);
    }
    sort_ranked(w, out, k);
    return k;
}

/* Bin of a logit by its distance below the max (NaN and far ones in the last). */
static int hist_bin(float d)
{
    return d < HIST_RANGE ? (int)(d * (HIST_BINS / HIST_RANGE)) : HIST_BINS - 1;
}

/* Move the candidates whose bin satisfies keep() to the front; returns how many. */
static int partition_bins(const float *w, int32_t *c, int nc, float m, int b, bool below)
{
    int k = 0;
    for (int j = 0; j < nc; j++) {
        int bin = hist_bin(m - w[c[j]]);
        if (below ? bin < b : bin == b) { int32_t t = c[k]; c[k++] = c[j]; c[j] = t; }
    }
    return k;
}

/* top_p over unsorted candidates (already past min_p, s->prob = exp(l - m)):
 * a histogram of mass by distance below the max finds the bin where the
 * cumulative mass reaches target; bins before it are kept whole, and only the
 * tokens of that bin are sorted to find the exact crossing. Returns the count. */
static int chain_top_p_bins(pl_sampler *s, const float *w, int nc, float m, double target)
{
    double mass[HIST_BINS] = { 0 }, before = 0;
    for (int j = 0; j < nc; j++) mass[hist_bin(m - w[s->cand[j]])] += s->prob[j];
    int b = 0;
    while (b < HIST_BINS - 1 && before + mass[b] < target) before += mass[b++];
    int32_t *c = s->cand;
    int n_sure = partition_bins(w, c, nc, m, b, true);
    int n_edge = partition_bins(w, c + n_sure, nc - n_sure, m, b, false);
    sort_ranked(w, c + n_sure, n_edge);
    for (int j = 0; j < n_edge; j++)
        if ((before += expf(w[c[n_sure + j]] - m)) >= target) return n_sure + j + 1;
    return n_sure + n_edge;
}

/* top_k, then top_p and min_p, over logits w; leaves the ids in s->cand. */
static int chain_truncate(pl_sampler *s, const float *w, int n, float *max_out)
{
    const pl_sampler_params *p = &s->p;
    int nc = n;
    bool sorted = p->top_k > 0 && p->top_k < n;
    if (sorted) nc = chain_top_k(w, n, p->top_k, s->cand);
    else for (int i = 0; i < n; i++) s->cand[i] = i;
    float m = -INFINITY;
    for (int j = 0; j < nc; j++) m = fmaxf(m, w[s->cand[j]]);
    *max_out = m;
    if (m == -INFINITY) return nc;   /* every logit -inf: nothing to weigh, the first is taken */
    float thr = p->min_p > 0.0f ? m + logf(fminf(p->min_p, 1.0f)) : -INFINITY;
    if (p->top_p < 1.0f) {
        double z = 0;
        int k = 0;
        for (int j = 0; j < nc; j++) {
            float l = w[s->cand[j]], e = expf(l - m);
            z += e;
            if (l >= thr) { s->cand[k] = s->cand[j]; s->prob[k++] = e; }
        }
        double target = (double)fmaxf(p->top_p, 0.0f) * z;
        if (!sorted && k > 64) return chain_top_p_bins(s, w, k, m, target);
        if (!sorted) sort_ranked(w, s->cand, k);
        double cum = 0;
        for (int j = 0; j < k; j++)
            if ((cum += expf(w[s->cand[j]] - m)) >= target) return j + 1;
        return k;
    }
    if (thr > -INFINITY) {
        int k = 0;
        for (int j = 0; j < nc; j++)
            if (w[s->cand[j]] >= thr) s->cand[k++] = s->cand[j];
        nc = k;
    }
    return nc;
}

/* Index of the largest value, lowest id on ties. */
static int32_t argmax(const float *w, int n)
{
    int32_t best = 0;
    float bv = w[0];   /* in a register: no load chained through best */
    for (int i = 1; i < n; i++)
        if (w[i] > bv) { bv = w[i]; best = i; }
    return best;
}

/* The chain without the draw, for tests (see sampler.h). */
int sampler_candidates(pl_sampler *s, const float *logits, int n, int32_t *out)
{
    if (!s || !logits || n <= 0 || !sampler_reserve(s, n)) return -1;
    const float *w = chain_penalties(s, logits, n);
    if (s->p.temp <= 0.0f) { out[0] = argmax(w, n); return 1; }
    float m;
    int nc = chain_truncate(s, w, n, &m);
    memcpy(out, s->cand, (size_t)nc * sizeof *out);
    return nc;
}

/* Run the chain and draw one token; -1 on bad arguments or out of memory. */
int32_t pl_sampler_sample(pl_sampler *s, const float *logits, int n)
{
    if (!s || !logits || n <= 0 || !sampler_reserve(s, n)) return -1;
    const float *w = chain_penalties(s, logits, n);
    if (s->p.temp <= 0.0f) return argmax(w, n);
    float m;
    int nc = chain_truncate(s, w, n, &m);
    if (nc == 1 || m == -INFINITY) return s->cand[0];
    float inv_t = 1.0f / s->p.temp;
    double sum = 0;
    for (int j = 0; j < nc; j++) sum += (s->prob[j] = expf((w[s->cand[j]] - m) * inv_t));
    double u = rng_uniform(s) * sum, acc = 0;
    for (int j = 0; j < nc; j++)
        if (u < (acc += s->prob[j])) return s->cand[j];
    return s->cand[nc - 1];
}
