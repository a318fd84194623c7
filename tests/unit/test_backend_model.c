/* test_backend_model.c — the engine's forward (engine/forward.c) over the
 * backend interface: the CPU's run_layers against the op-by-op path, layers
 * on the "ref" backend, and op failures that must reach pl_decode's caller.
 *
 * What a user would notice, checked:
 *  - the op-by-op path on the CPU backend (every layer through rms_norm,
 *    matmul, rope, kv_store, attention, glu, add...) gives the fused path's
 *    logits after a prompt and after each greedy step. Measured max |diff|:
 *    0 on SmolLM2-135M and on the synthetic gemma3 / qwen2 / qwen3 models
 *    (same kernels, same order per output); bound 0 (bit for bit), so the
 *    fused path can never drift from the reference arithmetic of the vtable;
 *  - layers placed on "ref" (scalar kernels, its own copies of the weights
 *    in GGUF's rows) with a test-only helper: the same greedy tokens of
 *    "The capital of France is", and the prompt's logits within relative RMS
 *    5e-2 of all-CPU (measured below; the ref matmul does not round its input
 *    to 8 bits, so small differences are expected);
 *  - a layer whose weight type no kernel runs, or a ref backend whose memory
 *    limit leaves no room for the activations: pl_decode returns an error
 *    naming the layer / backend, pl_logits stays NULL and the sequence keeps
 *    its length (no garbage logits, no half-committed chunk).
 */
#include <string.h>
#include <unistd.h>

#include "backend_test_util.h"
#include "engine/context_impl.h"
#include "tests/common/fixture.h"

enum { BM_PROMPT = 16, BM_STEPS = 6 };

static pl_model *bm_load(const char *path)
{
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s", st.msg);
    return m;
}

/* The default model (a missing one fails, naming `make model`). */
static pl_model *bm_default(void) { return bm_load(fixt_model("PARLEY_MODEL", "model")); }

static int bm_argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++) b = x[i] > x[b] ? i : b;
    return b;
}

static pl_ctx *bm_ctx(pl_model *m, int *seq)
{
    pl_status st;
    pl_ctx_params cp = pl_ctx_default_params();
    cp.n_ctx = 64, cp.n_batch = 32, cp.n_threads = 2;
    pl_ctx *c = pl_ctx_new(m, &cp, &st);
    cr_assert(c, "%s", st.msg);
    *seq = pl_seq_new(c, &st);
    cr_assert_geq(*seq, 0, "%s", st.msg);
    return c;
}

/* Prompt, then BM_STEPS greedy tokens; logits after the prompt and after
 * each step into lg (BM_STEPS + 1, n_vocab); hook(c, s) may move layers
 * before step s. */
static void bm_generate(pl_ctx *c, int seq, const int32_t *prompt, int np, int32_t *toks, float *lg,
                        void (*hook)(pl_ctx *, int))
{
    pl_status st;
    const int nv = pl_n_vocab(c->m);
    cr_assert_eq(pl_decode(c, seq, prompt, np, &st), 0, "%s", st.msg);
    memcpy(lg, pl_logits(c, seq), sizeof(float) * nv);
    for (int s = 0; s < BM_STEPS; s++) {
        toks[s] = bm_argmax(lg + (size_t)s * nv, nv);
        if (hook) hook(c, s);
        cr_assert_eq(pl_decode(c, seq, &toks[s], 1, &st), 0, "step %d: %s", s, st.msg);
        memcpy(lg + (size_t)(s + 1) * nv, pl_logits(c, seq), sizeof(float) * nv);
    }
}

/* The fused CPU path and the op-by-op path over the vtable, same logits. */
static void bm_ops_vs_fused(pl_model *m, const int32_t *prompt, int np)
{
    const int nv = pl_n_vocab(m);
    float *lf = malloc(sizeof(float) * nv * (BM_STEPS + 1)), *lo = malloc(sizeof(float) * nv * (BM_STEPS + 1));
    int32_t tf[BM_STEPS], to[BM_STEPS];
    int seq;
    pl_ctx *c = bm_ctx(m, &seq);
    bm_generate(c, seq, prompt, np, tf, lf, NULL);
    pl_ctx_free(c);
    c = bm_ctx(m, &seq);
    c->fw_ops_only = true;
    bm_generate(c, seq, prompt, np, to, lo, NULL);
    pl_ctx_free(c);
    const double diff = bt_max_diff(lf, lo, (int64_t)nv * (BM_STEPS + 1));
    cr_log_info("%s: op by op vs fused, max |logit diff| over %d decodes: %g", m->name, BM_STEPS + 1, diff);
    cr_expect_eq(diff, 0.0, "%s: op-by-op logits differ from the fused path's by up to %g", m->name, diff);
    for (int s = 0; s < BM_STEPS; s++) cr_expect_eq(to[s], tf[s], "step %d: token %d vs %d", s, to[s], tf[s]);
    free(lf), free(lo);
}

/* Tokens 1.. of a synthetic fixture's vocabulary. */
static void bm_synth(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/synth-%s.gguf", fixt_src_dir(), name);
    pl_model *m = bm_load(path);
    int32_t p[12];
    for (int i = 0; i < 12; i++) p[i] = (i * 7919 + 13) % (pl_n_vocab(m) < 5000 ? pl_n_vocab(m) : 5000) + 1;
    bm_ops_vs_fused(m, p, 12);
    pl_model_free(m);
}

static int32_t bm_prompt[BM_PROMPT];

static int bm_france(pl_model *m)
{
    static const char text[] = "The capital of France is";
    int np = pl_tokenize(m, text, sizeof text - 1, bm_prompt, BM_PROMPT, true, false);
    cr_assert(np > 1 && np <= BM_PROMPT, "%d tokens", np);
    return np;
}

Test(backend_model, ops_path_equals_fused_smollm2, .timeout = 300)
{
    pl_model *m = bm_default();
    bm_ops_vs_fused(m, bm_prompt, bm_france(m));
    pl_model_free(m);
}
Test(backend_model, ops_path_equals_fused_gemma3_window) { bm_synth("gemma3-f32"); }
Test(backend_model, ops_path_equals_fused_qwen2_biases) { bm_synth("qwen2-q8_0"); }
Test(backend_model, ops_path_equals_fused_qwen3_head_norms) { bm_synth("qwen3-f32"); }

/* ---- layers on "ref": a test-only stand-in for the placement API --------- */

/* The matrices and vectors of a layer, for copying them over. */
static pl_weight *bm_tensors(pl_layer *L, int k)
{
    pl_weight *w[] = { &L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_norm, &L->ffn_gate, &L->ffn_up,
                       &L->ffn_down, &L->bq, &L->bk, &L->bv, &L->attn_q_norm, &L->attn_k_norm,
                       &L->attn_post_norm, &L->ffn_post_norm };
    return k < (int)(sizeof w / sizeof w[0]) ? w[k] : NULL;
}

typedef struct bm_place {
    pl_backend  *ref;
    pl_backend **be;   /* (n_layer) */
    pl_layer    *w;    /* (n_layer) */
} bm_place;

/* Layers [l0, l1) onto ref (weights copied in its layout; KV stays in the
 * engine's host blocks, which ref reads like its own), the rest on cpu. */
static int bm_place_ref(pl_ctx *c, bm_place *p, int l0, int l1)
{
    const int n = (int)c->m->hp.n_layer;
    p->be = calloc(n, sizeof *p->be), p->w = calloc(n, sizeof *p->w);
    for (int il = 0; il < n; il++) {
        p->w[il] = c->m->layers[il];
        p->be[il] = il >= l0 && il < l1 ? p->ref : c->be_cpu;
        if (p->be[il] != p->ref) continue;
        pl_weight *w;
        for (int k = 0; (w = bm_tensors(&p->w[il], k)); k++) {
            if (!w->data) continue;
            const int64_t rows = w->rows ? w->rows : 1;
            void *out;
            int rc = p->ref->ops->weight_load(p->ref, w->type, rows, w->cols, w->data, w->layout,
                                              p->ref->ops->layout(p->ref, w->type, rows, w->cols), &out);
            if (rc) return rc;
            w->data = out, w->layout = PL_LAYOUT_ROWS;
        }
    }
    c->layer_be = p->be, c->layer_w = p->w;
    return 0;
}

/* Everything back on cpu; ref's copies released. */
static void bm_unplace(pl_ctx *c, bm_place *p)
{
    for (int il = 0; p->w && il < (int)c->m->hp.n_layer; il++) {
        pl_weight *w;
        for (int k = 0; p->be[il] == p->ref && (w = bm_tensors(&p->w[il], k)); k++)
            if (w->data) p->ref->ops->release(p->ref, (void *)w->data);
    }
    c->layer_be = NULL, c->layer_w = NULL;
    free(p->be), free(p->w);
    p->be = NULL, p->w = NULL;
}

static bm_place bm_mid;

/* Before step 1 layers 0..9 go to ref; before step 3 all come back. */
static void bm_move(pl_ctx *c, int s)
{
    if (s == 1) {
        bm_unplace(c, &bm_mid);
        cr_assert_eq(bm_place_ref(c, &bm_mid, 0, 10), 0);
    }
    if (s == 3) bm_unplace(c, &bm_mid);
}

Test(backend_model, layers_on_ref_same_greedy_tokens, .timeout = 600)
{
    pl_model *m = bm_default();
    const int np = bm_france(m), nv = pl_n_vocab(m), n = (int)m->hp.n_layer;
    float *lc = malloc(sizeof(float) * nv * (BM_STEPS + 1)), *lr = malloc(sizeof(float) * nv * (BM_STEPS + 1));
    int32_t tc[BM_STEPS], tr[BM_STEPS];
    int seq;
    pl_ctx *c = bm_ctx(m, &seq);
    bm_generate(c, seq, bm_prompt, np, tc, lc, NULL);
    pl_ctx_free(c);

    c = bm_ctx(m, &seq);   /* the upper half on ref for the prompt, then moves mid-conversation */
    bm_mid.ref = bt_start("ref", 1, 0);
    cr_assert_eq(bm_place_ref(c, &bm_mid, n / 2, n), 0);
    bm_generate(c, seq, bm_prompt, np, tr, lr, bm_move);
    size_t used;
    bm_mid.ref->ops->mem_info(bm_mid.ref, NULL, &used, NULL);
    const double em = ct_rel_rmse(lr, lc, nv);
    cr_log_info("prompt logits, half on ref vs all-cpu: rel RMS %.3g", em);
    cr_assert_lt(em, 5e-2, "prompt logits, half on ref vs all-cpu: %.3g", em);
    for (int s = 0; s < BM_STEPS; s++) cr_assert_eq(tr[s], tc[s], "step %d: token %d on ref, %d on cpu", s, tr[s], tc[s]);
    pl_ctx_free(c);   /* releases the activations it held on ref */
    bm_mid.ref->ops->mem_info(bm_mid.ref, NULL, &used, NULL);
    cr_assert_eq(used, 0, "ref still holds %zu bytes", used);
    bt_stop(bm_mid.ref);
    free(lc), free(lr);
    pl_model_free(m);
}

/* ---- failures reach the caller ------------------------------------------ */

/* pl_decode failed with code and a message naming what; nothing changed. */
static void bm_expect_fail(pl_ctx *c, int seq, int code, const char *what)
{
    pl_status st;
    const int len = pl_seq_len(c, seq);
    cr_assert_eq(pl_decode(c, seq, bm_prompt, 3, &st), code, "pl_decode gave %d (%s)", st.code, st.msg);
    cr_assert(strstr(st.msg, what), "message \"%s\" does not say \"%s\"", st.msg, what);
    cr_assert_null(pl_logits(c, seq), "logits after a failed decode");
    cr_assert_eq(pl_seq_len(c, seq), len, "a failed chunk was committed");
}

Test(backend_model, unsupported_weight_fails_decode_fused_and_ops, .timeout = 120)
{
    pl_model *m = bm_default();
    bm_france(m);
    for (int ops = 0; ops < 2; ops++) {
        int seq;
        pl_ctx *c = bm_ctx(m, &seq);
        c->fw_ops_only = ops;
        const int n = (int)m->hp.n_layer;
        pl_layer *w = malloc(sizeof *w * n);
        memcpy(w, m->layers, sizeof *w * n);
        w[3].wq.type = (pl_type)9999;   /* no kernel for it anywhere */
        c->layer_w = w;
        /* the fused run names its layers, the op-by-op path the layer and the op */
        bm_expect_fail(c, seq, PL_ERR_UNSUPPORTED, ops ? "layer 3 on the cpu backend: q/k/v projection" : "cpu backend");
        pl_status st;
        cr_assert_eq(pl_decode(c, seq, bm_prompt, 1, &st), PL_ERR_UNSUPPORTED, "one token: %s", st.msg);
        c->layer_w = NULL;   /* the right weights again: the context still works */
        cr_assert_eq(pl_decode(c, seq, bm_prompt, 3, &st), 0, "%s", st.msg);
        cr_assert_not_null(pl_logits(c, seq));
        free(w);
        pl_ctx_free(c);
    }
    pl_model_free(m);
}

Test(backend_model, ref_memory_limit_fails_decode, .timeout = 120)
{
    pl_model *m = bm_default();
    bm_france(m);
    const int n = (int)m->hp.n_layer;
    int seq;
    pl_ctx *c = bm_ctx(m, &seq);
    bm_place p = { .ref = bt_start("ref", 1, 0) };   /* how much the last layer's weights take */
    cr_assert_eq(bm_place_ref(c, &p, n - 1, n), 0);
    size_t weights;
    p.ref->ops->mem_info(p.ref, NULL, &weights, NULL);
    bm_unplace(c, &p);
    bt_stop(p.ref);
    p.ref = bt_start("ref", 1, weights + 4096);   /* room for them, not for the activations */
    cr_assert_eq(bm_place_ref(c, &p, n - 1, n), 0);
    bm_expect_fail(c, seq, PL_ERR_NOMEM, "ref backend");
    bm_unplace(c, &p);
    pl_ctx_free(c);
    bt_stop(p.ref);
    pl_model_free(m);
}

/* ---- the context's one pool is the CPU backend's -------------------------- */

/* pl_ctx_set_threads mid-conversation replaces the CPU backend's pool (the
 * one the forward and weight reading use), and generation goes on with the
 * same logits as a context that never changed (every output's arithmetic is
 * independent of which thread computes it: bound 0). */
Test(backend_model, set_threads_mid_conversation_keeps_the_logits, .timeout = 120)
{
    pl_model *m = bm_default();
    const int np = bm_france(m), nv = pl_n_vocab(m);
    float *la = malloc(sizeof(float) * nv * (BM_STEPS + 1)), *lb = malloc(sizeof(float) * nv * (BM_STEPS + 1));
    int32_t ta[BM_STEPS], tb[BM_STEPS];
    int seq;
    pl_ctx *c = bm_ctx(m, &seq);
    bm_generate(c, seq, bm_prompt, np, ta, la, NULL);
    pl_ctx_free(c);
    c = bm_ctx(m, &seq);
    cr_assert_eq(pl_pool_size(c->be_cpu->ops->pool(c->be_cpu)), 2);
    pl_status st;
    cr_assert_eq(pl_decode(c, seq, bm_prompt, np, &st), 0, "%s", st.msg);
    memcpy(lb, pl_logits(c, seq), sizeof(float) * nv);
    cr_assert_eq(pl_ctx_set_threads(c, 3), 0);
    cr_assert_eq(pl_pool_size(c->be_cpu->ops->pool(c->be_cpu)), 3, "the CPU backend's pool has 3 threads");
    for (int s = 0; s < BM_STEPS; s++) {
        tb[s] = bm_argmax(lb + (size_t)s * nv, nv);
        cr_assert_eq(pl_decode(c, seq, &tb[s], 1, &st), 0, "%s", st.msg);
        memcpy(lb + (size_t)(s + 1) * nv, pl_logits(c, seq), sizeof(float) * nv);
        cr_assert_eq(tb[s], ta[s], "step %d: token %d after the change, %d before", s, tb[s], ta[s]);
    }
    const double diff = bt_max_diff(la, lb, (int64_t)nv * (BM_STEPS + 1));
    cr_expect_eq(diff, 0.0, "logits after the thread change differ by up to %g", diff);
    cr_assert_gt(pl_ctx_read_weights_s(c), 0.0, "weight reading runs on the backend's pool");
    pl_ctx_free(c);
    free(la), free(lb);
    pl_model_free(m);
}
