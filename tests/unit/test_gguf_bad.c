/* test_gguf_bad.c — the GGUF reader on broken and hostile files.
 *
 * Each test starts from a valid image made by our writer, breaks one field
 * (found by reading the valid image back) and checks the reader refuses it
 * with the right pl_code and a message naming the file and the field. Every
 * open runs on a heap copy of exactly the file's bytes, so under
 * `make check-asan` any read past the end is caught. The last test replays
 * the fuzzer's corpus and every crash it ever found (tests/fuzz/regress/gguf/).
 */
#include <dirent.h>
#include <stdio.h>

#include "gguf_test_util.h"

/* Read the valid small image back to locate fields; returns the open file. */
static gguf_file *open_valid(const gt_image *im)
{
    pl_status st;
    gguf_file *f = gguf_open_mem(im->p, im->n, "valid.gguf", &st);
    cr_assert_not_null(f, "%s", st.msg);
    return f;
}

Test(gguf_bad, truncated_at_every_byte)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    const gguf_tensor *last = gguf_find_tensor(f, "output_norm.weight");
    cr_assert_eq((const uint8_t *)last->data + last->nbytes, im.p + im.n, "file ends at the last tensor");
    gguf_close(f);
    for (size_t n = 0; n < im.n; n++) {
        pl_status st = { 0 };
        uint8_t *copy;
        f = gt_open_prefix(&im, n, &copy, &st);
        cr_assert_null(f, "prefix of %zu/%zu bytes accepted", n, im.n);
        cr_assert_eq(st.code, PL_ERR_FORMAT, "prefix %zu: code %d: %s", n, st.code, st.msg);
        cr_assert(strstr(st.msg, "test.gguf"), "prefix %zu: %s", n, st.msg);
        free(copy);
    }
    free(im.p);
}

Test(gguf_bad, wrong_magic)
{
    gt_image im = gt_small();
    im.p[0] = 'g';
    gt_expect_fail(&im, PL_ERR_FORMAT, "not a GGUF file");
    free(im.p);
}

Test(gguf_bad, unsupported_versions)
{
    gt_image im = gt_small();
    gt_put_u32(&im, 4, 1);
    gt_expect_fail(&im, PL_ERR_UNSUPPORTED, "version 1");
    gt_put_u32(&im, 4, 4);
    gt_expect_fail(&im, PL_ERR_UNSUPPORTED, "version 4");
    gt_put_u32(&im, 4, 0x03000000);       /* a big-endian v3 file */
    gt_expect_fail(&im, PL_ERR_UNSUPPORTED, "big-endian");
    free(im.p);
}

Test(gguf_bad, absurd_counts)
{
    static const struct { size_t off; uint64_t v; const char *want; } cases[] = {
        { 16, 1ull << 62, "n_kv" }, { 16, UINT64_MAX, "n_kv" }, { 16, 30, "n_kv" },
        { 8, 1ull << 60, "n_tensors" }, { 8, 12, "n_tensors" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_image im = gt_small();
        gt_put_u64(&im, cases[i].off, cases[i].v);
        gt_expect_fail(&im, PL_ERR_FORMAT, cases[i].want);
        free(im.p);
    }
}

Test(gguf_bad, string_lengths_past_eof)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t key = gt_off(f, gguf_find_kv(f, "llama.block_count")->key.ptr) - 8;
    const gguf_kv *arch = gguf_find_kv(f, "general.architecture");
    size_t val = gt_off(f, arch->data);
    const gguf_kv *toks = gguf_find_kv(f, "tokenizer.ggml.tokens");
    size_t elem = gt_off(f, toks->strs[1].ptr) - 8;
    size_t tname = gt_off(f, gguf_find_tensor(f, "output_norm.weight")->name.ptr) - 8;
    gguf_close(f);
    const struct { size_t off; uint64_t v; const char *want; } cases[] = {
        { key, UINT64_MAX, "kv #1: key runs past end" }, { key, im.n, "key runs past end" },
        { val, 1ull << 40, "kv 'general.architecture': string value runs past end" },
        { elem, im.n - elem - 7, "kv 'tokenizer.ggml.tokens': array string" },
        { tname, UINT64_MAX - 3, "tensor #1: name runs past end" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t keep;
        memcpy(&keep, im.p + cases[i].off, 8);
        gt_put_u64(&im, cases[i].off, cases[i].v);
        gt_expect_fail(&im, PL_ERR_FORMAT, cases[i].want);
        gt_put_u64(&im, cases[i].off, keep);
    }
    free(im.p);
}

Test(gguf_bad, array_headers)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    const gguf_kv *sc = gguf_find_kv(f, "tokenizer.ggml.scores");
    size_t et = gt_off(f, sc->data) - 12, cnt = gt_off(f, sc->data) - 8;
    size_t st_cnt = gt_off(f, gguf_find_kv(f, "tokenizer.ggml.tokens")->data) - 8;
    gguf_close(f);
    const struct { size_t off; int wide; uint64_t v; pl_code code; const char *want; } cases[] = {
        { et, 0, GGUF_ARRAY, PL_ERR_UNSUPPORTED, "arrays of arrays" },
        { et, 0, 13, PL_ERR_FORMAT, "bad array element type id 13" },
        { cnt, 1, 1ull << 61, PL_ERR_FORMAT, "array length" },
        { cnt, 1, UINT64_MAX, PL_ERR_FORMAT, "array length" },
        { st_cnt, 1, 1ull << 40, PL_ERR_FORMAT, "string array length" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gt_image c = { malloc(im.n), im.n };
        memcpy(c.p, im.p, im.n);
        if (cases[i].wide) gt_put_u64(&c, cases[i].off, cases[i].v);
        else gt_put_u32(&c, cases[i].off, (uint32_t)cases[i].v);
        gt_expect_fail(&c, cases[i].code, cases[i].want);
        free(c.p);
    }
    free(im.p);
}

Test(gguf_bad, bad_value_type_ids)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t t = gt_kv_type_off(f, "llama.block_count");
    gguf_close(f);
    gt_put_u32(&im, t, 13);
    gt_expect_fail(&im, PL_ERR_FORMAT, "kv 'llama.block_count': bad value type id 13");
    gt_put_u32(&im, t, 0xffffffffu);
    gt_expect_fail(&im, PL_ERR_FORMAT, "bad value type id 4294967295");
    free(im.p);
}

/* Patch one u32/u64 field of tensor name and expect failure. */
static void tensor_case(const char *name, const char *field, uint64_t v, int wide, pl_code code,
                        const char *want)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t off = gt_tensor_field_off(f, name, field);
    gguf_close(f);
    if (wide) gt_put_u64(&im, off, v);
    else gt_put_u32(&im, off, (uint32_t)v);
    gt_expect_fail(&im, code, want);
    free(im.p);
}

Test(gguf_bad, tensor_dims)
{
    tensor_case("output_norm.weight", "n_dims", 5, 0, PL_ERR_FORMAT, "n_dims 5");
    tensor_case("output_norm.weight", "n_dims", 0, 0, PL_ERR_FORMAT, "n_dims 0");
    tensor_case("output_norm.weight", "n_dims", 0xffffffffu, 0, PL_ERR_FORMAT, "n_dims 4294967295");
    tensor_case("output_norm.weight", "ne", 0, 1, PL_ERR_FORMAT, "tensor 'output_norm.weight': dimension 0 is 0");
    tensor_case("blk.0.attn_q.weight", "ne", 33, 1, PL_ERR_FORMAT, "not a multiple of the q4_0 block size 32");
    tensor_case("blk.0.attn_q.weight", "ne", 1ull << 63, 1, PL_ERR_FORMAT, "overflow");
}

Test(gguf_bad, dims_product_overflow)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t ne = gt_tensor_field_off(f, "blk.0.attn_q.weight", "ne");
    gguf_close(f);
    gt_put_u64(&im, ne, 1ull << 32);          /* 2^32 x 2^32 elements */
    gt_put_u64(&im, ne + 8, 1ull << 32);
    gt_expect_fail(&im, PL_ERR_FORMAT, "dimension 1");
    gt_put_u64(&im, ne, 1ull << 40);          /* 2^40 x 2^20 fits i64 but not the file */
    gt_put_u64(&im, ne + 8, 1ull << 20);
    gt_expect_fail(&im, PL_ERR_FORMAT, "data runs past end of file");
    free(im.p);
}

Test(gguf_bad, tensor_types)
{
    tensor_case("output_norm.weight", "type", 16, 0, PL_ERR_UNSUPPORTED, "type id 16 is not supported");
    tensor_case("output_norm.weight", "type", 4, 0, PL_ERR_UNSUPPORTED, "type id 4");
    tensor_case("output_norm.weight", "type", 1000, 0, PL_ERR_FORMAT, "unknown tensor type id 1000");
}

Test(gguf_bad, tensor_offsets)
{
    tensor_case("output_norm.weight", "offset", 0, 1, PL_ERR_FORMAT,
                "tensor 'blk.0.attn_q.weight' (offset 0, size 36) overlaps tensor 'output_norm.weight'");
    tensor_case("blk.0.attn_q.weight", "offset", 32, 1, PL_ERR_FORMAT,
                "(offset 32, size 36) overlaps tensor 'output_norm.weight' (offset 64)");
    tensor_case("output_norm.weight", "offset", 96, 1, PL_ERR_FORMAT,
                "tensor 'output_norm.weight': data runs past end of file");
    tensor_case("output_norm.weight", "offset", UINT64_MAX - 31, 1, PL_ERR_FORMAT, "runs past end of file");
    /* the offset near 2^64 is printed as it is in the file (it once wrapped to "offset 96") */
    tensor_case("output_norm.weight", "offset", UINT64_MAX - 31, 1, PL_ERR_FORMAT,
                "(offset 18446744073709551584 in the data section at ");
    tensor_case("output_norm.weight", "offset", 65, 1, PL_ERR_FORMAT, "offset 65 is not a multiple of the alignment 32");
}

Test(gguf_bad, bad_alignment)
{
    gt_image im = gt_small();
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_u32(w, "general.alignment", 64);
    uint64_t ne[1] = { 8 };
    gguf_writer_add_tensor(w, "n", PL_TYPE_F32, 1, ne, gt_norm);
    free(im.p);
    im = gt_finish(w);
    gguf_file *f = open_valid(&im);
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    size_t val = gt_off(f, kv->data), type = gt_kv_type_off(f, "general.alignment");
    gguf_close(f);
    static const uint32_t bad[] = { 0, 3, 48, 0xffffffffu };
    for (size_t i = 0; i < 4; i++) {
        gt_put_u32(&im, val, bad[i]);
        gt_expect_fail(&im, PL_ERR_FORMAT, "is not a power of two");
    }
    gt_put_u32(&im, val, 64);
    gt_put_u32(&im, type, GGUF_INT32);
    gt_expect_fail(&im, PL_ERR_FORMAT, "general.alignment has type i32 (must be u32)");
    free(im.p);
}

Test(gguf_bad, duplicates)
{
    /* duplicate keys: rename "tokenizer.ggml.scores" to the same-length "...tokens" */
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t k = gt_off(f, gguf_find_kv(f, "tokenizer.ggml.scores")->key.ptr);
    gguf_close(f);
    memcpy(im.p + k, "tokenizer.ggml.tokens", 21);
    gt_expect_fail(&im, PL_ERR_FORMAT, "duplicate key 'tokenizer.ggml.tokens'");
    free(im.p);

    /* duplicate tensor names: two names differing in one byte, patched equal */
    gguf_writer *w = gguf_writer_new();
    uint64_t ne[1] = { 8 };
    gguf_writer_add_tensor(w, "blk.0.a", PL_TYPE_F32, 1, ne, gt_norm);
    gguf_writer_add_tensor(w, "blk.0.b", PL_TYPE_F32, 1, ne, gt_norm);
    im = gt_finish(w);
    f = open_valid(&im);
    size_t tn = gt_off(f, gguf_find_tensor(f, "blk.0.b")->name.ptr);
    gguf_close(f);
    im.p[tn + 6] = 'a';
    gt_expect_fail(&im, PL_ERR_FORMAT, "duplicate tensor name 'blk.0.a'");
    free(im.p);
}

Test(gguf_bad, nul_bytes_in_names)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t k = gt_off(f, gguf_find_kv(f, "llama.block_count")->key.ptr);
    size_t t = gt_off(f, gguf_find_tensor(f, "output_norm.weight")->name.ptr);
    gguf_close(f);
    im.p[k + 5] = 0;                            /* "llama\0block_count" */
    gt_expect_fail(&im, PL_ERR_FORMAT, "kv #1: key contains a NUL byte");
    im.p[k + 5] = '.';
    im.p[t + 6] = 0;
    gt_expect_fail(&im, PL_ERR_FORMAT, "tensor #1: name contains a NUL byte");
    free(im.p);
}

Test(gguf_bad, hostile_names_are_sanitised_in_messages)
{
    gt_image im = gt_small();
    gguf_file *f = open_valid(&im);
    size_t k = gt_off(f, gguf_find_kv(f, "llama.block_count")->key.ptr);
    size_t t = gt_kv_type_off(f, "llama.block_count");
    gguf_close(f);
    memcpy(im.p + k, "\x1b[2J\n", 5);          /* terminal escape in a key */
    gt_put_u32(&im, t, 99);
    gt_expect_fail(&im, PL_ERR_FORMAT, "kv '?[2J?");
    free(im.p);
}

/* Open every file in dir (must not crash); returns how many were read. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        pl_status st;
        gguf_file *f = gguf_open(path, &st);
        if (f) {   /* accepted: every key and tensor must be found by its own name */
            for (uint64_t i = 0; i < f->n_kv; i++) {
                char key[256];
                snprintf(key, sizeof key, "%.*s", (int)f->kv[i].key.len, f->kv[i].key.ptr);
                cr_assert(f->kv[i].key.len >= sizeof key || gguf_find_kv(f, key) == &f->kv[i],
                          "%s: kv %s not found by name", path, key);
            }
            for (uint64_t i = 0; i < f->n_tensors; i++) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)f->tensors[i].name.len, f->tensors[i].name.ptr);
                cr_assert(f->tensors[i].name.len >= sizeof name || gguf_find_tensor(f, name) == &f->tensors[i],
                          "%s: tensor %s not found by name", path, name);
            }
            gguf_close(f);
        } else {
            cr_assert(st.code == PL_ERR_FORMAT || st.code == PL_ERR_UNSUPPORTED,
                      "%s: code %d: %s", path, st.code, st.msg);
        }
        n++;
    }
    closedir(d);
    return n;
}

Test(gguf_bad, fuzz_corpus_and_regressions_replay)
{
    const char *src = getenv("PARLEY_SRC") ? getenv("PARLEY_SRC") : ".";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus_gguf", src);
    int seeds = replay_dir(dir);
    cr_assert(seeds > 0, "no seed files in %s (run the tests from the repository root)", dir);
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/gguf", src);
    replay_dir(dir);
}
