/* test_quantize.c — `parley quantize`: the recipe table, the conversion of the
 * real default model (types per tensor, metadata carried over, dequantized
 * weights close to the originals), a small F32 model end to end, and the
 * failures a user meets (unknown type, truncated input, missing folder).
 *
 * Expected recipe types are worked out by hand from llama.cpp's rules
 * (llama_tensor_get_type), not from our table, so a wrong row fails here.
 * Error bounds are relative RMSE of the dequantized weights against the
 * input's own dequantized weights, per output type, with ~1.5x margin over
 * what the reference quantizers give on SmolLM2 (Q8_0 0.0065, Q6_K 0.020,
 * Q5_0 0.052, Q4_K 0.020 measured from its Q4_1 weights).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cmd/cmd.h"
#include "engine/gguf.h"
#include "engine/quantize_impl.h"

/* ---- helpers ------------------------------------------------------------ */

static char qt_dir[64];

/* A fresh temp folder for a test's outputs. */
static const char *qt_tmpdir(void)
{
    snprintf(qt_dir, sizeof qt_dir, "/tmp/parley-quant-XXXXXX");
    cr_assert_not_null(mkdtemp(qt_dir), "mkdtemp failed");
    return qt_dir;
}

/* Remove the temp folder and the files in it. */
static void qt_cleanup(void)
{
    if (!qt_dir[0]) return;
    DIR *d = opendir(qt_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') { snprintf(p, sizeof p, "%s/%s", qt_dir, e->d_name); unlink(p); }
    if (d) closedir(d);
    rmdir(qt_dir);
}

/* Files in the temp folder (0: nothing left behind). */
static int qt_files_in_dir(void)
{
    int n = 0;
    DIR *d = opendir(qt_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static const char *qt_model(void)
{
    const char *p = getenv("PARLEY_MODEL");
    cr_assert(p && *p, "PARLEY_MODEL is not set: run `make model`, then the tests via `make test`");
    cr_assert_eq(access(p, R_OK), 0, "%s is missing: run `make model`", p);
    return p;
}

static quant_pick pick(const char *type, const quant_model_facts *m, const char *name, uint64_t ne0)
{
    const quant_recipe *r = quant_recipe_find(type);
    cr_assert_not_null(r, "recipe %s", type);
    uint64_t ne[2] = { ne0, 1024 };
    return quant_recipe_pick(r, m, name, 2, ne);
}

#define EXPECT_TYPE(T_, M_, NAME_, NE0_, WANT_)                                                  \
    do {                                                                                        \
        quant_pick p_ = pick(T_, M_, NAME_, NE0_);                                              \
        cr_expect(p_.quantize, "%s %s: not quantized", T_, NAME_);                             \
        cr_expect_eq(p_.type, WANT_, "%s %s (row %d): got %s, want %s", T_, NAME_, (int)(NE0_), \
                     pl_type_name(p_.type), pl_type_name(WANT_));                               \
    } while (0)

/* Relative RMSE of tensor b's values against a's (same shape), row by row. */
static double qt_rel_rmse(const gguf_tensor *a, const gguf_tensor *b)
{
    int64_t n0 = (int64_t)a->ne[0], rows = (int64_t)(a->ne[1] * a->ne[2] * a->ne[3]);
    const pl_type_traits *ta = pl_type_traits_get(a->type), *tb = pl_type_traits_get(b->type);
    cr_assert(ta && tb && ta->to_float && tb->to_float);
    float *x = malloc((size_t)n0 * 4), *y = malloc((size_t)n0 * 4);
    double num = 0, den = 0;
    size_t ra = pl_row_size(a->type, n0), rb = pl_row_size(b->type, n0);
    for (int64_t r = 0; r < rows; r++) {
        ta->to_float((const uint8_t *)a->data + r * ra, x, n0);
        tb->to_float((const uint8_t *)b->data + r * rb, y, n0);
        for (int64_t i = 0; i < n0; i++) {
            num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
            den += (double)x[i] * x[i];
        }
    }
    free(x);
    free(y);
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Per output type: the largest relative RMSE allowed. */
static double qt_bound(pl_type t)
{
    static const struct { pl_type t; double bound; } bounds[] = {
        {PL_TYPE_Q8_0, 0.01}, {PL_TYPE_Q6_K, 0.03}, {PL_TYPE_Q5_0, 0.075}, {PL_TYPE_Q5_1, 0.07},
        {PL_TYPE_Q4_K, 0.06}, {PL_TYPE_Q4_0, 0.12}, {PL_TYPE_F16, 0.001}, {PL_TYPE_F32, 0},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (bounds[i].t == t) return bounds[i].bound;
    cr_assert_fail("no error bound for %s", pl_type_name(t));
    return 0;
}

static bool qt_is_matrix(const gguf_tensor *t)
{
    return t->n_dims >= 2 && !memmem(t->name.ptr, t->name.len, "_norm", 5);
}

typedef struct qt_count { int events, fallbacks, requant; } qt_count;

static void qt_on_event(void *ud, const pl_quant_event *ev)
{
    qt_count *c = ud;
    c->events++;
    c->fallbacks += ev->fallback;
    c->requant += ev->requantized;
    cr_assert_eq(ev->index, c->events);
}

/* ---- the recipe table ----------------------------------------------------- */

/* A Llama-7B-like model: 32 layers, rows of 4096, separate output matrix. */
static const quant_model_facts llama32 = { .n_layer = 32, .n_gqa = 1, .has_output = true };

Test(quant_cmd_recipe, q4_k_m_follows_llama_cpp)
{
    EXPECT_TYPE("Q4_K_M", &llama32, "output.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "token_embd.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.0.attn_q.weight", 4096, PL_TYPE_Q4_K);
    /* use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2 */
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.3.attn_v.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.4.attn_v.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.6.attn_v.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.10.ffn_down.weight", 11008, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.12.ffn_down.weight", 11008, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.31.ffn_down.weight", 11008, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.5.ffn_gate.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q4_K_M", &llama32, "blk.5.attn_qkv.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q5_K_M", &llama32, "blk.6.attn_v.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q5_K_M", &llama32, "blk.5.attn_v.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q5_K_S", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("q4_k", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q6_K);   /* alias of Q4_K_M */
}

Test(quant_cmd_recipe, small_and_medium_k_recipes)
{
    quant_model_facts gqa4 = llama32;
    gqa4.n_gqa = 4;
    EXPECT_TYPE("Q4_K_S", &llama32, "blk.3.attn_v.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q4_K_S", &llama32, "blk.4.attn_v.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q4_K_S", &llama32, "blk.3.ffn_down.weight", 11008, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q4_K_S", &llama32, "blk.4.ffn_down.weight", 11008, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.1.attn_v.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.2.attn_v.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.1.ffn_down.weight", 11008, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.2.ffn_down.weight", 11008, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.2.attn_output.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q3_K_M", &llama32, "blk.2.attn_q.weight", 4096, PL_TYPE_Q3_K);
    EXPECT_TYPE("Q3_K_S", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q3_K);
    EXPECT_TYPE("Q3_K_L", &llama32, "blk.9.attn_v.weight", 4096, PL_TYPE_Q5_K);
    EXPECT_TYPE("Q2_K", &llama32, "blk.9.attn_v.weight", 4096, PL_TYPE_Q3_K);
    EXPECT_TYPE("Q2_K", &gqa4, "blk.9.attn_v.weight", 4096, PL_TYPE_Q4_K);
    EXPECT_TYPE("Q2_K", &llama32, "blk.9.ffn_down.weight", 11008, PL_TYPE_Q3_K);
    EXPECT_TYPE("Q2_K", &llama32, "blk.9.attn_output.weight", 4096, PL_TYPE_Q3_K);
    EXPECT_TYPE("Q2_K", &llama32, "blk.9.ffn_up.weight", 4096, PL_TYPE_Q2_K);
    EXPECT_TYPE("Q2_K", &llama32, "output.weight", 4096, PL_TYPE_Q6_K);
}

Test(quant_cmd_recipe, legacy_and_float_types)
{
    EXPECT_TYPE("Q4_0", &llama32, "output.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_0", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q4_0);
    EXPECT_TYPE("q5_1", &llama32, "blk.0.ffn_down.weight", 11008, PL_TYPE_Q5_1);
    EXPECT_TYPE("Q8_0", &llama32, "output.weight", 4096, PL_TYPE_Q8_0);
    EXPECT_TYPE("Q8_0", &llama32, "blk.0.attn_v.weight", 4096, PL_TYPE_Q8_0);
    EXPECT_TYPE("F16", &llama32, "output.weight", 4096, PL_TYPE_F16);
    EXPECT_TYPE("bf16", &llama32, "blk.0.ffn_down.weight", 11008, PL_TYPE_BF16);
    EXPECT_TYPE("F32", &llama32, "token_embd.weight", 4096, PL_TYPE_F32);
}

Test(quant_cmd_recipe, tied_output_and_fallbacks)
{
    quant_model_facts tied = { .n_layer = 30, .n_gqa = 3, .has_output = false };
    /* token_embd doubles as the output: Q6_K, or Q8_0 when rows miss the base block */
    EXPECT_TYPE("Q4_K_M", &tied, "token_embd.weight", 4096, PL_TYPE_Q6_K);
    EXPECT_TYPE("Q4_K_M", &tied, "token_embd.weight", 576, PL_TYPE_Q8_0);
    quant_pick p = pick("Q4_K_M", &tied, "token_embd.weight", 576);
    cr_expect(!p.fallback, "the output's Q8_0 is the rule, not a fallback");
    p = pick("Q4_K_M", &tied, "blk.4.attn_q.weight", 576);
    cr_expect(p.fallback && p.wanted == PL_TYPE_Q4_K && p.type == PL_TYPE_Q5_0);
    EXPECT_TYPE("Q4_K_M", &tied, "blk.0.attn_v.weight", 576, PL_TYPE_Q8_0);   /* Q6_K -> Q8_0 */
    EXPECT_TYPE("Q5_K_S", &tied, "blk.4.attn_q.weight", 576, PL_TYPE_Q5_1);   /* Q5_K -> Q5_1 */
    EXPECT_TYPE("Q2_K", &tied, "blk.4.attn_q.weight", 576, PL_TYPE_Q4_0);     /* Q2_K -> Q4_0 */
    EXPECT_TYPE("Q3_K_S", &tied, "blk.4.attn_q.weight", 576, PL_TYPE_Q4_0);
    EXPECT_TYPE("Q4_K_M", &tied, "blk.4.attn_q.weight", 48, PL_TYPE_F16);     /* not even 32 */
    EXPECT_TYPE("Q4_0", &tied, "blk.4.attn_q.weight", 48, PL_TYPE_F16);
}

Test(quant_cmd_recipe, only_weight_matrices_are_converted)
{
    uint64_t ne1[1] = { 4096 }, ne2[2] = { 4096, 4096 };
    const quant_recipe *r = quant_recipe_find("Q4_K_M");
    cr_expect(!quant_recipe_pick(r, &llama32, "blk.0.attn_norm.weight", 1, ne1).quantize);
    cr_expect(!quant_recipe_pick(r, &llama32, "blk.0.attn_q.bias", 1, ne1).quantize);
    cr_expect(!quant_recipe_pick(r, &llama32, "blk.0.attn_q_norm.weight", 2, ne2).quantize);
    cr_expect(!quant_recipe_pick(r, &llama32, "blk.0.ffn_gate_inp.weight", 2, ne2).quantize);
    cr_expect(!quant_recipe_pick(r, &llama32, "rope_freqs", 2, ne2).quantize);
    cr_expect(quant_recipe_pick(r, &llama32, "blk.0.ffn_up.weight", 2, ne2).quantize);
}

Test(quant_cmd_recipe, type_names)
{
    const char *want[] = { "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
                           "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "F16", "BF16", "F32" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_expect(pl_quantize_type_known(want[i]), "%s", want[i]);
        bool listed = false;
        for (const char *const *s = pl_quantize_type_names(); *s; s++) listed |= !strcmp(*s, want[i]);
        cr_expect(listed, "%s not listed", want[i]);
    }
    cr_expect(pl_quantize_type_known("q4_k_m") && pl_quantize_type_known("Bf16"));
    cr_expect(!pl_quantize_type_known("Q7_0") && !pl_quantize_type_known("") && !pl_quantize_type_known(NULL));
    cr_expect_eq(quant_recipe_find("Q4_K")->ftype, 15u);
    cr_expect_eq(quant_recipe_find("Q8_0")->ftype, 7u);
    cr_expect_eq(quant_recipe_find("BF16")->ftype, 32u);
}

/* ---- the real default model ------------------------------------------- */

/* Same tensors in the same order and shapes; 1-D tensors F32 and untouched. */
static void qt_check_tensors(const gguf_file *in, const gguf_file *out)
{
    cr_assert_eq(out->n_tensors, in->n_tensors);
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const gguf_tensor *a = &in->tensors[i], *b = &out->tensors[i];
        cr_assert(a->name.len == b->name.len && !memcmp(a->name.ptr, b->name.ptr, a->name.len),
                  "tensor %llu: order changed", (unsigned long long)i);
        cr_assert_eq(a->n_dims, b->n_dims);
        cr_assert(!memcmp(a->ne, b->ne, sizeof a->ne), "%.*s: shape changed", (int)a->name.len, a->name.ptr);
        cr_assert_eq(b->offset % out->alignment, 0);
        if (a->n_dims == 1) {
            cr_expect_eq(b->type, PL_TYPE_F32, "%.*s: 1-D tensor not F32", (int)a->name.len, a->name.ptr);
            cr_expect(!memcmp(a->data, b->data, a->nbytes));
        }
    }
}

/* Every kv carried over byte for byte, except the two the quantizer sets. */
static void qt_check_metadata(const gguf_file *in, const gguf_file *out, uint32_t ftype)
{
    for (uint64_t i = 0; i < in->n_kv; i++) {
        const gguf_kv *a = &in->kv[i];
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
        const gguf_kv *b = gguf_find_kv(out, key);
        cr_assert_not_null(b, "kv %s missing", key);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version")) continue;
        cr_assert(a->type == b->type && a->arr_type == b->arr_type && a->arr_n == b->arr_n, "kv %s type", key);
        gguf_str sa, sb;
        if (a->type == GGUF_STRING) {
            cr_assert(gguf_kv_str(a, &sa) && gguf_kv_str(b, &sb));
            cr_expect(sa.len == sb.len && !memcmp(sa.ptr, sb.ptr, sa.len), "kv %s differs", key);
        } else if (a->type == GGUF_ARRAY && a->arr_type == GGUF_STRING) {
            for (uint64_t k = 0; k < a->arr_n; k++)
                cr_assert(a->strs[k].len == b->strs[k].len &&
                          !memcmp(a->strs[k].ptr, b->strs[k].ptr, a->strs[k].len), "kv %s[%llu]", key,
                          (unsigned long long)k);
        } else {
            size_t n = gguf_vtype_size(a->type == GGUF_ARRAY ? a->arr_type : a->type);
            n *= a->type == GGUF_ARRAY ? a->arr_n : 1;
            cr_expect(!memcmp(a->data, b->data, n), "kv %s differs", key);
        }
    }
    uint32_t ft = 0, qv = 0;
    cr_expect(gguf_get_u32(out, "general.file_type", &ft) && ft == ftype, "file_type %u, want %u", ft, ftype);
    cr_expect(gguf_get_u32(out, "general.quantization_version", &qv) && qv == 2);
    gguf_str tmpl = { 0 };
    cr_expect(gguf_get_str(out, "tokenizer.chat_template", &tmpl) && memmem(tmpl.ptr, tmpl.len, "<|im_start|>", 12),
              "chat template lost");
    uint64_t n_tok = 0;
    const void *toks;
    cr_expect(gguf_get_arr(out, "tokenizer.ggml.tokens", GGUF_STRING, &n_tok, &toks) && n_tok == 49152);
}

/* Matrices: converted ones within their type's error bound, kept ones identical. */
static void qt_check_values(const gguf_file *in, const gguf_file *out)
{
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const gguf_tensor *a = &in->tensors[i], *b = &out->tensors[i];
        if (!qt_is_matrix(a)) continue;
        if (a->type == b->type) {
            cr_expect(!memcmp(a->data, b->data, a->nbytes), "%.*s kept but changed", (int)a->name.len, a->name.ptr);
            continue;
        }
        double e = qt_rel_rmse(a, b), bound = qt_bound(b->type);
        cr_expect(e <= bound, "%.*s as %s: relative RMSE %.4f > %.4f", (int)a->name.len, a->name.ptr,
                  pl_type_name(b->type), e, bound);
    }
}

static pl_type qt_type_of(const gguf_file *f, const char *name)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    cr_assert_not_null(t, "%s missing", name);
    return t->type;
}

/* Quantize the default model to type into the temp folder; returns the output, opened. */
static gguf_file *qt_quantize_model(const char *type, gguf_file **in, pl_quant_stats *s, qt_count *c)
{
    char out[128];
    pl_status st;
    snprintf(out, sizeof out, "%s/out.gguf", qt_tmpdir());
    cr_assert_eq(pl_quantize_file(qt_model(), out, type, 2, qt_on_event, c, s, &st), PL_OK, "%s", st.msg);
    *in = gguf_open(qt_model(), &st);
    cr_assert_not_null(*in, "%s", st.msg);
    gguf_file *f = gguf_open(out, &st);
    cr_assert_not_null(f, "%s", st.msg);
    struct stat sb;
    cr_assert_eq(stat(out, &sb), 0);
    cr_expect_eq(s->out_bytes, (uint64_t)sb.st_size);
    cr_expect_eq(s->in_bytes, (*in)->size);
    cr_expect_eq(c->events, (int)(*in)->n_tensors);
    cr_expect_eq(s->n_converted + s->n_copied, (int)(*in)->n_tensors);
    cr_expect_eq(qt_files_in_dir(), 1, "temp files left next to the output");
    return f;
}

Test(quant_cmd_model, q8_0_types_metadata_and_error, .timeout = 120, .fini = qt_cleanup)
{
    gguf_file *in, *out;
    pl_quant_stats s;
    qt_count c = { 0 };
    out = qt_quantize_model("Q8_0", &in, &s, &c);
    for (uint64_t i = 0; i < out->n_tensors; i++)
        if (qt_is_matrix(&out->tensors[i]))
            cr_expect_eq(out->tensors[i].type, PL_TYPE_Q8_0, "%.*s", (int)out->tensors[i].name.len,
                         out->tensors[i].name.ptr);
    cr_expect_eq(s.n_converted, 210);   /* the Q4_1 matrices; token_embd is Q8_0 already */
    cr_expect_eq(s.n_requantized, 210);
    cr_expect_eq(c.requant, 210);
    cr_expect_eq(s.n_fallback, 0);
    qt_check_tensors(in, out);
    qt_check_metadata(in, out, 7);
    qt_check_values(in, out);
    gguf_close(out);
    gguf_close(in);
}

Test(quant_cmd_model, q4_k_m_recipe_on_smollm2, .timeout = 120, .fini = qt_cleanup)
{
    gguf_file *in, *out;
    pl_quant_stats s;
    qt_count c = { 0 };
    out = qt_quantize_model("Q4_K_M", &in, &s, &c);
    /* SmolLM2: 30 layers, rows of 576 (not a multiple of 256), ffn_down rows of 1536,
     * token_embd doubles as the output: 576 % 32 == 0 but no K-quant fits -> Q8_0. */
    cr_expect_eq(qt_type_of(out, "token_embd.weight"), PL_TYPE_Q8_0);
    cr_expect_eq(qt_type_of(out, "blk.0.attn_v.weight"), PL_TYPE_Q8_0);   /* Q6_K -> fallback */
    cr_expect_eq(qt_type_of(out, "blk.4.attn_v.weight"), PL_TYPE_Q5_0);   /* Q4_K -> fallback */
    cr_expect_eq(qt_type_of(out, "blk.0.attn_q.weight"), PL_TYPE_Q5_0);
    cr_expect_eq(qt_type_of(out, "blk.0.ffn_down.weight"), PL_TYPE_Q6_K);
    cr_expect_eq(qt_type_of(out, "blk.3.ffn_down.weight"), PL_TYPE_Q4_K);
    cr_expect_eq(qt_type_of(out, "blk.5.ffn_down.weight"), PL_TYPE_Q6_K);
    cr_expect_eq(qt_type_of(out, "blk.29.ffn_down.weight"), PL_TYPE_Q6_K);
    int n_q6 = 0, n_q4 = 0;
    for (int l = 0; l < 30; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        pl_type t = qt_type_of(out, name);
        n_q6 += t == PL_TYPE_Q6_K;
        n_q4 += t == PL_TYPE_Q4_K;
    }
    cr_expect(n_q6 == 14 && n_q4 == 16, "ffn_down: %d q6_K (want 14), %d q4_K (want 16)", n_q6, n_q4);
    cr_expect_eq(s.n_fallback, 180, "fallbacks %d: 6 matrices with rows of 576 x 30 layers", s.n_fallback);
    cr_expect_eq(c.fallbacks, 180);
    qt_check_tensors(in, out);
    qt_check_metadata(in, out, 15);
    qt_check_values(in, out);
    cr_expect_lt(s.out_bytes, in->size * 13 / 10, "Q4_K_M output much larger than the Q4_1 input");
    gguf_close(out);
    gguf_close(in);
}

/* ---- a small F32 model, end to end ---------------------------------------- */

enum { SM_LAYERS = 8, SM_EMBD = 256, SM_FF = 512, SM_VOCAB = 64 };

/* Deterministic values in [-1, 1) with a few larger outliers, like real weights. */
static void qt_fill(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f * 2 - 1) * ((i % 97) ? 0.05f : 0.2f);
    }
}

/* Write a llama-shaped F32 model (block_count 8) to path; returns the float data to free. */
static float *qt_small_model(const char *path)
{
    size_t n_emb = (size_t)SM_EMBD * SM_VOCAB, n_v = (size_t)SM_EMBD * SM_EMBD, n_ff = (size_t)SM_FF * SM_EMBD;
    size_t total = 2 * n_emb + SM_LAYERS * (n_v + n_ff + SM_EMBD);
    float *data = malloc(total * sizeof *data), *p = data;
    qt_fill(data, total, 7);
    for (int l = 0; l < SM_LAYERS; l++)
        for (int i = 0; i < SM_EMBD; i++) data[2 * n_emb + l * (n_v + n_ff + SM_EMBD) + n_v + n_ff + i] = 1.0f;
    gguf_writer *w = gguf_writer_new();
    const char *toks[] = { "<s>", "a", "b" };
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.block_count", SM_LAYERS);
    gguf_writer_add_u32(w, "general.file_type", 0);
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", toks, 3);
    uint64_t ne_e[2] = { SM_EMBD, SM_VOCAB }, ne_v[2] = { SM_EMBD, SM_EMBD }, ne_f[2] = { SM_FF, SM_EMBD },
             ne_n[1] = { SM_EMBD };
    gguf_writer_add_tensor(w, "token_embd.weight", PL_TYPE_F32, 2, ne_e, p); p += n_emb;
    gguf_writer_add_tensor(w, "output.weight", PL_TYPE_F32, 2, ne_e, p); p += n_emb;
    for (int l = 0; l < SM_LAYERS; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        gguf_writer_add_tensor(w, name, PL_TYPE_F32, 2, ne_v, p); p += n_v;
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        gguf_writer_add_tensor(w, name, PL_TYPE_F32, 2, ne_f, p); p += n_ff;
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        gguf_writer_add_tensor(w, name, PL_TYPE_F32, 1, ne_n, p); p += SM_EMBD;
    }
    pl_status st;
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
    return data;
}

Test(quant_cmd_small, f32_model_to_q4_k_m_and_back_to_f16, .fini = qt_cleanup)
{
    char in[128], out[128], out16[128];
    snprintf(in, sizeof in, "%s/in.gguf", qt_tmpdir());
    snprintf(out, sizeof out, "%s/out.gguf", qt_dir);
    snprintf(out16, sizeof out16, "%s/out16.gguf", qt_dir);
    float *data = qt_small_model(in);
    pl_quant_stats s;
    pl_status st;
    cr_assert_eq(pl_quantize_file(in, out, "q4_k_m", 1, NULL, NULL, &s, &st), PL_OK, "%s", st.msg);
    cr_expect_eq(s.n_requantized, 0);
    cr_expect_eq(s.n_converted, 2 + 2 * SM_LAYERS);
    gguf_file *a = gguf_open(in, &st), *b = gguf_open(out, &st);
    cr_assert(a && b, "%s", st.msg);
    /* use_more_bits(i, 8): i < 1, i >= 7, or (i - 1) % 3 == 2 -> layers 0, 3, 6, 7 */
    const struct { const char *name; pl_type t; double bound; } want[] = {
        {"output.weight", PL_TYPE_Q6_K, 0.04},       {"token_embd.weight", PL_TYPE_Q4_K, 0.12},
        {"blk.0.attn_v.weight", PL_TYPE_Q6_K, 0.04}, {"blk.1.attn_v.weight", PL_TYPE_Q4_K, 0.12},
        {"blk.3.attn_v.weight", PL_TYPE_Q6_K, 0.04}, {"blk.6.ffn_down.weight", PL_TYPE_Q6_K, 0.04},
        {"blk.7.ffn_down.weight", PL_TYPE_Q6_K, 0.04}, {"blk.5.ffn_down.weight", PL_TYPE_Q4_K, 0.12},
        {"blk.2.attn_norm.weight", PL_TYPE_F32, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gguf_tensor *ta = gguf_find_tensor(a, want[i].name), *tb = gguf_find_tensor(b, want[i].name);
        cr_assert(ta && tb);
        cr_expect_eq(tb->type, want[i].t, "%s: %s", want[i].name, pl_type_name(tb->type));
        double e = qt_rel_rmse(ta, tb);
        cr_expect(e <= want[i].bound, "%s: relative RMSE %.4f > %.3f", want[i].name, e, want[i].bound);
    }
    /* Back to F16: only the F16 rounding error on top of Q4_K's. */
    cr_assert_eq(pl_quantize_file(out, out16, "F16", 2, NULL, NULL, &s, &st), PL_OK, "%s", st.msg);
    gguf_file *c = gguf_open(out16, &st);
    cr_assert_not_null(c, "%s", st.msg);
    cr_expect_eq(gguf_find_tensor(c, "blk.1.attn_v.weight")->type, PL_TYPE_F16);
    cr_expect(qt_rel_rmse(gguf_find_tensor(b, "blk.1.attn_v.weight"), gguf_find_tensor(c, "blk.1.attn_v.weight")) < 1e-3);
    cr_expect_eq(s.n_requantized, 0, "widening to F16 loses nothing: not a requantization");
    cr_expect_eq(s.n_converted, 2 + 2 * SM_LAYERS);
    uint32_t ft = 0;
    cr_expect(gguf_get_u32(c, "general.file_type", &ft) && ft == 1);
    gguf_close(c);
    gguf_close(b);
    gguf_close(a);
    free(data);
}

/* ---- what a user gets wrong ----------------------------------------------- */

Test(quant_cmd_bad, unknown_type_lists_the_valid_names, .fini = qt_cleanup)
{
    char in[128], out[128];
    snprintf(in, sizeof in, "%s/in.gguf", qt_tmpdir());
    snprintf(out, sizeof out, "%s/out.gguf", qt_dir);
    free(qt_small_model(in));
    pl_status st;
    cr_expect_eq(pl_quantize_file(in, out, "Q7_0", 1, NULL, NULL, NULL, &st), PL_ERR_ARG);
    cr_expect(strstr(st.msg, "Q7_0") && strstr(st.msg, "Q4_K_M") && strstr(st.msg, "BF16"), "%s", st.msg);
    char *argv[] = { "quantize", in, out, "q7_0", NULL };
    cr_expect_eq(cmd_quantize(4, argv), 2, "unknown type is a usage error");
    char *argv2[] = { "quantize", in, NULL };
    cr_expect_eq(cmd_quantize(2, argv2), 2, "missing arguments is a usage error");
    cr_expect_eq(access(out, F_OK), -1, "no output file");
}

Test(quant_cmd_bad, truncated_input_is_a_clear_error, .fini = qt_cleanup)
{
    char in[128], out[128];
    snprintf(in, sizeof in, "%s/in.gguf", qt_tmpdir());
    snprintf(out, sizeof out, "%s/out.gguf", qt_dir);
    free(qt_small_model(in));
    struct stat sb;
    cr_assert_eq(stat(in, &sb), 0);
    cr_assert_eq(truncate(in, sb.st_size / 2), 0);
    pl_status st;
    pl_code c = pl_quantize_file(in, out, "Q8_0", 1, NULL, NULL, NULL, &st);
    cr_expect_eq(c, PL_ERR_FORMAT, "code %d: %s", c, st.msg);
    cr_expect(strstr(st.msg, "in.gguf"), "message names the file: %s", st.msg);
    char *argv[] = { "quantize", in, out, "Q8_0", NULL };
    cr_expect_eq(cmd_quantize(4, argv), 1);
    cr_expect_eq(qt_files_in_dir(), 1, "only the input: no output or temp file");
}

Test(quant_cmd_bad, missing_input_and_missing_output_folder, .fini = qt_cleanup)
{
    char in[128], out[160];
    snprintf(in, sizeof in, "%s/in.gguf", qt_tmpdir());
    snprintf(out, sizeof out, "%s/no/such/dir/out.gguf", qt_dir);
    free(qt_small_model(in));
    pl_status st;
    cr_expect_eq(pl_quantize_file(in, out, "Q8_0", 1, NULL, NULL, NULL, &st), PL_ERR_IO);
    cr_expect(strstr(st.msg, "does not exist") && strstr(st.msg, "no/such/dir"), "%s", st.msg);
    cr_expect_eq(qt_files_in_dir(), 1, "nothing written");
    snprintf(out, sizeof out, "%s/out.gguf", qt_dir);
    cr_expect_eq(pl_quantize_file("/nonexistent/model.gguf", out, "Q8_0", 1, NULL, NULL, NULL, &st), PL_ERR_IO);
    cr_expect(strstr(st.msg, "/nonexistent/model.gguf"), "%s", st.msg);
    cr_expect_eq(access(out, F_OK), -1);
}
