/* test_sampler.c — token sampling (suite sampler_*) and stop strings (suite stop_*).
 *
 * The sampler's truncation (top-k heap, top-p via a mass histogram, min-p
 * threshold) is checked against a brute-force reference that sorts the whole
 * vocabulary; the random draw against the softmax by a chi-square test with a
 * fixed seed (so it cannot flake); penalties against values worked out by hand.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/sampler.h"

/* Deterministic test data: a tiny LCG, independent of the sampler's generator. */
static uint32_t lcg_state = 12345;
static float frand(void)   /* [0, 1) */
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 16777216.0f;
}

static pl_sampler_params params(float temp, int top_k, float top_p, float min_p)
{
    pl_sampler_params p = pl_sampler_default_params();
    p.temp = temp; p.top_k = top_k; p.top_p = top_p; p.min_p = min_p;
    return p;
}

Test(sampler_greedy, picks_argmax_lowest_id_on_ties)
{
    pl_sampler_params p = params(0.0f, 40, 0.95f, 0.05f);
    pl_sampler *s = pl_sampler_new(&p);
    float l[8] = { 0.1f, -2, 3, 1, 3, 0, 2.9f, -1 };
    cr_expect_eq(pl_sampler_sample(s, l, 8), 2);
    l[2] = 0;
    cr_expect_eq(pl_sampler_sample(s, l, 8), 4);
    cr_expect_eq(pl_sampler_sample(s, NULL, 8), -1);
    cr_expect_eq(pl_sampler_sample(s, l, 0), -1);
    pl_sampler_free(s);
}

Test(sampler_greedy, top_k_1_equals_greedy)
{
    pl_sampler_params pk = params(0.8f, 1, 0.95f, 0.05f), pg = params(0.0f, 0, 1.0f, 0.0f);
    pl_sampler *sk = pl_sampler_new(&pk), *sg = pl_sampler_new(&pg);
    static float l[5000];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 5000; i++) l[i] = frand() * 10.0f - 5.0f;
        cr_expect_eq(pl_sampler_sample(sk, l, 5000), pl_sampler_sample(sg, l, 5000), "round %d", round);
    }
    pl_sampler_free(sk);
    pl_sampler_free(sg);
}

/* 300 draws over a flat-ish 1000-token vocabulary. */
static void draw_sequence(uint64_t seed, int32_t *out, int n)
{
    pl_sampler_params p = params(1.0f, 0, 1.0f, 0.0f);
    p.seed = seed;
    pl_sampler *s = pl_sampler_new(&p);
    static float l[1000];
    lcg_state = 777;
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < 1000; i++) l[i] = frand();
        out[t] = pl_sampler_sample(s, l, 1000);
    }
    pl_sampler_free(s);
}

Test(sampler_seed, same_seed_same_tokens_other_seed_differs)
{
    int32_t a[300], b[300], c[300];
    draw_sequence(123, a, 300);
    draw_sequence(123, b, 300);
    draw_sequence(124, c, 300);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "same seed gave different tokens");
    int same = 0;
    for (int i = 0; i < 300; i++) same += a[i] == c[i];
    cr_expect_lt(same, 30, "seeds 123 and 124 agree on %d of 300 draws", same);
}

Test(sampler_seed, reset_replays_and_default_is_fixed)
{
    pl_sampler_params p = params(1.0f, 0, 1.0f, 0.0f);
    cr_expect_eq(p.seed, 42);
    pl_sampler *s = pl_sampler_new(&p);
    float l[64];
    for (int i = 0; i < 64; i++) l[i] = 0.0f;
    int32_t first[20];
    for (int i = 0; i < 20; i++) first[i] = pl_sampler_sample(s, l, 64);
    pl_sampler_reset(s);
    for (int i = 0; i < 20; i++) cr_expect_eq(pl_sampler_sample(s, l, 64), first[i], "draw %d", i);
    pl_sampler_free(s);
}

/* Chi-square of 20000 draws at temp_draw against softmax(l / temp_expect); df = 5. */
static double chi_square(float temp_draw, float temp_expect)
{
    const float l[6] = { 0.0f, 1.0f, 2.0f, 0.5f, -1.0f, 1.5f };
    pl_sampler_params p = params(temp_draw, 0, 1.0f, 0.0f);
    pl_sampler *s = pl_sampler_new(&p);
    int hits[6] = { 0 };
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        int32_t t = pl_sampler_sample(s, l, 6);
        cr_assert(t >= 0 && t < 6);
        hits[t]++;
    }
    pl_sampler_free(s);
    double z = 0, chi = 0;
    for (int i = 0; i < 6; i++) z += exp(l[i] / temp_expect);
    for (int i = 0; i < 6; i++) {
        double e = N * exp(l[i] / temp_expect) / z;
        chi += (hits[i] - e) * (hits[i] - e) / e;
    }
    return chi;
}

Test(sampler_dist, draws_follow_softmax)
{
    /* 20.5 is the 0.1% critical value for 5 degrees of freedom (fixed seed: no flakes). */
    double c1 = chi_square(1.0f, 1.0f), c2 = chi_square(0.5f, 0.5f), wrong = chi_square(1.0f, 0.5f);
    cr_expect_lt(c1, 20.5, "temp 1: chi2 = %.2f", c1);
    cr_expect_lt(c2, 20.5, "temp 0.5: chi2 = %.2f", c2);
    cr_expect_gt(wrong, 100.0, "the test should tell temperatures apart: chi2 = %.2f", wrong);
}

/* Greedy token after penalties with a given history. */
static int32_t penalised_argmax(const float *l, int n, const int32_t *hist, int nh,
                                float rep, float freq, float pres, int last_n)
{
    pl_sampler_params p = params(0.0f, 0, 1.0f, 0.0f);
    p.repeat_penalty = rep; p.freq_penalty = freq; p.presence_penalty = pres; p.penalty_last_n = last_n;
    pl_sampler *s = pl_sampler_new(&p);
    for (int i = 0; i < nh; i++) pl_sampler_accept(s, hist[i]);
    int32_t t = pl_sampler_sample(s, l, n);
    pl_sampler_free(s);
    return t;
}

Test(sampler_penalty, change_the_argmax_as_computed_by_hand)
{
    const float a[4] = { 2.0f, 1.5f, -1.0f, 0.5f };
    const int32_t h1[] = { 0, 0, 2 };
    cr_expect_eq(penalised_argmax(a, 4, h1, 3, 1.0f, 0, 0, 64), 0);       /* off */
    cr_expect_eq(penalised_argmax(a, 4, h1, 3, 1.5f, 0, 0, 64), 1);       /* 2.0/1.5 = 1.33 < 1.5 */
    cr_expect_eq(penalised_argmax(a, 4, h1, 3, 1.3f, 0, 0, 64), 0);       /* 2.0/1.3 = 1.54 > 1.5 */
    const float b[2] = { 2.0f, 1.9f };
    const int32_t h2[] = { 0, 0, 0 };
    cr_expect_eq(penalised_argmax(b, 2, h2, 3, 1.0f, 0.05f, 0, 64), 1);  /* 2 - 3*0.05 = 1.85 */
    cr_expect_eq(penalised_argmax(b, 2, h2, 3, 1.0f, 0.02f, 0, 64), 0);  /* 2 - 0.06 = 1.94 */
    cr_expect_eq(penalised_argmax(b, 2, h2, 1, 1.0f, 0, 0.2f, 64), 1);   /* 2 - 0.2 = 1.8 */
    cr_expect_eq(penalised_argmax(b, 2, h2, 3, 1.0f, 0, 0.05f, 64), 0);  /* presence counts once */
    const float c[2] = { -1.0f, -1.2f };
    const int32_t h3[] = { 0 };
    cr_expect_eq(penalised_argmax(c, 2, h3, 1, 1.5f, 0, 0, 64), 1);      /* -1 * 1.5 = -1.5 */
    const int32_t h4[] = { 0, 3, 3 };   /* token 0 has left a window of 2 */
    cr_expect_eq(penalised_argmax(a, 4, h4, 3, 1.5f, 0, 0, 2), 0);
    cr_expect_eq(penalised_argmax(a, 4, h4, 3, 1.5f, 0, 0, 3), 1);
}

/* Descending floats for qsort. */
static int float_desc(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return a > b ? -1 : a < b ? 1 : 0;
}

/* Brute-force reference: sort the whole vocabulary, cut top_k, top_p, min_p in double. */
static int reference_count(const float *l, int n, int top_k, float top_p, float min_p)
{
    float *sorted = malloc((size_t)n * sizeof *sorted);
    memcpy(sorted, l, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, float_desc);
    int k = top_k > 0 && top_k < n ? top_k : n, keep = k;
    double m = sorted[0], z = 0;
    for (int i = 0; i < k; i++) z += exp(sorted[i] - m);
    if (top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < k; i++)
            if ((cum += exp(sorted[i] - m)) >= top_p * z) { keep = i + 1; break; }
    }
    if (min_p > 0.0f) {
        int mk = 0;
        while (mk < k && sorted[mk] >= m + log(min_p)) mk++;
        if (mk < keep) keep = mk;
    }
    free(sorted);
    return keep;
}

/* The candidates kept for one parameter set: count vs reference, and they are the best ones. */
static void check_candidates(const float *l, int n, int top_k, float top_p, float min_p)
{
    pl_sampler_params p = params(0.8f, top_k, top_p, min_p);
    pl_sampler *s = pl_sampler_new(&p);
    int32_t *out = malloc((size_t)n * sizeof *out);
    int got = sampler_candidates(s, l, n, out), want = reference_count(l, n, top_k, top_p, min_p);
    cr_expect_eq(got, want, "n=%d top_k=%d top_p=%.2f min_p=%.3f: %d candidates, reference %d",
                 n, top_k, top_p, min_p, got, want);
    float worst_in = INFINITY;
    for (int i = 0; i < got; i++) worst_in = fminf(worst_in, l[out[i]]);
    int better_outside = 0;
    for (int i = 0; i < n; i++) better_outside += l[i] > worst_in;
    cr_expect_leq(better_outside, got, "a better token was left out");
    free(out);
    pl_sampler_free(s);
}

Test(sampler_trunc, min_p_and_top_p_cut_expected_candidates)
{
    const float l[4] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f) };
    int32_t out[4];
    pl_sampler_params p = params(1.0f, 0, 1.0f, 0.2f);   /* p/pmax = 1, .6, .3, .1 */
    pl_sampler *s = pl_sampler_new(&p);
    cr_expect_eq(sampler_candidates(s, l, 4, out), 3);
    pl_sampler_free(s);
    p = params(1.0f, 0, 0.75f, 0.0f);                     /* .5 + .3 >= .75 */
    s = pl_sampler_new(&p);
    cr_expect_eq(sampler_candidates(s, l, 4, out), 2);
    cr_expect(out[0] == 0 && out[1] == 1);
    pl_sampler_free(s);
    p = params(1.0f, 0, 0.85f, 0.0f);
    s = pl_sampler_new(&p);
    cr_expect_eq(sampler_candidates(s, l, 4, out), 3);
    for (int i = 0; i < 1000; i++) cr_expect_neq(pl_sampler_sample(s, l, 4), 3, "token 3 is cut by top_p");
    pl_sampler_free(s);
    p = params(1.0f, 0, 0.99f, 0.2f);                     /* top_p keeps 4, min_p 3 */
    s = pl_sampler_new(&p);
    cr_expect_eq(sampler_candidates(s, l, 4, out), 3);
    pl_sampler_free(s);
}

Test(sampler_trunc, large_vocab_matches_full_sort_reference)
{
    const int n = 50000;
    float *l = malloc((size_t)n * sizeof *l);
    lcg_state = 99;
    for (int i = 0; i < n; i++) l[i] = (frand() + frand() + frand() - 1.5f) * 4.0f;
    check_candidates(l, n, 0, 0.9f, 0.0f);
    check_candidates(l, n, 0, 0.5f, 0.01f);
    check_candidates(l, n, 40, 0.95f, 0.05f);
    check_candidates(l, n, 0, 1.0f, 0.1f);
    check_candidates(l, n, 1000, 0.99f, 0.0f);
    /* a flat tail carrying real mass: the top_p cut falls deep inside it */
    for (int i = 0; i < n; i++) l[i] = i < 4 ? 10.0f - (float)i : 0.5f * frand();
    check_candidates(l, n, 0, 0.95f, 0.0f);
    check_candidates(l, n, 0, 0.999f, 0.0f);
    free(l);
}

/* ---- stop strings ------------------------------------------------------------ */

/* Feed pieces, return everything released (flushed at the end unless stopped). */
static char *stop_run(const char *const *stops, int ns, const char *const *pieces, int np, bool *stopped)
{
    pl_stopper *st = pl_stopper_new(stops, ns);
    static char all[4096];
    char buf[512];
    size_t len = 0;
    *stopped = false;
    for (int i = 0; i < np; i++) {
        int k = pl_stopper_feed(st, pieces[i], (int)strlen(pieces[i]), buf, sizeof buf, stopped);
        cr_assert_geq(k, 0);
        memcpy(all + len, buf, (size_t)k);
        len += (size_t)k;
    }
    int k = pl_stopper_flush(st, buf, sizeof buf);
    memcpy(all + len, buf, (size_t)k);
    all[len + (size_t)k] = 0;
    pl_stopper_free(st);
    return all;
}

Test(stop_strings, holds_partial_match_and_stops_exactly)
{
    const char *stops[] = { "<|im_end|>" };
    pl_stopper *st = pl_stopper_new(stops, 1);
    char out[64];
    bool stopped;
    int k = pl_stopper_feed(st, "Hello <|im", 10, out, sizeof out, &stopped);
    cr_expect_eq(k, 6);
    cr_expect_eq(memcmp(out, "Hello ", 6), 0);
    cr_expect_not(stopped);
    k = pl_stopper_feed(st, "_end|> more", 11, out, sizeof out, &stopped);
    cr_expect_eq(k, 0);
    cr_expect(stopped);
    cr_expect_eq(pl_stopper_feed(st, "x", 1, out, sizeof out, &stopped), 0);
    cr_expect_eq(pl_stopper_flush(st, out, sizeof out), 0);
    pl_stopper_free(st);
}

Test(stop_strings, releases_false_alarm_and_flushes_tail)
{
    const char *stops[] = { "<|im_end|>" };
    const char *p1[] = { "a<|i", "x" };
    bool stopped;
    cr_expect_str_eq(stop_run(stops, 1, p1, 2, &stopped), "a<|ix");
    cr_expect_not(stopped);
    const char *p2[] = { "abc<|" };
    cr_expect_str_eq(stop_run(stops, 1, p2, 1, &stopped), "abc<|");
    const char *p3[] = { "plain ", "text" };
    cr_expect_str_eq(stop_run(NULL, 0, p3, 2, &stopped), "plain text");
}

Test(stop_strings, earliest_stop_wins_across_pieces)
{
    const char *stops[] = { "END", "STOP" };
    const char *p1[] = { "xxSTOPyyEND" };
    bool stopped;
    cr_expect_str_eq(stop_run(stops, 2, p1, 1, &stopped), "xx");
    cr_expect(stopped);
    const char *p2[] = { "one S", "T", "OP two" };
    cr_expect_str_eq(stop_run(stops, 2, p2, 3, &stopped), "one ");
    cr_expect(stopped);
}

Test(stop_strings, small_cap_loses_nothing)
{
    const char *stops[] = { "##" };
    pl_stopper *st = pl_stopper_new(stops, 1);
    char out[2], all[32] = { 0 };
    bool stopped;
    int len = pl_stopper_feed(st, "abcdef#", 7, out, 2, &stopped);
    memcpy(all, out, (size_t)len);
    for (int k; (k = pl_stopper_feed(st, "", 0, out, 2, &stopped)) > 0; len += k) memcpy(all + len, out, (size_t)k);
    cr_expect_str_eq(all, "abcdef");
    pl_stopper_free(st);
}

Test(stop_strings, random_chunking_matches_whole_text_cut)
{
    const char *stops[] = { "<ab>", "ba" };
    const char alphabet[] = "ab<>x";
    lcg_state = 4242;
    for (int round = 0; round < 500; round++) {
        char text[64];
        int n = 1 + (int)(frand() * 60);
        for (int i = 0; i < n; i++) text[i] = alphabet[(int)(frand() * 5)];
        text[n] = 0;
        char want[64];
        size_t cut = (size_t)n;
        for (int s = 0; s < 2; s++) {
            const char *h = strstr(text, stops[s]);
            if (h && (size_t)(h - text) < cut) cut = (size_t)(h - text);
        }
        memcpy(want, text, cut);
        want[cut] = 0;
        const char *pieces[64];
        char store[64][64];
        int np = 0;
        for (int i = 0; i < n;) {
            int k = 1 + (int)(frand() * 4);
            if (i + k > n) k = n - i;
            memcpy(store[np], text + i, (size_t)k);
            store[np][k] = 0;
            pieces[np] = store[np];
            np++;
            i += k;
        }
        bool stopped;
        cr_assert_str_eq(stop_run(stops, 2, pieces, np, &stopped), want, "text %s", text);
        cr_assert_eq(stopped, cut < (size_t)n, "text %s", text);
    }
}
