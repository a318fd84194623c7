/* fuzz_gguf.c — libFuzzer target for the GGUF reader (`make fuzz`).
 *
 * gguf_open_mem must refuse any malformed input with a status, and whatever
 * it accepts must be safe to use: so on success this touches every byte the
 * reader vouched for (first and last byte of each key, string, array and
 * tensor) and runs every lookup, letting ASan catch a pointer the validation
 * got wrong. Inputs that crash go to tests/fuzz/regress/ and are replayed by
 * the gguf_bad/fuzz_corpus_and_regressions_replay unit test.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"

static volatile uint8_t fz_sink;

/* Read the first and last byte of a range the reader says is in the file. */
static void fz_touch(const void *p, uint64_t n)
{
    if (!n) return;
    fz_sink ^= ((const uint8_t *)p)[0] ^ ((const uint8_t *)p)[n - 1];
}

/* A NUL-terminated copy of a file string, for the lookup calls. */
static char *fz_cstr(gguf_str s)
{
    char *c = malloc((size_t)s.len + 1);
    if (!c) return NULL;
    memcpy(c, s.ptr, (size_t)s.len);
    c[s.len] = 0;
    return c;
}

/* Every getter on one kv; results are ignored, only safety matters. */
static void fz_kv(const gguf_file *f, const gguf_kv *kv)
{
    fz_touch(kv->key.ptr, kv->key.len);
    char *key = fz_cstr(kv->key);
    if (!key) return;
    uint32_t u32; int32_t i32; uint64_t u64; int64_t i64; float fl; bool b; gguf_str s; char buf[8];
    const void *d; uint64_t n;
    if (gguf_find_kv(f, key) != kv) abort();   /* keys are unique and NUL-free */
    gguf_get_u32(f, key, &u32); gguf_get_i32(f, key, &i32); gguf_get_u64(f, key, &u64);
    gguf_get_i64(f, key, &i64); gguf_get_f32(f, key, &fl); gguf_get_bool(f, key, &b);
    if (gguf_get_str(f, key, &s)) fz_touch(s.ptr, s.len);
    gguf_get_cstr(f, key, buf, sizeof buf);
    if (kv->type == GGUF_ARRAY && gguf_get_arr(f, key, kv->arr_type, &n, &d)) {
        if (kv->arr_type == GGUF_STRING)
            for (uint64_t i = 0; i < n; i++) fz_touch(kv->strs[i].ptr, kv->strs[i].len);
        else
            fz_touch(d, n * gguf_vtype_size(kv->arr_type));
        if (n) { gguf_arr_get_i64(kv, n - 1, &i64); gguf_arr_get_f32(kv, n - 1, &fl); }
    }
    free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_status st;
    gguf_file *f = gguf_open_mem(data, size, "fuzz.gguf", &st);
    if (!f) {
        if (st.code == PL_OK || !st.msg[0]) abort();   /* a failure must say why */
        return 0;
    }
    for (uint64_t i = 0; i < f->n_kv; i++) fz_kv(f, &f->kv[i]);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        fz_touch(t->name.ptr, t->name.len);
        fz_touch(t->data, t->nbytes);
        char *name = fz_cstr(t->name);
        if (name && gguf_find_tensor(f, name) != t) abort();   /* names are unique */
        free(name);
    }
    gguf_close(f);
    return 0;
}
