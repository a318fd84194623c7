/* test_model.c — model loading, the paged KV cache and sequence operations.
 *
 * Loading errors are what a user sees for a broken or foreign file, so each
 * test builds a small GGUF with our writer, breaks one thing, and checks the
 * message names it. The KV cache tests drive kv_cache.c directly (fork shares,
 * copy-on-write, truncation frees, shift moves and re-rotates); the context
 * tests run the tiny synthetic models from tests/fixtures/models/.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/context_impl.h"
#include "engine/gguf.h"
#include "engine/kv_cache.h"
#include "engine/model.h"

/* ---- a tiny llama GGUF, broken on request ------------------------------ */

enum { TM_EMBD = 32, TM_HEADS = 2, TM_KV = 1, TM_FF = 64, TM_VOCAB = 8 };
static float tm_zeros[TM_VOCAB * TM_FF * 4];

typedef struct tm_opts {
    const char *arch;          /* general.architecture */
    const char *skip_tensor;   /* leave this tensor out */
    const char *skip_key;      /* leave this key out */
    uint64_t    k_rows;        /* attn_k rows (0 = right) */
    int         n_tokens;      /* tokenizer with this many tokens (0 = no tokenizer) */
    size_t      tmpl_len;      /* tokenizer.chat_template of this many bytes (0 = none) */
} tm_opts;

/* An SPM tokenizer of n tokens ("<unk>", "<s>", "</s>", "t3", ...) and maybe a template. */
static void tm_tokenizer(gguf_writer *w, const tm_opts *o)
{
    if (!o->n_tokens) return;
    char **toks = calloc((size_t)o->n_tokens, sizeof *toks);
    cr_assert(toks);
    for (int i = 0; i < o->n_tokens; i++) {
        toks[i] = malloc(16);
        cr_assert(toks[i]);
        snprintf(toks[i], 16, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t");
        if (i > 2) snprintf(toks[i], 16, "t%d", i);
    }
    gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)o->n_tokens);
    for (int i = 0; i < o->n_tokens; i++) free(toks[i]);
    free(toks);
    if (o->tmpl_len) {
        char *t = malloc(o->tmpl_len);
        cr_assert(t);
        memset(t, ' ', o->tmpl_len);
        memcpy(t, "<|im_start|>", 12);   /* ChatML's marker: recognised if it were read */
        gguf_writer_add_strn(w, "tokenizer.chat_template", t, o->tmpl_len);
        free(t);   /* the writer copies strings */
    }
}

/* Add a 2-D f32 tensor of zeros (ne0 = cols). */
static void tm_tensor(gguf_writer *w, const tm_opts *o, const char *name, uint64_t ne0, uint64_t ne1)
{
    if (o->skip_tensor && strcmp(o->skip_tensor, name) == 0) return;
    uint64_t ne[2] = { ne0, ne1 };
    cr_assert_eq(gguf_writer_add_tensor(w, name, PL_TYPE_F32, ne1 ? 2 : 1, ne, tm_zeros), PL_OK);
}

/* Write the file to a temp path (caller unlinks). */
static void tm_write(const tm_opts *o, char *path)
{
    gguf_writer *w = gguf_writer_new();
    const char *a = o->arch ? o->arch : "llama";
    gguf_writer_add_str(w, "general.architecture", a);
    struct { const char *k; uint32_t v; } keys[] = {
        { "block_count", 1 }, { "embedding_length", TM_EMBD }, { "feed_forward_length", TM_FF },
        { "attention.head_count", TM_HEADS }, { "attention.head_count_kv", TM_KV },
    };
    char key[128];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", a, keys[i].k);
        if (!o->skip_key || strcmp(o->skip_key, key) != 0) gguf_writer_add_u32(w, key, keys[i].v);
    }
    tm_tokenizer(w, o);
    const int hd = TM_EMBD / TM_HEADS;
    tm_tensor(w, o, "token_embd.weight", TM_EMBD, TM_VOCAB);
    tm_tensor(w, o, "output_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.attn_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.attn_q.weight", TM_EMBD, TM_EMBD);
    tm_tensor(w, o, "blk.0.attn_k.weight", TM_EMBD, o->k_rows ? o->k_rows : TM_KV * hd);
    tm_tensor(w, o, "blk.0.attn_v.weight", TM_EMBD, TM_KV * hd);
    tm_tensor(w, o, "blk.0.attn_output.weight", TM_EMBD, TM_EMBD);
    tm_tensor(w, o, "blk.0.ffn_norm.weight", TM_EMBD, 0);
    tm_tensor(w, o, "blk.0.ffn_gate.weight", TM_EMBD, TM_FF);
    tm_tensor(w, o, "blk.0.ffn_up.weight", TM_EMBD, TM_FF);
    tm_tensor(w, o, "blk.0.ffn_down.weight", TM_FF, TM_EMBD);
    strcpy(path, "/tmp/parley-test-model-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    pl_status st;
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
}

/* Load a broken file; expect failure with code and every needle in the message. */
static void tm_expect_error(const tm_opts *o, pl_code code, const char *n1, const char *n2)
{
    char path[64];
    tm_write(o, path);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert_null(m, "a broken model loaded");
    cr_expect_eq(st.code, code, "code %d, message: %s", st.code, st.msg);
    cr_expect(strstr(st.msg, n1), "'%s' not in: %s", n1, st.msg);
    cr_expect(!n2 || strstr(st.msg, n2), "'%s' not in: %s", n2, st.msg);
    cr_expect(strstr(st.msg, path), "file name not in: %s", st.msg);
}

Test(model_load, unknown_architecture_names_it_and_lists_supported)
{
    tm_opts o = { .arch = "mamba" };
    tm_expect_error(&o, PL_ERR_UNSUPPORTED, "'mamba' is not supported", "llama");
}

Test(model_load, missing_tensor_is_named)
{
    tm_opts o = { .skip_tensor = "blk.0.ffn_up.weight" };
    tm_expect_error(&o, PL_ERR_FORMAT, "blk.0.ffn_up.weight", "missing");
}

Test(model_load, misshaped_tensor_is_named_with_both_shapes)
{
    tm_opts o = { .k_rows = 24 };
    tm_expect_error(&o, PL_ERR_FORMAT, "blk.0.attn_k.weight has shape [32, 24]", "expected [32, 16]");
}

Test(model_load, missing_hyperparameter_is_named)
{
    tm_opts o = { .skip_key = "llama.embedding_length" };
    tm_expect_error(&o, PL_ERR_FORMAT, "llama.embedding_length", NULL);
}

Test(model_load, fewer_or_more_tokens_than_embedding_rows_is_refused)
{
    tm_opts o = { .n_tokens = TM_VOCAB - 2 };   /* ids 6 and 7 would have logits but no text */
    tm_expect_error(&o, PL_ERR_FORMAT, "the tokenizer has 6 tokens", "model has 8");
    o.n_tokens = TM_VOCAB + 3;                  /* ids 8..10 would have no embedding row */
    tm_expect_error(&o, PL_ERR_FORMAT, "the tokenizer has 11 tokens", "inconsistent");
    o.n_tokens = TM_VOCAB;
    char path[64];
    tm_write(&o, path);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert(m, "a consistent model did not load: %s", st.msg);
    cr_expect_eq(pl_n_vocab(m), TM_VOCAB);
    pl_model_free(m);
}

Test(model_load, chat_template_too_large_to_read_is_said)
{
    tm_opts o = { .n_tokens = TM_VOCAB, .tmpl_len = MODEL_TEMPLATE_MAX + 4096 };
    char path[64];
    tm_write(&o, path);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert(m, "%s", st.msg);
    pl_model_info info;
    pl_model_get_info(m, &info);
    cr_expect(strstr(info.warning, "chat template is 16781312 bytes, over the 16 MiB parley reads"), "warning: '%s'",
              info.warning);
    cr_expect(strstr(info.warning, "--chat-template"), "the way out is named: '%s'", info.warning);
    pl_chat_msg msg = { "user", "hi" };
    char buf[256];
    cr_assert_geq(pl_chat_render(m, NULL, &msg, 1, true, buf, sizeof buf, &st), 0, "%s", st.msg);
    cr_expect(strstr(st.msg, "too large to read"), "the render note says why: '%s'", st.msg);
    pl_model_free(m);
    /* a template under the limit is read, and no warning */
    o.tmpl_len = 4096;
    tm_write(&o, path);
    m = pl_model_load(path, NULL, &st);
    unlink(path);
    cr_assert(m, "%s", st.msg);
    pl_model_get_info(m, &info);
    cr_expect_str_eq(info.warning, "");
    cr_expect_str_eq(info.chat_template, "chatml");
    pl_model_free(m);
}

/* A tensor's path under the repository. */
static void fixture_path(char *out, size_t len, const char *file)
{
    const char *src = getenv("PARLEY_SRC");
    snprintf(out, len, "%s/tests/fixtures/models/%s", src && *src ? src : ".", file);
}

static pl_model *load_fixture_model(const char *file)
{
    char path[1024];
    fixture_path(path, sizeof path, file);
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s (regenerate with scripts/gen-synthetic-models.py)", st.msg);
    return m;
}

Test(model_load, synthetic_model_info_and_tied_output)
{
    pl_model *m = load_fixture_model("synth-f32.gguf");
    pl_model_info mi;
    pl_model_get_info(m, &mi);
    cr_expect_str_eq(mi.arch, "llama");
    cr_expect_str_eq(mi.ftype, "f32");
    cr_expect_eq(mi.n_layer, 2);
    cr_expect_eq(mi.n_embd, 64);
    cr_expect_eq(mi.n_head, 4);
    cr_expect_eq(mi.n_head_kv, 2);
    cr_expect_eq(mi.n_vocab, 1024);
    cr_expect_eq(m->output.data, m->tok_embd.data, "no output.weight: the embeddings are the output");
    pl_model_free(m);
    m = load_fixture_model("synth-f16.gguf");
    cr_expect_neq(m->output.data, m->tok_embd.data, "output.weight present: used");
    cr_expect_eq(m->output.type, PL_TYPE_F16);
    cr_expect_float_eq(m->hp.rope_base, 500000.0f, 1e-3);
    pl_model_free(m);
    m = load_fixture_model("synth-q4_1.gguf");
    cr_expect_float_eq(m->hp.rope_scale, 0.5f, 1e-7, "linear rope scaling factor 2");
    pl_model_free(m);
}

/* Llama 3.1 divisors computed from rope.scaling.* keys equal the rope_freqs tensor
 * the generator wrote from Meta's formula (two implementations, one answer). */
Test(model_load, llama3_rope_factors_match_rope_freqs_tensor)
{
    pl_model *m = load_fixture_model("synth-q8_0.gguf");
    cr_assert_not_null(m->rope_freqs.data, "synth-q8_0 carries rope_freqs.weight");
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_str(w, "llama.rope.scaling.type", "llama3");
    gguf_writer_add_f32(w, "llama.rope.scaling.factor", 8.0f);
    gguf_writer_add_f32(w, "llama.rope.scaling.low_freq_factor", 1.0f);
    gguf_writer_add_f32(w, "llama.rope.scaling.high_freq_factor", 4.0f);
    gguf_writer_add_u32(w, "llama.rope.scaling.original_context_length", 8192);
    void *img;
    size_t n;
    pl_status st;
    cr_assert_eq(gguf_writer_write_mem(w, &img, &n, &st), PL_OK, "%s", st.msg);
    gguf_file *f = gguf_open_mem(img, n, "keys", &st);
    cr_assert(f, "%s", st.msg);
    float got[64];
    cr_assert(rope_llama3_factors(f, "llama", &m->hp, got));
    const float *want = m->rope_freqs.data;
    bool some_scaled = false;
    for (uint32_t i = 0; i < m->hp.n_rot / 2; i++) {
        cr_expect_float_eq(got[i], want[i], 1e-5f * want[i], "factor %u: %g vs %g", i, got[i], want[i]);
        cr_expect_float_eq(m->rope_div[i], want[i], 0.0f);
        some_scaled |= want[i] > 1.0f;
    }
    cr_expect(some_scaled, "the fixture should exercise scaled frequencies");
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
    pl_model_free(m);
}

/* ---- KV cache ----------------------------------------------------------- */

enum { KT_LAYERS = 2, KT_DIM = 8 };

/* Fill positions [from, to) of seq with values that name layer, K/V, pos, dim. */
static void kt_fill(kv_cache *kv, int seq, int from, int to)
{
    kv_seq *s = &kv->seqs[seq];
    for (int p = from; p < to; p++)
        for (int il = 0; il < KT_LAYERS; il++)
            for (int d = 0; d < KT_DIM; d++) {
                kv_k_row(kv, s, il, p)[d] = pl_f32_to_f16((float)(p * 8 + d) / 64 + il);
                kv_v_row(kv, s, il, p)[d] = pl_f32_to_f16(-(float)(p * 8 + d) / 64 - il);
            }
}

static float kt_k(const kv_cache *kv, int seq, int il, int p, int d)
{
    return pl_f16_to_f32(kv_k_row(kv, &kv->seqs[seq], il, p)[d]);
}
static float kt_v(const kv_cache *kv, int seq, int il, int p, int d)
{
    return pl_f16_to_f32(kv_v_row(kv, &kv->seqs[seq], il, p)[d]);
}

/* Append n positions with tokens 100 + pos. */
static void kt_append(kv_cache *kv, int seq, int n)
{
    pl_status st;
    int from = kv->seqs[seq].n_pos;
    cr_assert_eq(kv_seq_reserve(kv, seq, n, &st), 0, "%s", st.msg);
    kt_fill(kv, seq, from, from + n);
    int32_t toks[256];
    for (int i = 0; i < n; i++) toks[i] = 100 + from + i;
    kv_seq_commit(kv, seq, toks, n);
}

Test(model_kv, fork_shares_blocks_and_copies_on_write)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KT_LAYERS, KT_DIM, 256, 32, &st);
    int a = kv_seq_new(kv, &st);
    kt_append(kv, a, 40);                                    /* blocks 0 (full) and 1 (8 used) */
    cr_assert_eq(kv_cache_blocks_used(kv), 2);
    int b = kv_seq_fork(kv, a, &st);
    cr_assert_eq(kv_cache_blocks_used(kv), 2, "a fork shares its parent's blocks");
    cr_assert_eq(kv->seqs[b].n_pos, 40);
    cr_assert_eq(kv->seqs[b].tokens[39], 139);
    cr_assert_eq(kv_seq_reserve(kv, b, 1, &st), 0);
    cr_assert_eq(kv_cache_blocks_used(kv), 3, "writing into the shared partial block copies it");
    cr_assert_eq(kv->seqs[a].table[0], kv->seqs[b].table[0], "full block 0 stays shared");
    kv_k_row(kv, &kv->seqs[b], 1, 40)[0] = pl_f32_to_f16(99.0f);
    kv_k_row(kv, &kv->seqs[b], 1, 35)[0] = pl_f32_to_f16(77.0f);
    cr_expect_float_eq(kt_k(kv, a, 1, 35, 0), (35 * 8) / 64.0f + 1, 1e-2, "parent unchanged");
    cr_expect_float_eq(kt_k(kv, b, 1, 34, 3), (34 * 8 + 3) / 64.0f + 1, 1e-2, "copy kept the data");
    kv_seq_free(kv, b);
    cr_assert_eq(kv_cache_blocks_used(kv), 2);
    kv_seq_free(kv, a);
    cr_assert_eq(kv_cache_blocks_used(kv), 0, "every block returns to the pool");
    kv_cache_free(kv);
}

Test(model_kv, truncate_releases_whole_blocks_only)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KT_LAYERS, KT_DIM, 256, 32, &st);
    int a = kv_seq_new(kv, &st);
    kt_append(kv, a, 100);
    cr_assert_eq(kv_cache_blocks_used(kv), 4);
    cr_assert_eq(kv_seq_truncate(kv, a, 33), 0);
    cr_expect_eq(kv->seqs[a].n_pos, 33);
    cr_expect_eq(kv_cache_blocks_used(kv), 2);
    kt_append(kv, a, 10);                                    /* re-grows from position 33 */
    cr_expect_eq(kv->seqs[a].tokens[42], 142);
    cr_expect_float_eq(kt_v(kv, a, 0, 20, 1), -(20 * 8 + 1) / 64.0f, 1e-2, "prefix kept");
    kv_cache_free(kv);
}

Test(model_kv, pool_exhaustion_is_context_full)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KT_LAYERS, KT_DIM, 256, 2, &st);
    int a = kv_seq_new(kv, &st);
    cr_expect_eq(kv_seq_reserve(kv, a, 65, &st), PL_ERR_CONTEXT_FULL);
    cr_expect(strstr(st.msg, "full"), "%s", st.msg);
    cr_expect_eq(kv_seq_reserve(kv, a, 300, &st), PL_ERR_CONTEXT_FULL, "beyond max_pos");
    kv_cache_free(kv);
}

/* Test rotation: adds delta to every element, so moved rows are recognisable. */
static void kt_rotate_add(float *row, int il, int delta, void *ud)
{
    (void)ud, (void)il;
    for (int d = 0; d < KT_DIM; d++) row[d] += (float)delta;
}

Test(model_kv, shift_drops_positions_and_rerotates_later_keys)
{
    pl_status st;
    kv_cache *kv = kv_cache_new(KT_LAYERS, KT_DIM, 256, 32, &st);
    int a = kv_seq_new(kv, &st);
    kt_append(kv, a, 70);
    int b = kv_seq_fork(kv, a, &st);                          /* shift must not touch a */
    cr_assert_eq(kv_seq_shift(kv, b, 4, 10, kt_rotate_add, NULL, &st), 0, "%s", st.msg);
    cr_assert_eq(kv->seqs[b].n_pos, 60);
    for (int p = 0; p < 60; p++) {
        int src = p < 4 ? p : p + 10;
        float delta = p < 4 ? 0.0f : -10.0f;
        cr_assert_eq(kv->seqs[b].tokens[p], 100 + src);
        cr_assert_float_eq(kt_k(kv, b, 1, p, 5), (src * 8 + 5) / 64.0f + 1 + delta, 2e-2, "K at %d", p);
        cr_assert_float_eq(kt_v(kv, b, 1, p, 5), -(src * 8 + 5) / 64.0f - 1, 2e-2, "V at %d", p);
    }
    cr_expect_float_eq(kt_k(kv, a, 0, 50, 0), 50 * 8 / 64.0f, 2e-2, "the parent kept its keys");
    cr_expect_eq(kv->seqs[a].n_pos, 70);
    cr_expect_eq(kv_seq_shift(kv, b, 50, 20, kt_rotate_add, NULL, &st), PL_ERR_ARG);
    kv_cache_free(kv);
}

/* ---- context ------------------------------------------------------------ */

static pl_ctx *tc_ctx(pl_model *m, int n_ctx, int n_batch)
{
    pl_ctx_params p = pl_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = 2;
    pl_status st;
    pl_ctx *c = pl_ctx_new(m, &p, &st);
    cr_assert(c, "%s", st.msg);
    return c;
}

/* After a shift, layer 0's keys equal a fresh decode of the shifted tokens: a
 * layer-0 key depends only on its token and position, so this checks the RoPE
 * re-rotation against the real thing (f16 rounding twice: 1e-2). */
static void shift_matches_fresh(const char *model);

Test(model_ctx, shift_matches_fresh_layer0_keys) { shift_matches_fresh("synth-f32.gguf"); }
/* gemma3's layer 0 is a sliding-window layer, rotated with its own rope base. */
Test(model_ctx, shift_matches_fresh_layer0_keys_gemma3_local) { shift_matches_fresh("synth-gemma3-f32.gguf"); }

static void shift_matches_fresh(const char *model)
{
    pl_model *m = load_fixture_model(model);
    pl_ctx *c = tc_ctx(m, 256, 16);
    pl_status st;
    int32_t toks[90];
    for (int i = 0; i < 90; i++) toks[i] = (i * 37 + 11) % 1024;
    int a = pl_seq_new(c, &st);
    cr_assert_eq(pl_decode(c, a, toks, 90, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_seq_shift(c, a, 5, 40, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_seq_len(c, a), 50);
    int32_t kept[50];
    memcpy(kept, toks, 5 * sizeof(int32_t));
    memcpy(kept + 5, toks + 45, 45 * sizeof(int32_t));
    cr_assert_eq(memcmp(pl_seq_tokens(c, a), kept, sizeof kept), 0);
    int f = pl_seq_new(c, &st);
    cr_assert_eq(pl_decode(c, f, kept, 50, &st), 0, "%s", st.msg);
    const kv_seq *sa = &c->kv->seqs[a], *sf = &c->kv->seqs[f];
    double worst = 0;
    for (int p = 0; p < 50; p++)
        for (int d = 0; d < c->kv->kv_dim; d++) {
            float x = pl_f16_to_f32(kv_k_row(c->kv, sa, 0, p)[d]);
            float y = pl_f16_to_f32(kv_k_row(c->kv, sf, 0, p)[d]);
            worst = fmax(worst, fabs(x - y) / (1 + fabs(y)));
            cr_assert_eq(kv_v_row(c->kv, sa, 0, p)[d], kv_v_row(c->kv, sf, 0, p)[d], "V moved as is");
        }
    cr_expect(worst < 1e-2, "re-rotated keys differ from fresh ones by %g", worst);
    int32_t t = 7;
    cr_expect_eq(pl_decode(c, a, &t, 1, &st), 0, "the shifted sequence decodes on: %s", st.msg);
    pl_ctx_free(c);
    pl_model_free(m);
}

Test(model_ctx, decode_rejects_overflow_and_bad_tokens)
{
    pl_model *m = load_fixture_model("synth-q4_0.gguf");
    pl_ctx *c = tc_ctx(m, 64, 16);
    pl_status st;
    int a = pl_seq_new(c, &st);
    int32_t toks[65] = { 0 };
    cr_expect_eq(pl_decode(c, a, toks, 65, &st), PL_ERR_CONTEXT_FULL);
    cr_expect(strstr(st.msg, "context of 64"), "%s", st.msg);
    cr_expect_eq(pl_seq_len(c, a), 0, "nothing was appended");
    toks[3] = 1024;
    cr_expect_eq(pl_decode(c, a, toks, 10, &st), PL_ERR_ARG);
    cr_expect(strstr(st.msg, "token 1024 at index 3"), "%s", st.msg);
    cr_expect_null(pl_logits(c, a), "no logits before a successful decode");
    cr_expect_eq(pl_decode(c, 42, toks, 1, &st), PL_ERR_ARG, "no such sequence");
    toks[3] = 5;
    cr_assert_eq(pl_decode(c, a, toks, 64, &st), 0, "%s", st.msg);
    cr_expect_not_null(pl_logits(c, a));
    cr_expect_eq(pl_decode(c, a, toks, 1, &st), PL_ERR_CONTEXT_FULL);
    pl_ctx_free(c);
    pl_model_free(m);
}

Test(model_ctx, abort_flag_cancels_between_chunks)
{
    pl_model *m = load_fixture_model("synth-f16.gguf");
    pl_ctx *c = tc_ctx(m, 128, 8);
    pl_status st;
    atomic_int flag = 1;
    pl_ctx_set_abort(c, &flag);
    int a = pl_seq_new(c, &st);
    int32_t toks[20] = { 0 };
    cr_expect_eq(pl_decode(c, a, toks, 20, &st), PL_ERR_CANCELLED);
    flag = 0;
    cr_expect_eq(pl_decode(c, a, toks, 20, &st), 0, "%s", st.msg);
    cr_expect_eq(pl_seq_len(c, a), 20);
    pl_ctx_free(c);
    pl_model_free(m);
}
