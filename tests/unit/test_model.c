/* test_model.c — model loading, the paged KV cache and sequence operations.
 *
 * Loading errors are what a user sees for a broken or foreign file, so each
 * test builds a small GGUF with our writer, breaks one thing, and checks the
 * message names it. The KV cache tests drive kv_cache.c directly (fork shares,
 * copy-on-write, truncation frees, shift moves and re-rotates); the context
 * tests run the tiny synthetic models from tests/fixtures/models/.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/context_impl.h"
#include "engine/gguf.h"
#include "engine/kv_cache.h"
#include "engine/model.h"

/* ---- a tiny llama GGUF, broken on request ------------------------------ */

enum { TM_EMBD = 32, TM_HEADS = 2, TM_KV = 1, TM_FF = 64, TM_VOCAB = 8 };
static float tm_zeros[TM_VOCAB * TM_FF * 4];

typedef struct tm_opts {
    const char *arch;          /* general.architecture */
    const char *skip_tensor;   /* leave this tensor out */
    const char *skip_key;      /* leave this key out */
    uint64_t    k_rows;        /* attn_k rows (0 = right) */
} tm_opts;

/* Add a 2-D f32 tensor of zeros (ne0 = cols). */
static void tm_tensor(gguf_writer *w, const tm_opts *o, const char *name, uint64_t ne0, uint64_t ne1)
{
    if (o->skip_tensor && strcmp(o->skip_tensor, name) == 0) return;
    uint64_t ne[2] = { ne0, ne1 };
    cr_assert_eq(gguf_writer_add_tensor(w, name, PL_TYPE_F32, ne1 ? 2 : 1, ne, tm_zeros), PL_OK);
}

/* Write the file to a temp path (caller unlinks). */
static void tm_write(const tm_opts *o, char *path)
{
    gguf_writer *w = gguf_writer_new();
    const char *a = o->arch ? o->arch : "llama";
    gguf_writer_add_str(w, "general.architecture", a);
    struct { const char *k; uint32_t v; } keys[] = {
        { "block_count", 1 }, { "embedding_length", TM_EMBD }, { "feed_forward_length", TM_FF },
        { "attention.head_count", TM_HEADS }, { "attention.head_count_kv", TM_KV },
    };
    char key[128];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", a, keys[i].k);
        if (!o->skip_key || strcmp(o->skip_key, key) != 0) gguf_writer_add_u32(w, key, keys[i].v);
    }
    const int hd = TM_EMBD / TM_HEADS;
    tm_tensor(w, o, "token_embd.weight", TM_EMBD, TM_VOCAB);
    tm_tensor(w, o, "output_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.attn_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.attn_q.weight", TM_EMBD, TM_EMBD);
    tm_tensor(w, o, "blk.0.attn_k.weight", TM_EMBD, o->k_rows ? o->k_rows : TM_KV * hd);
    tm_tensor(w, o, "blk.0.attn_v.weight", TM_EMBD, TM_KV * hd);
    tm_tensor(w, o, "blk.0.attn_output.weight", TM_EMBD, TM_EMBD);
    tm_tensor(w, o, "blk.0.ffn_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.ffn_gate.weight", TM_EMBD, TM_FF);
    tm_tensor(w, o, "blk.0.ffn_up.weight", TM_EMBD, TM_FF);
    tm_tensor(w, o, "blk.0.ffn_down.weight", TM_FF, TM_EMBD);
    strcpy(path, "/tmp/parley-test-model-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    pl_status st;
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
}

/* Load a broken file; expect failure with code and every needle in the message. */
static void tm_expect_error(const tm_opts *o, pl_code code, const char *n1, const char *n2)
{
    char path[64];
    tm_write(o, path);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert_null(m, "a broken model loaded");
    cr_expect_eq(st.code, code, "code %d, message: %s", st.code, st.msg);
    cr_expect(strstr(st.msg, n1), "'%s' not in: %s", n1, st.msg);
    cr_expect(!n2 || strstr(st.msg, n2), "'%s' not in: %s", n2, st.msg);
    cr_expect(strstr(st.msg, path), "file name not in: %s", st.msg);
}

Test(model_load, unknown_architecture_names_it_and_lists_supported)
{
    tm_opts o = { .arch = "mamba" };
    tm_expect_error(&o, PL_ERR_UNSUPPORTED, "'mamba' is not supported", "llama");
}

Test(model_load, missing_tensor_is_named)
{
    tm_opts o = { .skip_tensor = "blk.0.ffn_up.weight" };
    tm_expect_error(&o, PL_ERR_FORMAT, "blk.0.ffn_up.weight", "missing");
}

Test(model_load, misshaped_tensor_is_named_with_both_shapes)
{
    tm_opts o = { .k_rows = 24 };
    tm_expect_error(&o, PL_ERR_FORMAT, "blk.0.attn_k.weight has shape [32, 24]", "expected [32, 16]");
}

Test(model_load, missing_hyperparameter_is_named)
{
    tm_opts o = { .skip_key = "llama.embedding_length" };
    tm_expect_error(&o, PL_ERR_FORMAT, "llama.embedding_length", NULL);
}

/* A tensor's path under the repository. */
static void fixture_path(char *out, size_t len, const char *file)
{
    const char *src = getenv("PARLEY_SRC");
    snprintf(out, len, "%s/tests/fixtures/models/%s", src && *src ? src : ".", file);
}

static pl_model *load_fixture_model(const char *file)
{
    char path[1024];
    fixture_path(path, sizeof path, file);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s (regenerate with scripts/gen-synthetic-models.py)", st.msg);
    return m;
}

Test(model_load, synthetic_model_info_and_tied_output)
{
    pl_model *m = load_fixture_model("synth-f32.gguf");
    pl_model_info mi;
    pl_model_get_info(m, &mi);
    cr_expect_str_eq(mi.arch, "llama");
    cr_expect_str_eq(mi.ftype, "f32");
    cr_expect_eq(mi.n_layer, 2);
    cr_expect_eq(mi.n_embd, 64);
    cr_expect_eq(mi.n_head, 4);
    cr_expect_eq(mi.n_head_kv, 2);
    cr_expect_eq(mi.n_vocab, 1024);
    cr_expect_eq(m->output.data, m->tok_embd.data, "no output.weight: the embeddings are the output");
    pl_model_free(m);
    m = load_fixture_model("synth-f16.gguf");
    cr_expect_neq(m->output.data, m->tok_embd.data, "output.weight present: used");
    cr_expect_eq(m->output.type, PL_TYPE_F16);
    cr_expect_float_eq(m->hp.rope_base, 500000.0f, 1e-3);
    pl_model_free(m);
    m = load_fixture_model("synth-q4_1.gguf");
    cr_expect_float_eq(m->hp.rope_scale, 0.5f, 1e-7, "linear rope scaling factor 2");
    pl_model_free(m);
}

/* Llama 3.1 divisors computed from rope.scaling.* keys equal the rope_freqs tensor
 * the generator wrote from Meta's formula (two implementations, one answer). */
Test(model_load, llama3_rope_factors_match_rope_freqs_tensor)
{
    pl_model *m = load_fixture_model("synth-q8_0.gguf");
    cr_assert_not_null(m->rope_freqs.data, "synth-q8_0 carries rope_freqs.weight");
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_str(w, "llama.rope.scaling.type", "llama3");
    gguf_writer_add_f32(w, "llama.rope.scaling.factor", 8.0f);
    gguf_writer_add_f32(w, "llama.rope.scaling.low_freq_factor", 1.0f);
    gguf_writer_add_f32(w, "llama.rope.scaling.high_freq_factor", 4.0f);
    gguf_writer_add_u32(w, "llama.rope.scaling.original_context_length", 8192);
    void *img;
    size_t n;
    pl_status st;
    cr_assert_eq(gguf_writer_write_mem(w, &img, &n, &st), PL_OK, "%s", st.msg);
    gguf_file *f = gguf_open_mem(img, n, "keys", &st);
    cr_assert(f, "%s", st.msg);
    float got[64];
    cr_assert(rope_llama3_factors(f, "llama", &m->hp, got));
    const float *want = m->rope_freqs.data;
    bool some_scaled = false;
    for (uint32_t i = 0; i < m->hp.n_rot / 2; i++) {
        cr_expect_float_eq(got[i], want[i], 1e-5f * want[i], "factor %u: %g vs %g", i, got[i], want[i]);
        cr_expect_float_eq(m->rope_div[i], want[i], 0.0f);
        some_scaled |= want[i] > 1.0f;
    }
    cr_expect(some_scaled, "the fixture should exercise scaled frequencies");
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
    pl_model_free(m);
}
