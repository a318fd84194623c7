/* test_kv_layers.c — the layer-major KV cache: every layer keeps its rows in
 * its own pool (one allocation per layer block, none shared between layers)
 * while all layers follow one block table per sequence. Fork, copy-on-write,
 * truncate, context shift and live re-typing are checked layer by layer with
 * values that name their layer, and a layer's slice is moved to new memory on
 * its own (what a backend taking the layer over will do) under ASan. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "engine/kv_cache.h"

enum { KL_LAYERS = 3, KL_DIM = 32 };

/* The value stored at (layer, K or V, position, element). */
static float kl_val(int il, int is_v, int p, int d)
{
    return (is_v ? -1.0f : 1.0f) * ((float)(p % 64) / 64.0f + (float)d / 256.0f) + (float)il * 2.0f;
}

/* Write positions [from, to) of seq, every layer, in the cache's types. */
static void kl_fill(kv_cache *kv, int seq, int from, int to)
{
    float row[KL_DIM];
    const kv_seq *s = &kv->seqs[seq];
    for (int il = 0; il < KL_LAYERS; il++)
        for (int p = from; p < to; p++) {
            for (int d = 0; d < KL_DIM; d++) row[d] = kl_val(il, 0, p, d);
            pl_type_traits_get(kv->type_k)->from_float(row, kv_k_data(kv, s, il, p), KL_DIM);
            for (int d = 0; d < KL_DIM; d++) row[d] = kl_val(il, 1, p, d);
            pl_type_traits_get(kv->type_v)->from_float(row, kv_v_data(kv, s, il, p), KL_DIM);
        }
}

/* Append n positions (tokens 100 + pos) holding kl_val. */
static void kl_append(kv_cache *kv, int seq, int n)
{
    pl_status st;
    const int from = kv->seqs[seq].n_pos;
    cr_assert_eq(kv_seq_reserve(kv, seq, n, &st), 0, "%s", st.msg);
    kl_fill(kv, seq, from, from + n);
    int32_t toks[256];
    for (int i = 0; i < n; i++) toks[i] = 100 + from + i;
    kv_seq_commit(kv, seq, toks, n);
}

/* Worst |cache - kl_val(src position)| of layer il over [0, n), K shifted by kdelta
 * from position keep on (src = p < keep ? p : p + drop). */
static double kl_worst(const kv_cache *kv, int seq, int il, int n, int keep, int drop, float kdelta)
{
    float row[KL_DIM];
    double worst = 0;
    const kv_seq *s = &kv->seqs[seq];
    for (int p = 0; p < n; p++) {
        const int src = p < keep ? p : p + drop;
        const float dk = p < keep ? 0.0f : kdelta;
        pl_type_traits_get(kv->type_k)->to_float(kv_k_data(kv, s, il, p), row, KL_DIM);
        for (int d = 0; d < KL_DIM; d++) worst = fmax(worst, fabs(row[d] - kl_val(il, 0, src, d) - dk));
        pl_type_traits_get(kv->type_v)->to_float(kv_v_data(kv, s, il, p), row, KL_DIM);
        for (int d = 0; d < KL_DIM; d++) worst = fmax(worst, fabs(row[d] - kl_val(il, 1, src, d)));
    }
    return worst;
}

Test(kv_layers, each_layer_block_is_its_own_allocation)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KL_LAYERS, KL_DIM, 256, 16, &st);
    cr_assert_not_null(kv, "%s", st.msg);
    cr_expect_eq(kv->block_bytes, (size_t)KV_BLOCK * (kv->row_k + kv->row_v), "a layer block holds one layer");
    int a = kv_seq_new(kv, &st);
    kl_append(kv, a, 40);   /* two blocks */
    for (int il = 0; il < KL_LAYERS; il++) {
        cr_expect_null(kv->layers[il].where, "host memory");
        cr_expect_eq(kv_layer_bytes(kv, il), 2 * kv->block_bytes, "layer %d holds 2 blocks", il);
        for (int b = 0; b < 2; b++) {
            const uint8_t *m = kv_block_k(kv, kv->seqs[a].table[b], il);
            cr_expect_eq(kv_block_v(kv, kv->seqs[a].table[b], il), m + KV_BLOCK * kv->row_k);
            for (int jl = 0; jl < il; jl++) {   /* no two layer blocks overlap */
                const uint8_t *o = kv_block_k(kv, kv->seqs[a].table[b], jl);
                cr_expect(m + kv->block_bytes <= o || o + kv->block_bytes <= m, "layers %d/%d overlap", il, jl);
            }
        }
    }
    /* Move layer 1's slice to new memory on its own: the others never notice. */
    for (int b = 0; b < kv->max_blocks; b++) {
        uint8_t **m = &kv->layers[1].mem[b];
        if (!*m) continue;
        uint8_t *moved = malloc(kv->block_bytes);
        cr_assert_not_null(moved);
        memcpy(moved, *m, kv->block_bytes);
        free(*m);
        *m = moved;
    }
    for (int il = 0; il < KL_LAYERS; il++)
        cr_expect_lt(kl_worst(kv, a, il, 40, 40, 0, 0), 2e-2, "layer %d after the move", il);
    kv_cache_free(kv);
}

static void kl_rotate(float *k_row, int il, int delta, void *ud)
{
    (void)ud;
    for (int d = 0; d < KL_DIM; d++) k_row[d] += (float)delta * (float)(il + 1) / 8.0f;
}

Test(kv_layers, fork_cow_truncate_shift_layer_by_layer)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KL_LAYERS, KL_DIM, 256, 16, &st);
    int a = kv_seq_new(kv, &st);
    kl_append(kv, a, 50);
    int b = kv_seq_fork(kv, a, &st);
    cr_assert_eq(kv_cache_blocks_used(kv), 2, "the fork shares both blocks");
    kl_append(kv, b, 5);   /* writes into the shared partial block: copied in every layer */
    cr_assert_eq(kv_cache_blocks_used(kv), 3);
    const int pb = kv->seqs[b].table[1], pa = kv->seqs[a].table[1];
    cr_assert_neq(pa, pb);
    for (int il = 0; il < KL_LAYERS; il++) {
        cr_expect_eq(memcmp(kv_block_k(kv, pa, il), kv_block_k(kv, pb, il), (size_t)(50 - KV_BLOCK) * kv->row_k), 0,
                     "layer %d: the copy holds the parent's rows", il);
        cr_expect_lt(kl_worst(kv, b, il, 55, 55, 0, 0), 2e-2, "layer %d of the fork", il);
    }
    cr_expect_eq(kv_seq_truncate(kv, b, 20), 0);
    cr_expect_eq(kv_cache_blocks_used(kv), 2, "the fork's copied block went back");
    for (int il = 0; il < KL_LAYERS; il++) cr_expect_lt(kl_worst(kv, b, il, 20, 20, 0, 0), 2e-2);
    kl_append(kv, b, 60);   /* 80 positions */
    cr_assert_eq(kv_seq_shift(kv, b, 4, 30, kl_rotate, NULL, &st), 0, "%s", st.msg);
    cr_assert_eq(kv->seqs[b].n_pos, 50);
    for (int il = 0; il < KL_LAYERS; il++)
        cr_expect_lt(kl_worst(kv, b, il, 50, 4, 30, -30.0f * (float)(il + 1) / 8.0f), 3e-2,
                     "layer %d re-rotated with its own delta", il);
    for (int il = 0; il < KL_LAYERS; il++)
        cr_expect_lt(kl_worst(kv, a, il, 50, 50, 0, 0), 2e-2, "the parent's layer %d is untouched", il);
    kv_seq_free(kv, b);
    kv_seq_free(kv, a);
    cr_expect_eq(kv_cache_blocks_used(kv), 0);
    kv_cache_free(kv);
}

Test(kv_layers, convert_every_layer_and_sizes_follow)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KL_LAYERS, KL_DIM, 256, 16, &st);
    int a = kv_seq_new(kv, &st);
    kl_append(kv, a, 70);   /* three blocks */
    int b = kv_seq_fork(kv, a, &st);
    kv_seq_truncate(kv, b, 10);
    int f = kv_seq_new(kv, &st);
    kl_append(kv, f, 40);
    kv_seq_free(kv, f);     /* two blocks with memory and no reference */
    const struct { pl_type k, v; double tol; } steps[] = {
        { PL_TYPE_Q8_0, PL_TYPE_Q4_0, 0.3 },    /* |values| up to 5.2: q4_0 steps of 4/8 */
        { PL_TYPE_F32, PL_TYPE_Q8_0, 0.32 },   /* what q4_0 lost stays lost */
        { PL_TYPE_F16, PL_TYPE_F16, 0.32 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cr_assert_eq(kv_cache_convert(kv, steps[i].k, steps[i].v, &st), 0, "%s", st.msg);
        for (int il = 0; il < KL_LAYERS; il++) {
            cr_expect_eq(kv_layer_bytes(kv, il), 3 * kv->block_bytes, "step %zu layer %d: live blocks only", i, il);
            double w = kl_worst(kv, a, il, 70, 70, 0, 0);
            cr_expect_lt(w, steps[i].tol, "step %zu layer %d off by %g", i, il, w);
            cr_expect_eq(kl_worst(kv, b, il, 10, 10, 0, 0), kl_worst(kv, a, il, 10, 10, 0, 0), "shared rows");
        }
    }
    kl_append(kv, b, 30);   /* copy-on-write and new blocks in the new size */
    for (int il = 0; il < KL_LAYERS; il++)   /* the shared first 10 keep what q4_0 lost */
        cr_expect_lt(kl_worst(kv, b, il, 40, 40, 0, 0), 0.32, "layer %d", il);
    kv_cache_free(kv);
}
