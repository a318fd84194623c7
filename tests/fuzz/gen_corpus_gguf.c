/* gen_corpus_gguf.c — writes the fuzzer's seed files (tests/fuzz/corpus_gguf/) with our writer.
 *
 * Seeds are small valid files covering each part of the format (every value
 * type, string arrays, several tensor types, v2, a non-default alignment), so
 * the fuzzer starts from inputs that reach deep into the parser. Rebuild with:
 *   cc -std=c17 -D_GNU_SOURCE -I. tests/fuzz/gen_corpus_gguf.c engine/gguf*.c engine/status.c \
 *      -o /tmp/gen && /tmp/gen tests/fuzz/corpus_gguf
 */
#include <stdio.h>
#include <string.h>

#include "engine/gguf.h"

static uint8_t blob[4096];

/* Write w to dir/name; 1 on failure. */
static int gen_save(gguf_writer *w, const char *dir, const char *name)
{
    char path[1024];
    pl_status st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int bad = gguf_writer_write_file(w, path, &st) != PL_OK;
    if (bad) fprintf(stderr, "%s\n", st.msg);
    gguf_writer_free(w);
    return bad;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus_gguf";
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 31 + 7);
    int bad = 0;
    const char *toks[] = { "<s>", "</s>", "a", "b", "ab", "" };
    int32_t types[6] = { 3, 3, 1, 1, 1, 1 };
    float scores[6] = { 0, 0, -1, -2, -3, -4 };
    uint64_t ne2[2] = { 32, 2 }, ne1[1] = { 8 }, nek[2] = { 256, 1 }, ne4[4] = { 2, 2, 2, 2 };

    gguf_writer *w = gguf_writer_new();               /* a tiny llama-like model */
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.block_count", 1);
    gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", toks, 6);
    gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, 6);
    gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, 6);
    gguf_writer_add_tensor(w, "token_embd.weight", PL_TYPE_Q4_1, 2, ne2, blob);
    gguf_writer_add_tensor(w, "blk.0.attn_q.weight", PL_TYPE_Q8_0, 2, ne2, blob);
    gguf_writer_add_tensor(w, "output_norm.weight", PL_TYPE_F32, 1, ne1, blob);
    bad |= gen_save(w, dir, "llama_tiny.gguf");

    w = gguf_writer_new();                            /* every scalar type */
    uint8_t u8 = 1; int8_t i8 = -1; uint16_t u16 = 2; int16_t i16 = -2; uint64_t u64 = 5;
    int64_t i64 = -5; double f64 = 0.5;
    gguf_writer_add_kv(w, "u8", GGUF_UINT8, &u8); gguf_writer_add_kv(w, "i8", GGUF_INT8, &i8);
    gguf_writer_add_kv(w, "u16", GGUF_UINT16, &u16); gguf_writer_add_kv(w, "i16", GGUF_INT16, &i16);
    gguf_writer_add_u32(w, "u32", 3); gguf_writer_add_i32(w, "i32", -3);
    gguf_writer_add_kv(w, "u64", GGUF_UINT64, &u64); gguf_writer_add_kv(w, "i64", GGUF_INT64, &i64);
    gguf_writer_add_kv(w, "f64", GGUF_FLOAT64, &f64); gguf_writer_add_f32(w, "f32", 1.5f);
    gguf_writer_add_bool(w, "b", false); gguf_writer_add_str(w, "s", "str");
    gguf_writer_add_arr(w, "a.u16", GGUF_UINT16, blob, 4);
    gguf_writer_add_arr(w, "a.f64", GGUF_FLOAT64, blob, 2);
    bad |= gen_save(w, dir, "all_types.gguf");

    w = gguf_writer_new();                            /* v2, alignment 64, K-quant, 4-D */
    gguf_writer_set_version(w, 2);
    gguf_writer_add_u32(w, "general.alignment", 64);
    gguf_writer_add_tensor(w, "k", PL_TYPE_Q4_K, 2, nek, blob);
    gguf_writer_add_tensor(w, "h", PL_TYPE_F16, 4, ne4, blob);
    gguf_writer_add_tensor(w, "b", PL_TYPE_BF16, 1, ne1, blob);
    bad |= gen_save(w, dir, "v2_align64.gguf");

    w = gguf_writer_new();                            /* header only */
    bad |= gen_save(w, dir, "empty_v3.gguf");
    return bad;
}
