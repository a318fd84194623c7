/* gguf_test_util.h — small GGUF images for the gguf_* suites, built with our writer.
 *
 * Why a header of static helpers: test_gguf.c (valid files) and
 * test_gguf_bad.c (corrupted ones) start from the same images, and the
 * corruption tests find the byte to patch by reading the valid image back
 * (a key's type field sits right after the key bytes, and so on), so the
 * tests follow the writer's layout instead of hard-coding offsets.
 */
#ifndef GGUF_TEST_UTIL_H
#define GGUF_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"

typedef struct gt_image { uint8_t *p; size_t n; } gt_image;

/* Tensor payloads shared by the images (static: the writer borrows them). */
static float gt_norm[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static uint8_t gt_q4[2 * sizeof(block_q4_0)];

/* Serialize w into an image and free w; the test fails if writing fails. */
static inline gt_image gt_finish(gguf_writer *w)
{
    gt_image im = { 0 };
    pl_status st;
    void *p = NULL;
    cr_assert_eq(gguf_writer_write_mem(w, &p, &im.n, &st), PL_OK, "%s", st.msg);
    im.p = p;
    gguf_writer_free(w);
    return im;
}

/* A small valid file: a few kvs (string, u32, string array, f32 array) and two
 * tensors, the last one 32 bytes so the file ends exactly at its data (every
 * shorter prefix is a truncated file). */
static inline gt_image gt_small(void)
{
    for (size_t i = 0; i < sizeof gt_q4; i++) gt_q4[i] = (uint8_t)(i * 7 + 1);
    gguf_writer *w = gguf_writer_new();
    const char *toks[] = { "<s>", "hello", "" };
    float scores[2] = { 0.5f, -1.5f };
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.block_count", 2);
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", toks, 3);
    gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, 2);
    uint64_t ne_w[2] = { 64, 1 }, ne_n[1] = { 8 };
    gguf_writer_add_tensor(w, "blk.0.attn_q.weight", PL_TYPE_Q4_0, 2, ne_w, gt_q4);
    gguf_writer_add_tensor(w, "output_norm.weight", PL_TYPE_F32, 1, ne_n, gt_norm);
    return gt_finish(w);
}

/* Open a copy of exactly n bytes of im (so ASan sees any overread). */
static inline gguf_file *gt_open_prefix(const gt_image *im, size_t n, uint8_t **copy, pl_status *st)
{
    *copy = malloc(n ? n : 1);
    cr_assert(*copy);
    memcpy(*copy, im->p, n);
    return gguf_open_mem(*copy, n, "test.gguf", st);
}

/* Offset of a pointer into an open file's image. */
static inline size_t gt_off(const gguf_file *f, const void *p)
{
    return (size_t)((const uint8_t *)p - f->base);
}

/* Offsets of the fields of a kv / tensor info in the image. */
static inline size_t gt_kv_type_off(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    cr_assert(kv, "no kv %s", key);
    return gt_off(f, kv->key.ptr) + (size_t)kv->key.len;
}

static inline size_t gt_tensor_field_off(const gguf_file *f, const char *name, const char *field)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    cr_assert(t, "no tensor %s", name);
    size_t o = gt_off(f, t->name.ptr) + (size_t)t->name.len;   /* n_dims */
    if (!strcmp(field, "n_dims")) return o;
    if (!strcmp(field, "ne")) return o + 4;
    if (!strcmp(field, "type")) return o + 4 + 8 * t->n_dims;
    return o + 4 + 8 * t->n_dims + 4;                           /* offset */
}

static inline void gt_put_u32(gt_image *im, size_t off, uint32_t v) { memcpy(im->p + off, &v, 4); }
static inline void gt_put_u64(gt_image *im, size_t off, uint64_t v) { memcpy(im->p + off, &v, 8); }

/* Open im and expect failure with code; the message must name the file and contain want. */
static inline void gt_expect_fail(const gt_image *im, pl_code code, const char *want)
{
    pl_status st = { 0 };
    uint8_t *copy;
    gguf_file *f = gt_open_prefix(im, im->n, &copy, &st);
    cr_assert_null(f, "corrupt file was accepted (expected '%s')", want);
    cr_assert_eq(st.code, code, "code %d, want %d: %s", st.code, code, st.msg);
    cr_assert(strstr(st.msg, "test.gguf"), "message does not name the file: %s", st.msg);
    cr_assert(strstr(st.msg, want), "message '%s' lacks '%s'", st.msg, want);
    free(copy);
}

#endif
