/* backend_ref.c — the "ref" backend: the scalar reference kernels (ref_ops.c,
 * ref_attn.c) behind the vtable of backend.h, with buffers of its own.
 *
 * Why a second host backend: moving layers between backends, with memory
 * accounting and refusal, must be provable on a machine without a GPU. So ref
 * behaves like a device would: it holds weights only in its own buffers (a
 * copy, in GGUF's row layout; R16 bytes are unpacked on the way in), counts
 * every buffer against an optional limit and refuses past it, and runs one
 * thread. Its memory is host memory, so a copy to or from the CPU backend is
 * a memcpy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend_impl.h"
#include "ref.h"

typedef struct ref_ctx {
    pl_backend be;
    pl_hostmem mem;
} ref_ctx;

static ref_ctx *ref_of(const pl_backend *be) { return (ref_ctx *)be->ctx; }

static pl_backend *ref_init(const pl_backend_params *p, char *err, size_t err_len)
{
    ref_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        if (err && err_len) snprintf(err, err_len, "ref backend: out of memory");
        return NULL;
    }
    c->be = (pl_backend){ &pl_backend_ref_ops, c };
    c->mem.limit = p ? p->mem_limit : 0;
    return &c->be;
}

static void ref_free(pl_backend *be)
{
    if (be) free(ref_of(be));
}

static void *ref_alloc(pl_backend *be, size_t bytes) { return pl_hostmem_alloc(&ref_of(be)->mem, bytes); }
static void ref_release(pl_backend *be, void *buf) { pl_hostmem_release(&ref_of(be)->mem, buf); }

static void ref_mem_info(const pl_backend *be, size_t *total, size_t *used, size_t *free_b)
{
    pl_hostmem_info(&ref_of(be)->mem, total, used, free_b);
}

static int ref_sync(pl_backend *be) { return 0; }

static pl_layout ref_layout(const pl_backend *be, pl_type t, int64_t rows, int64_t cols) { return PL_LAYOUT_ROWS; }

/* Has t an R16 form? Asked of r16.c by repacking one zero group of one block
 * (false: no form), since unpacking a type without one writes nothing. */
static bool ref_r16_has_form(pl_type t)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    uint8_t probe[16 * 512];
    if (!tr || 16 * tr->type_size > sizeof probe) return false;
    memset(probe, 0, sizeof probe);
    return pl_cpu_r16_repack(t, probe, 16, tr->block_size);
}

/* A copy of a host matrix in this backend's buffer, in ROWS (R16 input unpacked). */
static int ref_weight_load(pl_backend *be, pl_type t, int64_t rows, int64_t cols, const void *host,
                           pl_layout host_layout, pl_layout layout, void **out)
{
    *out = NULL;
    const size_t rs = pl_row_size(t, cols);
    if (!pl_type_traits_get(t) || !rs || layout != PL_LAYOUT_ROWS) return PL_BACKEND_EUNSUPPORTED;
    if (!host || rows <= 0) return PL_BACKEND_EARG;
    /* R16 is what pl_cpu_r16_repack made: whole groups of 16 rows */
    if (host_layout == PL_LAYOUT_R16 && rows % 16) return PL_BACKEND_EARG;
    if (host_layout == PL_LAYOUT_R16 && !ref_r16_has_form(t)) return PL_BACKEND_EUNSUPPORTED;
    if (host_layout != PL_LAYOUT_ROWS && host_layout != PL_LAYOUT_R16) return PL_BACKEND_EUNSUPPORTED;
    void *buf = ref_alloc(be, rs * (size_t)rows);
    if (!buf) return PL_BACKEND_ENOMEM;
    if (host_layout == PL_LAYOUT_R16) pl_cpu_r16_unpack(t, host, buf, rows, cols);
    else memcpy(buf, host, rs * (size_t)rows);
    *out = buf;
    return 0;
}

/* ---- ops: the kernels of ref.h, the backend argument unused ---------------- */

static int ref_op_embed(pl_backend *be, const void *table, pl_type t, pl_layout layout, int64_t n_rows, int64_t cols,
                        const int32_t *tokens, int n, float scale, float *out)
{
    return ref_embed(table, t, layout, n_rows, cols, tokens, n, scale, out);
}
static int ref_op_rms_norm(pl_backend *be, const float *x, const float *w, int rows, int d, float eps, float *out)
{
    return ref_rms_norm(x, w, rows, d, eps, out);
}
static int ref_op_matmul(pl_backend *be, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n)
{
    return ref_matmul(ws, nw, cols, X, n);
}
static int ref_op_rope(pl_backend *be, float *x, int n, int n_head, int head_dim, int pos0, const pl_rope_args *r)
{
    return ref_rope(x, n, n_head, head_dim, pos0, r);
}
static int ref_op_kv_store(pl_backend *be, const pl_kv_view *kv, int pos0, int n, const float *k, const float *v)
{
    return pl_ref_kv_store(kv, pos0, n, k, v);
}
static int ref_op_attention(pl_backend *be, const pl_attn_args *a) { return pl_ref_attention(a); }
static int ref_op_glu(pl_backend *be, pl_glu act, const float *gate, const float *up, int64_t n, float *out)
{
    /* the fast SiLU's reference is libm's: the same function to ~2 ulp */
    return ref_glu(act == PL_GLU_SWIGLU_FAST ? PL_GLU_SWIGLU : act, gate, up, n, out);
}
static int ref_op_add(pl_backend *be, const float *a, const float *b, int rows, int b_rows, int d, float *out)
{
    return ref_add(a, b, rows, b_rows, d, out);
}
static int ref_op_scale(pl_backend *be, float *x, int64_t n, float s) { return ref_scale(x, n, s); }
static int ref_op_softmax(pl_backend *be, float *x, int rows, int d) { return ref_softmax(x, rows, d); }
static int ref_op_logits(pl_backend *be, const float *x, const float *norm_w, int d, float eps,
                         const pl_matmul_w *w_out, float softcap)
{
    return ref_logits(x, norm_w, d, eps, w_out, softcap);
}

const pl_backend_ops pl_backend_ref_ops = {
    .abi = PL_BACKEND_ABI,
    .name = "ref",
    .init = ref_init,
    .free = ref_free,
    .alloc = ref_alloc,
    .release = ref_release,
    .upload = pl_hostmem_copy,
    .download = pl_hostmem_copy,
    .copy_from = pl_hostmem_copy_from,
    .mem_info = ref_mem_info,
    .sync = ref_sync,
    .layout = ref_layout,
    .weight_load = ref_weight_load,
    .embed = ref_op_embed,
    .rms_norm = ref_op_rms_norm,
    .matmul = ref_op_matmul,
    .rope = ref_op_rope,
    .kv_store = ref_op_kv_store,
    .attention = ref_op_attention,
    .glu = ref_op_glu,
    .add = ref_op_add,
    .scale = ref_op_scale,
    .softmax = ref_op_softmax,
    .logits = ref_op_logits,
    .run_layers = NULL,   /* every layer op by op: the reference arithmetic */
};
