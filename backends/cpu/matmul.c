/* matmul.c — Y = X . W^T with quantized weights, threaded over the pool.
 *
 * W is rows x cols in its storage type (rows contiguous, as in GGUF); X is
 * n x cols float activations; Y is n x rows. The activations are quantized
 * once to the weight type's vec_dot_type (Q8_0/Q8_1/Q8_K) — for one token in
 * the caller, for a batch spread over the pool — and every output is one
 * vec_dot of a weight row with an activation row.
 *
 * Work split: decode (n small) is a stream over the weights: threads take
 * contiguous slices of rows (about four per thread, multiples of 16 rows)
 * from a shared counter, so each weight byte is read once and a thread that
 * starts late, because the machine is shared, simply takes fewer slices; the
 * call returns when the slices are done (pl_pool_run_items), not when every
 * worker has checked in. For one token (n == 1) a type with a decode kernel
 * (cpu_gemv_kernel: 4 rows at a time, prefetching ahead) takes the slice; the
 * 32-block types read X prepared once per call (cpu_gemv_act_prep) instead
 * of a Q8_0/Q8_1 row. Prefill (n large)
 * reuses each weight row for many activation rows, so the output is cut into
 * tiles of MM_TILE_R weight rows x MM_TILE_C activation rows that stay in L2
 * while they are combined; threads take tiles from a shared counter so an
 * uneven machine (other processes on a core) still finishes together.
 * Where a type has a multi-row kernel (cpu_gemm_kernel) a tile is computed
 * with it, else with one vec_dot per output. On AVX-512 VNNI, prefill takes
 * the panel path instead (panel_avx512.c): a work item is 16 weight rows x a
 * chunk of activation rows; the thread unpacks the 16 rows once into a
 * transposed panel in its own buffer (L1/L2-sized) and sweeps the chunk's
 * activations, prepared once per call next to their quantization, over it.
 *
 * Weights in the 16-row layout (PL_LAYOUT_R16, r16.c) take their own
 * decode kernel (cpu_r16_gemv_kernel, reading X prepared by cpu_r16_act_prep)
 * and their own panel packing, which has nothing left to transpose; every
 * other path unpacks the tile's rows to GGUF's layout in a per-thread buffer
 * first (a forced lower CPU level, a type without an R16 kernel): slow, but
 * the same numbers as the weights before repacking.
 *
 * pl_cpu_matmul_multi applies several weights to the same activations (Q, K,
 * V; gate and up) in ONE pool dispatch with ONE quantization of X: on a small
 * model the per-dispatch sync, not the arithmetic, is what a token costs.
 */
#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

#define MM_TILE_R 16
#define MM_TILE_C 32
#define MM_DECODE_MIN 16   /* fewest rows per decode chunk */
#define MM_MAX_W 8         /* weights per multi-matmul */
#ifndef MM_PANEL_MIN
#define MM_PANEL_MIN 4     /* activation rows from which the panel path beats the 4-row kernels */
#endif
#ifndef MM_PF_BYTES
#define MM_PF_BYTES 4096   /* decode with a plain dot: prefetch this far ahead of the row */
#endif
#define MM_PANEL_MIN_DOT 2 /* ... and one vec_dot per output (K-quants) */
#define MM_PANEL_ACT (384 * 1024)   /* prepared activation bytes per panel item */

/* One weight matrix of a (multi-)matmul and how its output is cut into items. */
typedef struct mm_w {
    const uint8_t *W;        /* (rows, cols) in its type */
    pl_type        type;
    size_t         w_row;    /* bytes per weight row */
    int64_t        rows;
    float         *Y;        /* (n, rows) */
    pl_vec_dot_fn  dot;
    cpu_gemm_fn    gemm;
    cpu_gemv_fn    gemv;     /* decode kernel (n == 1) */
    pl_layout      layout;
    cpu_r16_fn     r16;      /* R16 decode kernel (n < MM_PANEL_MIN) */
    bool           r16_prep; /* ... reading the job's r16_act (else Xq) */
    bool           unpack;   /* R16 on a path without an R16 kernel: tiles unpacked first */
    bool           gv_prep;  /* ... reading the job's gv_act (else Xq) */
    const uint8_t *Xq;       /* (n, cols) activations in this type's vec_dot_type */
    size_t         x_row;
    int            panel_g;  /* panel path: group size (16/32), 0 = off */
    const uint8_t *Xp;       /* (n, ...) activations prepared for the panel kernel */
    size_t         xp_row;
    int64_t        item_r, item_c;   /* rows x activation rows per work item */
    int64_t        n_items_r, first_item, n_items;
} mm_w;

/* Activations quantized once per vec_dot_type used by the call. */
typedef struct mm_act {
    pl_type          t;
    pl_from_float_fn quant;  /* NULL: F32, X used as is */
    uint8_t         *buf;
    size_t           row;
    uint8_t         *pbuf[2];  /* panel-prepared copies for groups of 16 / 32 */
    size_t           prow[2];  /* bytes per row, 0 = not needed */
} mm_act;

typedef struct mm_job {
    mm_w         w[MM_MAX_W];
    int          nw;
    mm_act       act[MM_MAX_W];
    int          nact;
    const float *X;          /* (n, cols) */
    int64_t      cols, n, n_items;
    uint8_t     *panels;     /* one panel buffer per thread */
    uint8_t     *gv_act;     /* X prepared for the decode kernels (n == 1) */
    size_t       gv_bytes;
    uint8_t     *r16_act;    /* (n, r16_row) X prepared for the R16 decode kernels */
    size_t       r16_row;
    uint64_t     x_id;       /* nonzero: names X's contents (pl_cpu_matmul_multi_id) */
    size_t       panel_bytes;
    atomic_int  *oom;        /* set by a tile that could not get its scratch */
} mm_job;

/* Per-thread scratch: the calling thread's quantized activations, and a
 * thread's unpacked R16 tile (a decode slice runs a whole matmul inside a
 * pool job, so the two must not share a buffer). */
enum { MM_SCRATCH_ACT, MM_SCRATCH_UNPACK, MM_SCRATCH_R16, MM_SCRATCH_N };
typedef struct mm_tls {
    void          *p[MM_SCRATCH_N];
    size_t         size[MM_SCRATCH_N];
    const float   *r16_x;     /* what the R16 slot holds: X, cols, n and its id (0: nothing) */
    int64_t        r16_cols, r16_n;
    uint64_t       r16_id;
} mm_tls;
static _Thread_local mm_tls *t_tls;

/* The key's destructor frees a thread's scratch when the thread exits (the
 * engine's worker thread comes and goes with each loaded model). */
static pthread_key_t  scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void mm_tls_free(void *v)
{
    mm_tls *t = v;
    for (int i = 0; i < MM_SCRATCH_N; i++) free(t->p[i]);
    free(t);
}
static void mm_scratch_key_init(void) { pthread_key_create(&scratch_key, mm_tls_free); }

/* Scratch slot of at least size bytes (grown, never shrunk); NULL if out of memory. */
static void *mm_scratch(int slot, size_t size)
{
    if (t_tls && size <= t_tls->size[slot]) return t_tls->p[slot];
    pthread_once(&scratch_once, mm_scratch_key_init);
    if (!t_tls) {
        if (!(t_tls = calloc(1, sizeof *t_tls))) return NULL;
        pthread_setspecific(scratch_key, t_tls);
    }
    void *p = realloc(t_tls->p[slot], size);
    if (!p) return NULL;
    t_tls->p[slot] = p, t_tls->size[slot] = size;
    return p;
}

/* Pool job: quantize this thread's share of activation rows, every type,
 * and prepare them for the panel kernels that need them. */
static void mm_quantize_job(int ith, int nth, void *arg)
{
    mm_job *j = arg;
    for (int a = 0; a < j->nact; a++) {
        mm_act *A = &j->act[a];
        if (!A->quant) continue;
        for (int64_t r = ith; r < j->n; r += nth) {
            A->quant(j->X + r * j->cols, A->buf + r * A->row, j->cols);
            for (int gi = 0; gi < 2; gi++)
                if (A->prow[gi])
                    cpu_panel_act_prep_avx512(A->t, 16 << gi, A->buf + r * A->row, j->cols, A->pbuf[gi] + r * A->prow[gi]);
        }
    }
}

/* Ask for the cache lines of [p, p + bytes) (decode streams each weight once). */
static void mm_prefetch(const uint8_t *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
}

/* One output tile of weight w: rows [r0, r1) x activation rows [c0, c1). */
static void mm_tile(const mm_job *j, int ith, const mm_w *w, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
    const uint8_t *W = w->W + r0 * w->w_row;   /* the tile's rows (R16: r0 is a multiple of 16) */
    const int64_t nr = r1 - r0;
    if (w->r16) {
        for (int64_t c = c0; c < c1; c++)
            w->r16(j->cols, W, nr, w->r16_prep ? j->r16_act + c * j->r16_row : w->Xq + c * w->x_row,
                   w->Y + c * w->rows + r0);
        return;
    }
    if (w->unpack) {
        uint8_t *u = mm_scratch(MM_SCRATCH_UNPACK, (size_t)nr * w->w_row);
        if (!u) {   /* out of memory: say so in the output and to the caller */
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++) w->Y[c * w->rows + r] = NAN;
            atomic_store(j->oom, 1);
            return;
        }
        pl_cpu_r16_unpack(w->type, W, u, nr, j->cols);
        W = u;
    }
    if (w->panel_g) {
        uint8_t *panel = j->panels + (size_t)ith * j->panel_bytes;
        if (w->layout == PL_LAYOUT_R16 && !w->unpack) cpu_panel_pack_r16_avx512(w->type, W, j->cols, panel);
        else cpu_panel_pack_avx512(w->type, W, w->w_row, (int)nr, j->cols, panel);
        cpu_panel_run_avx512(panel, w->panel_g, j->cols, w->Xp + c0 * w->xp_row, w->xp_row, (int)(c1 - c0),
                             w->Y + c0 * w->rows + r0, w->rows, (int)nr);
        return;
    }
    if (w->gemv) {
        w->gemv(j->cols, W, w->w_row, nr, w->gv_prep ? j->gv_act : w->Xq, w->Y + r0);
        return;
    }
    if (w->gemm) {
        w->gemm((int)j->cols, w->Y + c0 * w->rows + r0, w->rows, W, (int64_t)w->w_row, (int)nr,
                w->Xq + c0 * w->x_row, (int64_t)w->x_row, (int)(c1 - c0));
        return;
    }
    if (c1 - c0 == 1) {   /* decode: prefetch the rows MM_PF_BYTES ahead, the dot does not */
        const uint8_t *x = w->Xq + c0 * w->x_row;
        float *y = w->Y + c0 * w->rows + r0;
        int64_t ahead = (MM_PF_BYTES + (int64_t)w->w_row - 1) / (int64_t)w->w_row;
        mm_prefetch(W, (size_t)(nr < ahead ? nr : ahead) * w->w_row);
        for (int64_t r = 0; r < nr; r++) {
            if (r + ahead < nr) mm_prefetch(W + (r + ahead) * w->w_row, w->w_row);
            w->dot((int)j->cols, &y[r], W + r * w->w_row, x);
        }
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        const uint8_t *x = w->Xq + c * w->x_row;
        float *y = w->Y + c * w->rows + r0;
        for (int64_t r = 0; r < nr; r++) w->dot((int)j->cols, &y[r], W + r * w->w_row, x);
    }
}

/* Work item t (over all weights, in order): one tile of one weight. */
static void mm_item(int ith, int64_t t, void *arg)
{
    mm_job *j = arg;
    int k = 0;
    while (t >= j->w[k].first_item + j->w[k].n_items) k++;
    const mm_w *w = &j->w[k];
    int64_t l = t - w->first_item, tr = l % w->n_items_r, tc = l / w->n_items_r;
    int64_t r0 = tr * w->item_r, c0 = tc * w->item_c;
    int64_t r1 = r0 + w->item_r < w->rows ? r0 + w->item_r : w->rows;
    int64_t c1 = c0 + w->item_c < j->n ? c0 + w->item_c : j->n;
    mm_tile(j, ith, w, r0, r1, c0, c1);
}

/* The activation slot for type t, added if new. */
static mm_act *mm_act_slot(mm_job *j, pl_type t)
{
    for (int a = 0; a < j->nact; a++)
        if (j->act[a].t == t) return &j->act[a];
    mm_act *a = &j->act[j->nact++];
    a->t = t;
    a->quant = t == PL_TYPE_F32 ? NULL : cpu_act_quantizer(t);
    a->row = pl_row_size(t, j->cols);
    return a;
}

/* Quantize X for every activation type (in the caller for one row); also
 * places the panel-prepared activations and the per-thread panel buffers. */
static bool mm_quantize(pl_pool *p, mm_job *j)
{
    size_t total = 0, n = (size_t)j->n;
    for (int a = 0; a < j->nact; a++)   /* each buffer 64-aligned: the panel rows hold floats */
        if (j->act[a].quant) total += (j->act[a].row + j->act[a].prow[0] + j->act[a].prow[1]) * n + 3 * 64;
    bool any_quant = total > 0;
    if (j->gv_bytes) total += j->gv_bytes + 64;
    if (j->panel_bytes) total += j->panel_bytes * (size_t)pl_pool_size(p) + 64;
    uint8_t *buf = total ? mm_scratch(MM_SCRATCH_ACT, total) : NULL;
    if (total && !buf) return false;
    for (int a = 0; a < j->nact; a++) {
        if (!j->act[a].quant) { j->act[a].buf = (uint8_t *)j->X; continue; }
        j->act[a].buf = buf;
        buf += j->act[a].row * n;
        for (int gi = 0; gi < 2; gi++) {
            buf = (uint8_t *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
            j->act[a].pbuf[gi] = buf, buf += j->act[a].prow[gi] * n;
        }
        buf = (uint8_t *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    }
    if (j->gv_bytes) {
        j->gv_act = (uint8_t *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
        buf = j->gv_act + j->gv_bytes;
        cpu_gemv_act_prep(j->X, j->cols, j->gv_act);
    }
    if (j->r16_row) {   /* only for n < MM_PANEL_MIN: in the caller, or kept from its last call */
        uint8_t *a = mm_scratch(MM_SCRATCH_R16, j->r16_row * n + 64);
        if (!a) return false;
        j->r16_act = (uint8_t *)(((uintptr_t)a + 63) & ~(uintptr_t)63);
        mm_tls *t = t_tls;
        if (!j->x_id || t->r16_id != j->x_id || t->r16_x != j->X || t->r16_cols != j->cols || t->r16_n != j->n) {
            for (int64_t r = 0; r < j->n; r++)
                cpu_r16_act_prep(j->X + r * j->cols, j->cols, j->r16_act + r * j->r16_row);
            t->r16_x = j->X, t->r16_cols = j->cols, t->r16_n = j->n, t->r16_id = j->x_id;
        }
    }
    j->panels = (uint8_t *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    if (j->n == 1) mm_quantize_job(0, 1, j);
    else if (any_quant) pl_pool_run(p, mm_quantize_job, j);
    return true;
}

/* Cut every weight's output into work items (row slices for decode, tiles for prefill). */
static void mm_plan(mm_job *j, int nth)
{
    j->n_items = 0;
    for (int k = 0; k < j->nw; k++) {
        mm_w *w = &j->w[k];
        if (w->panel_g) {
            int64_t c = MM_PANEL_ACT / (int64_t)w->xp_row;
            w->item_r = 16;
            w->item_c = c < 16 ? 16 : c & ~(int64_t)3;
        } else if (j->n < 4) {
            /* ~4 per thread, a multiple of 16 rows: 4-row kernels, and no two threads write one line of Y */
            int64_t chunk = (w->rows / (4 * nth) + 15) & ~(int64_t)15;
            w->item_r = chunk < MM_DECODE_MIN ? MM_DECODE_MIN : chunk;
            w->item_c = j->n;
        } else {
            w->item_r = MM_TILE_R, w->item_c = MM_TILE_C;
        }
        w->n_items_r = (w->rows + w->item_r - 1) / w->item_r;
        w->n_items = w->n_items_r * ((j->n + w->item_c - 1) / w->item_c);
        w->first_item = j->n_items;
        j->n_items += w->n_items;
    }
}

/* Can this weight be computed at all? (R16 comes in whole 16-row groups.) */
bool cpu_matmul_valid(const pl_matmul_w *w, int64_t cols)
{
    const pl_type_traits *tw = pl_type_traits_get(w->type);
    return tw && tw->vec_dot && w->rows > 0 && pl_row_size(w->type, cols) &&
           (w->layout == PL_LAYOUT_ROWS || (w->layout == PL_LAYOUT_R16 && w->rows % 16 == 0 && cols % 32 == 0));
}

/* Every output of the call as NaN: what a matmul that could not run leaves. */
static void mm_fill_nan(const pl_matmul_w *ws, int nw, int64_t n)
{
    for (int k = 0; k < nw; k++)
        for (int64_t i = 0; i < n * ws[k].rows; i++) ws[k].Y[i] = NAN;
}

/* Several weights applied to the same activations in one dispatch; 0 or a
 * PL_BACKEND_E* (every weight is checked before anything runs). */
static int mm_multi(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n, uint64_t x_id)
{
    if (nw <= 0 || nw > MM_MAX_W || n <= 0 || cols <= 0 || !X) return PL_BACKEND_EARG;
    for (int k = 0; k < nw; k++)
        if (!ws[k].W || !ws[k].Y) return PL_BACKEND_EARG;
    for (int k = 0; k < nw; k++)
        if (!cpu_matmul_valid(&ws[k], cols)) return PL_BACKEND_EUNSUPPORTED;
    atomic_int oom = 0;
    mm_job j = { .X = X, .cols = cols, .n = n, .x_id = x_id, .oom = &oom };
    for (int k = 0; k < nw; k++) {
        const pl_type_traits *tw = pl_type_traits_get(ws[k].type);
        mm_w *w = &j.w[j.nw++];
        *w = (mm_w){ .W = ws[k].W, .type = ws[k].type, .w_row = pl_row_size(ws[k].type, cols),
                     .rows = ws[k].rows, .Y = ws[k].Y, .dot = tw->vec_dot, .gemm = cpu_gemm_kernel(ws[k].type),
                     .gemv = n == 1 ? cpu_gemv_kernel(ws[k].type) : NULL, .panel_g = 0,
                     .layout = ws[k].layout };
        int panel_min = w->gemm ? MM_PANEL_MIN : MM_PANEL_MIN_DOT;
        if (w->layout == PL_LAYOUT_R16) {
            /* its own decode kernel, else a panel (packed from R16 where the
             * panel code reads it, else unpacked), else unpacked rows */
            w->gemv = NULL;
            w->r16 = n < MM_PANEL_MIN ? cpu_r16_gemv_kernel(w->type) : NULL;
            w->r16_prep = w->r16 && cpu_r16_uses_prep(w->type);
            if (w->r16_prep) { j.r16_row = cpu_r16_act_bytes(cols); continue; }
            panel_min = MM_PANEL_MIN;
            w->unpack = !w->r16 && !(n >= MM_PANEL_MIN && cpu_panel_group(w->type) && cpu_panel_reads_r16(w->type));
        }
        w->gv_prep = w->gemv && cpu_gemv_uses_prep(w->type);
        if (w->gv_prep) { j.gv_bytes = cpu_gemv_act_bytes(cols); continue; }
        if (!w->r16 && n >= panel_min) w->panel_g = cpu_panel_group(ws[k].type);
        mm_act *a = mm_act_slot(&j, tw->vec_dot_type);
        if (w->panel_g) {
            a->prow[w->panel_g == 32] = w->xp_row = cpu_panel_act_bytes(cols, w->panel_g);
            size_t pb = cpu_panel_bytes(cols, w->panel_g);
            if (pb > j.panel_bytes) j.panel_bytes = pb;
        }
    }
    if (!mm_quantize(p, &j)) {
        mm_fill_nan(ws, nw, n);
        return PL_BACKEND_ENOMEM;
    }
    for (int k = 0, kk = 0; k < nw; k++) {
        const pl_type_traits *tw = pl_type_traits_get(ws[k].type);
        if (j.w[kk].gv_prep || j.w[kk].r16_prep) { kk++; continue; }
        mm_act *a = mm_act_slot(&j, tw->vec_dot_type);
        j.w[kk].Xq = a->buf, j.w[kk].x_row = a->row;
        if (j.w[kk].panel_g) j.w[kk].Xp = a->pbuf[j.w[kk].panel_g == 32];
        kk++;
    }
    mm_plan(&j, pl_pool_size(p));
    pl_pool_run_items(p, mm_item, j.n_items, &j);
    return atomic_load(&oom) ? PL_BACKEND_ENOMEM : 0;
}

int pl_cpu_matmul_multi_try(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n)
{
    return mm_multi(p, ws, nw, cols, X, n, 0);
}

int pl_cpu_matmul_multi_id_try(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n,
                               uint64_t x_id)
{
    return mm_multi(p, ws, nw, cols, X, n, x_id);
}

/* The engine's void form (the code is dropped; failed outputs hold NaN). */
void pl_cpu_matmul_multi(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n)
{
    (void)mm_multi(p, ws, nw, cols, X, n, 0);
}

uint64_t pl_cpu_x_ids_new(int n)
{
    static atomic_uint_fast64_t next = 1;
    return atomic_fetch_add(&next, (uint_fast64_t)n);
}

void pl_cpu_matmul_multi_id(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n,
                            uint64_t x_id)
{
    (void)mm_multi(p, ws, nw, cols, X, n, x_id);
}

/* Y[n][rows] = X[n][cols] . W[rows][cols]^T on the pool (p may be NULL). */
void pl_cpu_matmul(pl_pool *p, const void *W, pl_type wt, int64_t rows, int64_t cols,
                   const float *X, int64_t n, float *Y)
{
    pl_matmul_w w = { .W = W, .type = wt, .rows = rows, .Y = Y };
    pl_cpu_matmul_multi(p, &w, 1, cols, X, n);
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
