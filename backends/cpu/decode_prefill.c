/* decode_prefill.c — the CPU's run_layers: a pl_decoder's layers on a chunk.
 *
 * Reads top to bottom like the math (llama2.c's forward()), on a chunk of nb
 * tokens at once so the projections are matrix-matrix products (prefill). A
 * single token goes to decode_fused.c: the same steps in one pool dispatch,
 * because there the per-dispatch sync, not arithmetic, is what a token costs.
 * Keys and values go into the paged cache first; attention then reads
 * positions [0, pos] (or a sliding window) of the cache for each token, which
 * is the causal mask (decode_attn.c: the one attention entry).
 *
 * One pre-norm decoder; each optional step is data, never a family test: a
 * bias, a head norm or a post-norm the layer has (pl_decoder_layer's non-NULL
 * pointers), the rope each layer carries, the activation, the attention
 * arithmetic and where the score scale goes (pl_decoder).
 *
 * A chunk costs five matmul dispatches per layer (Q/K/V, attention, output
 * projection, gate/up, down) plus the element-wise steps, run row by row on
 * the pool (rows are tokens, each thread its own). Both paths call the same
 * row functions, so a prefill and token-by-token decoding give the same
 * numbers. Numerics follow llama.cpp where it matters for agreement: RMSNorm
 * sums in double, rope angles come from ggml's float iteration, the query is
 * rounded to f16 before its dot with f16 keys, GELU is ggml's f16 table.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"
#include "decode_impl.h"

#define CPU_ROPE_TABS 8   /* distinct ropes in one run (gemma3 has 2) */

/* ---- scratch and checks --------------------------------------------------- */

/* *p holds at least bytes (grown, contents dropped); 0 or ENOMEM. Every
 * buffer starts on a cache line: the attention carves each thread's tiles
 * at 64-byte offsets from its scratch, and on malloc's 16-byte alignment
 * the threads' tiles shared lines (SmolLM2 Q4_K_M pp512, 2 threads: 1217-1258
 * tok/s on malloc, 1434-1455 aligned). */
int cpu_grow(void **p, size_t *cap, size_t bytes)
{
    if (bytes <= *cap) return 0;
    void *n = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!n) return PL_BACKEND_ENOMEM;
    free(*p);
    *p = n, *cap = bytes;
    return 0;
}

/* Do two layers rotate alike (so they share a cos/sin table)? */
static bool cpu_rope_same(const pl_rope_args *a, const pl_rope_args *b)
{
    return a->n_rot == b->n_rot && a->mode == b->mode && a->base == b->base && a->freq_scale == b->freq_scale &&
           a->freq_factors == b->freq_factors;
}

/* Grow the scratch to the run's shapes, then fill one cos/sin table per
 * distinct rope of its layers (gemma3's local layers have their own). The
 * attention's work buffer grows to a power of two of positions, so a
 * conversation reallocates it a handful of times, not per token. */
int cpu_run_prepare(cpu_run *r)
{
    const pl_decoder *d = r->d;
    cpu_decode *s = &r->c->dec;
    const size_t nb = (size_t)r->nb, f = sizeof(float), n_rot = (size_t)d->layers[r->l0].rope.n_rot;
    const size_t n_q = (size_t)d->n_head * d->head_dim, n_kv = (size_t)d->n_head_kv * d->head_dim;
    const int nth = pl_pool_size(r->c->pool);
    size_t n_pos = 256;
    while (n_pos < (size_t)r->pos0 + nb) n_pos *= 2;
    void **bufs[] = { (void **)&s->xb, (void **)&s->q, (void **)&s->att, (void **)&s->k, (void **)&s->v,
                      (void **)&s->gate, (void **)&s->up, (void **)&s->norm, (void **)&s->rope_cs,
                      (void **)&s->rope_tab, (void **)&s->sync, (void **)&s->attn_scr, &s->attn_work };
    const size_t bytes[] = { nb * d->n_embd * f, nb * n_q * f, nb * n_q * f, nb * n_kv * f, nb * n_kv * f,
                             nb * d->n_ff * f, nb * d->n_ff * f, (size_t)d->n_embd * f,
                             (size_t)CPU_ROPE_TABS * nb * n_rot * f, (size_t)d->n_layer * sizeof(int),
                             3 * ((size_t)d->n_layer * 5 + 1) * sizeof(atomic_int),
                             (size_t)nth * pl_cpu_attn_scratch_floats(d->head_dim, d->n_head / d->n_head_kv) * f,
                             pl_cpu_attn_work_bytes(d->n_head, d->n_head_kv, d->head_dim, (int)n_pos, nth) };
    _Static_assert(sizeof bytes / sizeof bytes[0] == sizeof s->cap / sizeof s->cap[0], "a cap per buffer");
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++)
        if (cpu_grow(bufs[i], &s->cap[i], bytes[i])) return PL_BACKEND_ENOMEM;
    int n_tab = 0, first[CPU_ROPE_TABS];   /* table t: the rope of layer first[t] */
    for (int il = r->l0; il < r->l1; il++) {
        const pl_rope_args *ra = &d->layers[il].rope;
        int t = 0;
        while (t < n_tab && !cpu_rope_same(ra, &d->layers[first[t]].rope)) t++;
        s->rope_tab[il] = t;
        if (t < n_tab) continue;
        if (n_tab == CPU_ROPE_TABS) return PL_BACKEND_EUNSUPPORTED;
        first[n_tab++] = il;
        for (int i = 0; i < r->nb; i++)
            pl_cpu_rope_cache(s->rope_cs + ((size_t)t * nb + i) * n_rot, ra->n_rot, (float)(r->pos0 + i),
                              ra->base, ra->freq_scale, ra->freq_factors);
    }
    return 0;
}

/* Can this weight be a matmul here, with cols columns? */
static bool cpu_wview_ok(const pl_wview *w, int64_t rows, int64_t cols)
{
    const pl_matmul_w mw = { .W = w->data, .type = w->type, .rows = w->rows, .layout = w->layout };
    return w->data && w->rows == rows && w->cols == cols && cpu_matmul_valid(&mw, cols);
}

/* Every weight, rope and KV type of the run, before anything is written. */
int cpu_run_check(const cpu_run *r)
{
    const pl_decoder *d = r->d;
    const int64_t e = d->n_embd, n_q = (int64_t)d->n_head * d->head_dim, n_kv = (int64_t)d->n_head_kv * d->head_dim;
    const pl_type_traits *tk = pl_type_traits_get(d->type_k), *tv = pl_type_traits_get(d->type_v);
    if (!tk || !tv || !tk->to_float || !tk->from_float || !tv->to_float || !tv->from_float)
        return PL_BACKEND_EUNSUPPORTED;
    if (d->glu != PL_GLU_SWIGLU && d->glu != PL_GLU_SWIGLU_FAST && d->glu != PL_GLU_GEGLU)
        return PL_BACKEND_EUNSUPPORTED;
    if (r->logits && (r->l1 != d->n_layer || !d->out_norm || !d->out.data || d->out.cols != e ||
                      !cpu_wview_ok(&d->out, d->out.rows, e)))
        return d->out.data && !cpu_wview_ok(&d->out, d->out.rows, e) ? PL_BACKEND_EUNSUPPORTED : PL_BACKEND_EARG;
    for (int il = r->l0; il < r->l1; il++) {
        const pl_decoder_layer *L = &d->layers[il];
        if (!L->attn_norm || !L->ffn_norm || !L->kv_blocks) return PL_BACKEND_EARG;
        if (L->rope.n_rot != d->layers[r->l0].rope.n_rot || L->rope.n_rot <= 0 || L->rope.n_rot % 2 ||
            L->rope.n_rot > d->head_dim)
            return PL_BACKEND_EARG;
        if (L->rope.mode != PL_ROPE_NORMAL && L->rope.mode != PL_ROPE_NEOX) return PL_BACKEND_EUNSUPPORTED;
        if (!cpu_wview_ok(&L->wq, n_q, e) || !cpu_wview_ok(&L->wk, n_kv, e) || !cpu_wview_ok(&L->wv, n_kv, e) ||
            !cpu_wview_ok(&L->wo, e, n_q) || !cpu_wview_ok(&L->ffn_gate, d->n_ff, e) ||
            !cpu_wview_ok(&L->ffn_up, d->n_ff, e) || !cpu_wview_ok(&L->ffn_down, e, d->n_ff))
            return PL_BACKEND_EUNSUPPORTED;
    }
    return 0;
}

/* Row i's rope table for layer il. */
const float *cpu_rope_cs(const cpu_run *r, int il, int i)
{
    const size_t n_rot = (size_t)r->d->layers[r->l0].rope.n_rot;
    return r->c->dec.rope_cs + ((size_t)r->c->dec.rope_tab[il] * r->nb + i) * n_rot;
}

/* ---- row steps: the same calls in a prefill and in the fused decode ------ */

/* Token i's q and k: biases (qwen2), per-head norms (qwen3, gemma3), rope with
 * the layer's table, the query scale (gemma); then k, v into the cache. */
void cpu_row_qkv(cpu_run *r, int il, int i, int pos, bool bias)
{
    const pl_decoder *d = r->d;
    const pl_decoder_layer *L = &d->layers[il];
    const cpu_decode *s = &r->c->dec;
    const int hd = d->head_dim, n_q = d->n_head * hd, kvd = d->n_head_kv * hd;
    float *q = s->q + (size_t)i * n_q, *k = s->k + (size_t)i * kvd, *v = s->v + (size_t)i * kvd;
    if (bias && L->bq) pl_cpu_add(q, L->bq, n_q, q);
    if (bias && L->bk) pl_cpu_add(k, L->bk, kvd, k);
    if (bias && L->bv) pl_cpu_add(v, L->bv, kvd, v);
    if (L->q_norm)
        for (int h = 0; h < d->n_head; h++) pl_cpu_rms_norm(q + h * hd, L->q_norm, hd, d->eps, q + h * hd);
    if (L->k_norm)
        for (int h = 0; h < d->n_head_kv; h++) pl_cpu_rms_norm(k + h * hd, L->k_norm, hd, d->eps, k + h * hd);
    const float *cs = cpu_rope_cs(r, il, i);
    pl_cpu_rope(q, d->n_head, hd, L->rope.n_rot, cs, L->rope.mode);
    pl_cpu_rope(k, d->n_head_kv, hd, L->rope.n_rot, cs, L->rope.mode);
    if (d->q_scale_first) pl_cpu_scale(q, d->attn_scale, n_q);
    cpu_store_kv(r, il, 1, pos, k, v);
}

/* The residual join of a block's output xb: its post-norm (gemma3), the add,
 * and the next block's input norm. */
void cpu_row_residual(const pl_decoder *d, float *x, float *xb, const float *post, bool add,
                      const float *norm, float *normed)
{
    if (post) pl_cpu_rms_norm(xb, post, d->n_embd, d->eps, xb);
    if (add) pl_cpu_add(x, xb, d->n_embd, x);
    if (norm) pl_cpu_rms_norm(x, norm, d->n_embd, d->eps, normed);
}

static pl_f16 gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

/* gelu(x) ~ 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for every f16 x,
 * stored as f16: ggml's CPU GELU, same values as llama.cpp, cheaper than tanhf. */
static void gelu_table_fill(void)
{
    const float sqrt_2_over_pi = 0.79788456080286535588f, coef_a = 0.044715f;
    for (int i = 0; i < 1 << 16; i++) {
        float x = pl_f16_to_f32((pl_f16)i);
        float g = 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + coef_a * x * x)));
        gelu_table[i] = isfinite(x) ? pl_f32_to_f16(g) : (pl_f16)i;
    }
}

/* out = gelu(gate) * up over n values (input rounded to f16, as ggml). */
static void cpu_gelu_mul(const float *gate, const float *up, int64_t n, float *out)
{
    pthread_once(&gelu_once, gelu_table_fill);
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i], g;
        if (x <= -10.0f) g = 0.0f;
        else if (x >= 10.0f) g = x;
        else g = pl_f16_to_f32(gelu_table[pl_f32_to_f16(x)]);
        out[i] = g * up[i];
    }
}

/* The gated activation of the feed-forward, element by element (the kernels
 * take int counts: a huge n goes in pieces). */
void cpu_act(pl_glu act, const float *gate, const float *up, int64_t n, float *out)
{
    if (act == PL_GLU_GEGLU) { cpu_gelu_mul(gate, up, n, out); return; }
    for (int64_t i = 0; i < n; i += 1 << 30) {
        const int m = (int)(n - i < (1 << 30) ? n - i : 1 << 30);
        if (act == PL_GLU_SWIGLU) pl_cpu_silu_mul(gate + i, up + i, m, out + i);
        else pl_cpu_silu_mul_fast(gate + i, up + i, m, out + i);
    }
}

/* ---- the element-wise steps of a prefill on the pool --------------------- */

typedef enum cpu_rows_step { ROWS_QKV, ROWS_RESIDUAL, ROWS_ACT } cpu_rows_step;

typedef struct cpu_rows_job {
    cpu_run       *r;
    int            il;
    cpu_rows_step  step;
    const float   *post;   /* ROWS_RESIDUAL: post-norm of xb, or NULL */
    bool           add;    /* ROWS_RESIDUAL: x += xb */
    const float   *norm;   /* ROWS_RESIDUAL: xb = rmsnorm(x) * norm, NULL: no norm */
} cpu_rows_job;

/* Pool job: an even share of the rows (tokens) per thread. */
static void cpu_rows_worker(int ith, int nth, void *arg)
{
    const cpu_rows_job *j = arg;
    cpu_run *r = j->r;
    const cpu_decode *s = &r->c->dec;
    const size_t d = (size_t)r->d->n_embd, ff = (size_t)r->d->n_ff;
    for (int i = r->nb * ith / nth; i < r->nb * (ith + 1) / nth; i++) {
        if (j->step == ROWS_QKV) cpu_row_qkv(r, j->il, i, r->pos0 + i, true);
        else if (j->step == ROWS_RESIDUAL)
            cpu_row_residual(r->d, r->x + i * d, s->xb + i * d, j->post, j->add, j->norm, s->xb + i * d);
        else cpu_act(r->d->glu, s->gate + i * ff, s->up + i * ff, (int64_t)ff, s->gate + i * ff);
    }
}

/* Run one element-wise step over the chunk's rows. */
static void cpu_rows(cpu_run *r, int il, cpu_rows_step step, const float *post, bool add, const float *norm)
{
    cpu_rows_job j = { r, il, step, post, add, norm };
    pl_pool_run(r->c->pool, cpu_rows_worker, &j);
}

/* Y_k (nb, w_k.rows) = X (nb, cols) . W_k^T for n_w <= 3 weights of one input,
 * in one pool dispatch (X prepared once per weight type). */
static int cpu_mm(cpu_run *r, const pl_wview *const *w, float *const *y, int n_w, const float *x)
{
    pl_matmul_w ws[3];
    for (int k = 0; k < n_w; k++)
        ws[k] = (pl_matmul_w){ .W = w[k]->data, .type = w[k]->type, .rows = w[k]->rows, .Y = y[k],
                               .layout = w[k]->layout };
    return pl_cpu_matmul_multi_try(r->c->pool, ws, n_w, w[0]->cols, x, r->nb);
}

/* x += [post_norm] Wo.attn(rope(Wq.n(x)), rope(Wk.n(x)), Wv.n(x));
 * x += [post_norm] Wd.(act(Wg.n(x)) * Wu.n(x)), layer after layer; each
 * residual add is fused with the norm that follows it. */
int cpu_run_batch(cpu_run *r)
{
    const pl_decoder *d = r->d;
    cpu_decode *s = &r->c->dec;
    int rc = 0;
    cpu_rows(r, r->l0, ROWS_RESIDUAL, NULL, false, d->layers[r->l0].attn_norm);   /* xb = n(x) */
    for (int il = r->l0; il < r->l1 && !rc; il++) {
        const pl_decoder_layer *L = &d->layers[il];
        rc = cpu_mm(r, (const pl_wview *[]){ &L->wq, &L->wk, &L->wv }, (float *[]){ s->q, s->k, s->v }, 3, s->xb);
        if (rc) break;                                            /* q (nb, n_q), k, v (nb, n_kv) */
        cpu_rows(r, il, ROWS_QKV, NULL, false, NULL);             /* bias, norms, rope; k, v -> cache */
        cpu_attention_layer(r, il, r->nb, r->pos0, NULL);         /* att (nb, n_q) */
        if ((rc = cpu_mm(r, (const pl_wview *[]){ &L->wo }, &s->xb, 1, s->att))) break;   /* xb (nb, d) */
        cpu_rows(r, il, ROWS_RESIDUAL, L->attn_post_norm, true, L->ffn_norm);
        rc = cpu_mm(r, (const pl_wview *[]){ &L->ffn_gate, &L->ffn_up }, (float *[]){ s->gate, s->up }, 2, s->xb);
        if (rc) break;                                            /* gate, up (nb, n_ff) */
        cpu_rows(r, il, ROWS_ACT, NULL, false, NULL);             /* gate = act(gate) * up */
        if ((rc = cpu_mm(r, (const pl_wview *[]){ &L->ffn_down }, &s->xb, 1, s->gate))) break;
        cpu_rows(r, il, ROWS_RESIDUAL, L->ffn_post_norm, true, il + 1 < r->l1 ? d->layers[il + 1].attn_norm : NULL);
    }
    if (rc || !r->logits) return rc;
    pl_cpu_rms_norm(r->x + (size_t)(r->nb - 1) * d->n_embd, d->out_norm, d->n_embd, d->eps, s->norm);
    const pl_matmul_w w = { .W = d->out.data, .type = d->out.type, .rows = d->out.rows, .Y = r->logits,
                            .layout = d->out.layout };
    if ((rc = pl_cpu_matmul_multi_try(r->c->pool, &w, 1, d->n_embd, s->norm, 1))) return rc;
    if (d->softcap > 0.0f) cpu_softcap(r->logits, d->out.rows, d->softcap);
    return 0;
}

void cpu_softcap(float *logits, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++) logits[i] = cap * tanhf(logits[i] * (1.0f / cap));
}

/* The run_layers op: checks first, then the scratch, then the run. */
int cpu_run_layers(pl_backend *be, const pl_decoder *d, int l0, int l1, const int *kv_table, int nb, int pos0,
                   float *x, float *logits)
{
    if (!be || !d || !d->layers || !kv_table || !x || l0 < 0 || l1 > d->n_layer || l0 >= l1 || nb <= 0 ||
        pos0 < 0 || d->n_head_kv <= 0 || d->n_head % d->n_head_kv)
        return PL_BACKEND_EARG;
    cpu_run r = { .c = cpu_of(be), .d = d, .l0 = l0, .l1 = l1, .nb = nb, .pos0 = pos0, .kv_table = kv_table, .x = x,
                   .logits = logits };
    int rc = cpu_run_check(&r);
    if (!rc) rc = cpu_run_prepare(&r);
    if (!rc) rc = nb == 1 ? cpu_run_fused(&r) : cpu_run_batch(&r);
    return rc ? rc : atomic_load(&r.err);
}
