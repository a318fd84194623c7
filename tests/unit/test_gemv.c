/* test_gemv.c — the decode (one activation row) path of pl_cpu_matmul: the
 * 4-block AVX-512 kernels of the 32-block types (gemv_avx512.c) and the 4-row
 * q4_K/q6_K kernels (gemv_k_avx512.c) against the scalar reference, on row
 * counts that leave 1..3 rows after the 4-row steps, block counts that leave
 * 1..3 blocks after the 4-block groups, every CPU path, and a matrix that ends
 * right at an unreadable page (no read past the end). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_test_util.h"
#include "engine/engine.h"

static const pl_type k_block32[] = { PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0, PL_TYPE_Q5_1, PL_TYPE_Q8_0 };
static const pl_type k_kquant[] = { PL_TYPE_Q4_K, PL_TYPE_Q6_K };

/* Random weights of type t (rows x cols) quantized into W (rows * row size bytes). */
static void gv_make_weights(pl_type t, int64_t rows, int64_t cols, uint8_t *W, uint64_t seed)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    size_t rs = pl_row_size(t, cols);
    float *f = malloc(cols * sizeof *f);
    for (int64_t r = 0; r < rows; r++) {
        ct_fill_normal(f, cols, seed + (uint64_t)r, 0.05f);
        if (r % 5 == 3) f[r % cols] = 1.5f;   /* an outlier: large scale, small others */
        tr->from_float(f, W + r * rs, cols);
    }
    free(f);
}

/* pl_cpu_matmul with n = 1 on nth threads vs the reference, on every path. */
static void gv_check(pl_type t, int64_t rows, int64_t cols, int nth)
{
    size_t rs = pl_row_size(t, cols);
    uint8_t *W = malloc(rs * rows);
    float *X = malloc(cols * sizeof *X), *Y = malloc(rows * sizeof *Y), *Yref = malloc(rows * sizeof *Yref);
    gv_make_weights(t, rows, cols, W, (uint64_t)(rows * 31 + cols));
    ct_fill_normal(X, cols, (uint64_t)cols, 1.0f);
    X[cols / 2] = -7.0f;
    pl_cpu_matmul_ref(W, t, rows, cols, X, 1, Yref);
    pl_pool *p = pl_pool_new(nth);
    int levels[4], nl = ct_levels(levels);
    for (int l = 0; l < nl; l++) {
        pl_cpu_force_level(levels[l]);
        for (int64_t i = 0; i < rows; i++) Y[i] = NAN;
        pl_cpu_matmul(p, W, t, rows, cols, X, 1, Y);
        double d = ct_rel_rmse(Y, Yref, rows);
        cr_assert(d < 1e-5, "%s %ldx%ld threads=%d path %s: rel diff %.3g vs ref (y[0] %g vs %g)",
                  pl_type_name(t), (long)rows, (long)cols, nth, pl_cpu_level_name(levels[l]), d, Y[0], Yref[0]);
    }
    pl_cpu_force_level(-1);
    pl_pool_free(p);
    free(W), free(X), free(Y), free(Yref);
}

Test(matmul_decode, block32_types_ragged_rows_and_groups)
{
    const int64_t rows[] = { 1, 3, 6, 37, 67 };
    const int64_t cols[] = { 32, 64, 96, 128, 160, 576, 1056, 2048 };   /* 1..64 blocks: every group tail */
    for (int k = 0; k < 5; k++)
        for (int ir = 0; ir < 5; ir++)
            for (int ic = 0; ic < 8; ic++) gv_check(k_block32[k], rows[ir], cols[ic], ir % 2 ? 3 : 1);
}

Test(matmul_decode, kquants_ragged_rows)
{
    const int64_t rows[] = { 1, 3, 6, 37, 67 };
    const int64_t cols[] = { 256, 512, 1536 };
    for (int k = 0; k < 2; k++)
        for (int ir = 0; ir < 5; ir++)
            for (int ic = 0; ic < 3; ic++) gv_check(k_kquant[k], rows[ir], cols[ic], ir % 2 ? 3 : 1);
}

Test(matmul_decode, kernel_selected_where_supported)
{
    if (pl_cpu_detected_level() != PL_CPU_AVX512) return;   /* other machines: the dot path, tested above */
    pl_cpu_force_level(PL_CPU_AVX512);
    for (int k = 0; k < 5; k++)
        cr_assert(cpu_gemv_kernel(k_block32[k]) != NULL || !cpu_gemv_avx512_supported(),
                  "%s: no decode kernel on a CPU with AVX-512 VBMI/BITALG", pl_type_name(k_block32[k]));
    for (int k = 0; k < 2; k++)
        cr_assert_not_null(cpu_gemv_kernel(k_kquant[k]), "%s: no decode kernel on AVX-512", pl_type_name(k_kquant[k]));
    pl_cpu_force_level(PL_CPU_AVX2);
    cr_assert_null(cpu_gemv_kernel(PL_TYPE_Q8_0), "AVX2 level must not take the AVX-512 decode kernel");
    pl_cpu_force_level(-1);
}

/* The last weight row ends where an unreadable page begins: a kernel reading
 * past the matrix (a full 4-block window on a tail group) would crash. */
Test(matmul_decode, no_read_past_the_matrix)
{
    long page = sysconf(_SC_PAGESIZE);
    for (int k = 0; k < 7; k++) {
        pl_type t = k < 5 ? k_block32[k] : k_kquant[k - 5];
        const int64_t rows = 5, cols = k < 5 ? 96 : 256;   /* 3 blocks: one partial group per row */
        size_t bytes = pl_row_size(t, cols) * rows, span = ((bytes + page - 1) / page + 1) * page;
        uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert(m != MAP_FAILED);
        uint8_t *guard = m + span - page, *W = guard - bytes;
        cr_assert_eq(mprotect(guard, page, PROT_NONE), 0);
        gv_make_weights(t, rows, cols, W, 9);
        float X[256], Y[5], Yref[5];
        ct_fill_normal(X, cols, 3, 1.0f);
        pl_cpu_matmul_ref(W, t, rows, cols, X, 1, Yref);
        pl_cpu_matmul(NULL, W, t, rows, cols, X, 1, Y);
        cr_assert(ct_rel_rmse(Y, Yref, rows) < 1e-5, "%s: decode at a page end differs", pl_type_name(t));
        munmap(m, span);
    }
}
