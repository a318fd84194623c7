/* test_quant_golden.c — parley's (de)quantizers against llama.cpp's.
 *
 * tests/fixtures/quant/<type>.bin come from scripts/gen-quant-fixtures.py
 * (gguf.quants, the numpy twin of ggml's kernels; version in the files and in
 * tests/fixtures/quant/VERSION). Dequantizing random blocks must give
 * llama.cpp's floats; quantizing floats must give llama.cpp's bytes for the
 * types gguf can quantize. For the K-quants (which gguf cannot quantize) the
 * fixtures hold floats quantized by llama.cpp's own reference quantizers
 * (kind 2): parley's quantizer must come within 3% of their error on the same
 * values, and on most blocks give the very same bytes (same algorithm). The
 * format is described in the script.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_util.h"
#include "engine/engine.h"

/* Whole fixture file into memory; a missing file fails the test with a hint. */
static uint8_t *golden_read(const char *type, size_t *len)
{
    const char *src = getenv("PARLEY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/quant/%s.bin", src ? src : ".", type);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s missing: run scripts/gen-quant-fixtures.py with the gguf venv "
                          "(or run the tests from the repository root)", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* Next little-endian u32 of the fixture, bounds-checked. */
static uint32_t golden_u32(const uint8_t *buf, size_t len, size_t *at)
{
    cr_assert_leq(*at + 4, len, "fixture truncated at %zu", *at);
    uint32_t v;
    memcpy(&v, buf + *at, 4);
    *at += 4;
    return v;
}

/* Largest |x|. */
static float golden_absmax(const float *x, uint32_t n)
{
    float m = 0;
    for (uint32_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* Kind 2: parley's quantizer error on src against llama.cpp's (their bytes q);
 * returns the fraction of identical bytes. */
static double golden_error_check(const pl_type_traits *tr, const float *src, const uint8_t *q, uint32_t n,
                                 uint32_t nbytes, const float *want, uint32_t c)
{
    uint8_t *mine = malloc(nbytes);
    float *back = malloc(n * sizeof *back);
    tr->from_float(src, mine, n);
    tr->to_float(mine, back, n);
    double e_mine = ct_rel_rmse(back, src, n), e_ref = ct_rel_rmse(want, src, n);
    cr_assert(e_mine <= 1.03 * e_ref, "%s case %u: relative RMSE %.5f, llama.cpp's quantizer %.5f",
              tr->name, c, e_mine, e_ref);
    uint32_t same = 0;
    for (uint32_t i = 0; i < nbytes; i++) same += mine[i] == q[i];
    free(mine), free(back);
    return (double)same / nbytes;
}

/* Check every case of one type's fixture. */
static void golden_check(const char *type)
{
    size_t len, at = 0;
    uint8_t *buf = golden_read(type, &len);
    cr_assert(len >= 80 && memcmp(buf, "PLQF", 4) == 0, "%s: not a quant fixture", type);
    at = 4;
    cr_assert_eq(golden_u32(buf, len, &at), 1, "%s: fixture version", type);
    pl_type t = (pl_type)golden_u32(buf, len, &at);
    uint32_t n_cases = golden_u32(buf, len, &at);
    cr_assert_str_eq(pl_type_name(t), type);
    at += 64;   /* provenance */
    const pl_type_traits *tr = pl_type_traits_get(t);
    for (uint32_t c = 0; c < n_cases; c++) {
        uint32_t kind = golden_u32(buf, len, &at), n = golden_u32(buf, len, &at);
        uint32_t nbytes = golden_u32(buf, len, &at);
        cr_assert_eq(pl_row_size(t, n), nbytes, "%s case %u: size", type, c);
        size_t need = (kind ? n * 4 : 0) + nbytes + n * 4;
        cr_assert_leq(at + need, len, "%s case %u truncated", type, c);
        const float *src = kind ? (const float *)(buf + at) : NULL;
        const uint8_t *q = buf + at + (kind ? n * 4 : 0);
        const float *want = (const float *)(q + nbytes);
        at += need;
        float *got = malloc(n * sizeof *got);
        tr->to_float(q, got, n);
        float tol = 1e-6f * golden_absmax(want, n);
        for (uint32_t i = 0; i < n; i++)
            cr_assert(fabsf(got[i] - want[i]) <= tol, "%s case %u: dequantized[%u] = %.9g, llama.cpp %.9g",
                      type, c, i, got[i], want[i]);
        if (kind == 1) {
            uint8_t *mine = malloc(nbytes);
            tr->from_float(src, mine, n);
            for (uint32_t i = 0; i < nbytes; i++)
                cr_assert_eq(mine[i], q[i], "%s case %u: quantized byte %u = 0x%02x, llama.cpp 0x%02x",
                             type, c, i, mine[i], q[i]);
            free(mine);
        }
        if (kind == 2) {
            double same = golden_error_check(tr, src, q, n, nbytes, want, c);
            cr_assert(same >= 0.9, "%s case %u: only %.1f%% of the bytes equal llama.cpp's "
                                   "(same algorithm: expected nearly all)", type, c, 100 * same);
        }
        free(got);
    }
    free(buf);
}

Test(quant_golden, blocks_32)
{
    const char *types[] = { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16", "bf16" };
    for (int i = 0; i < 7; i++) golden_check(types[i]);
}

Test(quant_golden, k_quants)
{
    const char *types[] = { "q2_K", "q3_K", "q4_K", "q5_K", "q6_K" };
    for (int i = 0; i < 5; i++) golden_check(types[i]);
}
