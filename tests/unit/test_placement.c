/* test_placement.c — layers moved between backends live (engine/placement.c):
 * CPU -> ref -> CPU in the middle of a conversation on the real default model.
 *
 * The mechanics do not need the forward: every byte of every layer's KV rows
 * survives a move there and back; fork, copy-on-write, context shift,
 * truncate, KV-type conversion and state save/load give the same bytes with
 * layers on ref as on an all-CPU twin; a target too small is refused with
 * the numbers and nothing moves; a failure injected at every allocation of a
 * move in turn leaves the context exactly as before; the ref backend's count
 * moves by the bytes moved and is 0 once everything is home (ASan: no leak).
 * A holder whose memory the host cannot touch (PROT_NONE pages) proves the
 * cache reaches a held layer's bytes only through download/upload.
 *
 * The end-to-end test (suite placement_e2e) is the proof: greedy
 * tokens with layers moved mid-conversation identical to an all-CPU run, and
 * the ref layers' logits not bit-identical to the CPU's (they ran on ref's
 * arithmetic). The second check needs the forward to run each layer on its
 * backend (branch t13fv); until then it fails, and says so.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/context_impl.h"
#include "tests/common/fixture.h"

enum { TP_CTX = 256 };

static pl_model *tp_model(void) { return fixt_model_load("PARLEY_MODEL", "model"); }

static pl_ctx *tp_ctx(pl_model *m, size_t ref_limit)
{
    pl_ctx_params p = pl_ctx_default_params();
    p.n_ctx = TP_CTX, p.n_threads = 2, p.ref_mem_limit = ref_limit;
    pl_status st;
    pl_ctx *c = pl_ctx_new(m, &p, &st);
    cr_assert(c, "%s", st.msg);
    return c;
}

/* n tokens of a fixed, varied stream (ids well inside the vocabulary). */
static void tp_tokens(int32_t *t, int n, int salt)
{
    for (int i = 0; i < n; i++) t[i] = 100 + (i * 37 + salt * 11) % 5000;
}

/* A sequence holding n positions, decoded on the context as it is. */
static int tp_seq(pl_ctx *c, int n, int salt)
{
    pl_status st;
    int32_t t[TP_CTX];
    int s = pl_seq_new(c, &st);
    cr_assert_geq(s, 0, "%s", st.msg);
    tp_tokens(t, n, salt);
    cr_assert_eq(pl_decode(c, s, t, n, &st), 0, "%s", st.msg);
    return s;
}

/* Every K and V row of seq, all layers, read through the layers' holders (caller frees). */
static uint8_t *tp_rows(const pl_ctx *c, int seq, size_t *len)
{
    const kv_cache *kv = c->kv;
    const kv_seq *s = &kv->seqs[seq];
    const size_t per = kv->row_k + kv->row_v;
    *len = per * (size_t)s->n_pos * kv->n_layer;
    uint8_t *out = malloc(*len ? *len : 1), *o = out;
    for (int il = 0; il < kv->n_layer; il++)
        for (int p = 0; p < s->n_pos; p++, o += per) {
            cr_assert_eq(kv_bytes_get(kv, il, o, kv_k_data(kv, s, il, p), kv->row_k), 0);
            cr_assert_eq(kv_bytes_get(kv, il, o + kv->row_k, kv_v_data(kv, s, il, p), kv->row_v), 0);
        }
    return out;
}

static void tp_same_rows(const pl_ctx *a, int sa, const pl_ctx *b, int sb, const char *what)
{
    size_t la, lb;
    uint8_t *ra = tp_rows(a, sa, &la), *rb = tp_rows(b, sb, &lb);
    cr_assert_eq(la, lb, "%s: %zu vs %zu bytes", what, la, lb);
    cr_assert_eq(memcmp(ra, rb, la), 0, "%s: KV rows differ", what);
    free(ra);
    free(rb);
}

/* The ref backend's usage (zeros if it was never started). */
static pl_backend_usage tp_usage(const pl_ctx *c, const char *name)
{
    pl_backend_usage u[4];
    int n = pl_ctx_backend_usage(c, u, 4);
    for (int i = 0; i < n; i++)
        if (strcmp(u[i].name, name) == 0) return u[i];
    return (pl_backend_usage){ .name = name };
}

static void tp_all_on(const pl_ctx *c, const char *name)
{
    for (uint32_t il = 0; il < c->m->hp.n_layer; il++)
        cr_assert_str_eq(pl_ctx_layer_backend_name(c, (int)il), name, "layer %u", il);
}

Test(placement, kv_slices_keep_every_byte_cpu_ref_cpu, .timeout = 300)
{
    pl_model *m = tp_model();
    pl_ctx *c = tp_ctx(m, 0), *twin = tp_ctx(m, 0);
    pl_status st;
    const int a = tp_seq(c, 70, 1), ta = tp_seq(twin, 70, 1);
    tp_same_rows(c, a, twin, ta, "before");
    tp_all_on(c, "cpu");
    cr_assert_eq(pl_ctx_place_layers(c, 10, 29, "ref", &st), 0, "%s", st.msg);
    for (int il = 0; il < 30; il++) cr_assert_str_eq(pl_ctx_layer_backend_name(c, il), il >= 10 ? "ref" : "cpu");
    cr_assert_not_null(c->layer_be, "the forward sees the placement");
    cr_assert_neq(c->layer_w[12].wq.data, m->layers[12].wq.data, "layer 12 runs ref's own copy");
    cr_assert_eq(c->layer_w[12].wq.layout, PL_LAYOUT_ROWS, "in ref's layout");
    cr_assert_not_null(c->kv->layers[12].where);
    cr_assert_null(c->kv->layers[9].where);
    tp_same_rows(c, a, twin, ta, "layers 10-29 on ref");
    /* accounting: ref holds exactly the copies and the live blocks */
    pl_backend_usage u = tp_usage(c, "ref");
    uint64_t want_kv = 0;
    for (int il = 10; il < 30; il++) want_kv += kv_layer_live_bytes(c->kv, il);
    cr_assert_eq(u.n_layers, 20);
    cr_assert_eq(u.kv_bytes, want_kv);
    cr_assert_gt(u.weight_bytes, 0);
    cr_assert_eq(u.mem_used, u.weight_bytes + u.kv_bytes, "ref holds %llu, placement counts %llu",
                 (unsigned long long)u.mem_used, (unsigned long long)(u.weight_bytes + u.kv_bytes));
    char line[160];
    cr_assert_str_eq(pl_ctx_placement_str(c, line, sizeof line) ? line : "", line);
    cr_assert(strstr(line, "cpu 0-9") && strstr(line, "ref 10-29"), "%s", line);
    /* some back, some more there: the overlap stays */
    cr_assert_eq(pl_ctx_place_layers(c, 0, 14, "ref", &st), 0, "%s", st.msg);
    cr_assert_eq(pl_ctx_place_layers(c, 15, 29, "cpu", &st), 0, "%s", st.msg);
    for (int il = 0; il < 30; il++) cr_assert_str_eq(pl_ctx_layer_backend_name(c, il), il < 15 ? "ref" : "cpu");
    tp_same_rows(c, a, twin, ta, "layers 0-14 on ref");
    cr_assert_eq(pl_ctx_place_layers(c, 0, 29, "cpu", &st), 0, "%s", st.msg);
    tp_all_on(c, "cpu");
    tp_same_rows(c, a, twin, ta, "all home");
    cr_assert_eq(tp_usage(c, "ref").mem_used, 0, "ref holds nothing once every layer is home");
    cr_assert_null(c->layer_be, "back to the all-CPU arrays");
    pl_ctx_free(twin);
    pl_ctx_free(c);
    pl_model_free(m);
}

/* Sequence ops on a context with layers 3-20 on ref give the bytes an all-CPU twin gets. */
Test(placement, sequence_ops_with_layers_on_ref, .timeout = 300)
{
    pl_model *m = tp_model();
    pl_ctx *c = tp_ctx(m, 0), *t = tp_ctx(m, 0);
    pl_status st;
    const int a = tp_seq(c, 70, 2), ta = tp_seq(t, 70, 2);
    cr_assert_eq(pl_ctx_place_layers(c, 3, 20, "ref", &st), 0, "%s", st.msg);
    /* fork, then a context shift on the fork: copy-on-write and re-rotation of held blocks */
    const int f = pl_seq_fork(c, a, &st), tf = pl_seq_fork(t, ta, &st);
    cr_assert_geq(f, 0, "%s", st.msg);
    cr_assert_eq(pl_seq_shift(c, f, 4, 10, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_seq_shift(t, tf, 4, 10, &st), 0, "%s", st.msg);
    tp_same_rows(c, f, t, tf, "shifted fork");
    tp_same_rows(c, a, t, ta, "the parent untouched by its fork's shift");
    cr_assert_eq(pl_seq_truncate(c, a, 50), 0);
    cr_assert_eq(pl_seq_truncate(t, ta, 50), 0);
    tp_same_rows(c, a, t, ta, "truncated");
    /* live KV-type change there and back */
    cr_assert_eq(pl_ctx_set_kv_types(c, PL_TYPE_Q8_0, PL_TYPE_Q8_0, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_ctx_set_kv_types(t, PL_TYPE_Q8_0, PL_TYPE_Q8_0, &st), 0, "%s", st.msg);
    tp_same_rows(c, f, t, tf, "q8_0");
    pl_backend_usage u = tp_usage(c, "ref");
    cr_assert_eq(u.mem_used, u.weight_bytes + u.kv_bytes, "after a shrinking conversion ref holds %llu, "
                 "its layers need %llu", (unsigned long long)u.mem_used, (unsigned long long)(u.weight_bytes + u.kv_bytes));
    /* state save from the placed context, load into a new sequence of each */
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_eq(pl_state_save(c, a, fp, &st), 0, "%s", st.msg);
    fclose(fp);
    const int l = pl_seq_new(c, &st), tl = pl_seq_new(t, &st);
    fp = fmemopen(buf, len, "rb");
    cr_assert_eq(pl_state_load(c, l, fp, len, &st), 0, "%s", st.msg);
    fclose(fp);
    fp = fmemopen(buf, len, "rb");
    cr_assert_eq(pl_state_load(t, tl, fp, len, &st), 0, "%s", st.msg);
    fclose(fp);
    free(buf);
    tp_same_rows(c, l, t, ta, "state loaded with layers on ref = the all-CPU rows");
    tp_same_rows(c, l, t, tl, "loaded in both");
    cr_assert_eq(pl_ctx_set_kv_types(c, PL_TYPE_F16, PL_TYPE_F16, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_ctx_set_kv_types(t, PL_TYPE_F16, PL_TYPE_F16, &st), 0, "%s", st.msg);
    tp_same_rows(c, l, t, tl, "back to f16");
    cr_assert_eq(pl_ctx_place_layers(c, 0, 29, "cpu", &st), 0, "%s", st.msg);
    tp_same_rows(c, f, t, tf, "home");
    cr_assert_eq(tp_usage(c, "ref").mem_used, 0);
    pl_ctx_free(t);
    pl_ctx_free(c);
    pl_model_free(m);
}

Test(placement, refuses_with_numbers_when_ref_is_too_small, .timeout = 300)
{
    pl_model *m = tp_model();
    pl_ctx *c = tp_ctx(m, 8u << 20);
    pl_status st;
    const int a = tp_seq(c, 40, 3);
    size_t l0;
    uint8_t *before = tp_rows(c, a, &l0);
    cr_assert_eq(pl_ctx_place_layers(c, 10, 29, "ref", &st), PL_ERR_NOMEM);
    /* the numbers: what the same move takes where it fits */
    pl_ctx *big = tp_ctx(m, 0);
    pl_status st2;
    tp_seq(big, 40, 3);
    cr_assert_eq(pl_ctx_place_layers(big, 10, 29, "ref", &st2), 0, "%s", st2.msg);
    const pl_backend_usage need = tp_usage(big, "ref");
    pl_ctx_free(big);
    char want[200];
    const double mib = 1024.0 * 1024.0;
    snprintf(want, sizeof want, "ref backend: moving layers 10-29 needs %.1f MiB (weights %.1f, KV %.1f), 8.0 MiB free; "
             "nothing moved", (double)need.mem_used / mib, (double)need.weight_bytes / mib, (double)need.kv_bytes / mib);
    cr_assert_str_eq(st.msg, want);
    tp_all_on(c, "cpu");
    cr_assert_eq(tp_usage(c, "ref").mem_used, 0, "nothing moved");
    cr_assert_null(c->layer_be);
    size_t l1;
    uint8_t *after = tp_rows(c, a, &l1);
    cr_assert(l0 == l1 && memcmp(before, after, l0) == 0);
    free(before), free(after);
    /* one layer fits */
    cr_assert_eq(pl_ctx_place_layers(c, 29, 29, "ref", &st), 0, "%s", st.msg);
    cr_assert_str_eq(pl_ctx_layer_backend_name(c, 29), "ref");
    cr_assert_eq(pl_ctx_place_layers(c, 0, 30, "ref", &st), PL_ERR_ARG, "the model has layers 0-29");
    cr_assert_eq(pl_ctx_place_layers(c, 0, 1, "tpu", &st), PL_ERR_ARG);
    cr_assert(strstr(st.msg, "'tpu'"), "%s", st.msg);
    pl_ctx_free(c);
    pl_model_free(m);
}

/* ref full in the middle of a conversation: the decode that needs a new block
 * there says so and changes nothing; with the layers home it goes on, the
 * logits those of an all-CPU run. */
Test(placement, ref_full_mid_conversation_says_so_and_home_goes_on, .timeout = 300)
{
    pl_model *m = tp_model();
    pl_status st;
    pl_ctx *t = tp_ctx(m, 0);
    const int ta = tp_seq(t, 40, 5);
    cr_assert_eq(pl_ctx_place_layers(t, 25, 29, "ref", &st), 0, "%s", st.msg);
    const size_t fits = (size_t)tp_usage(t, "ref").mem_used + t->kv->block_bytes / 2;
    cr_assert_eq(pl_ctx_place_layers(t, 25, 29, "cpu", &st), 0, "%s", st.msg);
    pl_ctx *c = tp_ctx(m, fits);
    const int a = tp_seq(c, 40, 5);
    cr_assert_eq(pl_ctx_place_layers(c, 25, 29, "ref", &st), 0, "%s", st.msg);
    int32_t more[30];
    tp_tokens(more, 30, 6);
    cr_assert_eq(pl_decode(c, a, more, 30, &st), PL_ERR_NOMEM, "the next block does not fit on ref");
    char want[160];
    snprintf(want, sizeof want, "out of memory (ref backend) for layer 25's next KV block of 32 positions (%zu bytes)",
             c->kv->block_bytes);
    cr_assert_str_eq(st.msg, want);
    cr_assert_eq(pl_seq_len(c, a), 40, "nothing decoded");
    cr_assert_eq(pl_ctx_place_layers(c, 25, 29, "cpu", &st), 0, "%s", st.msg);
    cr_assert_eq(pl_decode(c, a, more, 30, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_decode(t, ta, more, 30, &st), 0, "%s", st.msg);
    cr_assert_eq(memcmp(pl_logits(c, a), pl_logits(t, ta), sizeof(float) * m->hp.n_vocab), 0,
                 "the conversation goes on as if nothing happened");
    tp_same_rows(c, a, t, ta, "rows");
    cr_assert_eq(tp_usage(c, "ref").mem_used, 0);
    pl_ctx_free(t);
    pl_ctx_free(c);
    pl_model_free(m);
}

/* A failure at every allocation of a move in turn, as SQLite tests its I/O:
 * each one leaves the placement, the rows and ref's count as they were. */
Test(placement, a_failure_midway_undoes_the_move, .timeout = 300)
{
    pl_model *m = tp_model();
    pl_ctx *c = tp_ctx(m, 0);
    pl_status st;
    const int a = tp_seq(c, 70, 4);
    cr_assert_eq(pl_ctx_place_layers(c, 0, 1, "ref", &st), 0, "%s", st.msg);   /* some already there */
    const uint64_t used0 = tp_usage(c, "ref").mem_used;
    size_t l0;
    uint8_t *before = tp_rows(c, a, &l0);
    int n = 1;
    for (;; n++) {
        ctx_place_fail_at(c, n);
        if (pl_ctx_place_layers(c, 1, 3, "ref", &st) == 0) break;
        cr_assert(strstr(st.msg, "moving layers 1-3 to ref failed, nothing moved"), "%s", st.msg);
        for (int il = 0; il < 30; il++) cr_assert_str_eq(pl_ctx_layer_backend_name(c, il), il < 2 ? "ref" : "cpu");
        cr_assert_eq(tp_usage(c, "ref").mem_used, used0, "failure at allocation %d: ref's count", n);
        size_t l1;
        uint8_t *after = tp_rows(c, a, &l1);
        cr_assert(l0 == l1 && memcmp(before, after, l0) == 0, "failure at allocation %d: rows", n);
        free(after);
        cr_assert_lt(n, 200);
    }
    ctx_place_fail_at(c, 0);
    cr_assert_gt(n, 2 * 9, "the failures covered weights and KV blocks of two layers (%d)", n);
    size_t l1;
    uint8_t *after = tp_rows(c, a, &l1);
    cr_assert(l0 == l1 && memcmp(before, after, l0) == 0);
    free(before), free(after);
    cr_assert_eq(pl_ctx_place_layers(c, 0, 29, "cpu", &st), 0, "%s", st.msg);
    cr_assert_eq(tp_usage(c, "ref").mem_used, 0);
    pl_ctx_free(c);   /* freeing with copies out there is covered by the e2e test */
    pl_model_free(m);
}

/* ---- a holder whose memory the host cannot touch ------------------------ */

enum { GH_MAX = 512 };
typedef struct gh_map { void *p; size_t len; } gh_map;
static gh_map gh_maps[GH_MAX];

static size_t gh_len(const void *p)
{
    for (int i = 0; i < GH_MAX; i++)
        if (gh_maps[i].p == p) return gh_maps[i].len;
    cr_assert_fail("not a guarded buffer");
    return 0;
}
static void *gh_alloc(void *ud, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = (n + pg - 1) / pg * pg;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; p != MAP_FAILED && i < GH_MAX; i++)
        if (!gh_maps[i].p) { gh_maps[i] = (gh_map){ p, len }; return p; }
    return NULL;
}
static void gh_release(void *ud, void *p)
{
    for (int i = 0; p && i < GH_MAX; i++)
        if (gh_maps[i].p == p) { munmap(p, gh_maps[i].len); gh_maps[i].p = NULL; return; }
}
/* The only place its bytes are reachable: unprotect, copy, protect again. */
static int gh_copy(void *dst, const void *src, size_t n, void *base)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *b = (uint8_t *)((uintptr_t)base / pg * pg);
    size_t len = 0;
    for (int i = 0; i < GH_MAX; i++)
        if (gh_maps[i].p && b >= (uint8_t *)gh_maps[i].p && b < (uint8_t *)gh_maps[i].p + gh_maps[i].len)
            b = gh_maps[i].p, len = gh_maps[i].len;
    cr_assert(len && gh_len(b));
    mprotect(b, len, PROT_READ | PROT_WRITE);
    memcpy(dst, src, n);
    mprotect(b, len, PROT_NONE);
    return 0;
}
static int gh_upload(void *ud, void *dst, const void *src, size_t n) { return gh_copy(dst, src, n, dst); }
static int gh_download(void *ud, void *dst, const void *src, size_t n) { return gh_copy(dst, src, n, (void *)src); }

static void gh_fill(kv_cache *kv, int seq, int from, int to)
{
    kv_seq *s = &kv->seqs[seq];
    float row[64];
    for (int il = 0; il < kv->n_layer; il++)
        for (int p = from; p < to; p++) {
            uint8_t raw[256];
            for (int d = 0; d < kv->kv_dim; d++) row[d] = (float)(p % 50) / 8.0f + (float)d / 64.0f - (float)il;
            pl_type_traits_get(kv->type_k)->from_float(row, raw, kv->kv_dim);
            cr_assert_eq(kv_bytes_put(kv, il, kv_k_data(kv, s, il, p), raw, kv->row_k), 0);
            for (int d = 0; d < kv->kv_dim; d++) row[d] = -row[d];
            pl_type_traits_get(kv->type_v)->from_float(row, raw, kv->kv_dim);
            cr_assert_eq(kv_bytes_put(kv, il, kv_v_data(kv, s, il, p), raw, kv->row_v), 0);
        }
}

static void gh_rot(float *k, int il, int delta, void *ud) { k[0] += (float)delta; }

static void gh_same(const kv_cache *a, const kv_cache *b, int sa)
{
    const kv_seq *s = &a->seqs[sa], *t = &b->seqs[sa];
    cr_assert_eq(s->n_pos, t->n_pos);
    uint8_t ra[256], rb[256];
    for (int il = 0; il < a->n_layer; il++)
        for (int p = 0; p < s->n_pos; p++) {
            kv_bytes_get(a, il, ra, kv_k_data(a, s, il, p), a->row_k);
            kv_bytes_get(b, il, rb, kv_k_data(b, t, il, p), b->row_k);
            cr_assert_eq(memcmp(ra, rb, a->row_k), 0, "K layer %d pos %d", il, p);
            kv_bytes_get(a, il, ra, kv_v_data(a, s, il, p), a->row_v);
            kv_bytes_get(b, il, rb, kv_v_data(b, t, il, p), b->row_v);
            cr_assert_eq(memcmp(ra, rb, a->row_v), 0, "V layer %d pos %d", il, p);
        }
}

/* Any direct host access of a guarded block would crash this test. */
Test(placement, held_blocks_are_reached_only_through_the_holder)
{
    pl_status st;
    kv_cache *h = kv_cache_new(3, 64, 128, 16, &st), *t = kv_cache_new(3, 64, 128, 16, &st);
    const kv_holder guard = { gh_alloc, gh_release, gh_upload, gh_download, NULL, "guarded pages" };
    int a = kv_seq_new(h, &st), ta = kv_seq_new(t, &st);
    cr_assert_eq(kv_seq_reserve(h, a, 70, &st), 0, "%s", st.msg);
    cr_assert_eq(kv_seq_reserve(t, ta, 70, &st), 0);
    gh_fill(h, a, 0, 70), gh_fill(t, ta, 0, 70);
    int32_t toks[70] = { 0 };
    kv_seq_commit(h, a, toks, 70), kv_seq_commit(t, ta, toks, 70);
    uint8_t *fresh[16];
    cr_assert_eq(kv_layer_copy_to(h, 1, &guard, fresh, &st), 0, "%s", st.msg);
    kv_layer_adopt(h, 1, &guard, fresh);
    gh_same(h, t, a);
    /* fork + write into the shared last block (copy-on-write), new blocks, shift, convert */
    int f = kv_seq_fork(h, a, &st), tf = kv_seq_fork(t, ta, &st);
    cr_assert_eq(kv_seq_reserve(h, f, 40, &st), 0, "%s", st.msg);
    kv_seq_reserve(t, tf, 40, &st);
    gh_fill(h, f, 70, 110), gh_fill(t, tf, 70, 110);
    kv_seq_commit(h, f, toks, 40), kv_seq_commit(t, tf, toks, 40);
    gh_same(h, t, f);
    gh_same(h, t, a);
    cr_assert_eq(kv_seq_shift(h, f, 8, 20, gh_rot, NULL, &st), 0, "%s", st.msg);
    kv_seq_shift(t, tf, 8, 20, gh_rot, NULL, &st);
    gh_same(h, t, f);
    cr_assert_eq(kv_cache_convert(h, PL_TYPE_Q8_0, PL_TYPE_Q4_0, &st), 0, "%s", st.msg);
    kv_cache_convert(t, PL_TYPE_Q8_0, PL_TYPE_Q4_0, &st);
    gh_same(h, t, f);
    cr_assert_eq(kv_cache_convert(h, PL_TYPE_F32, PL_TYPE_F16, &st), 0, "%s", st.msg);   /* grows */
    kv_cache_convert(t, PL_TYPE_F32, PL_TYPE_F16, &st);
    gh_same(h, t, a);
    kv_seq_truncate(h, a, 10), kv_seq_truncate(t, ta, 10);
    gh_same(h, t, a);
    /* home again, then freed with nothing left mapped */
    cr_assert_eq(kv_layer_copy_to(h, 1, NULL, fresh, &st), 0, "%s", st.msg);
    kv_layer_adopt(h, 1, NULL, fresh);
    gh_same(h, t, f);
    for (int i = 0; i < GH_MAX; i++) cr_assert_null(gh_maps[i].p, "guarded buffer %d left", i);
    kv_cache_free(h);
    kv_cache_free(t);
}
