/* backend.h — the door of backends/: element-type traits, the CPU kernels the
 * engine calls, and the vtable every compute backend implements.
 *
 * Type traits (one table indexed by pl_type) say how big a block is, how to
 * turn a row into floats, how to quantize floats into it, and which activation
 * type its dot product pairs with (Q8_0 for the 32-blocks, Q8_K for K-quants).
 * Every quantized kernel has a scalar reference (*_ref) that the SIMD paths are
 * tested against; pl_cpu_features() chooses the fast path at run time and
 * PARLEY_CPU=scalar|avx2|avx512 forces one.
 */
#ifndef PL_BACKEND_H
#define PL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant_blocks.h"

typedef void (*pl_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*pl_from_float_fn)(const float *src, void *dst, int64_t n);
/* dot of n elements: *s = sum x[i]*y[i]; x of the weight type, y of vec_dot_type */
typedef void (*pl_vec_dot_fn)(int n, float *s, const void *x, const void *y);

typedef struct pl_type_traits {
    const char      *name;         /* "q4_0" */
    int              block_size;   /* elements per block */
    size_t           type_size;    /* bytes per block */
    bool             quantized;
    pl_type          vec_dot_type; /* activation type for vec_dot */
    pl_to_float_fn   to_float;
    pl_from_float_fn from_float;   /* reference quantizer (round to nearest) */
    pl_vec_dot_fn    vec_dot;      /* fastest available path */
    pl_vec_dot_fn    vec_dot_ref;  /* scalar reference */
} pl_type_traits;

/* NULL for a type id parley cannot compute with. */
const pl_type_traits *pl_type_traits_get(pl_type t);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
size_t pl_row_size(pl_type t, int64_t n);

float  pl_f16_to_f32(pl_f16 h);
pl_f16 pl_f32_to_f16(float f);
float  pl_bf16_to_f32(pl_bf16 h);
pl_bf16 pl_f32_to_bf16(float f);

/* ---- CPU features ---------------------------------------------------- */
enum { PL_CPU_SCALAR = 0, PL_CPU_AVX2 = 1, PL_CPU_AVX512 = 2, PL_CPU_NEON = 3 };
int         pl_cpu_level(void);            /* after PARLEY_CPU override */
const char *pl_cpu_level_name(int level);
void        pl_cpu_force_level(int level); /* tests: pick a path; resets the traits table */
int         pl_cpu_detected_level(void);   /* best path the CPU has (ignores overrides) */

/* ---- thread pool ------------------------------------------------------ */
typedef struct pl_pool pl_pool;
pl_pool *pl_pool_new(int n_threads);       /* n_threads includes the caller */
void     pl_pool_free(pl_pool *p);
int      pl_pool_size(const pl_pool *p);
/* Run fn(ith, nth, arg) on every thread (the caller is ith 0) and wait.
 * A NULL pool runs fn(0, 1, arg). Never call it from inside a job.
 * Idle workers spin PARLEY_SPIN_US (default 50) microseconds, then sleep. */
void     pl_pool_run(pl_pool *p, void (*fn)(int ith, int nth, void *arg), void *arg);
/* Run item(ith, k, arg) for k in [0, n_items) on the pool's threads, items
 * taken from a shared counter; returns when all are DONE, without waiting for
 * a worker the OS has not scheduled yet (it finds no item left). */
void     pl_pool_run_items(pl_pool *p, void (*item)(int ith, int64_t k, void *arg), int64_t n_items, void *arg);

/* ---- weight layouts ----------------------------------------------------
 * PL_LAYOUT_ROWS is GGUF's: row after row, each a run of blocks.
 * PL_LAYOUT_R16 is the CPU backend's, made once at load in a copy of the
 * weights the engine owns: groups of 16 rows, and in a group, block after
 * block, the 16 rows' f16 scales together and then their quants cut in 4-byte
 * pieces, piece c of all 16 rows side by side (64 bytes: one vpdpbusd runs
 * 16 row dot products with no unpacking and no horizontal sums). Details in
 * backends/cpu/r16.c. It takes exactly the bytes ROWS takes, so the slice of
 * rows [r0, r1) with r0 a multiple of 16 still starts r0 row sizes in.
 * Every matmul path reads it (the ones without an R16 kernel unpack a tile
 * to ROWS first). */
typedef enum pl_layout { PL_LAYOUT_ROWS = 0, PL_LAYOUT_R16 = 1 } pl_layout;
/* The layout the CPU backend streams fastest for a (rows, cols) weight of
 * type t at the current CPU level: R16 where it has kernels for it (q4_0,
 * q4_1, q5_0, q8_0, q4_K, q6_K; rows a multiple of 16), else ROWS. */
pl_layout pl_cpu_weight_layout(pl_type t, int64_t rows, int64_t cols);
/* Rewrite W (ROWS, writable) in place into pl_cpu_weight_layout's choice and
 * return the layout W is in now (ROWS when no other pays or memory ran out). */
pl_layout pl_cpu_weight_prepare(pl_type t, void *W, int64_t rows, int64_t cols);
/* Whether a weight can take R16 at the current CPU level. */
bool pl_cpu_r16_supported(pl_type t, int64_t rows, int64_t cols);
/* ROWS -> R16 in place; false (W unchanged) for a type without an R16 form,
 * rows not a multiple of 16, cols not whole blocks, or out of memory. */
bool pl_cpu_r16_repack(pl_type t, void *W, int64_t rows, int64_t cols);
/* R16 (rows a multiple of 16) -> ROWS into dst (not overlapping W). */
void pl_cpu_r16_unpack(pl_type t, const void *W, void *dst, int64_t rows, int64_t cols);
/* Row r of a weight in either layout, as floats (embedding lookups). */
void pl_cpu_row_to_float(const void *W, pl_type t, pl_layout layout, int64_t cols, int64_t r, float *out);

/* ---- CPU ops (f32 activations, row-major) ---------------------------- */
/* Y[n][rows] = X[n][cols] . W[rows][cols]^T, W of type wt (rows contiguous).
 * Activations are quantized to the type's vec_dot_type once per call. */
void pl_cpu_matmul(pl_pool *p, const void *W, pl_type wt, int64_t rows, int64_t cols,
                   const float *X, int64_t n, float *Y);
/* Several weights sharing the same input X (Q/K/V, or gate/up) in one pool
 * dispatch, X quantized once per activation type: Y_k[n][rows_k] =
 * X[n][cols] . W_k^T. At most 8 weights; types and layouts may differ. */
typedef struct pl_matmul_w {
    const void *W;      /* (rows, cols) in type */
    pl_type     type;
    int64_t     rows;
    float      *Y;      /* (n, rows) */
    pl_layout   layout; /* ROWS unless the weight was repacked */
} pl_matmul_w;
void pl_cpu_matmul_multi(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols,
                         const float *X, int64_t n);
/* The same, where x_id (nonzero) names X's contents: the caller promises
 * that every call with this id sees the same X. A thread then prepares X for
 * the R16 decode kernels once and reuses it for its later calls with the id
 * (one decode phase cut into row slices: ~2% of a 1B model's token). */
void pl_cpu_matmul_multi_id(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n,
                            uint64_t x_id);
/* The first of n fresh ids for pl_cpu_matmul_multi_id (never 0, never
 * handed out twice in a process). */
uint64_t pl_cpu_x_ids_new(int n);
/* Scalar reference of pl_cpu_matmul (single thread), for tests. */
void pl_cpu_matmul_ref(const void *W, pl_type wt, int64_t rows, int64_t cols,
                       const float *X, int64_t n, float *Y);

/* ---- CPU ops: small per-token ops of the forward pass ----------------
 * All single-threaded over one row; f32 unless named. Names and signatures
 * are stable: the forward pass calls them. out may alias an input. */

/* out = x / sqrt(mean(x^2) + eps) * w   (w may be NULL: no weight) */
void pl_cpu_rms_norm(const float *x, const float *w, int n, float eps, float *out);
/* x = softmax(x) over n values (max-subtracted) */
void pl_cpu_softmax_inplace(float *x, int n);
/* SwiGLU: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)) with libm's expf */
void pl_cpu_silu_mul(const float *gate, const float *up, int n, float *out);
/* The same with a vectorised exp where the CPU has AVX2 (about 2 ulp from
 * expf, so not the same bits): the llama family's feed-forward. */
void pl_cpu_silu_mul_fast(const float *gate, const float *up, int n, float *out);
/* out = a + b ;  out = a * b ;  x *= s */
void pl_cpu_add(const float *a, const float *b, int n, float *out);
void pl_cpu_mul(const float *a, const float *b, int n, float *out);
void pl_cpu_scale(float *x, float s, int n);

/* RoPE. First fill a cache of n_rot floats for one position:
 *   angle_i = freq_scale * pos * theta_base^(-2i/n_rot) / freq_factors[i]
 *   cs[2i] = cos(angle_i), cs[2i+1] = sin(angle_i),  i < n_rot/2
 * (freq_factors may be NULL; a negative pos delta re-rotates back), then rotate
 * the first n_rot dims of every head of x (n_head heads, head_dim apart):
 *   PL_ROPE_NORMAL (llama): pairs (x[2i], x[2i+1])
 *   PL_ROPE_NEOX (qwen2, gpt-neox): pairs (x[i], x[i + n_rot/2])
 * The mode values are ggml's rope modes. */
enum { PL_ROPE_NORMAL = 0, PL_ROPE_NEOX = 2 };
void pl_cpu_rope_cache(float *cs, int n_rot, float pos, float theta_base, float freq_scale,
                       const float *freq_factors);
void pl_cpu_rope(float *x, int n_head, int head_dim, int n_rot, const float *cs, int mode);

/* Attention over an F16 KV cache: sum a[i]*b[i] (a: K row in f16, b: query),
 * and y += a * x (x: V row in f16). F16C/AVX2 when available. */
float pl_cpu_dot_f16_f32(const pl_f16 *a, const float *b, int n);
void  pl_cpu_axpy_f16_f32(float *y, const pl_f16 *x, float a, int n);

/* ---- attention over a paged KV cache (backends/cpu/attn*.c) ------------
 * The backend sees one layer of one sequence's cache through a view, never
 * the engine's cache itself: a table of block ids (the sequence's) into the
 * layer's blocks, each block_size positions of K rows and then as many V
 * rows, in the cache's row types (any type with to_float / from_float). */
typedef struct pl_kv_view {
    uint8_t *const *blocks;  /* block id -> this layer's block: K rows (block_size, row_k bytes),
                                then V rows (block_size, row_v) */
    const int      *table;   /* the sequence's block ids: position p is in table[p / block_size] */
    int             block_size;
    pl_type         type_k, type_v;
    size_t          row_k, row_v;   /* bytes of one position's K / V row (kv_dim elements) */
    int             kv_dim;         /* n_head_kv * head_dim */
} pl_kv_view;

/* Store nb rows of K and V (f32, (nb, kv_dim)) at positions [pos0, pos0 + nb)
 * of the view, converted to its types (blocks already writable). */
void pl_cpu_kv_store(const pl_kv_view *kv, int nb, int pos0, const float *k, const float *v);

/* Which arithmetic an attention uses. Both are causal, windowed and GQA. */
typedef enum pl_attn_math {
    /* flash-style over tiles of 32 positions, softmax weights in f32; any
     * row types (the query meets f16 keys rounded to f16, quantized keys as f32) */
    PL_ATTN_BLOCKED = 0,
    /* llama.cpp's CPU arithmetic on an F16 cache: two passes over the keys,
     * softmax weights rounded to f16 before they meet the f16 values (greedy
     * answers identical to llama.cpp's on Gemma 3). Any other cache, or heads
     * over 1024, falls back to BLOCKED. */
    PL_ATTN_EXACT_F16 = 1,
} pl_attn_math;

/* Attention of nb tokens at positions [pos0, pos0 + nb), whose K and V are
 * already in the view: out = softmax(scale * q.K^T) V over the positions each
 * token sees. */
typedef struct pl_attn_args {
    pl_kv_view   kv;
    int          nb, pos0;
    int          n_head, n_head_kv, hd;
    const float *q;        /* (nb, n_head * hd), rotated */
    float       *out;      /* (nb, n_head * hd) */
    int          window;   /* > 0: a token at p sees only (p - window, p] (sliding window) */
    float        scale;    /* score scale; 0: 1/sqrt(hd) */
    pl_attn_math math;
    /* pl_cpu_attention's buffers; NULL through the vtable (a backend uses its own) */
    float       *scratch;  /* (n_threads, pl_cpu_attn_scratch_floats) */
    void        *work;     /* pl_cpu_attn_work_bytes: the plan and the decode partials */
} pl_attn_args;

/* Floats of one thread's scratch, for heads of hd and group = n_head / n_head_kv. */
size_t pl_cpu_attn_scratch_floats(int hd, int group);
/* Bytes of the work buffer for up to n_pos positions and items run on up to
 * n_threads threads. One call at a time per buffer. */
size_t pl_cpu_attn_work_bytes(int n_head, int n_head_kv, int hd, int n_pos, int n_threads);
/* The attention on the pool. */
void   pl_cpu_attention(pl_pool *p, const pl_attn_args *a);

/* The same work as items, for a caller that runs its own dispatch (a fused
 * decode step): init plans the items in a->work (a is copied) and returns the
 * plan; each item k in [0, n_items) then runs once, on any thread ith <
 * n_threads, in any order, with the same bits as pl_cpu_attention. */
typedef struct pl_attn_job pl_attn_job;
pl_attn_job *pl_cpu_attn_job_init(const pl_attn_args *a);
int          pl_cpu_attn_job_items(const pl_attn_job *j);
void         pl_cpu_attn_job_item(const pl_attn_job *j, int ith, int k);

/* ---- the backend interface ---------------------------------------------
 * A backend is { ops, ctx }: a table of function pointers (pl_backend_ops,
 * guarded by PL_BACKEND_ABI) and the private state one init made (scratch,
 * threads, streams, its memory count). The engine runs the forward pass only
 * through it, so a layer can sit on any backend: "cpu" (the fast host
 * kernels), "ref" (the scalar references with their own buffers and GGUF's
 * row layout: a second backend on every machine), later a GPU.
 *
 * Rules every backend keeps, so a GPU can implement the same table:
 *  - activations, weights and KV blocks are pointers into the backend's own
 *    memory (alloc); counts, token ids, positions, rope factors and the KV
 *    block table are host-side arguments;
 *  - every op returns 0 or a negative PL_BACKEND_E*: an op that cannot do
 *    what it was asked (type, layout, memory) says so and writes nothing
 *    worth reading; nothing is skipped silently;
 *  - ops may run asynchronously until sync; download implies a sync.
 * Tensors are row-major f32 unless named: "(n, d)" is n rows of d floats. */
#define PL_BACKEND_ABI 2

enum {
    PL_BACKEND_OK           = 0,
    PL_BACKEND_ENOMEM       = -1,   /* out of memory, or over the backend's limit */
    PL_BACKEND_EUNSUPPORTED = -2,   /* a type, layout or shape this backend cannot run */
    PL_BACKEND_EARG         = -3,   /* a bad argument (caller's bug) */
};
/* "out of memory", ... ; never NULL. */
const char *pl_backend_strerror(int err);

typedef struct pl_backend_ops pl_backend_ops;
typedef struct pl_backend {
    const pl_backend_ops *ops;
    void                 *ctx;     /* the backend's own state */
} pl_backend;

typedef struct pl_backend_params {
    int    n_threads;   /* including the caller; <= 0: 1 */
    size_t mem_limit;   /* bytes the backend may hold; 0 = no limit */
} pl_backend_params;

/* Gated activations of the feed-forward: out = act(gate) * up. SWIGLU uses
 * libm's expf; SWIGLU_FAST lets a backend use a faster exp (the CPU's is ~2
 * ulp off expf: the llama family's numbers); GEGLU is ggml's f16 table. */
typedef enum pl_glu { PL_GLU_SWIGLU = 0, PL_GLU_GEGLU = 1, PL_GLU_SWIGLU_FAST = 2 } pl_glu;

/* RoPE of one layer (its base is an argument: gemma3's local layers differ).
 * angle of pair i at position p = freq_scale * p * base^(-2i/n_rot) / freq_factors[i]. */
typedef struct pl_rope_args {
    int          n_rot, mode;       /* dims rotated per head; PL_ROPE_NORMAL or PL_ROPE_NEOX */
    float        base, freq_scale;
    const float *freq_factors;      /* host, (n_rot / 2) or NULL */
} pl_rope_args;

/* ---- a decoder described for run_layers -------------------------------
 * The pre-norm decoder of llama, qwen2, qwen3 and gemma3 as plain data, with
 * no engine type in it: the engine fills it from its architecture table and
 * model, the backend runs it. Every optional step is a NULL pointer. */

/* A weight matrix in a backend's memory (rows, cols) in its type and layout. */
typedef struct pl_wview {
    const void *data;
    pl_type     type;
    int64_t     rows, cols;
    pl_layout   layout;
} pl_wview;

typedef struct pl_decoder_layer {
    const float *attn_norm;                  /* (n_embd) */
    pl_wview     wq, wk, wv, wo;             /* (n_q, n_embd) (n_kv, n_embd) x2 (n_embd, n_q) */
    const float *ffn_norm;                   /* (n_embd) */
    pl_wview     ffn_gate, ffn_up, ffn_down; /* (n_ff, n_embd) x2, (n_embd, n_ff) */
    const float *bq, *bk, *bv;               /* (n_q) (n_kv) (n_kv) biases, or NULL */
    const float *q_norm, *k_norm;            /* (head_dim) per-head norms, or NULL */
    const float *attn_post_norm, *ffn_post_norm; /* (n_embd) before the residual adds, or NULL */
    int          window;                     /* > 0: sliding window of positions */
    pl_rope_args rope;                       /* this layer's rope (host freq_factors) */
    uint8_t *const *kv_blocks;               /* block id -> this layer's KV block (pl_kv_view.blocks) */
} pl_decoder_layer;

typedef struct pl_decoder {
    int          n_embd, n_head, n_head_kv, head_dim, n_ff, n_layer;
    float        eps;           /* every RMSNorm's */
    pl_glu       glu;           /* the feed-forward's gated activation */
    pl_attn_math attn_math;
    bool         q_scale_first; /* scale q by attn_scale before attention (gemma), else the scores */
    float        attn_scale;
    pl_type      type_k, type_v;   /* the KV cache's row types */
    size_t       row_k, row_v;     /* bytes of a position's K / V row */
    int          kv_block;         /* positions per KV block */
    const pl_decoder_layer *layers; /* (n_layer) */
    /* the head, which run_layers may fuse into a run ending at the last layer */
    const float *out_norm;      /* (n_embd) final RMSNorm */
    pl_wview     out;           /* (n_vocab, n_embd) output projection */
    float        softcap;       /* > 0: logits = softcap * tanh(logits / softcap) */
} pl_decoder;

/* The view of layer il's KV slice for a sequence's block table. */
static inline pl_kv_view pl_decoder_kv(const pl_decoder *d, int il, const int *kv_table)
{
    return (pl_kv_view){ .blocks = d->layers[il].kv_blocks, .table = kv_table, .block_size = d->kv_block,
                         .type_k = d->type_k, .type_v = d->type_v, .row_k = d->row_k, .row_v = d->row_v,
                         .kv_dim = d->n_head_kv * d->head_dim };
}

struct pl_backend_ops {
    int         abi;    /* PL_BACKEND_ABI */
    const char *name;   /* "cpu", "ref" */

    /* context: NULL with a reason in err on failure */
    pl_backend *(*init)(const pl_backend_params *p, char *err, size_t err_len);
    void        (*free)(pl_backend *be);

    /* buffers (64-byte aligned); alloc returns NULL out of memory or over the limit */
    void *(*alloc)(pl_backend *be, size_t bytes);
    void  (*release)(pl_backend *be, void *buf);                  /* NULL is fine */
    int   (*upload)(pl_backend *be, void *dst, const void *host_src, size_t bytes);
    int   (*download)(pl_backend *be, void *host_dst, const void *src, size_t bytes);
    /* dst (this backend) <- src (backend from). Optional (NULL): go through the host. */
    int   (*copy_from)(pl_backend *be, void *dst, pl_backend *from, const void *src, size_t bytes);
    /* total: the limit (or all the memory it can reach), used: its live buffers */
    void  (*mem_info)(const pl_backend *be, size_t *total, size_t *used, size_t *free);
    int   (*sync)(pl_backend *be);

    /* weights: the layout this backend wants for a matrix, and a copy of host
     * bytes (ROWS or R16 as given) in it. *out == host (the CPU borrowing the
     * caller's bytes, which must then outlive it) is not released; any other
     * *out is the backend's buffer: release it. */
    pl_layout (*layout)(const pl_backend *be, pl_type t, int64_t rows, int64_t cols);
    int (*weight_load)(pl_backend *be, pl_type t, int64_t rows, int64_t cols, const void *host,
                       pl_layout host_layout, pl_layout layout, void **out);

    /* ops on activations in this backend's memory */
    /* out (n, cols) = rows tokens[i] (host ids) of table (n_rows, cols) * scale */
    int (*embed)(pl_backend *be, const void *table, pl_type t, pl_layout layout, int64_t n_rows,
                 int64_t cols, const int32_t *tokens, int n, float scale, float *out);
    /* out (rows, d) = rms_norm of each row of x, times w (d) unless w is NULL;
     * the head norms are rows = tokens * heads, d = head_dim. out may be x. */
    int (*rms_norm)(pl_backend *be, const float *x, const float *w, int rows, int d, float eps, float *out);
    /* Y_k (n, rows_k) = X (n, cols) . W_k^T for nw <= 8 weights sharing X */
    int (*matmul)(pl_backend *be, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n);
    /* rotate x (n, n_head * head_dim) in place; row i at position pos0 + i */
    int (*rope)(pl_backend *be, float *x, int n, int n_head, int head_dim, int pos0, const pl_rope_args *r);
    /* K and V rows (n, kv_dim) into positions [pos0, pos0 + n) of the view, in its types */
    int (*kv_store)(pl_backend *be, const pl_kv_view *kv, int pos0, int n, const float *k, const float *v);
    int (*attention)(pl_backend *be, const pl_attn_args *a);
    /* out (n) = act(gate) * up; out may alias gate or up */
    int (*glu)(pl_backend *be, pl_glu act, const float *gate, const float *up, int64_t n, float *out);
    /* out (rows, d) = a (rows, d) + b, b of b_rows rows: rows, or 1 (a bias on every row) */
    int (*add)(pl_backend *be, const float *a, const float *b, int rows, int b_rows, int d, float *out);
    int (*scale)(pl_backend *be, float *x, int64_t n, float s);
    int (*softmax)(pl_backend *be, float *x, int rows, int d);   /* each row, in place */
    /* w_out->Y (w_out->rows) = softcap(W_out . rms_norm(x (d), norm_w));
     * softcap <= 0: none, else cap * tanh(logit / cap) */
    int (*logits)(pl_backend *be, const float *x, const float *norm_w, int d, float eps,
                  const pl_matmul_w *w_out, float softcap);

    /* optional (NULL): layers [l0, l1) of d for nb tokens at positions
     * pos0.. of the sequence whose KV block table is kv_table; x (nb,
     * d->n_embd) in this backend's memory is the residual stream in and out.
     * logits: NULL, or (d->out.rows) in this backend's memory, only with l1
     * == n_layer: the last token's logits (the logits op's numbers), the head
     * fused into the run (on the CPU its output projection is the decode
     * job's last phase, not one more dispatch that waits on every thread).
     * The numbers must be those of the op-by-op path's arithmetic on this
     * backend's kernels (the CPU: bit for bit). The CPU runs nb == 1 as one
     * pool job (its fused decode) and nb > 1 as matmuls + parallel row steps. */
    int (*run_layers)(pl_backend *be, const pl_decoder *d, int l0, int l1, const int *kv_table, int nb,
                      int pos0, float *x, float *logits);

    /* optional (NULL): rewrite a host weight (ROWS, writable) in place into
     * the layout this backend wants and return the layout it is in now (ROWS
     * when no other pays or memory ran out). Host-memory backends decide from
     * the type, shape and CPU level alone: be may be NULL (a model is loaded
     * before any context exists). */
    pl_layout (*weight_prepare)(const pl_backend *be, pl_type t, void *W, int64_t rows, int64_t cols);
    /* optional (NULL): the host thread pool the backend runs on, which the
     * caller may use for host work beside it (no second pool of threads),
     * and its replacement by one of n threads (between two ops). */
    pl_pool *(*pool)(pl_backend *be);
    int      (*set_threads)(pl_backend *be, int n_threads);
};

/* The backend named name ("cpu", "ref"), or NULL. */
const pl_backend_ops *pl_backend_find(const char *name);

/* The scalar references of kv_store and attention over a view (the "ref"
 * backend's own, single-threaded): f16 caches with llama.cpp's arithmetic. */
int pl_ref_kv_store(const pl_kv_view *kv, int pos0, int n, const float *k, const float *v);
int pl_ref_attention(const pl_attn_args *a);
/* Their argument checks alone (0 or PL_BACKEND_E*), for other backends' ops. */
int pl_ref_kv_store_check(const pl_kv_view *kv, int pos0, int n, const float *k, const float *v);
int pl_ref_attention_check(const pl_attn_args *a);

/* Matmuls that say why they could not run: PL_BACKEND_EUNSUPPORTED (a weight
 * type, layout or shape; checked before anything runs), PL_BACKEND_ENOMEM (a
 * scratch buffer; Y then holds NaN where it could not be computed). The void
 * pl_cpu_matmul_multi(_id) above call these and drop the code. */
int pl_cpu_matmul_multi_try(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X, int64_t n);
int pl_cpu_matmul_multi_id_try(pl_pool *p, const pl_matmul_w *ws, int nw, int64_t cols, const float *X,
                               int64_t n, uint64_t x_id);

#endif
