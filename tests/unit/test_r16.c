/* test_r16.c — the 16-row weight layout (PL_LAYOUT_R16): repacking changes
 * the bytes and unpacking gives back the GGUF bytes exactly; a matmul on the
 * repacked weights equals the scalar reference on the original ones for one
 * token (the R16 decode kernels), 2-3 tokens, and prompts (the panel path),
 * on every CPU path (the lower ones unpack tiles first), threads 1 and 3,
 * and block counts odd and even (an odd last block is stored alone), for
 * q4_0, q4_1, q5_0, q8_0, q4_K and q6_K; and a weight that cannot take the layout is
 * refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_util.h"
#include "engine/engine.h"

static const pl_type k_r16_types[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0, PL_TYPE_Q8_0, PL_TYPE_Q4_K,
                                       PL_TYPE_Q6_K };
#define N_R16 6

/* Column counts for type t: 32-blocks 1, 2, 3, 18, 65 blocks; K-quants 1..3 super-blocks. */
static int r16_cols(pl_type t, int64_t out[4])
{
    static const int64_t b32[4] = { 32, 96, 576, 2080 }, bk[4] = { 256, 512, 768, 1536 };
    memcpy(out, t == PL_TYPE_Q4_K || t == PL_TYPE_Q6_K ? bk : b32, sizeof b32);
    return 4;
}

/* Random rows x cols weights of type t (an outlier every 7 rows). */
static uint8_t *r16_weights(pl_type t, int64_t rows, int64_t cols, uint64_t seed)
{
    size_t rs = pl_row_size(t, cols);
    uint8_t *W = malloc(rs * rows);
    float *f = malloc(cols * sizeof *f);
    for (int64_t r = 0; r < rows; r++) {
        ct_fill_normal(f, cols, seed + (uint64_t)r, 0.05f);
        if (r % 7 == 2) f[(r * 5) % cols] = 2.0f;
        pl_type_traits_get(t)->from_float(f, W + r * rs, cols);
    }
    free(f);
    return W;
}

Test(r16, repack_then_unpack_gives_the_gguf_bytes_back)
{
    for (int k = 0; k < N_R16; k++)
        for (int ic = 0; ic < 4; ic++) {
            pl_type t = k_r16_types[k];
            int64_t cols[4];
            r16_cols(t, cols);
            int64_t rows = 48;
            size_t bytes = pl_row_size(t, cols[ic]) * rows;
            uint8_t *W = r16_weights(t, rows, cols[ic], 11), *orig = malloc(bytes), *back = malloc(bytes);
            memcpy(orig, W, bytes);
            cr_assert(pl_cpu_r16_repack(t, W, rows, cols[ic]));
            cr_assert(memcmp(W, orig, bytes) != 0, "%s %ld cols: repacking left the bytes as they were",
                      pl_type_name(t), (long)cols[ic]);
            pl_cpu_r16_unpack(t, W, back, rows, cols[ic]);
            cr_assert(memcmp(back, orig, bytes) == 0, "%s %ld cols: unpack(repack(W)) != W", pl_type_name(t),
                      (long)cols[ic]);
            free(W), free(orig), free(back);
        }
}

/* pl_cpu_matmul_multi on repacked weights vs the reference on the originals. */
static void r16_check(pl_type t, int64_t rows, int64_t cols, int64_t n, int nth)
{
    uint8_t *W = r16_weights(t, rows, cols, (uint64_t)(rows + 7 * cols));
    float *X = malloc(n * cols * sizeof *X), *Y = malloc(n * rows * sizeof *Y), *Yref = malloc(n * rows * sizeof *Yref);
    ct_fill_normal(X, n * cols, (uint64_t)(cols + n), 1.0f);
    X[cols / 3] = -6.0f;
    pl_cpu_matmul_ref(W, t, rows, cols, X, n, Yref);
    cr_assert(pl_cpu_r16_repack(t, W, rows, cols));
    pl_pool *p = pl_pool_new(nth);
    int levels[4], nl = ct_levels(levels);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        for (int64_t i = 0; i < n * rows; i++) Y[i] = NAN;
        pl_matmul_w w = { .W = W, .type = t, .rows = rows, .Y = Y, .layout = PL_LAYOUT_R16 };
        pl_cpu_matmul_multi(p, &w, 1, cols, X, n);
        double d = ct_rel_rmse(Y, Yref, n * rows);
        cr_assert(d < 1e-5, "%s R16 %ldx%ld n=%ld threads=%d path %s: rel diff %.3g (y[0] %g vs %g)",
                  pl_type_name(t), (long)rows, (long)cols, (long)n, nth, pl_cpu_level_name(levels[l]), d, Y[0],
                  Yref[0]);
    }
    pl_cpu_force_level(-1);
    pl_pool_free(p);
    free(W), free(X), free(Y), free(Yref);
}

Test(r16, matmul_equals_the_reference_on_every_path)
{
    const int64_t ns[] = { 1, 2, 3, 4, 9 };
    for (int k = 0; k < N_R16; k++) {
        int64_t cols[4];
        r16_cols(k_r16_types[k], cols);
        for (int ic = 0; ic < 4; ic++)
            for (int in = 0; in < 5; in++) r16_check(k_r16_types[k], ic % 2 ? 48 : 144, cols[ic], ns[in], in % 2 ? 3 : 1);
    }
}

/* Several weights of one input, R16 and GGUF rows mixed, in one dispatch. */
Test(r16, mixed_layouts_in_one_multi_matmul)
{
    const int64_t cols = 256, n = 1;
    pl_type ts[3] = { PL_TYPE_Q8_0, PL_TYPE_Q5_K, PL_TYPE_Q4_0 };
    int64_t rows[3] = { 64, 32, 80 };
    float X[256], Y[3][80], Yref[3][80];
    ct_fill_normal(X, cols, 5, 1.0f);
    pl_matmul_w ws[3];
    uint8_t *W[3];
    for (int i = 0; i < 3; i++) {
        W[i] = r16_weights(ts[i], rows[i], cols, 100 + i);
        pl_cpu_matmul_ref(W[i], ts[i], rows[i], cols, X, n, Yref[i]);
        bool r16 = pl_cpu_r16_supported(ts[i], rows[i], cols);
        if (r16) cr_assert(pl_cpu_r16_repack(ts[i], W[i], rows[i], cols));
        ws[i] = (pl_matmul_w){ .W = W[i], .type = ts[i], .rows = rows[i], .Y = Y[i],
                               .layout = r16 ? PL_LAYOUT_R16 : PL_LAYOUT_ROWS };
    }
    pl_pool *p = pl_pool_new(2);
    pl_cpu_matmul_multi(p, ws, 3, cols, X, n);
    for (int i = 0; i < 3; i++)
        cr_assert(ct_rel_rmse(Y[i], Yref[i], rows[i]) < 1e-5, "weight %d (%s) differs", i, pl_type_name(ts[i]));
    pl_pool_free(p);
    for (int i = 0; i < 3; i++) free(W[i]);
}

Test(r16, only_whole_groups_of_supported_types)
{
    cr_assert(!pl_cpu_r16_supported(PL_TYPE_Q4_0, 40, 64), "40 rows are not whole groups of 16");
    cr_assert(!pl_cpu_r16_supported(PL_TYPE_Q5_K, 64, 256), "q5_K has no R16 form");
    cr_assert(!pl_cpu_r16_supported(PL_TYPE_Q4_K, 64, 288), "288 columns are not whole super-blocks");
    cr_assert(!pl_cpu_r16_supported(PL_TYPE_F32, 64, 64));
    uint8_t junk[40 * 36];
    memset(junk, 0x5a, sizeof junk);
    cr_assert(!pl_cpu_r16_repack(PL_TYPE_Q4_0, junk, 40, 64), "repack must refuse a partial group");
    cr_assert(!pl_cpu_r16_repack(PL_TYPE_Q5_K, junk, 16, 256), "repack must refuse a type without R16");
    for (size_t i = 0; i < sizeof junk; i++) cr_assert(junk[i] == 0x5a, "a refused repack changed the bytes");
    pl_cpu_force_level(PL_CPU_SCALAR);
    cr_assert(!pl_cpu_r16_supported(PL_TYPE_Q8_0, 64, 64), "the scalar path has no R16 kernel: keep GGUF rows");
    pl_cpu_force_level(-1);
    if (pl_cpu_detected_level() == PL_CPU_AVX512)
        for (int k = 0; k < N_R16; k++)
            cr_assert(pl_cpu_r16_supported(k_r16_types[k], 64, 256), "%s: no R16 on AVX-512",
                      pl_type_name(k_r16_types[k]));
}

/* pl_cpu_matmul_multi_id: a thread prepares X once per id; a new id (the
 * next decode phase) prepares again. Shown by changing X behind an id. */
Test(r16, prepared_activation_follows_the_id)
{
    if (!pl_cpu_r16_supported(PL_TYPE_Q4_0, 32, 256)) return;   /* no R16 kernel here: nothing is cached */
    const int64_t rows = 32, cols = 256;
    uint8_t *W = r16_weights(PL_TYPE_Q4_0, rows, cols, 21);
    float X[256], Xb[256], Ya[32], Yb[32], Y[32];
    ct_fill_normal(X, cols, 1, 1.0f);
    ct_fill_normal(Xb, cols, 2, 1.0f);
    cr_assert(pl_cpu_r16_repack(PL_TYPE_Q4_0, W, rows, cols));
    pl_matmul_w w = { .W = W, .type = PL_TYPE_Q4_0, .rows = rows, .Y = Ya, .layout = PL_LAYOUT_R16 };
    pl_cpu_matmul_multi(NULL, &w, 1, cols, X, 1);
    w.Y = Yb;
    pl_cpu_matmul_multi(NULL, &w, 1, cols, Xb, 1);
    uint64_t id = pl_cpu_x_ids_new(2);
    cr_assert(id != 0);
    float Xc[256];
    memcpy(Xc, X, sizeof X);
    w.Y = Y;
    pl_cpu_matmul_multi_id(NULL, &w, 1, cols, Xc, 1, id);
    cr_assert(memcmp(Y, Ya, sizeof Y) == 0, "first call with an id: as without one");
    memcpy(Xc, Xb, sizeof Xb);   /* breaks the promise on purpose */
    pl_cpu_matmul_multi_id(NULL, &w, 1, cols, Xc, 1, id);
    cr_assert(memcmp(Y, Ya, sizeof Y) == 0, "the same id must reuse the preparation");
    pl_cpu_matmul_multi_id(NULL, &w, 1, cols, Xc, 1, id + 1);
    cr_assert(memcmp(Y, Yb, sizeof Y) == 0, "a new id must prepare the new X");
    free(W);
}

/* An embedding lookup in a repacked (tied) table gives the row's floats. */
Test(r16, row_lookup_in_either_layout)
{
    for (int k = 0; k < N_R16; k++) {
        pl_type t = k_r16_types[k];
        int64_t cols[4], rows = 48;
        r16_cols(t, cols);
        uint8_t *W = r16_weights(t, rows, cols[2], 31);
        size_t rs = pl_row_size(t, cols[2]);
        float *want = malloc(rows * cols[2] * sizeof *want), *got = malloc(cols[2] * sizeof *got);
        for (int64_t r = 0; r < rows; r++) pl_type_traits_get(t)->to_float(W + r * rs, want + r * cols[2], cols[2]);
        pl_cpu_row_to_float(W, t, PL_LAYOUT_ROWS, cols[2], 17, got);
        cr_assert(memcmp(got, want + 17 * cols[2], cols[2] * sizeof *got) == 0, "%s: row 17 (rows)", pl_type_name(t));
        cr_assert(pl_cpu_r16_repack(t, W, rows, cols[2]));
        for (int64_t r = 0; r < rows; r += 5) {
            pl_cpu_row_to_float(W, t, PL_LAYOUT_R16, cols[2], r, got);
            cr_assert(memcmp(got, want + r * cols[2], cols[2] * sizeof *got) == 0, "%s: row %ld from R16",
                      pl_type_name(t), (long)r);
        }
        free(W), free(want), free(got);
    }
}

/* A model whose activations overflow to inf or NaN (a broken or hostile file;
 * found by tests/fuzz/fuzz_model.c) must not make the activation's correction
 * term overflow: corr stays -128 x the sum of the int8 bytes actually stored. */
Test(r16, activation_with_inf_and_nan_keeps_its_correction_in_range)
{
    if (!pl_cpu_r16_supported(PL_TYPE_Q4_0, 16, 64)) {
        cr_skip_test("this CPU has no R16 kernels (AVX-512 VNNI): nothing to check");
        return;
    }
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)(i % 9) - 4.0f;
    x[3] = __builtin_inff();
    x[40] = __builtin_nanf("");
    x[41] = -__builtin_inff();
    size_t bytes = cpu_r16_act_bytes(64);
    uint8_t *act = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    cr_assert(act);
    cpu_r16_act_prep(x, 64, act);
    for (int b = 0; b < 2; b++) {
        int sum = 0;
        for (int i = 0; i < 32; i++) sum += ((const int8_t *)act)[32 * b + i];
        int32_t corr;
        memcpy(&corr, act + 64 + 16 * b, sizeof corr);   /* r16_act_blk: corr first, 16 bytes a block */
        cr_assert_eq(corr, -128 * sum, "block %d: corr %d for bytes summing to %d", b, corr, sum);
    }
    free(act);
}
