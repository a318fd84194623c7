/* test_gguf.c — GGUF reader and writer on valid files: every value type, arrays,
 * tensors, v2/v3 headers, alignment, the atomic file write, and the real
 * default model (its metadata checked against the python gguf package's view).
 * Corrupt files are in test_gguf_bad.c.
 */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_test_util.h"

/* ---- every scalar type ------------------------------------------------ */

Test(gguf_rt, every_scalar_type_round_trips)
{
    gguf_writer *w = gguf_writer_new();
    uint8_t u8 = 250; int8_t i8 = -100; uint16_t u16 = 65000; int16_t i16 = -32000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000; float f32 = 3.25f;
    uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll; double f64 = -1e300;
    uint8_t bo = 1;
    gguf_writer_add_kv(w, "t.u8", GGUF_UINT8, &u8);
    gguf_writer_add_kv(w, "t.i8", GGUF_INT8, &i8);
    gguf_writer_add_kv(w, "t.u16", GGUF_UINT16, &u16);
    gguf_writer_add_kv(w, "t.i16", GGUF_INT16, &i16);
    gguf_writer_add_kv(w, "t.u32", GGUF_UINT32, &u32);
    gguf_writer_add_kv(w, "t.i32", GGUF_INT32, &i32);
    gguf_writer_add_kv(w, "t.f32", GGUF_FLOAT32, &f32);
    gguf_writer_add_kv(w, "t.bool", GGUF_BOOL, &bo);
    gguf_writer_add_kv(w, "t.str", GGUF_STRING, "héllo");
    gguf_writer_add_kv(w, "t.u64", GGUF_UINT64, &u64);
    gguf_writer_add_kv(w, "t.i64", GGUF_INT64, &i64);
    gguf_writer_add_kv(w, "t.f64", GGUF_FLOAT64, &f64);
    gguf_writer_add_strn(w, "t.nul", "a\0b", 3);
    gt_image im = gt_finish(w);
    pl_status st;
    gguf_file *f = gguf_open_mem(im.p, im.n, "rt.gguf", &st);
    cr_assert_not_null(f, "%s", st.msg);
    cr_assert_eq(f->version, 3);
    cr_assert_eq(f->n_kv, 13);
    cr_assert_eq(f->n_tensors, 0);
    /* types as written, in file order */
    const gguf_vtype want[] = { GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32,
                                GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_UINT64,
                                GGUF_INT64, GGUF_FLOAT64, GGUF_STRING };
    for (int i = 0; i < 13; i++) cr_assert_eq(f->kv[i].type, want[i], "kv %d", i);
    uint32_t vu32; int32_t vi32; uint64_t vu64; int64_t vi64; float vf; bool vb;
    cr_assert(gguf_get_u32(f, "t.u8", &vu32) && vu32 == 250);
    cr_assert(gguf_get_i32(f, "t.i8", &vi32) && vi32 == -100);
    cr_assert(gguf_get_u32(f, "t.u16", &vu32) && vu32 == 65000);
    cr_assert(gguf_get_i32(f, "t.i16", &vi32) && vi32 == -32000);
    cr_assert(gguf_get_u32(f, "t.u32", &vu32) && vu32 == 4000000000u);
    cr_assert(gguf_get_i32(f, "t.i32", &vi32) && vi32 == -2000000000);
    cr_assert(gguf_get_f32(f, "t.f32", &vf) && vf == 3.25f);
    cr_assert(gguf_get_bool(f, "t.bool", &vb) && vb);
    cr_assert(gguf_get_u64(f, "t.u64", &vu64) && vu64 == u64);
    cr_assert(gguf_get_i64(f, "t.i64", &vi64) && vi64 == i64);
    cr_assert(gguf_get_f32(f, "t.f64", &vf) && isinf(vf) && vf < 0, "f64 -1e300 narrows to -inf");
    double d;
    memcpy(&d, gguf_find_kv(f, "t.f64")->data, 8);
    cr_assert_eq(d, -1e300);
    gguf_str s;
    cr_assert(gguf_get_str(f, "t.str", &s) && gguf_str_eq(s, "héllo"));
    cr_assert(gguf_get_str(f, "t.nul", &s) && s.len == 3 && memcmp(s.ptr, "a\0b", 3) == 0);
    char buf[4];
    cr_assert(gguf_get_cstr(f, "t.str", buf, sizeof buf) && !strcmp(buf, "h\xc3\xa9"),
              "cstr truncates to len-1 bytes");
    gguf_close(f);
    free(im.p);
}

Test(gguf_rt, getters_refuse_values_that_do_not_fit)
{
    gguf_writer *w = gguf_writer_new();
    int32_t neg = -1; uint64_t big = 1ull << 40; uint64_t huge = UINT64_MAX;
    gguf_writer_add_kv(w, "neg", GGUF_INT32, &neg);
    gguf_writer_add_kv(w, "big", GGUF_UINT64, &big);
    gguf_writer_add_kv(w, "huge", GGUF_UINT64, &huge);
    gguf_writer_add_str(w, "s", "12");
    gguf_writer_add_f32(w, "f", 1.0f);
    gt_image im = gt_finish(w);
    pl_status st;
    gguf_file *f = gguf_open_mem(im.p, im.n, "g.gguf", &st);
    cr_assert_not_null(f, "%s", st.msg);
    uint32_t u; int32_t i; int64_t i64; uint64_t u64; float fl; bool b; gguf_str s;
    cr_assert_not(gguf_get_u32(f, "neg", &u), "negative into u32");
    cr_assert_not(gguf_get_u64(f, "neg", &u64), "negative into u64");
    cr_assert(gguf_get_i64(f, "neg", &i64) && i64 == -1);
    cr_assert_not(gguf_get_u32(f, "big", &u), "2^40 into u32");
    cr_assert_not(gguf_get_i32(f, "big", &i), "2^40 into i32");
    cr_assert_not(gguf_get_i64(f, "huge", &i64), "2^64-1 into i64");
    cr_assert_not(gguf_get_u32(f, "s", &u), "string into u32");
    cr_assert_not(gguf_get_f32(f, "neg", &fl), "int into f32");
    cr_assert_not(gguf_get_bool(f, "f", &b));
    cr_assert_not(gguf_get_str(f, "f", &s));
    cr_assert_not(gguf_get_u32(f, "missing", &u));
    cr_assert_null(gguf_find_kv(f, "ne"), "prefix of a key is not the key");
    cr_assert_null(gguf_find_kv(f, "negx"));
    gguf_close(f);
    free(im.p);
}

/* ---- arrays ------------------------------------------------------------ */

Test(gguf_rt, arrays_of_every_type)
{
    gguf_writer *w = gguf_writer_new();
    int8_t a8[3] = { -1, 0, 127 }; uint16_t a16[2] = { 1, 65535 }; int32_t a32[4] = { -5, 6, -7, 8 };
    uint64_t a64[2] = { 1ull << 50, 3 }; double af64[2] = { 0.25, -8 }; float af32[3] = { 1.5f, -2, 0 };
    uint8_t abool[2] = { 1, 0 };
    const char *strs[] = { "", "two", "\xe2\x96\x81the" };
    gguf_writer_add_arr(w, "a.i8", GGUF_INT8, a8, 3);
    gguf_writer_add_arr(w, "a.u16", GGUF_UINT16, a16, 2);
    gguf_writer_add_arr(w, "a.i32", GGUF_INT32, a32, 4);
    gguf_writer_add_arr(w, "a.u64", GGUF_UINT64, a64, 2);
    gguf_writer_add_arr(w, "a.f64", GGUF_FLOAT64, af64, 2);
    gguf_writer_add_arr(w, "a.f32", GGUF_FLOAT32, af32, 3);
    gguf_writer_add_arr(w, "a.bool", GGUF_BOOL, abool, 2);
    gguf_writer_add_arr(w, "a.empty", GGUF_UINT32, NULL, 0);
    gguf_writer_add_str_arr(w, "a.str", strs, 3);
    gguf_writer_add_str_arr(w, "a.nostr", strs, 0);
    gt_image im = gt_finish(w);
    pl_status st;
    gguf_file *f = gguf_open_mem(im.p, im.n, "a.gguf", &st);
    cr_assert_not_null(f, "%s", st.msg);
    uint64_t n; const void *d; int64_t v; float fv;
    cr_assert(gguf_get_arr(f, "a.i32", GGUF_INT32, &n, &d) && n == 4);
    cr_assert_not(gguf_get_arr(f, "a.i32", GGUF_UINT32, &n, &d), "element type must match");
    const gguf_kv *kv = gguf_find_kv(f, "a.i32");
    for (int i = 0; i < 4; i++) cr_assert(gguf_arr_get_i64(kv, i, &v) && v == a32[i]);
    cr_assert_not(gguf_arr_get_i64(kv, 4, &v), "index past the end");
    kv = gguf_find_kv(f, "a.i8");
    cr_assert(gguf_arr_get_i64(kv, 0, &v) && v == -1);
    cr_assert(gguf_arr_get_i64(gguf_find_kv(f, "a.u16"), 1, &v) && v == 65535);
    cr_assert(gguf_arr_get_i64(gguf_find_kv(f, "a.u64"), 0, &v) && v == (int64_t)(1ull << 50));
    cr_assert(gguf_arr_get_f32(gguf_find_kv(f, "a.f64"), 1, &fv) && fv == -8);
    cr_assert(gguf_arr_get_f32(gguf_find_kv(f, "a.f32"), 0, &fv) && fv == 1.5f);
    cr_assert_not(gguf_arr_get_f32(gguf_find_kv(f, "a.i32"), 0, &fv));
    cr_assert(gguf_get_arr(f, "a.bool", GGUF_BOOL, &n, &d) && n == 2 && ((const uint8_t *)d)[0] == 1);
    cr_assert(gguf_get_arr(f, "a.empty", GGUF_UINT32, &n, &d) && n == 0);
    cr_assert(gguf_get_arr(f, "a.str", GGUF_STRING, &n, &d) && n == 3);
    const gguf_str *s = d;
    cr_assert(s[0].len == 0 && gguf_str_eq(s[1], "two") && gguf_str_eq(s[2], "\xe2\x96\x81the"));
    cr_assert(gguf_get_arr(f, "a.nostr", GGUF_STRING, &n, &d) && n == 0);
    gguf_close(f);
    free(im.p);
}

/* ---- tensors, versions, alignment -------------------------------------- */

/* Write tensors of several types with the given version and alignment; read them back. */
static void check_tensors(uint32_t version, uint32_t align)
{
    static uint8_t q8[3 * sizeof(block_q8_0)], q4k[sizeof(block_q4_K) * 2], f16[6 * 2];
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i ^ 0x5a);
    for (size_t i = 0; i < sizeof q4k; i++) q4k[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof f16; i++) f16[i] = (uint8_t)(i + 100);
    gguf_writer *w = gguf_writer_new();
    cr_assert_eq(gguf_writer_set_version(w, version), PL_OK);
    if (align != 32) gguf_writer_add_u32(w, "general.alignment", align);
    gguf_writer_add_str(w, "general.architecture", "llama");
    uint64_t ne_q8[2] = { 32, 3 }, ne_q4k[3] = { 256, 1, 2 }, ne_f16[4] = { 1, 2, 3, 1 };
    gguf_writer_add_tensor(w, "t.q8", PL_TYPE_Q8_0, 2, ne_q8, q8);
    gguf_writer_add_tensor(w, "t.q4k", PL_TYPE_Q4_K, 3, ne_q4k, q4k);
    gguf_writer_add_tensor(w, "t.f16", PL_TYPE_F16, 4, ne_f16, f16);
    gt_image im = gt_finish(w);
    pl_status st;
    gguf_file *f = gguf_open_mem(im.p, im.n, "t.gguf", &st);
    cr_assert_not_null(f, "%s", st.msg);
    cr_assert_eq(f->version, version);
    cr_assert_eq(f->alignment, align);
    cr_assert_eq(f->data_offset % align, 0);
    const struct { const char *name; pl_type type; uint32_t nd; const void *data; size_t nbytes; } want[] = {
        { "t.q8", PL_TYPE_Q8_0, 2, q8, sizeof q8 }, { "t.q4k", PL_TYPE_Q4_K, 3, q4k, sizeof q4k },
        { "t.f16", PL_TYPE_F16, 4, f16, sizeof f16 } };
    for (int i = 0; i < 3; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, want[i].name);
        cr_assert_not_null(t, "%s", want[i].name);
        cr_assert_eq(t->type, want[i].type);
        cr_assert_eq(t->n_dims, want[i].nd);
        cr_assert_eq(t->nbytes, want[i].nbytes, "%s nbytes %llu", want[i].name, (unsigned long long)t->nbytes);
        cr_assert_eq(t->offset % align, 0);
        cr_assert_eq(((uintptr_t)t->data - (uintptr_t)f->base) % align, 0);
        cr_assert_eq(memcmp(t->data, want[i].data, want[i].nbytes), 0, "%s data", want[i].name);
    }
    cr_assert_eq(gguf_find_tensor(f, "t.q4k")->ne[2], 2);
    cr_assert_eq(gguf_find_tensor(f, "t.q4k")->ne[3], 1, "unused dims are 1");
    cr_assert_null(gguf_find_tensor(f, "t.q"));
    gguf_close(f);
    free(im.p);
}

Test(gguf_rt, tensors_v3_default_alignment) { check_tensors(3, 32); }
Test(gguf_rt, tensors_v2_header) { check_tensors(2, 32); }
Test(gguf_rt, tensors_alignment_64) { check_tensors(3, 64); }
Test(gguf_rt, tensors_alignment_1) { check_tensors(3, 1); }

Test(gguf_rt, writer_refuses_bad_input)
{
    static const struct { const char *what; int kind; } cases[] = {
        { "duplicate key", 0 }, { "bad shape", 1 }, { "alignment 24", 2 }, { "duplicate tensor", 3 },
        { "version 1", 4 }, { "unknown type", 5 } };
    float data[64] = { 0 };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gguf_writer *w = gguf_writer_new();
        uint64_t ne_ok[1] = { 8 }, ne_bad[2] = { 33, 1 };
        gguf_writer_add_u32(w, "k", 1);
        gguf_writer_add_tensor(w, "t", PL_TYPE_F32, 1, ne_ok, data);
        switch (cases[c].kind) {
        case 0: gguf_writer_add_str(w, "k", "again"); break;
        case 1: gguf_writer_add_tensor(w, "q", PL_TYPE_Q4_0, 2, ne_bad, data); break;
        case 2: gguf_writer_add_u32(w, "general.alignment", 24); break;
        case 3: gguf_writer_add_tensor(w, "t", PL_TYPE_F32, 1, ne_ok, data); break;
        case 4: gguf_writer_set_version(w, 1); break;
        case 5: gguf_writer_add_tensor(w, "u", (pl_type)16, 1, ne_ok, data); break;
        }
        void *p = NULL; size_t n; pl_status st;
        cr_assert_eq(gguf_writer_write_mem(w, &p, &n, &st), PL_ERR_ARG, "%s was accepted", cases[c].what);
        cr_assert(st.msg[0], "%s: no message", cases[c].what);
        cr_assert_null(p);
        gguf_writer_free(w);
    }
}

/* ---- files on disk ------------------------------------------------------ */

/* Count directory entries whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

Test(gguf_file, atomic_write_replaces_and_leaves_no_temp)
{
    char dir[] = "/tmp/parley-gguf-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    pl_status st;
    for (int round = 0; round < 2; round++) {      /* second round overwrites */
        gguf_writer *w = gguf_writer_new();
        gguf_writer_add_u32(w, "round", (uint32_t)round);
        uint64_t ne[1] = { 8 };
        gguf_writer_add_tensor(w, "n", PL_TYPE_F32, 1, ne, gt_norm);
        cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
        gguf_writer_free(w);
        gguf_file *f = gguf_open(path, &st);
        cr_assert_not_null(f, "%s", st.msg);
        uint32_t r;
        cr_assert(gguf_get_u32(f, "round", &r) && r == (uint32_t)round);
        cr_assert_eq(memcmp(gguf_find_tensor(f, "n")->data, gt_norm, sizeof gt_norm), 0);
        gguf_close(f);
    }
    cr_assert_eq(count_prefixed(dir, "m.gguf.tmp"), 0, "temp file left behind");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644);
    unlink(path);
    rmdir(dir);
}

Test(gguf_file, open_errors_name_the_path)
{
    pl_status st;
    cr_assert_null(gguf_open("/nonexistent/x.gguf", &st));
    cr_assert_eq(st.code, PL_ERR_IO);
    cr_assert(strstr(st.msg, "/nonexistent/x.gguf"), "%s", st.msg);
    cr_assert_null(gguf_open("/tmp", &st));
    cr_assert_eq(st.code, PL_ERR_IO, "a folder: %s", st.msg);
    char path[] = "/tmp/parley-gguf-empty-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_null(gguf_open(path, &st));
    cr_assert_eq(st.code, PL_ERR_FORMAT, "empty file: %s", st.msg);
    unlink(path);
    cr_assert_null(gguf_open_mem(NULL, 0, "n.gguf", &st));
    cr_assert_eq(st.code, PL_ERR_FORMAT);
}

/* The resident copy holds the same tensor bytes as the mapping, outside it,
 * aligned for 2 MiB pages; keys still read from the mapping. */
Test(gguf_file, resident_copy_equals_the_mapping)
{
    char path[] = "/tmp/parley-gguf-res-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    pl_status st;
    float big[4096];
    for (int i = 0; i < 4096; i++) big[i] = (float)(i * 7919 % 1000) / 37.0f - 13.0f;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_str(w, "general.name", "resident");
    uint64_t ne1[1] = { 8 }, ne2[2] = { 64, 64 };
    gguf_writer_add_tensor(w, "n", PL_TYPE_F32, 1, ne1, gt_norm);
    gguf_writer_add_tensor(w, "big", PL_TYPE_F32, 2, ne2, big);
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
    gguf_file *m = gguf_open(path, &st), *r = gguf_open_ex(path, GGUF_RESIDENT, &st);
    cr_assert(m && r, "%s", st.msg);
    cr_assert_null(m->resident);
    cr_assert_not_null(r->resident, "a small file fits in memory: it must be copied");
    for (uint64_t i = 0; i < r->n_tensors; i++) {
        const gguf_tensor *a = &m->tensors[i], *b = &r->tensors[i];
        const uint8_t *p = b->data;
        cr_assert(p < r->base || p >= r->base + r->size, "tensor %llu still in the mapping", (unsigned long long)i);
        cr_assert_eq(a->nbytes, b->nbytes);
        cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "tensor %llu differs", (unsigned long long)i);
        cr_assert_eq(((uintptr_t)p - (uintptr_t)r->tensors[0].data) % r->alignment, 0);
    }
    cr_assert_eq((uintptr_t)gguf_find_tensor(r, "n")->data % ((uintptr_t)2 << 20), 0,
                 "the first tensor starts a 2 MiB page");
    char name[32];
    cr_assert(gguf_get_cstr(r, "general.name", name, sizeof name) && !strcmp(name, "resident"));
    gguf_close(m);
    gguf_close(r);
    unlink(path);
}

/* ---- the real default model ---------------------------------------------- */

/* Path of the default model; fails the test (with the fix) when absent. */
static const char *model_path(char *buf, size_t len)
{
    const char *p = getenv("PARLEY_MODEL");
    if (p && *p) snprintf(buf, len, "%s", p);
    else snprintf(buf, len, "%s/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                  getenv("HOME") ? getenv("HOME") : "");
    cr_assert_eq(access(buf, R_OK), 0, "default model %s is missing: run `make model`", buf);
    return buf;
}

/* Facts from the python gguf package (gguf 0.x GGUFReader) on this file. */
Test(gguf_model, smollm2_metadata_and_tensors, .timeout = 30)
{
    char path[1024];
    pl_status st;
    gguf_file *f = gguf_open(model_path(path, sizeof path), &st);
    cr_assert_not_null(f, "%s", st.msg);
    char arch[32];
    uint32_t u;
    cr_assert(gguf_get_cstr(f, "general.architecture", arch, sizeof arch) && !strcmp(arch, "llama"));
    cr_assert(gguf_get_u32(f, "llama.block_count", &u) && u == 30);
    cr_assert(gguf_get_u32(f, "llama.embedding_length", &u) && u == 576);
    cr_assert(gguf_get_u32(f, "tokenizer.ggml.eos_token_id", &u) && u == 2);
    cr_assert_eq(f->version, 3);
    cr_assert_eq(f->n_kv, 33);
    cr_assert_eq(f->n_tensors, 272);
    cr_assert_eq(f->alignment, 32);
    cr_assert_eq(f->data_offset, 1785664);
    uint64_t n; const void *d;
    cr_assert(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &n, &d) && n == 49152);
    const gguf_str *tok = d;
    cr_assert(gguf_str_eq(tok[1], "<|im_start|>") && gguf_str_eq(tok[49151], "ectable"));
    cr_assert(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &n, &d) && n == 48900);
    cr_assert(gguf_str_eq(((const gguf_str *)d)[0], "\xc4\xa0 t"));
    int64_t tt;
    cr_assert(gguf_arr_get_i64(gguf_find_kv(f, "tokenizer.ggml.token_type"), 0, &tt) && tt == 3);
    int by_type[PL_TYPE_COUNT] = { 0 };
    for (uint64_t i = 0; i < f->n_tensors; i++) by_type[f->tensors[i].type]++;
    cr_assert(by_type[PL_TYPE_Q4_1] == 210 && by_type[PL_TYPE_F32] == 61 && by_type[PL_TYPE_Q8_0] == 1);
    const gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
    cr_assert(t && t->type == PL_TYPE_Q8_0 && t->ne[0] == 576 && t->ne[1] == 49152 && t->nbytes == 30081024);
    t = gguf_find_tensor(f, "output_norm.weight");
    cr_assert(t && t->offset + f->data_offset == 98360128 && t->nbytes == 2304);
    cr_assert_eq(f->size, 98362432, "the last tensor ends the file");
    gguf_close(f);
}
