/* matmul.c — Y = X . W^T with quantized weights, threaded over the pool.
 *
 * W is rows x cols in its storage type (rows contiguous, as in GGUF); X is
 * n x cols float activations; Y is n x rows. The activations are quantized
 * once to the weight type's vec_dot_type (Q8_0/Q8_1/Q8_K) — for one token in
 * the caller, for a batch spread over the pool — and every output is one
 * vec_dot of a weight row with an activation row.
 *
 * Work split: decode (n small) is a stream over the weights, so each thread
 * takes one contiguous slice of rows and reads it once. Prefill (n large)
 * reuses each weight row for many activation rows, so the output is cut into
 * tiles of MM_TILE_R weight rows x MM_TILE_C activation rows that stay in L2
 * while they are combined; threads take tiles from a shared counter so an
 * uneven machine (other processes on a core) still finishes together.
 * Where a type has a multi-row kernel (cpu_gemm_kernel) a tile is computed
 * with it, else with one vec_dot per output.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

#define MM_TILE_R 16
#define MM_TILE_C 32

typedef struct mm_job {
    const uint8_t   *W;       /* (rows, cols) in type wt */
    size_t           w_row;   /* bytes per weight row */
    int64_t          rows, cols;
    const float     *X;       /* (n, cols) */
    const uint8_t   *Xq;      /* (n, cols) in vec_dot_type */
    size_t           x_row;   /* bytes per activation row */
    int64_t          n;
    float           *Y;       /* (n, rows) */
    pl_vec_dot_fn    dot;
    cpu_gemm_fn      gemm;
    pl_from_float_fn quant;
    int64_t          n_tiles_r, n_tiles;
    atomic_llong     next_tile;
} mm_job;

/* Per-calling-thread scratch for quantized activations. */
static _Thread_local void  *t_scratch;
static _Thread_local size_t t_scratch_size;

/* Scratch of at least size bytes (grown, never shrunk); NULL if out of memory. */
static void *mm_scratch(size_t size)
{
    if (size <= t_scratch_size) return t_scratch;
    void *p = realloc(t_scratch, size);
    if (!p) return NULL;
    t_scratch = p, t_scratch_size = size;
    return p;
}

/* Pool job: quantize this thread's share of activation rows. */
static void mm_quantize_job(int ith, int nth, void *arg)
{
    mm_job *j = arg;
    for (int64_t r = ith; r < j->n; r += nth)
        j->quant(j->X + r * j->cols, (void *)(j->Xq + r * j->x_row), j->cols);
}

/* One output tile: weight rows [r0, r1) x activation rows [c0, c1). */
static void mm_tile(const mm_job *j, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
    if (j->gemm) {
        j->gemm((int)j->cols, j->Y + c0 * j->rows + r0, j->rows, j->W + r0 * j->w_row,
                (int64_t)j->w_row, (int)(r1 - r0), j->Xq + c0 * j->x_row, (int64_t)j->x_row,
                (int)(c1 - c0));
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        const uint8_t *x = j->Xq + c * j->x_row;
        float *y = j->Y + c * j->rows;
        for (int64_t r = r0; r < r1; r++) j->dot((int)j->cols, &y[r], j->W + r * j->w_row, x);
    }
}

/* Pool job for decode: one contiguous slice of weight rows per thread. */
static void mm_rows_job(int ith, int nth, void *arg)
{
    mm_job *j = arg;
    int64_t r0 = j->rows * ith / nth, r1 = j->rows * (ith + 1) / nth;
    if (r0 < r1) mm_tile(j, r0, r1, 0, j->n);
}

/* Pool job for prefill: take tiles from the shared counter. */
static void mm_tiles_job(int ith, int nth, void *arg)
{
    mm_job *j = arg;
    for (;;) {
        int64_t t = atomic_fetch_add(&j->next_tile, 1);
        if (t >= j->n_tiles) break;
        int64_t tr = t % j->n_tiles_r, tc = t / j->n_tiles_r;
        int64_t r0 = tr * MM_TILE_R, c0 = tc * MM_TILE_C;
        int64_t r1 = r0 + MM_TILE_R < j->rows ? r0 + MM_TILE_R : j->rows;
        int64_t c1 = c0 + MM_TILE_C < j->n ? c0 + MM_TILE_C : j->n;
        mm_tile(j, r0, r1, c0, c1);
    }
}

/* Y[n][rows] = X[n][cols] . W[rows][cols]^T on the pool (p may be NULL). */
void pl_cpu_matmul(pl_pool *p, const void *W, pl_type wt, int64_t rows, int64_t cols,
                   const float *X, int64_t n, float *Y)
{
    const pl_type_traits *tw = pl_type_traits_get(wt);
    if (!tw || !tw->vec_dot || rows <= 0 || n <= 0) return;
    mm_job j = { .W = W, .w_row = pl_row_size(wt, cols), .rows = rows, .cols = cols, .X = X,
                 .n = n, .Y = Y, .dot = tw->vec_dot, .gemm = cpu_gemm_kernel(wt) };
    if (tw->vec_dot_type == PL_TYPE_F32) {
        j.Xq = (const uint8_t *)X, j.x_row = (size_t)cols * sizeof(float);
    } else {
        j.x_row = pl_row_size(tw->vec_dot_type, cols);
        void *buf = mm_scratch(j.x_row * (size_t)n);
        if (!buf) return;
        j.Xq = buf;
        j.quant = cpu_act_quantizer(tw->vec_dot_type);
        if (n == 1) j.quant(X, buf, cols);
        else pl_pool_run(p, mm_quantize_job, &j);
    }
    if (n < 4) {
        pl_pool_run(p, mm_rows_job, &j);
        return;
    }
    j.n_tiles_r = (rows + MM_TILE_R - 1) / MM_TILE_R;
    j.n_tiles = j.n_tiles_r * ((n + MM_TILE_C - 1) / MM_TILE_C);
    atomic_init(&j.next_tile, 0);
    pl_pool_run(p, mm_tiles_job, &j);
}

/* Scalar reference: reference quantizer and reference dot, one thread. */
void pl_cpu_matmul_ref(const void *W, pl_type wt, int64_t rows, int64_t cols,
                       const float *X, int64_t n, float *Y)
{
    const pl_type_traits *tw = pl_type_traits_get(wt);
    if (!tw || !tw->vec_dot_ref) return;
    const pl_type_traits *tx = pl_type_traits_get(tw->vec_dot_type);
    size_t w_row = pl_row_size(wt, cols), x_row = pl_row_size(tw->vec_dot_type, cols);
    void *xq = malloc(x_row ? x_row : 1);
    if (!xq) return;
    for (int64_t c = 0; c < n; c++) {
        tx->from_float(X + c * cols, xq, cols);
        for (int64_t r = 0; r < rows; r++)
            tw->vec_dot_ref((int)cols, &Y[c * rows + r], (const uint8_t *)W + r * w_row, xq);
    }
    free(xq);
}
