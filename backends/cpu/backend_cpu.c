/* backend_cpu.c — the "cpu" backend: the vtable of backend.h over the CPU
 * kernels of this folder (pl_cpu_*), with its own thread pool and scratch.
 *
 * Its memory is the host's: buffers are counted host allocations (a limit is
 * optional), upload and download are copies, and a weight already in the
 * layout it wants is borrowed, not copied (the engine's resident copy of the
 * model is the CPU's weight memory). It wants PL_LAYOUT_R16 wherever this CPU
 * level has an R16 decode kernel for the type, else GGUF's rows. Matmuls run
 * on the pool; the small ops are single-threaded loops (cheap next to them).
 * The scratch the logits and RoPE need belongs to the context: no hidden
 * thread-local buffers here, so two contexts never share one. run_layers
 * (decode_*.c) is the fast path for a run of layers: the batched prefill and
 * the one-pool-job-per-token decode, with the op-by-op path's numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_impl.h"

/* The context's scratch of at least n floats (grown, never shrunk); NULL out of memory. */
static float *cpu_scratch(cpu_ctx *c, size_t n)
{
    if (n <= c->scratch_n) return c->scratch;
    float *p = realloc(c->scratch, n * sizeof *p);
    if (!p) return NULL;
    c->scratch = p, c->scratch_n = n;
    return p;
}

static pl_backend *cpu_init(const pl_backend_params *p, char *err, size_t err_len)
{
    cpu_ctx *c = calloc(1, sizeof *c);
    int n = p && p->n_threads > 0 ? p->n_threads : 1;
    if (c) c->pool = pl_pool_new(n);
    if (!c || !c->pool) {
        if (err && err_len) snprintf(err, err_len, "cpu backend: out of memory starting %d threads", n);
        free(c);
        return NULL;
    }
    c->be = (pl_backend){ &pl_backend_cpu_ops, c };
    c->mem.limit = p ? p->mem_limit : 0;
    return &c->be;
}

static void cpu_free(pl_backend *be)
{
    if (!be) return;
    cpu_ctx *c = cpu_of(be);
    pl_pool_free(c->pool);
    free(c->scratch);
    void *dec[] = { c->dec.xb, c->dec.q, c->dec.att, c->dec.k, c->dec.v, c->dec.gate, c->dec.up, c->dec.norm,
                    c->dec.rope_cs, c->dec.rope_tab, c->dec.sync, c->dec.attn_scr, c->dec.attn_work };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) free(dec[i]);
    free(c);
}

static void *cpu_alloc(pl_backend *be, size_t bytes) { return pl_hostmem_alloc(&cpu_of(be)->mem, bytes); }
static void cpu_release(pl_backend *be, void *buf) { pl_hostmem_release(&cpu_of(be)->mem, buf); }

static void cpu_mem_info(const pl_backend *be, size_t *total, size_t *used, size_t *free_b)
{
    pl_hostmem_info(&cpu_of(be)->mem, total, used, free_b);
}

static int cpu_sync(pl_backend *be) { return 0; }   /* every op has finished when it returns */

/* R16 where this CPU level has an R16 decode kernel for the type (r16.c). */
static pl_layout cpu_layout(const pl_backend *be, pl_type t, int64_t rows, int64_t cols)
{
    return pl_cpu_r16_supported(t, rows, cols) ? PL_LAYOUT_R16 : PL_LAYOUT_ROWS;
}

/* Borrow host bytes already in the wanted layout; otherwise a counted copy
 * converted to it (ROWS -> R16 repacked, R16 -> ROWS unpacked). */
static int cpu_weight_load(pl_backend *be, pl_type t, int64_t rows, int64_t cols, const void *host,
                           pl_layout host_layout, pl_layout layout, void **out)
{
    *out = NULL;
    const size_t rs = pl_row_size(t, cols);
    if (!pl_type_traits_get(t) || !rs) return PL_BACKEND_EUNSUPPORTED;
    if (!host || rows <= 0) return PL_BACKEND_EARG;
    if (host_layout == layout) {
        *out = (void *)host;
        return 0;
    }
    if ((layout == PL_LAYOUT_R16 || host_layout == PL_LAYOUT_R16) && rows % 16) return PL_BACKEND_EUNSUPPORTED;
    void *buf = cpu_alloc(be, rs * (size_t)rows);
    if (!buf) return PL_BACKEND_ENOMEM;
    if (layout == PL_LAYOUT_R16) {
        memcpy(buf, host, rs * (size_t)rows);
        if (!pl_cpu_r16_repack(t, buf, rows, cols)) {   /* no R16 form for the type */
            cpu_release(be, buf);
            return PL_BACKEND_EUNSUPPORTED;
        }
    } else {
        pl_cpu_r16_unpack(t, host, buf, rows, cols);
    }
    *out = buf;
    return 0;
}

/* ---- ops --------------------------------------------------------------- */

/* out (n, cols): rows of the table in either layout, times scale. */
static int cpu_embed(pl_backend *be, const void *table, pl_type t, pl_layout layout, int64_t n_rows, int64_t cols,
                     const int32_t *tokens, int n, float scale, float *out)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    if (!tr || !tr->to_float || !pl_row_size(t, cols)) return PL_BACKEND_EUNSUPPORTED;
    if (layout != PL_LAYOUT_ROWS && (layout != PL_LAYOUT_R16 || n_rows % 16)) return PL_BACKEND_EUNSUPPORTED;
    if (!table || !tokens || !out || n < 0) return PL_BACKEND_EARG;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_rows) return PL_BACKEND_EARG;
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * cols;
        pl_cpu_row_to_float(table, t, layout, cols, tokens[i], o);
        if (scale != 1.0f) pl_cpu_scale(o, scale, (int)cols);
    }
    return 0;
}

static int cpu_rms_norm(pl_backend *be, const float *x, const float *w, int rows, int d, float eps, float *out)
{
    if (!x || !out || rows < 0 || d <= 0) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++) pl_cpu_rms_norm(x + (size_t)r * d, w, d, eps, out + (size_t)r * d);
    return 0;
}

static int cpu_matmul(pl_backend *be, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n)
{
    return pl_cpu_matmul_multi_try(cpu_of(be)->pool, ws, nw, cols, X, n);
}

/* Row i rotated at position pos0 + i, its cos/sin made once for all heads. */
static int cpu_rope(pl_backend *be, float *x, int n, int n_head, int head_dim, int pos0, const pl_rope_args *r)
{
    if (!x || !r || n < 0 || n_head <= 0 || r->n_rot <= 0 || r->n_rot % 2 || r->n_rot > head_dim)
        return PL_BACKEND_EARG;
    if (r->mode != PL_ROPE_NORMAL && r->mode != PL_ROPE_NEOX) return PL_BACKEND_EUNSUPPORTED;
    float *cs = cpu_scratch(cpu_of(be), (size_t)r->n_rot);
    if (!cs) return PL_BACKEND_ENOMEM;
    for (int i = 0; i < n; i++) {
        pl_cpu_rope_cache(cs, r->n_rot, (float)(pos0 + i), r->base, r->freq_scale, r->freq_factors);
        pl_cpu_rope(x + (size_t)i * n_head * head_dim, n_head, head_dim, r->n_rot, cs, r->mode);
    }
    return 0;
}

/* The shape checks are the reference's (pl_ref_check_*); the work is the CPU's. */
static int cpu_kv_store(pl_backend *be, const pl_kv_view *kv, int pos0, int n, const float *k, const float *v)
{
    int rc = pl_ref_kv_store_check(kv, pos0, n, k, v);
    if (rc) return rc;
    pl_cpu_kv_store(kv, n, pos0, k, v);
    return 0;
}

/* Attention on the backend's pool, with its own scratch and work buffer
 * (grown to the call's shape, kept) unless the caller brought them. */
static int cpu_attention(pl_backend *be, const pl_attn_args *a)
{
    int rc = pl_ref_attention_check(a);
    if (rc) return rc;
    cpu_ctx *c = cpu_of(be);
    pl_attn_args b = *a;
    if (!b.scratch || !b.work) {   /* run_layers' attention buffers, shared */
        const size_t scr = (size_t)pl_pool_size(c->pool) * pl_cpu_attn_scratch_floats(a->hd, a->n_head / a->n_head_kv);
        int n_pos = 256;   /* a power of two: a conversation grows it a few times, not per token */
        while (n_pos < a->pos0 + a->nb) n_pos *= 2;
        const size_t work = pl_cpu_attn_work_bytes(a->n_head, a->n_head_kv, a->hd, n_pos, pl_pool_size(c->pool));
        if (cpu_grow(&c->dec.attn_work, &c->dec.cap[CPU_CAP_ATTN_WORK], work) ||
            cpu_grow((void **)&c->dec.attn_scr, &c->dec.cap[CPU_CAP_ATTN_SCR], scr * sizeof(float)))
            return PL_BACKEND_ENOMEM;
        b.scratch = c->dec.attn_scr, b.work = c->dec.attn_work;
    }
    pl_cpu_attention(c->pool, &b);
    return 0;
}

static int cpu_glu(pl_backend *be, pl_glu act, const float *gate, const float *up, int64_t n, float *out)
{
    if (!gate || !up || !out || n < 0) return PL_BACKEND_EARG;
    if (act != PL_GLU_SWIGLU && act != PL_GLU_SWIGLU_FAST && act != PL_GLU_GEGLU) return PL_BACKEND_EUNSUPPORTED;
    cpu_act(act, gate, up, n, out);   /* run_layers' own activation: the same bits */
    return 0;
}

static int cpu_add(pl_backend *be, const float *a, const float *b, int rows, int b_rows, int d, float *out)
{
    if (!a || !b || !out || rows < 0 || d <= 0 || (b_rows != 1 && b_rows != rows)) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++)
        pl_cpu_add(a + (size_t)r * d, b + (size_t)(b_rows == 1 ? 0 : r) * d, d, out + (size_t)r * d);
    return 0;
}

static int cpu_scale(pl_backend *be, float *x, int64_t n, float s)
{
    if (!x || n < 0) return PL_BACKEND_EARG;
    for (int64_t i = 0; i < n; i += 1 << 30) pl_cpu_scale(x + i, s, (int)(n - i < (1 << 30) ? n - i : 1 << 30));
    return 0;
}

static int cpu_softmax(pl_backend *be, float *x, int rows, int d)
{
    if (!x || rows < 0 || d <= 0) return PL_BACKEND_EARG;
    for (int r = 0; r < rows; r++) pl_cpu_softmax_inplace(x + (size_t)r * d, d);
    return 0;
}

/* Final norm into the context's scratch, the output matmul on the pool, the cap. */
static int cpu_logits(pl_backend *be, const float *x, const float *norm_w, int d, float eps,
                      const pl_matmul_w *w_out, float softcap)
{
    if (!x || !w_out || d <= 0) return PL_BACKEND_EARG;
    float *xn = cpu_scratch(cpu_of(be), (size_t)d);
    if (!xn) return PL_BACKEND_ENOMEM;
    pl_cpu_rms_norm(x, norm_w, d, eps, xn);
    int rc = pl_cpu_matmul_multi_try(cpu_of(be)->pool, w_out, 1, d, xn, 1);
    if (rc || softcap <= 0.0f) return rc;
    for (int64_t i = 0; i < w_out->rows; i++) w_out->Y[i] = softcap * tanhf(w_out->Y[i] * (1.0f / softcap));
    return 0;
}

/* The engine's resident weights into R16 in place where it pays (r16.c). */
static pl_layout cpu_weight_prepare(const pl_backend *be, pl_type t, void *W, int64_t rows, int64_t cols)
{
    return pl_cpu_weight_prepare(t, W, rows, cols);
}

static pl_pool *cpu_pool(pl_backend *be) { return cpu_of(be)->pool; }

/* A pool of n threads replaces the old one (the attention's per-thread
 * scratch grows at its next use). */
static int cpu_set_threads(pl_backend *be, int n)
{
    cpu_ctx *c = cpu_of(be);
    if (n <= 0) return PL_BACKEND_EARG;
    if (n == pl_pool_size(c->pool)) return 0;
    pl_pool *p = pl_pool_new(n);
    if (!p) return PL_BACKEND_ENOMEM;
    pl_pool_free(c->pool);
    c->pool = p;
    return 0;
}

const pl_backend_ops pl_backend_cpu_ops = {
    .abi = PL_BACKEND_ABI,
    .name = "cpu",
    .init = cpu_init,
    .free = cpu_free,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = pl_hostmem_copy,
    .download = pl_hostmem_copy,
    .copy_from = pl_hostmem_copy_from,
    .mem_info = cpu_mem_info,
    .sync = cpu_sync,
    .layout = cpu_layout,
    .weight_load = cpu_weight_load,
    .embed = cpu_embed,
    .rms_norm = cpu_rms_norm,
    .matmul = cpu_matmul,
    .rope = cpu_rope,
    .kv_store = cpu_kv_store,
    .attention = cpu_attention,
    .glu = cpu_glu,
    .add = cpu_add,
    .scale = cpu_scale,
    .softmax = cpu_softmax,
    .logits = cpu_logits,
    .run_layers = cpu_run_layers,
    .weight_prepare = cpu_weight_prepare,
    .pool = cpu_pool,
    .set_threads = cpu_set_threads,
};
