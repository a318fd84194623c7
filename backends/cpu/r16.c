/* r16.c — the 16-row weight layout (PL_LAYOUT_R16): repack and unpack.
 *
 * Why: a decode step reads every weight byte once, so the kernel has to keep
 * up with memory while spending as little as possible per byte. In GGUF's
 * layout a block is one row's 32 weights, and turning it into a vector lane
 * takes gathers, nibble shuffles and a horizontal sum per row. Here the
 * layout does that work once, at load:
 *
 *   a group is 16 consecutive rows (16 x row size bytes, the same bytes);
 *   a block's bytes are split into fields (scales, quants, ...; k_forms),
 *   and each field is stored as pieces of pw bytes: piece c of row 0, row 1,
 *   ... row 15, then piece c + 1. Scale fields of 2 or 4 bytes become 16
 *   rows' scales in one vector; quant fields (pw 4) become 64-byte vectors
 *   holding 4 quant bytes of each of the 16 rows.
 *   The 32-element blocks go in pairs, fields first: d[16] of block b, d[16]
 *   of b+1 (64 bytes), then quants of b, quants of b+1 (an odd last block
 *   alone); q4_K and q6_K blocks one at a time.
 *
 * So a 64-byte load is 4 quant bytes of 16 rows: one vpdpbusd with 4
 * activation bytes broadcast advances 16 row dot products, the 16 scales are
 * one vcvtph2ps, and the 16 results land in one vector, one lane per row.
 * Nibbles stay as in GGUF (low = one element, high = another); q8_0 bytes are
 * stored XOR 0x80 (q + 128: the unsigned operand vpdpbusd wants).
 * Kernels: gemv_r16_avx512.c (q4_0, q4_1, q8_0), gemv_r16_q5_avx512vbmi.c
 * (q5_0, where the CPU has VBMI), gemv_r16k_avx512.c (q4_K, q6_K); prefill packs panels straight from it (panel_avx512.c) for the
 * 32-blocks and unpacks K-quant tiles first; every other path unpacks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

/* A field of a block: len bytes at off, stored in R16 as pieces of pw bytes,
 * piece c of rows 0..15 side by side (pw == len: the field row after row). */
typedef struct r16_field { uint8_t off, len, pw; } r16_field;

/* A type's R16 form: blocks per unit (2: the 32-blocks' scales pair up into
 * 64 bytes), its fields in R16 order, and an XOR for its quant bytes. */
typedef struct r16_form {
    pl_type   t;
    int       unit;
    int       nf;
    r16_field f[4];
    uint8_t   flip_field, flip;   /* field whose bytes get XOR flip */
} r16_form;

static const r16_form k_forms[] = {
    { PL_TYPE_Q4_0, 2, 2, { { 0, 2, 2 }, { 2, 16, 4 } }, 1, 0 },
    { PL_TYPE_Q4_1, 2, 2, { { 0, 4, 4 }, { 4, 16, 4 } }, 1, 0 },   /* d|m pairs */
    { PL_TYPE_Q8_0, 2, 2, { { 0, 2, 2 }, { 2, 32, 4 } }, 1, 0x80 },
    { PL_TYPE_Q5_0, 2, 3, { { 0, 2, 2 }, { 2, 4, 4 }, { 6, 16, 4 } }, 2, 0 },   /* d, the qh word, qs */
    /* d|dmin, the 12 scale bytes as 3 words, qs */
    { PL_TYPE_Q4_K, 1, 3, { { 0, 4, 4 }, { 4, 12, 4 }, { 16, 128, 4 } }, 0, 0 },
    /* d, scales, ql, qh */
    { PL_TYPE_Q6_K, 1, 4, { { 208, 2, 2 }, { 192, 16, 4 }, { 0, 128, 4 }, { 128, 64, 4 } }, 0, 0 },
};

static const r16_form *r16_form_of(pl_type t)
{
    for (size_t i = 0; i < sizeof k_forms / sizeof k_forms[0]; i++)
        if (k_forms[i].t == t) return &k_forms[i];
    return NULL;
}

bool pl_cpu_r16_supported(pl_type t, int64_t rows, int64_t cols)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    return r16_form_of(t) && rows > 0 && rows % 16 == 0 && cols > 0 && cols % tr->block_size == 0 &&
           cpu_r16_gemv_kernel(t) != NULL;
}

pl_layout pl_cpu_weight_layout(pl_type t, int64_t rows, int64_t cols)
{
    return pl_cpu_r16_supported(t, rows, cols) ? PL_LAYOUT_R16 : PL_LAYOUT_ROWS;
}

pl_layout pl_cpu_weight_prepare(pl_type t, void *W, int64_t rows, int64_t cols)
{
    if (pl_cpu_weight_layout(t, rows, cols) == PL_LAYOUT_R16 && pl_cpu_r16_repack(t, W, rows, cols))
        return PL_LAYOUT_R16;
    return PL_LAYOUT_ROWS;
}

/* Move one group between its 16 rows (stride rs) and its R16 bytes, either
 * way (the XOR is its own inverse). only >= 0: unpack that row alone, into
 * rows (an embedding lookup). */
static void r16_group(const r16_form *F, size_t S, uint8_t *rows, size_t rs, int64_t nb, uint8_t *r16, bool to_r16,
                      int only)
{
    uint8_t *o = r16;
    for (int64_t b = 0; b < nb; b += F->unit) {
        const int nbb = b + F->unit <= nb ? F->unit : (int)(nb - b);
        for (int fi = 0; fi < F->nf; fi++) {
            const r16_field *f = &F->f[fi];
            const uint8_t x = fi == F->flip_field ? F->flip : 0;
            for (int k = 0; k < nbb; k++)
                for (int c = 0; c < f->len / f->pw; c++)
                    for (int r = 0; r < 16; r++, o += f->pw) {
                        if (only >= 0 && r != only) continue;
                        uint8_t *at = rows + (size_t)(only >= 0 ? 0 : r) * rs + (size_t)(b + k) * S + f->off + c * f->pw;
                        if (to_r16) memcpy(o, at, f->pw);
                        else memcpy(at, o, f->pw);
                        if (x)
                            for (int i = 0; i < f->pw; i++) (to_r16 ? o : at)[i] ^= x;
                    }
        }
    }
}

bool pl_cpu_r16_repack(pl_type t, void *W, int64_t rows, int64_t cols)
{
    const r16_form *F = r16_form_of(t);
    const pl_type_traits *tr = pl_type_traits_get(t);
    /* only whole groups of whole blocks: a tail left in GGUF rows would be read as R16 */
    if (!F || rows <= 0 || rows % 16 || cols <= 0 || cols % tr->block_size) return false;
    size_t rs = pl_row_size(t, cols), gb = 16 * rs;
    uint8_t *tmp = malloc(gb), *w = W;
    if (!tmp) return false;
    for (int64_t g = 0; g < rows / 16; g++) {
        memcpy(tmp, w + (size_t)g * gb, gb);
        r16_group(F, tr->type_size, tmp, rs, cols / tr->block_size, w + (size_t)g * gb, true, -1);
    }
    free(tmp);
    return true;
}

void pl_cpu_r16_unpack(pl_type t, const void *W, void *dst, int64_t rows, int64_t cols)
{
    const r16_form *F = r16_form_of(t);
    const pl_type_traits *tr = pl_type_traits_get(t);
    size_t rs = pl_row_size(t, cols), gb = 16 * rs;
    if (!F) return;
    for (int64_t g = 0; g < rows / 16; g++)
        r16_group(F, tr->type_size, (uint8_t *)dst + (size_t)g * gb, rs, cols / tr->block_size,
                  (uint8_t *)W + (size_t)g * gb, false, -1);
}

void pl_cpu_row_to_float(const void *W, pl_type t, pl_layout layout, int64_t cols, int64_t r, float *out)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    const r16_form *F = r16_form_of(t);
    size_t rs = pl_row_size(t, cols);
    if (layout != PL_LAYOUT_R16 || !F) {
        tr->to_float((const uint8_t *)W + rs * (size_t)r, out, cols);
        return;
    }
    uint8_t small[8192], *row = rs <= sizeof small ? small : malloc(rs);
    if (!row) {   /* out of memory: a row of NaN says so downstream */
        for (int64_t i = 0; i < cols; i++) out[i] = NAN;
        return;
    }
    r16_group(F, tr->type_size, row, rs, cols / tr->block_size, (uint8_t *)W + (size_t)(r / 16) * 16 * rs, false,
              (int)(r % 16));
    tr->to_float(row, out, cols);
    if (row != small) free(row);
}
