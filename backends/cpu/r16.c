/* r16.c — the 16-row weight layout (PL_LAYOUT_R16): repack and unpack.
 *
 * Why: a decode step reads every weight byte once, so the kernel has to keep
 * up with memory while spending as little as possible per byte. In GGUF's
 * layout a block is one row's 32 weights, and turning it into a vector lane
 * takes gathers, nibble shuffles and a horizontal sum per row. Here the
 * layout does that work once, at load:
 *
 *   a group is 16 consecutive rows (16 x row size bytes, the same bytes);
 *   in a group, blocks go in pairs (b, b+1):
 *     f16 d[16] of block b | f16 d[16] of block b+1       (64 bytes)
 *     quants of block b    | quants of block b+1          (16 x Q bytes each)
 *   and an odd last block alone: d[16] | quants.
 *   The quants of a block are Q/4 pieces of 64 bytes; piece c holds bytes
 *   4c..4c+3 of the block's quants for row 0, then row 1, ... row 15.
 *
 * So a 64-byte load is 4 quant bytes of 16 rows: one vpdpbusd with 4
 * activation bytes broadcast advances 16 row dot products, the 16 scales are
 * one vcvtph2ps, and the 16 results land in one vector, one lane per row.
 * Q (quant bytes per block and row) is 16 for q4_0 (nibbles as in GGUF:
 * low = element j, high = element j + 16) and 32 for q8_0, whose bytes are
 * stored XOR 0x80 (q + 128: the unsigned operand vpdpbusd wants).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

/* Quant bytes per block and row in R16, 0 when t has no R16 form. */
static int r16_qbytes(pl_type t) { return t == PL_TYPE_Q4_0 ? 16 : t == PL_TYPE_Q8_0 ? 32 : 0; }

bool pl_cpu_r16_supported(pl_type t, int64_t rows, int64_t cols)
{
    return r16_qbytes(t) && rows > 0 && rows % 16 == 0 && cols > 0 && cols % 32 == 0 &&
           cpu_r16_gemv_kernel(t) != NULL;
}

/* Move one group between its 16 rows (stride rs) and its R16 bytes, either
 * way; q8_0 bytes change sign convention on the way (XOR is its own inverse). */
static void r16_group(pl_type t, uint8_t *rows, size_t rs, int64_t nb, uint8_t *r16, bool to_r16)
{
    const int Q = r16_qbytes(t), S = Q + 2;
    const uint32_t flip = t == PL_TYPE_Q8_0 ? 0x80808080u : 0;
    for (int64_t b = 0; b < nb; b += 2) {
        const int nbb = b + 1 < nb ? 2 : 1;
        uint8_t *d = r16 + (size_t)b * 16 * S, *q = d + 32 * nbb;
        for (int k = 0; k < nbb; k++, q += 16 * Q)
            for (int r = 0; r < 16; r++) {
                uint8_t *blk = rows + (size_t)r * rs + (size_t)(b + k) * S;
                if (to_r16) memcpy(d + 32 * k + 2 * r, blk, 2);
                else memcpy(blk, d + 32 * k + 2 * r, 2);
                for (int c = 0; c < Q / 4; c++) {
                    uint32_t v;
                    memcpy(&v, to_r16 ? blk + 2 + 4 * c : q + 64 * c + 4 * r, 4);
                    v ^= flip;
                    memcpy(to_r16 ? q + 64 * c + 4 * r : blk + 2 + 4 * c, &v, 4);
                }
            }
    }
}

bool pl_cpu_r16_repack(pl_type t, void *W, int64_t rows, int64_t cols)
{
    size_t rs = pl_row_size(t, cols), gb = 16 * rs;
    uint8_t *tmp = malloc(gb), *w = W;
    if (!tmp) return false;
    for (int64_t g = 0; g < rows / 16; g++) {
        memcpy(tmp, w + (size_t)g * gb, gb);
        r16_group(t, tmp, rs, cols / 32, w + (size_t)g * gb, true);
    }
    free(tmp);
    return true;
}

void pl_cpu_r16_unpack(pl_type t, const void *W, void *dst, int64_t rows, int64_t cols)
{
    size_t rs = pl_row_size(t, cols), gb = 16 * rs;
    for (int64_t g = 0; g < rows / 16; g++)
        r16_group(t, (uint8_t *)dst + (size_t)g * gb, rs, cols / 32, (uint8_t *)W + (size_t)g * gb, false);
}
