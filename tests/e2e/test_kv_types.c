/* test_kv_types.c — quantized KV caches and the live KV-type change.
 *
 * On the default model (SmolLM2-135M Q4_1, PARLEY_MODEL), what a user would
 * notice:
 *  - a q8_0 cache gives the f16 cache's next token and logits within 6e-2
 *    (max abs diff / max abs logit; measured 2.3e-2..3.7e-2 over the CPU
 *    paths: the size of llama.cpp's disagreement with itself on this model,
 *    2.4e-2, and of an f32 cache against f16, 1.6e-2). q4_0 (4 bits for a
 *    64-wide head) is coarser: within 0.4 (measured 0.18..0.28); random
 *    output would be off by more than 1.
 *  - pl_ctx_set_kv_types mid-conversation keeps every position (the sequence
 *    length and tokens are unchanged) and the continuation equals a fresh
 *    q8_0 prefill of the same tokens within the same 6e-2 and the same greedy
 *    token (measured 2.7e-2); switching back to f16 works too.
 *  - an unsupported type is refused with a message naming it, the cache
 *    untouched; `parley run --cache-type-k q8_0 --cache-type-v q8_0` answers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/engine.h"
#include "tests/common/fixture.h"

/* A prompt of n tokens from real text. */
static int kt_prompt(pl_model *m, int32_t *toks, int max)
{
    const char *text = "The history of the printing press begins in the fifteenth century, when "
                       "Johannes Gutenberg combined movable metal type, oil-based ink and a wooden "
                       "screw press. Within decades, print shops spread across Europe, books became "
                       "cheaper, and literacy rose. Scholars could compare identical copies of a "
                       "text for the first time, which changed how knowledge was checked and shared.";
    int n = pl_tokenize(m, text, strlen(text), toks, max, true, false);
    cr_assert(n > 40 && n <= max, "prompt tokenized to %d tokens", n);
    return n;
}

/* Prefill the prompt with each cache type: logits near the f16 cache's. */
Test(e2e_kvtype, quantized_cache_logits_near_f16, .timeout = 120)
{
    pl_status st;
    pl_model *m = pl_model_load(fixt_model("PARLEY_MODEL", "model"), NULL, &st);
    cr_assert(m, "%s", st.msg);
    const int nv = pl_n_vocab(m);
    int32_t toks[256];
    const int n = kt_prompt(m, toks, 256);
    const struct { pl_type k, v; double tol; } cases[] = {
        { PL_TYPE_F16, PL_TYPE_F16, 0 }, { PL_TYPE_Q8_0, PL_TYPE_Q8_0, 6e-2 },
        { PL_TYPE_Q8_0, PL_TYPE_F16, 6e-2 }, { PL_TYPE_Q4_0, PL_TYPE_Q4_0, 0.4 },
    };
    float *ref = malloc(sizeof(float) * nv);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pl_ctx *c = fixt_ctx(m, 512, 0, cases[i].k, cases[i].v);
        int s = pl_seq_new(c, &st);
        cr_assert_eq(pl_decode(c, s, toks, n, &st), 0, "%s", st.msg);
        if (i == 0) memcpy(ref, pl_logits(c, s), sizeof(float) * nv);
        double e = fixt_rel_err(pl_logits(c, s), ref, nv);
        cr_expect(e <= cases[i].tol, "k=%s v=%s: logits differ from f16's by %.3g (> %.3g)",
                  pl_type_name(cases[i].k), pl_type_name(cases[i].v), e, cases[i].tol);
        if (cases[i].tol < 0.1)
            cr_expect_eq(fixt_argmax(pl_logits(c, s), nv), fixt_argmax(ref, nv), "k=%s v=%s: next token",
                         pl_type_name(cases[i].k), pl_type_name(cases[i].v));
        pl_ctx_free(c);
    }
    free(ref);
    pl_model_free(m);
}

/* Greedy-decode n_gen tokens after what seq holds, appending them to toks. */
static void kt_generate(pl_ctx *c, int s, int32_t *toks, int *n, int n_gen, int nv)
{
    pl_status st;
    for (int i = 0; i < n_gen; i++) {
        int32_t t = fixt_argmax(pl_logits(c, s), nv);
        cr_assert_eq(pl_decode(c, s, &t, 1, &st), 0, "%s", st.msg);
        toks[(*n)++] = t;
    }
}

/* F16 prefill and generation, switch to q8_0, generate on: the same as a
 * q8_0 cache that held those tokens from the start. */
Test(e2e_kvtype, switch_mid_sequence_equals_fresh, .timeout = 120)
{
    pl_status st;
    pl_model *m = pl_model_load(fixt_model("PARLEY_MODEL", "model"), NULL, &st);
    cr_assert(m, "%s", st.msg);
    const int nv = pl_n_vocab(m);
    int32_t toks[300];
    int n = kt_prompt(m, toks, 256);
    pl_ctx *c = fixt_ctx(m, 512, 0, PL_TYPE_F16, PL_TYPE_F16);
    int s = pl_seq_new(c, &st), fork = -1;
    cr_assert_eq(pl_decode(c, s, toks, n, &st), 0, "%s", st.msg);
    kt_generate(c, s, toks, &n, 12, nv);
    cr_assert((fork = pl_seq_fork(c, s, &st)) >= 0, "%s", st.msg);   /* shared blocks convert once */
    cr_assert_eq(pl_ctx_set_kv_types(c, PL_TYPE_Q8_0, PL_TYPE_Q8_0, &st), 0, "%s", st.msg);
    cr_expect_eq(pl_seq_len(c, s), n, "the switch keeps every position");
    cr_expect_eq(memcmp(pl_seq_tokens(c, s), toks, sizeof(int32_t) * n), 0);
    cr_expect_not_null(pl_logits(c, s), "the last logits survive the switch");
    kt_generate(c, s, toks, &n, 12, nv);

    pl_ctx *f = fixt_ctx(m, 512, 0, PL_TYPE_Q8_0, PL_TYPE_Q8_0);
    int fs = pl_seq_new(f, &st);
    cr_assert_eq(pl_decode(f, fs, toks, n - 1, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_decode(f, fs, &toks[n - 1], 1, &st), 0, "%s", st.msg);
    double e = fixt_rel_err(pl_logits(c, s), pl_logits(f, fs), nv);
    cr_expect(e < 6e-2, "continuation after the switch differs from a fresh q8_0 cache by %.3g", e);
    cr_expect_eq(fixt_argmax(pl_logits(c, s), nv), fixt_argmax(pl_logits(f, fs), nv));

    /* the fork shares the converted prefix and decodes on; back to f16 too */
    int32_t t = 42;
    cr_expect_eq(pl_decode(c, fork, &t, 1, &st), 0, "fork after the switch: %s", st.msg);
    cr_assert_eq(pl_ctx_set_kv_types(c, PL_TYPE_F16, PL_TYPE_F16, &st), 0, "%s", st.msg);
    cr_expect_eq(pl_seq_len(c, s), n);
    cr_expect_eq(pl_decode(c, s, &t, 1, &st), 0, "decode after switching back: %s", st.msg);
    pl_ctx_free(f);
    pl_ctx_free(c);
    pl_model_free(m);
}

/* A type the cache cannot hold is refused by name and changes nothing. */
Test(e2e_kvtype, unsupported_type_is_refused)
{
    pl_status st;
    pl_model *m = pl_model_load(fixt_model("PARLEY_MODEL", "model"), NULL, &st);
    cr_assert(m, "%s", st.msg);
    pl_ctx *c = fixt_ctx(m, 512, 0, PL_TYPE_F16, PL_TYPE_F16);
    int s = pl_seq_new(c, &st);
    int32_t toks[3] = { 1, 2, 3 };
    cr_assert_eq(pl_decode(c, s, toks, 3, &st), 0, "%s", st.msg);
    cr_expect_neq(pl_ctx_set_kv_types(c, PL_TYPE_Q4_K, PL_TYPE_F16, &st), 0);
    cr_expect(strstr(st.msg, "q4_K") || strstr(st.msg, "q4_k"), "message: %s", st.msg);
    cr_expect_eq(pl_seq_len(c, s), 3);
    cr_expect_eq(pl_decode(c, s, toks, 1, &st), 0, "still decodes: %s", st.msg);
    pl_ctx_params cp = pl_ctx_default_params();
    cp.type_v = PL_TYPE_Q8_K;
    cr_expect_null(pl_ctx_new(m, &cp, &st), "a q8_K cache was created");
    cr_expect(strstr(st.msg, "KV cache type"), "message: %s", st.msg);
    pl_ctx_free(c);
    pl_model_free(m);
}

/* `parley run` takes the cache types from the command line. */
Test(e2e_kvtype, run_with_q8_0_cache)
{
    const char *bin = getenv("PARLEY_BIN");
    cr_assert(bin && *bin, "PARLEY_BIN is not set (run through `make test-e2e`)");
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' --chat -p 'What is the capital of France?' -n 16 "
             "--temp 0 -t 2 --cache-type-k q8_0 --cache-type-v q8_0 2>&1", bin, fixt_model("PARLEY_MODEL", "model"));
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s: %s", cmd, out);
    cr_expect(strstr(out, "Paris"), "answer with a q8_0 cache: %s", out);
}
