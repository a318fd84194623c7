/* test_placement_e2e.c — the proof of live layer placement (#13 item 5),
 * on the real default model through the engine API: a conversation (prefill,
 * greedy tokens), then layers 10-29 moved to the "ref" backend, more tokens,
 * layers 0-14 to ref and 15-29 back to the CPU, more tokens, everything home,
 * more tokens. What a user would notice: the conversation goes on, its greedy
 * tokens identical to an all-CPU run's; the ref backend holds nothing at the
 * end (ASan: nothing leaks).
 *
 * NEEDS THE FORWARD ON THE PLACEMENT (branch t13fv): the second test checks
 * that layers on ref really ran on ref's arithmetic (their logits are not
 * bit-identical to the CPU's, yet close: relative RMS under 5e-2, the bound
 * test_backend_model.c measured for half the layers on ref). While the
 * forward ignores c->layer_be / c->layer_w it fails, and says why.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/context_impl.h"

enum { TE_PROMPT = 32, TE_STEP = 6, TE_PHASES = 4 };

static int32_t te_argmax(const float *l, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static double te_rel_rms(const float *a, const float *b, int n)
{
    double d = 0, s = 0;
    for (int i = 0; i < n; i++) d += (double)(a[i] - b[i]) * (a[i] - b[i]), s += (double)b[i] * b[i];
    return sqrt(d / (s > 0 ? s : 1));
}

/* A conversation of TE_PHASES phases of TE_STEP greedy tokens; before each
 * phase move (may be NULL) runs. Tokens out, and (if asked) the logits of
 * each phase's first decode after its move. */
typedef void (*te_move_fn)(pl_ctx *c, int phase);

static void te_chat(pl_model *m, te_move_fn move, int32_t *out, float **first_logits)
{
    pl_ctx_params p = pl_ctx_default_params();
    p.n_ctx = 256, p.n_threads = 2;
    pl_status st;
    pl_ctx *c = pl_ctx_new(m, &p, &st);
    cr_assert(c, "%s", st.msg);
    static const char text[] = "<|im_start|>user\nName three rivers of Europe and say one thing about each.<|im_end|>\n"
                               "<|im_start|>assistant\n";
    int32_t prompt[TE_PROMPT * 2];
    int np = pl_tokenize(m, text, sizeof text - 1, prompt, TE_PROMPT * 2, false, true);
    cr_assert_gt(np, 4, "%d prompt tokens", np);
    const int seq = pl_seq_new(c, &st);
    cr_assert_eq(pl_decode(c, seq, prompt, np, &st), 0, "%s", st.msg);
    const int nv = (int)m->hp.n_vocab;
    for (int ph = 0, k = 0; ph < TE_PHASES; ph++) {
        if (move) move(c, ph);
        for (int i = 0; i < TE_STEP; i++, k++) {
            const float *l = pl_logits(c, seq);
            cr_assert_not_null(l);
            if (i == 1 && first_logits) memcpy(first_logits[ph], l, sizeof(float) * nv);   /* the first after the move */
            out[k] = te_argmax(l, nv);
            cr_assert_eq(pl_decode(c, seq, &out[k], 1, &st), 0, "phase %d token %d: %s", ph, i, st.msg);
        }
    }
    if (move) {
        pl_backend_usage u[4];
        int n = pl_ctx_backend_usage(c, u, 4);
        for (int i = 0; i < n; i++)
            if (strcmp(u[i].name, "ref") == 0) cr_assert_eq(u[i].mem_used, 0, "ref holds nothing at the end");
    }
    pl_ctx_free(c);
}

/* cpu -> 10-29 on ref -> 0-14 on ref, 15-29 home -> all home */
static void te_moves(pl_ctx *c, int phase)
{
    pl_status st;
    if (phase == 1) cr_assert_eq(pl_ctx_place_layers(c, 10, 29, "ref", &st), 0, "%s", st.msg);
    if (phase == 2) {
        cr_assert_eq(pl_ctx_place_layers(c, 0, 14, "ref", &st), 0, "%s", st.msg);
        cr_assert_eq(pl_ctx_place_layers(c, 15, 29, "cpu", &st), 0, "%s", st.msg);
    }
    if (phase == 3) cr_assert_eq(pl_ctx_place_layers(c, 0, 29, "cpu", &st), 0, "%s", st.msg);
}

static pl_model *te_model(void)
{
    const char *path = getenv("PARLEY_MODEL");
    if (!path || !*path || access(path, R_OK)) cr_skip_test("PARLEY_MODEL not set (make model)");
    pl_status st;
    pl_model_params mp = pl_model_default_params();
    pl_model *m = pl_model_load(path, &mp, &st);
    cr_assert(m, "%s", st.msg);
    cr_assert_eq(m->hp.n_layer, 30, "the default model (SmolLM2-135M) has 30 layers");
    return m;
}

Test(placement_e2e, greedy_tokens_match_all_cpu_with_layers_moved_mid_conversation, .timeout = 600)
{
    pl_model *m = te_model();
    int32_t want[TE_PHASES * TE_STEP], got[TE_PHASES * TE_STEP];
    te_chat(m, NULL, want, NULL);
    te_chat(m, te_moves, got, NULL);
    for (int i = 0; i < TE_PHASES * TE_STEP; i++)
        cr_assert_eq(got[i], want[i], "token %d (phase %d): %d with moves, %d all-CPU", i, i / TE_STEP, got[i], want[i]);
    pl_model_free(m);
}

/* NEEDS t13fv: fails while the forward ignores the placement (logits bit-identical). */
Test(placement_e2e, layers_on_ref_run_refs_arithmetic, .timeout = 600)
{
    pl_model *m = te_model();
    const int nv = (int)m->hp.n_vocab;
    int32_t want[TE_PHASES * TE_STEP], got[TE_PHASES * TE_STEP];
    float *lw[TE_PHASES], *lg[TE_PHASES];
    for (int i = 0; i < TE_PHASES; i++) lw[i] = malloc(sizeof(float) * nv), lg[i] = malloc(sizeof(float) * nv);
    te_chat(m, NULL, want, lw);
    te_chat(m, te_moves, got, lg);
    /* phase 1: the first token decoded with layers 10-29 on ref */
    const double e1 = te_rel_rms(lg[1], lw[1], nv);
    const bool same0 = memcmp(lg[0], lw[0], sizeof(float) * nv) == 0;
    for (int i = 0; i < TE_PHASES; i++) free(lw[i]), free(lg[i]);
    pl_model_free(m);
    cr_assert(same0, "before any move: the CPU's logits to the bit");
    cr_assert_gt(e1, 0.0, "layers 10-29 on ref gave the CPU's logits to the bit: the forward still runs every "
                          "layer on the CPU (ignores c->layer_be / c->layer_w; needs branch t13fv)");
    cr_assert_lt(e1, 5e-2, "layers 10-29 on ref: logits relative RMS %.3g", e1);
}
