/* test_arch.c — the architecture table beyond llama: which files load, with
 * which hyper-parameters and tensors, and which layers slide a window.
 *
 * A wrong hyper-parameter here is a model that loads and then talks nonsense,
 * so each is checked against the values the synthetic models were written with
 * (scripts/gen-synthetic-models.py) and against llama.cpp's rules: Gemma 3's
 * local layers are il % 6 < 5 unless the file gives another pattern, their rope
 * base is 10000 unless rope.freq_base_swa says otherwise.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/model.h"

/* Load tests/fixtures/models/synth-<name>.gguf. */
static pl_model *ta_load(const char *name)
{
    const char *src = getenv("PARLEY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/synth-%s.gguf", src && *src ? src : ".", name);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s", st.msg);
    return m;
}

Test(arch_table, new_architectures_are_supported_and_listed)
{
    cr_expect(pl_arch_supported("gemma3"));
    cr_expect(pl_arch_supported("qwen2"));
    cr_expect(pl_arch_supported("qwen3"));
    cr_expect_not(pl_arch_supported("gemma2"));
    pl_status st;
    cr_assert_null(arch_find("phi3", &st));
    cr_expect(strstr(st.msg, "supported: llama, qwen2, qwen3, gemma3"), "%s", st.msg);
}

/* Layer il local for n_swa 512 and the given pattern. */
static bool ta_swa(uint32_t pattern, int il)
{
    pl_hparams hp = { .n_swa = 512, .swa_pattern = pattern };
    return hp_layer_is_swa(&hp, il);
}

Test(arch_table, sliding_window_layers_follow_llama_cpp)
{
    for (int il = 0; il < 18; il++)   /* Gemma 3 270M: global layers 5, 11, 17 */
        cr_expect_eq(ta_swa(6, il), il % 6 != 5, "layer %d", il);
    cr_expect(ta_swa(0, 3), "pattern 0: every layer is local");
    cr_expect_not(ta_swa(1, 3), "pattern 1: no layer is local");
    pl_hparams none = { .n_swa = 0, .swa_pattern = 6 };
    cr_expect_not(hp_layer_is_swa(&none, 0), "no window, no local layer");
}

Test(arch_load, gemma3_hyperparameters_and_tensors)
{
    pl_model *m = ta_load("gemma3-f32");
    const pl_hparams *hp = &m->hp;
    cr_expect_eq(m->arch->family, ARCH_FAMILY_GEMMA);
    cr_expect_eq(hp->head_dim, 32u, "key_length 32 != n_embd / n_head 16");
    cr_expect_eq(hp->n_swa, 8u);
    cr_expect_eq(hp->swa_pattern, 2u, "the file's pattern overrides the default 6");
    cr_expect_float_eq(hp->rope_base_swa, 20000.0f, 1e-3);
    cr_expect_float_eq(hp->rope_base, 1e6f, 1.0);
    cr_expect_float_eq(hp->final_softcap, 5.0f, 1e-6);
    cr_expect_float_eq(hp->attn_scale, 1.0f / sqrtf(32.0f), 1e-7);
    cr_expect_float_eq(hp->norm_eps, 1e-6f, 1e-9);
    cr_expect(hp_layer_is_swa(hp, 0) && !hp_layer_is_swa(hp, 1));
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const pl_layer *L = &m->layers[il];
        cr_expect(L->attn_q_norm.data && L->attn_k_norm.data && L->attn_post_norm.data &&
                  L->ffn_post_norm.data, "layer %u: gemma norms not bound", il);
        cr_expect_eq(L->attn_q_norm.cols, 32);
        cr_expect_null(L->bq.data, "gemma has no biases");
    }
    cr_expect_eq(m->output.data, m->tok_embd.data, "tied output");
    pl_model_free(m);
}

Test(arch_load, qwen2_biases_and_qwen3_head_norms)
{
    pl_model *q2 = ta_load("qwen2-f32");
    cr_expect_eq(q2->arch->family, ARCH_FAMILY_QWEN);
    cr_expect_eq(q2->arch->rope, ARCH_ROPE_NEOX);
    cr_expect_eq(q2->hp.n_swa, 0u, "qwen2 never slides a window");
    const pl_layer *L = &q2->layers[1];
    cr_expect(L->bq.data && L->bk.data && L->bv.data, "qwen2 biases not bound");
    cr_expect_eq(L->bq.cols, (int64_t)q2->hp.n_head * q2->hp.head_dim);
    cr_expect_eq(L->bk.cols, (int64_t)q2->hp.n_head_kv * q2->hp.head_dim);
    cr_expect_null(L->attn_q_norm.data);
    pl_model_free(q2);
    pl_model *q3 = ta_load("qwen3-f32");
    cr_expect_eq(q3->hp.head_dim, 32u);
    cr_expect(q3->layers[0].attn_q_norm.data && q3->layers[0].attn_k_norm.data);
    cr_expect_null(q3->layers[0].bq.data, "qwen3 has no biases");
    cr_expect_float_eq(q3->hp.final_softcap, 0.0f, 0.0, "no cap unless the file has one");
    pl_model_free(q3);
}

/* A gemma3 file whose sliding_window_pattern is a per-layer array: refused by name. */
Test(arch_load, per_layer_window_pattern_is_refused_by_name)
{
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_str(w, "general.architecture", "gemma3");
    const char *u32s[] = { "block_count", "embedding_length", "feed_forward_length",
                           "attention.head_count", "attention.sliding_window" };
    const uint32_t vals[] = { 2, 64, 128, 4, 16 };
    char key[128];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "gemma3.%s", u32s[i]);
        gguf_writer_add_u32(w, key, vals[i]);
    }
    const bool pattern[2] = { true, false };
    gguf_writer_add_arr(w, "gemma3.attention.sliding_window_pattern", GGUF_BOOL, pattern, 2);
    char path[] = "/tmp/parley-arch-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    pl_status st;
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
    pl_model *m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert_null(m);
    cr_expect_eq(st.code, PL_ERR_UNSUPPORTED);
    cr_expect(strstr(st.msg, "gemma3.attention.sliding_window_pattern"), "%s", st.msg);
}
