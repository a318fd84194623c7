/* test_placement_e2e.c — the proof of live layer placement (#13 item 5),
 * on the real default model through the engine API: a conversation (prefill,
 * greedy tokens), then layers 10-29 moved to the "ref" backend, more tokens,
 * layers 0-14 to ref and 15-29 back to the CPU, more tokens, everything home,
 * more tokens. What a user would notice: the conversation goes on, its
 * tokens the all-CPU run's within a stated tolerance (below); the ref backend
 * holds nothing at the end (ASan: nothing leaks). The second test checks that
 * layers on ref really ran on ref's arithmetic (their logits are not
 * bit-identical to the CPU's, yet close).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/context_impl.h"
#include "tests/common/fixture.h"

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

/* A conversation of TE_PHASES phases of TE_STEP tokens; before each phase
 * move (may be NULL) runs. Each step's logits go to logits (n_steps, n_vocab)
 * when asked; the token fed next is forced[k] when given (so a run with moves
 * sees exactly the all-CPU run's text), else the greedy one. Tokens out. */
typedef void (*te_move_fn)(pl_ctx *c, int phase);

static void te_chat(pl_model *m, te_move_fn move, const int32_t *forced, int32_t *out, float *logits)
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
            if (logits) memcpy(logits + (size_t)k * nv, l, sizeof(float) * nv);
            out[k] = te_argmax(l, nv);
            const int32_t next = forced ? forced[k] : out[k];
            cr_assert_eq(pl_decode(c, seq, &next, 1, &st), 0, "phase %d token %d: %s", ph, i, st.msg);
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

/* The gap between the best and the second-best logit. */
static float te_margin(const float *l, int n)
{
    const int b = te_argmax(l, n);
    float second = -INFINITY;
    for (int i = 0; i < n; i++)
        if (i != b && l[i] > second) second = l[i];
    return l[b] - second;
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
    pl_model *m = fixt_model_load("PARLEY_MODEL", "model");
    cr_assert_eq(m->hp.n_layer, 30, "the default model (SmolLM2-135M) has 30 layers");
    return m;
}

/* The ref backend's scalar kernels sum in another order than the CPU's SIMD
 * ones, and this model amplifies that (activations are rounded to 8 bits
 * before every matmul, so a last-place difference can move a value by a
 * whole step): measured on this text, layers on ref move the logits by a
 * relative RMS of 0.012-0.081 (one step of 24 picked another token, its best
 * two 0.13 apart), and the CPU's own scalar path against its AVX-512 path
 * does the same, 0.013-0.125 (two flips, at gaps of 0.04 and 0.13). So a
 * step whose best two tokens are close can pick the other one, and
 * free-running greedy texts then part.
 * What must hold: with the all-CPU run's text fed to both, every step of the
 * run with moves stays within TE_RMS of the all-CPU logits, and picks the
 * same token wherever the all-CPU run's best two are at least TE_MARGIN
 * apart; once every layer is home, the new tokens' logits are the CPU's up to
 * what the KV rows computed on ref carry over. */
#define TE_RMS    0.15
#define TE_MARGIN 0.5f
Test(placement_e2e, greedy_tokens_match_all_cpu_with_layers_moved_mid_conversation, .timeout = 600)
{
    pl_model *m = te_model();
    const int n = TE_PHASES * TE_STEP, nv = (int)m->hp.n_vocab;
    int32_t want[TE_PHASES * TE_STEP], got[TE_PHASES * TE_STEP];
    float *la = malloc(sizeof(float) * nv * n), *lb = malloc(sizeof(float) * nv * n);
    te_chat(m, NULL, NULL, want, la);
    te_chat(m, te_moves, want, got, lb);
    double worst = 0;
    int flips = 0;
    for (int k = 0; k < n; k++) {
        const double e = te_rel_rms(lb + (size_t)k * nv, la + (size_t)k * nv, nv);
        const float margin = te_margin(la + (size_t)k * nv, nv);
        worst = e > worst ? e : worst;
        cr_assert_lt(e, TE_RMS, "step %d (phase %d): logits relative RMS %.3g", k, k / TE_STEP, e);
        if (got[k] != want[k]) flips++;
        cr_assert(got[k] == want[k] || margin < TE_MARGIN, "step %d (phase %d): token %d with moves, %d all-CPU, "
                  "whose best two are %.3f apart", k, k / TE_STEP, got[k], want[k], margin);
    }
    cr_log_info("layers moved mid-conversation: worst logits relative RMS %.3g, %d of %d steps picked "
                "another token (all within the margin)", worst, flips, n);
    free(la), free(lb);
    pl_model_free(m);
}

/* Layers on ref run ref's arithmetic (not a CPU run under another name). */
Test(placement_e2e, layers_on_ref_run_refs_arithmetic, .timeout = 600)
{
    pl_model *m = te_model();
    const int nv = (int)m->hp.n_vocab;
    int32_t want[TE_PHASES * TE_STEP], got[TE_PHASES * TE_STEP];
    const int n = TE_PHASES * TE_STEP;
    float *lw = malloc(sizeof(float) * nv * n), *lg = malloc(sizeof(float) * nv * n);
    te_chat(m, NULL, NULL, want, lw);
    te_chat(m, te_moves, want, got, lg);
    /* step TE_STEP + 1: the first token decoded with layers 10-29 on ref */
    const double e1 = te_rel_rms(lg + (size_t)(TE_STEP + 1) * nv, lw + (size_t)(TE_STEP + 1) * nv, nv);
    const bool same0 = memcmp(lg, lw, sizeof(float) * nv * TE_STEP) == 0;
    free(lw), free(lg);
    pl_model_free(m);
    cr_assert(same0, "before any move: the CPU's logits to the bit");
    cr_assert_gt(e1, 0.0, "layers 10-29 on ref gave the CPU's logits to the bit: the forward still runs every "
                          "layer on the CPU (ignores c->layer_be / c->layer_w; needs branch t13fv)");
    cr_assert_lt(e1, 5e-2, "layers 10-29 on ref: logits relative RMS %.3g", e1);
}
