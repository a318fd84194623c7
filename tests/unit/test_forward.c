/* test_forward.c — the one decoder forward: a prefill and token-by-token
 * decoding give the same logits, bit for bit, for every architecture.
 *
 * A prompt of N tokens in one batch (backends/cpu/decode_prefill.c: matmuls on the pool, the
 * element-wise steps row by row on the pool) against N single-token steps
 * (decode_fused.c: one pool dispatch per token, steps fused into work items
 * and serial tails). Both must call the same row functions and attention
 * items, so any step one path does differently (a bias, a head norm, a post-
 * norm, the GELU, a window, a sliding layer's rope base, the soft cap, the
 * query scale) shows up here as unequal logits. 3 threads on a 2-core machine,
 * so the fused step also runs with a thread the OS has not scheduled.
 *
 * Models: the tiny random-weight llama / gemma3 (windows of 8 and 16 on every
 * other layer: 45 tokens cross them) / qwen2 (biases) / qwen3 (head norms)
 * fixtures in f32 and q8_0, and the default SmolLM2 (Q4_1). Their weight types
 * run the same matmul kernel for one row and for many; K-quants do not (their
 * batched kernel sums in another order), so Gemma 3 270M Q4_K_M is compared
 * within a tolerance by tests/e2e/test_batch.c instead. KV caches: F16 (gemma
 * and qwen take llama.cpp's exact attention arithmetic there) and F32 (the
 * blocked kernel for every family).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/common/fixture.h"

#define TF_N 45   /* prompt tokens */

/* Logits after tokens[0..n) fed in one batch (per_token false) or one at a time. */
static float *tf_logits(pl_model *m, const int32_t *toks, int n, pl_type kv, int threads,
                        bool per_token)
{
    pl_status st;
    pl_ctx_params p = pl_ctx_default_params();
    p.n_ctx = 128, p.n_batch = 64, p.n_threads = threads, p.type_k = kv, p.type_v = kv;
    pl_ctx *c = pl_ctx_new(m, &p, &st);
    cr_assert(c, "%s", st.msg);
    int seq = pl_seq_new(c, &st);
    cr_assert(seq >= 0, "%s", st.msg);
    if (per_token)
        for (int i = 0; i < n; i++) cr_assert_eq(pl_decode(c, seq, &toks[i], 1, &st), 0, "%s", st.msg);
    else
        cr_assert_eq(pl_decode(c, seq, toks, n, &st), 0, "%s", st.msg);
    const int nv = pl_n_vocab(m);
    float *out = malloc(sizeof(float) * nv);
    memcpy(out, pl_logits(c, seq), sizeof(float) * nv);
    pl_ctx_free(c);
    return out;
}

/* Prefill == token by token, exactly, for KV types F16 and F32 and 2 or 3 threads. */
static void tf_check(const char *path)
{
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s", st.msg);
    const int nv = pl_n_vocab(m);
    int32_t toks[TF_N];
    for (int i = 0; i < TF_N; i++) toks[i] = (i * 7919 + 13) % (nv < 5000 ? nv : 5000) + 1;
    const pl_type kvs[] = { PL_TYPE_F16, PL_TYPE_F32 };
    for (int k = 0; k < 2; k++)
        for (int threads = 2; threads <= 3; threads++) {
            float *batch = tf_logits(m, toks, TF_N, kvs[k], threads, false);
            float *step = tf_logits(m, toks, TF_N, kvs[k], threads, true);
            int differ = 0, first = -1;
            for (int i = 0; i < nv; i++)
                if (batch[i] != step[i] && differ++ == 0) first = i;
            cr_expect_eq(differ, 0, "%s, KV %s, %d threads: %d of %d logits differ between "
                         "one batch and token by token (first: [%d] %.9g vs %.9g)", path,
                         kvs[k] == PL_TYPE_F16 ? "f16" : "f32", threads, differ, nv, first,
                         first >= 0 ? batch[first] : 0.0, first >= 0 ? step[first] : 0.0);
            free(batch);
            free(step);
        }
    pl_model_free(m);
}

/* One synthetic fixture model by name. */
static void tf_synth(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/synth-%s.gguf", fixt_src_dir(), name);
    tf_check(path);
}

Test(forward_equal, llama_f32) { tf_synth("f32"); }
Test(forward_equal, llama_q8_0) { tf_synth("q8_0"); }
Test(forward_equal, gemma3_f32_window_8) { tf_synth("gemma3-f32"); }
Test(forward_equal, gemma3_q8_0_window_16) { tf_synth("gemma3-q8_0"); }
Test(forward_equal, qwen2_f32_biases) { tf_synth("qwen2-f32"); }
Test(forward_equal, qwen2_q8_0_biases) { tf_synth("qwen2-q8_0"); }
Test(forward_equal, qwen3_f32_head_norms) { tf_synth("qwen3-f32"); }
Test(forward_equal, default_model_smollm2, .timeout = 120)
{
    tf_check(fixt_model("PARLEY_MODEL", "model"));
}
