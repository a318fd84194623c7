/* decode_impl.h — the CPU backend's state and its run_layers (backends/cpu
 * internal: backend_cpu.c, decode_prefill.c, decode_fused.c, decode_attn.c).
 *
 * run_layers runs a pl_decoder's layers on the CPU: a chunk of nb > 1 tokens
 * as matmuls on the pool with the element-wise steps run row by row
 * (decode_prefill.c), one token as a single pool job (decode_fused.c). Both
 * call the same row functions below for every element-wise step, so a
 * prefill and token-by-token decoding give the same numbers for every
 * architecture; attention and the KV store have one entry each
 * (decode_attn.c). The scratch belongs to the backend context, sized to the
 * largest call seen (grown, never per token once the shapes are known).
 */
#ifndef PL_DECODE_IMPL_H
#define PL_DECODE_IMPL_H

#include <stdatomic.h>

#include "../backend_impl.h"

/* run_layers' buffers, for up to nb_cap tokens of the last shapes seen. */
typedef struct cpu_decode {
    float *xb;        /* (nb, n_embd) normed input / projection output */
    float *q, *att;   /* (nb, n_q) */
    float *k, *v;     /* (nb, n_kv) */
    float *gate, *up; /* (nb, n_ff) */
    float *norm;      /* (n_embd) normed input of the fused decode's next matmul */
    float *rope_cs;   /* (n_tab, nb, n_rot) one table per distinct rope of the run */
    int   *rope_tab;  /* (n_layer) layer -> its table */
    atomic_int *sync; /* (3, n_phases) next / done / ready per phase of a decode step */
    size_t cap[13];   /* bytes held by each buffer above, in this order */
    float *attn_scr;  /* (threads, pl_cpu_attn_scratch_floats) attention tiles */
    void  *attn_work; /* pl_cpu_attn_work_bytes: the attention's plan and partials */
} cpu_decode;

enum { CPU_CAP_ATTN_SCR = 11, CPU_CAP_ATTN_WORK = 12 };   /* cpu_decode.cap of the attention's two */

typedef struct cpu_ctx {
    pl_backend be;
    pl_hostmem mem;
    pl_pool   *pool;
    float     *scratch;     /* (scratch_n) logits' normed row, RoPE's cos/sin */
    size_t     scratch_n;
    cpu_decode dec;
} cpu_ctx;

static inline cpu_ctx *cpu_of(const pl_backend *be) { return (cpu_ctx *)be->ctx; }

/* One run_layers call: layers [l0, l1) of d on nb tokens at pos0.. */
typedef struct cpu_run {
    cpu_ctx          *c;
    const pl_decoder *d;
    int               l0, l1, nb, pos0;
    const int        *kv_table;
    float            *x;      /* (nb, n_embd) residual stream */
    float            *logits; /* (n_vocab) of the last token, or NULL */
    atomic_int        err;    /* first PL_BACKEND_E* an op met, 0 */
} cpu_run;

/* ---- decode_prefill.c: shared row steps and the batched run -------------- */

/* *p holds at least bytes, on a cache line (grown, contents dropped); 0 or ENOMEM. */
int  cpu_grow(void **p, size_t *cap, size_t bytes);
/* Grow the scratch for the run's shapes and fill its rope tables; 0 or ENOMEM. */
int  cpu_run_prepare(cpu_run *r);
/* Every weight of the run computable on this CPU? 0 or EUNSUPPORTED / EARG. */
int  cpu_run_check(const cpu_run *r);
/* cos/sin of row i's rope for layer il. */
const float *cpu_rope_cs(const cpu_run *r, int il, int i);
/* q, k of token i: biases (if bias), head norms, rope, query scale; then k, v
 * into the cache at pos. */
void cpu_row_qkv(cpu_run *r, int il, int i, int pos, bool bias);
/* xb = post(xb) if post; x += xb if add; normed = rmsnorm(x) * norm if norm. */
void cpu_row_residual(const pl_decoder *d, float *x, float *xb, const float *post, bool add,
                      const float *norm, float *normed);
/* out = act(gate) * up over n values (the decoder's gated activation). */
void cpu_act(pl_glu act, const float *gate, const float *up, int64_t n, float *out);
/* nb > 1 tokens through the run's layers. */
int  cpu_run_batch(cpu_run *r);

/* ---- decode_fused.c ------------------------------------------------------ */

/* One token through the run's layers in one pool dispatch. */
int  cpu_run_fused(cpu_run *r);

/* ---- decode_attn.c: the one attention entry and KV store ----------------- */

/* One layer's attention of a chunk, as work items a caller may run in its own
 * dispatch (the backend's plan: blocked tiles, or one (token, head) each). */
typedef struct cpu_attn {
    pl_attn_args  a;
    pl_attn_job  *j;
    int           n_items;
} cpu_attn;

/* att (nb, n_q) = causal (windowed on sliding layers) attention of the run's
 * rotated queries over layer il. plan == NULL: run it on the pool now; else
 * only plan its items into *plan (run with cpu_attn_item). */
void cpu_attention_layer(cpu_run *r, int il, int nb, int pos0, cpu_attn *plan);
void cpu_attn_item(cpu_attn *fa, int ith, int k);
/* K and V rows (nb, kv_dim) of layer il at positions pos0.. into the cache. */
void cpu_store_kv(cpu_run *r, int il, int nb, int pos0, const float *k, const float *v);

/* The run_layers op of the vtable. */
int cpu_run_layers(pl_backend *be, const pl_decoder *d, int l0, int l1, const int *kv_table, int nb, int pos0,
                   float *x, float *logits);
/* logits = cap * tanh(logits / cap) over n values (llama.cpp's order). */
void cpu_softcap(float *logits, int64_t n, float cap);

#endif
