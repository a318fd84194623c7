/* test_backend_ref.c — the backend interface itself (backends/backend.h):
 * the registry, every backend's buffers and memory accounting (a limit is
 * honoured and refusal is reported, used/free move with each buffer),
 * upload/download and cross-backend copies, weight loading into each
 * backend's layout, and errors that reach the caller instead of being
 * skipped (an unsupported type or layout leaves the outputs untouched and
 * says which error). The ops themselves: test_backend_ops.c, _attn.c.
 */
#include <string.h>

#include "backend_test_util.h"

static const char *const bt_names[] = { "cpu", "ref" };

Test(backend_iface, registry_finds_both_with_every_op)
{
    for (int i = 0; i < 2; i++) {
        const pl_backend_ops *o = pl_backend_find(bt_names[i]);
        cr_assert(o, "%s", bt_names[i]);
        cr_assert_eq(o->abi, PL_BACKEND_ABI);
        cr_assert_str_eq(o->name, bt_names[i]);
        /* the engine calls these unconditionally: a hole would crash it */
        const void *must[] = { o->init, o->free, o->alloc, o->release, o->upload, o->download, o->mem_info,
                               o->sync, o->layout, o->weight_load, o->embed, o->rms_norm, o->matmul, o->rope,
                               o->kv_store, o->attention, o->glu, o->add, o->scale, o->softmax, o->logits };
        for (size_t k = 0; k < sizeof must / sizeof must[0]; k++) cr_assert(must[k], "%s op %zu is NULL", o->name, k);
    }
    cr_assert_null(pl_backend_find("cuda-that-is-not-built"));
    cr_assert_null(pl_backend_find(NULL));
    cr_assert(strcmp(pl_backend_strerror(PL_BACKEND_ENOMEM), pl_backend_strerror(PL_BACKEND_EUNSUPPORTED)) != 0);
}

/* Buffers count against the limit; past it alloc refuses and nothing moves. */
Test(backend_iface, memory_limit_is_honoured_and_counted)
{
    enum { LIMIT = 1 << 20, PART = 600 << 10 };
    for (int i = 0; i < 2; i++) {
        pl_backend *be = bt_start(bt_names[i], 1, LIMIT);
        size_t total, used, free_b;
        be->ops->mem_info(be, &total, &used, &free_b);
        cr_assert(total == LIMIT && used == 0 && free_b == LIMIT, "%s: %zu %zu %zu", bt_names[i], total, used, free_b);
        void *a = be->ops->alloc(be, PART);
        cr_assert(a && ((uintptr_t)a & 63) == 0, "%s", bt_names[i]);
        memset(a, 0x5a, PART);   /* really ours (ASan checks the bounds) */
        be->ops->mem_info(be, &total, &used, &free_b);
        cr_assert(used == PART && free_b == LIMIT - PART, "%s: used %zu free %zu", bt_names[i], used, free_b);
        cr_assert_null(be->ops->alloc(be, PART), "%s: over the limit must fail", bt_names[i]);
        be->ops->mem_info(be, NULL, &used, NULL);
        cr_assert_eq(used, PART, "%s: a refused alloc changed the count", bt_names[i]);
        be->ops->release(be, a);
        be->ops->mem_info(be, NULL, &used, &free_b);
        cr_assert(used == 0 && free_b == LIMIT);
        void *b = be->ops->alloc(be, LIMIT);   /* exactly the limit fits */
        cr_assert(b);
        be->ops->release(be, b);
        be->ops->release(be, NULL);
        bt_stop(be);
    }
}

/* Unlimited host backends report the machine: total and free nonzero. */
Test(backend_iface, unlimited_reports_machine_memory)
{
    pl_backend *be = bt_start("ref", 1, 0);
    size_t total = 0, used = 1, free_b = 0;
    be->ops->mem_info(be, &total, &used, &free_b);
    cr_assert(total > 0 && used == 0 && free_b > 0 && free_b <= total);
    bt_stop(be);
}

/* Bytes survive upload, download and a copy to the other backend. */
Test(backend_iface, upload_download_and_cross_copy_roundtrip)
{
    pl_backend *cpu = bt_start("cpu", 1, 0), *ref = bt_start("ref", 1, 0);
    enum { N = 4099 };
    float *x = bt_rand(N, 7, 3);
    float *dc = bt_put(cpu, x, sizeof(float) * N), *dr = ref->ops->alloc(ref, sizeof(float) * N);
    cr_assert_eq(ref->ops->copy_from(ref, dr, cpu, dc, sizeof(float) * N), 0);
    cr_assert_eq(ref->ops->sync(ref), 0);
    float *back = bt_get(ref, dr, sizeof(float) * N);
    cr_assert_eq(memcmp(back, x, sizeof(float) * N), 0);
    cpu->ops->release(cpu, dc), ref->ops->release(ref, dr);
    free(x), free(back);
    bt_stop(cpu), bt_stop(ref);
}

/* A q4_0 matrix in ROWS and its R16 repack (what the CPU keeps). */
static void *bt_q4_0(int64_t rows, int64_t cols, bool r16)
{
    float *f = bt_rand(rows * cols, 11, 1);
    size_t rs = pl_row_size(PL_TYPE_Q4_0, cols);
    uint8_t *w = malloc(rs * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) pl_type_traits_get(PL_TYPE_Q4_0)->from_float(f + r * cols, w + r * rs, cols);
    free(f);
    if (r16) cr_assert(pl_cpu_r16_repack(PL_TYPE_Q4_0, w, rows, cols));
    return w;
}

/* ref holds its own ROWS copy (R16 input unpacked), counted; over its limit it refuses. */
Test(backend_iface, ref_weight_load_copies_rows_and_counts)
{
    enum { R = 64, C = 256 };
    size_t bytes = pl_row_size(PL_TYPE_Q4_0, C) * R;
    uint8_t *rows = bt_q4_0(R, C, false), *r16 = bt_q4_0(R, C, true);
    pl_backend *ref = bt_start("ref", 1, bytes + bytes / 2);
    cr_assert_eq(ref->ops->layout(ref, PL_TYPE_Q4_0, R, C), PL_LAYOUT_ROWS);
    void *w = NULL, *w2 = NULL;
    cr_assert_eq(ref->ops->weight_load(ref, PL_TYPE_Q4_0, R, C, r16, PL_LAYOUT_R16, PL_LAYOUT_ROWS, &w), 0);
    cr_assert(w && w != (void *)r16);
    cr_assert_eq(memcmp(w, rows, bytes), 0, "R16 was not unpacked to the file's rows");
    size_t used;
    ref->ops->mem_info(ref, NULL, &used, NULL);
    cr_assert_eq(used, bytes);
    cr_assert_eq(ref->ops->weight_load(ref, PL_TYPE_Q4_0, R, C, rows, PL_LAYOUT_ROWS, PL_LAYOUT_ROWS, &w2),
                 PL_BACKEND_ENOMEM);
    cr_assert_null(w2);
    cr_assert_eq(ref->ops->weight_load(ref, PL_TYPE_Q4_0, R, C, rows, PL_LAYOUT_ROWS, PL_LAYOUT_R16, &w2),
                 PL_BACKEND_EUNSUPPORTED, "ref has no R16 kernels: it must say so");
    /* q8_K has no R16 form: R16 bytes of it cannot exist */
    cr_assert_eq(ref->ops->weight_load(ref, PL_TYPE_Q8_K, 16, 256, rows, PL_LAYOUT_R16, PL_LAYOUT_ROWS, &w2),
                 PL_BACKEND_EUNSUPPORTED);
    ref->ops->release(ref, w);
    bt_stop(ref);
    free(rows), free(r16);
}

/* cpu borrows bytes already in its layout and converts (counted) otherwise. */
Test(backend_iface, cpu_weight_load_borrows_or_converts)
{
    enum { R = 64, C = 256 };
    size_t bytes = pl_row_size(PL_TYPE_Q4_0, C) * R;
    uint8_t *rows = bt_q4_0(R, C, false), *r16 = bt_q4_0(R, C, true);
    pl_backend *cpu = bt_start("cpu", 1, 0);
    pl_layout want = cpu->ops->layout(cpu, PL_TYPE_Q4_0, R, C);
    cr_assert_eq(want, pl_cpu_r16_supported(PL_TYPE_Q4_0, R, C) ? PL_LAYOUT_R16 : PL_LAYOUT_ROWS);
    cr_assert_eq(cpu->ops->layout(cpu, PL_TYPE_F32, R, C), PL_LAYOUT_ROWS);
    void *w = NULL;
    size_t used;
    cr_assert_eq(cpu->ops->weight_load(cpu, PL_TYPE_Q4_0, R, C, rows, PL_LAYOUT_ROWS, PL_LAYOUT_ROWS, &w), 0);
    cpu->ops->mem_info(cpu, NULL, &used, NULL);
    cr_assert(w == (void *)rows && used == 0, "same layout: borrowed, nothing allocated");
    cr_assert_eq(cpu->ops->weight_load(cpu, PL_TYPE_Q4_0, R, C, rows, PL_LAYOUT_ROWS, PL_LAYOUT_R16, &w), 0);
    cpu->ops->mem_info(cpu, NULL, &used, NULL);
    cr_assert(w != (void *)rows && used == bytes);
    cr_assert_eq(memcmp(w, r16, bytes), 0, "ROWS -> R16 differs from pl_cpu_r16_repack");
    cpu->ops->release(cpu, w);
    cr_assert_eq(cpu->ops->weight_load(cpu, PL_TYPE_Q4_0, R, C, r16, PL_LAYOUT_R16, PL_LAYOUT_ROWS, &w), 0);
    cr_assert_eq(memcmp(w, rows, bytes), 0);
    cpu->ops->release(cpu, w);
    cr_assert_eq(cpu->ops->weight_load(cpu, PL_TYPE_F32, 16, 64, rows, PL_LAYOUT_ROWS, PL_LAYOUT_R16, &w),
                 PL_BACKEND_EUNSUPPORTED, "f32 has no R16 form");
    cpu->ops->mem_info(cpu, NULL, &used, NULL);
    cr_assert_eq(used, 0, "a refused conversion leaked its buffer");
    bt_stop(cpu);
    free(rows), free(r16);
}

/* A matmul that cannot run says why and writes nothing: no partial work, no garbage. */
Test(backend_iface, matmul_refuses_unsupported_weights_whole)
{
    enum { R = 32, C = 256 };
    uint8_t *q = bt_q4_0(R, C, false);
    float *x = bt_rand(C, 3, 1), y0[R], y1[R];
    for (int i = 0; i < 2; i++) {
        pl_backend *be = bt_start(bt_names[i], 2, 0);
        for (int k = 0; k < R; k++) y0[k] = y1[k] = 42.0f;
        pl_matmul_w ws[2] = { { q, PL_TYPE_Q4_0, R, y0, PL_LAYOUT_ROWS }, { q, (pl_type)4, R, y1, PL_LAYOUT_ROWS } };
        cr_assert_eq(be->ops->matmul(be, ws, 2, C, x, 1), PL_BACKEND_EUNSUPPORTED, "%s: a type gap", bt_names[i]);
        ws[1].type = PL_TYPE_Q8_K;   /* an activation type: no dot of its own */
        cr_assert_eq(be->ops->matmul(be, ws, 2, C, x, 1), PL_BACKEND_EUNSUPPORTED, "%s: q8_K", bt_names[i]);
        ws[1].type = PL_TYPE_Q4_0, ws[1].rows = 30, ws[1].layout = PL_LAYOUT_R16;   /* R16 needs groups of 16 */
        cr_assert_eq(be->ops->matmul(be, ws, 2, C, x, 1), PL_BACKEND_EUNSUPPORTED, "%s: ragged R16", bt_names[i]);
        cr_assert_eq(be->ops->matmul(be, ws, 2, 100, x, 1), PL_BACKEND_EUNSUPPORTED, "%s: cols not whole blocks",
                     bt_names[i]);
        cr_assert_eq(be->ops->matmul(be, ws, 9, C, x, 1), PL_BACKEND_EARG, "%s: more than 8", bt_names[i]);
        for (int k = 0; k < R; k++) cr_assert(y0[k] == 42.0f && y1[k] == 42.0f, "%s wrote output", bt_names[i]);
        bt_stop(be);
    }
    pl_backend *ref = bt_start("ref", 1, 0);   /* ref has no R16 kernel, even for a good R16 weight */
    pl_matmul_w w = { q, PL_TYPE_Q4_0, R, y0, PL_LAYOUT_R16 };
    cr_assert_eq(ref->ops->matmul(ref, &w, 1, C, x, 1), PL_BACKEND_EUNSUPPORTED);
    bt_stop(ref);
    cr_assert_eq(pl_cpu_matmul_multi_try(NULL, &(pl_matmul_w){ q, (pl_type)5, R, y0, PL_LAYOUT_ROWS }, 1, C, x, 1),
                 PL_BACKEND_EUNSUPPORTED);
    free(q), free(x);
}

/* The small ops reject what they cannot do with an error, not a silent no-op. */
Test(backend_iface, small_ops_report_bad_arguments)
{
    float x[64] = { 1 }, y[64];
    int32_t tok[2] = { 0, 9 };
    for (int i = 0; i < 2; i++) {
        pl_backend *be = bt_start(bt_names[i], 1, 0);
        const pl_backend_ops *o = be->ops;
        cr_assert_eq(o->embed(be, x, PL_TYPE_F32, PL_LAYOUT_ROWS, 8, 8, tok, 2, 1, y), PL_BACKEND_EARG,
                     "%s: token 9 of 8 rows", bt_names[i]);
        cr_assert_eq(o->embed(be, x, (pl_type)4, PL_LAYOUT_ROWS, 8, 8, tok, 1, 1, y), PL_BACKEND_EUNSUPPORTED);
        pl_rope_args r = { .n_rot = 8, .mode = 1, .base = 10000, .freq_scale = 1 };
        cr_assert_eq(o->rope(be, x, 1, 1, 8, 0, &r), PL_BACKEND_EUNSUPPORTED, "%s: rope mode 1", bt_names[i]);
        r.mode = PL_ROPE_NEOX, r.n_rot = 7;
        cr_assert_eq(o->rope(be, x, 1, 1, 8, 0, &r), PL_BACKEND_EARG);
        cr_assert_eq(o->glu(be, (pl_glu)7, x, x, 4, y), PL_BACKEND_EUNSUPPORTED);
        cr_assert_eq(o->add(be, x, x, 4, 2, 8, y), PL_BACKEND_EARG, "%s: b of 2 rows for 4", bt_names[i]);
        cr_assert_eq(o->rms_norm(be, x, NULL, 1, 0, 1e-5f, y), PL_BACKEND_EARG);
        cr_assert_eq(o->softmax(be, x, 1, 0), PL_BACKEND_EARG);
        bt_stop(be);
    }
}
