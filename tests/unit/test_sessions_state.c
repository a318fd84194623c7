/* test_sessions_state.c — KV snapshots of a real conversation on the default
 * model ($PARLEY_MODEL): what a resume from a snapshot gives must be exactly
 * what decoding the transcript again gives (next-token logits bit-identical,
 * and the token after that too, so the K/V rows themselves came back), and
 * a snapshot that was damaged, cut, or made with other K/V types is refused
 * before the cache is touched, leaving the sequence empty for a re-decode. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sessions_test_util.h"
#include "tests/common/fixture.h"

static pl_model *model;
static pl_ctx *ctx;

static void state_setup(void)
{
    const char *path = getenv("PARLEY_MODEL");
    cr_assert(path && *path, "PARLEY_MODEL is not set: run `make model`, then the tests via `make test`");
    pl_status st;
    model = pl_model_load(path, NULL, &st);
    cr_assert_not_null(model, "%s: %s", path, st.msg);
    pl_ctx_params p = pl_ctx_default_params();
    p.n_ctx = 512;
    p.n_threads = 2;
    ctx = pl_ctx_new(model, &p, &st);
    cr_assert_not_null(ctx, "context: %s", st.msg);
}

static void state_teardown(void)
{
    pl_ctx_free(ctx);
    pl_model_free(model);
}

/* A short chat, tokenized; returns n. */
static int chat_tokens(int32_t *out, int max)
{
    static const char text[] = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                               "<|im_start|>assistant\nThe capital of France is Paris.<|im_end|>\n"
                               "<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n";
    int n = pl_tokenize(model, text, sizeof text - 1, out, max, true, true);
    cr_assert(n > 30 && n <= max, "tokenize gave %d", n);
    return n;
}

/* Decode toks into a fresh sequence; returns it. */
static int seq_decoded(const int32_t *toks, int n)
{
    pl_status st;
    int s = pl_seq_new(ctx, &st);
    cr_assert(s >= 0, "%s", st.msg);
    cr_assert_eq(pl_decode(ctx, s, toks, n, &st), 0, "%s", st.msg);
    return s;
}

static void expect_same_logits(const float *a, const float *b, const char *when)
{
    int nv = pl_n_vocab(model), diff = 0;
    float worst = 0;
    for (int i = 0; i < nv; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > worst) worst = d;
        diff += d > 1e-6f;
    }
    cr_expect_eq(diff, 0, "%s: %d of %d logits differ (worst %g)", when, diff, nv, (double)worst);
}

Test(sess_state, round_trip_equals_fresh_decode, .init = state_setup, .fini = state_teardown, .timeout = 60)
{
    int32_t toks[256];
    int n = chat_tokens(toks, 256);
    pl_status st;
    int a = seq_decoded(toks, n);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(pl_state_save(ctx, a, f, &st), 0, "%s", st.msg);
    long size = ftell(f);
    rewind(f);
    int b = pl_seq_new(ctx, &st);
    cr_assert_eq(pl_state_load(ctx, b, f, (uint64_t)size, &st), 0, "%s", st.msg);
    fclose(f);
    cr_assert_eq(pl_seq_len(ctx, b), n, "restored %d positions of %d", pl_seq_len(ctx, b), n);
    cr_assert_eq(memcmp(pl_seq_tokens(ctx, b), toks, sizeof(int32_t) * (size_t)n), 0, "tokens differ");
    cr_assert_not_null(pl_logits(ctx, b), "no logits after the load");
    expect_same_logits(pl_logits(ctx, a), pl_logits(ctx, b), "next token");
    /* A fresh decode and the restored cache must continue the same way. */
    int32_t next = 0;
    const float *la = pl_logits(ctx, a);
    for (int i = 1; i < pl_n_vocab(model); i++) if (la[i] > la[next]) next = i;
    int c = seq_decoded(toks, n);
    cr_assert_eq(pl_decode(ctx, c, &next, 1, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_decode(ctx, b, &next, 1, &st), 0, "%s", st.msg);
    expect_same_logits(pl_logits(ctx, c), pl_logits(ctx, b), "the token after");
}

/* Save seq a as a snapshot file in dir; returns its path (caller frees). */
typedef struct snap_ctx { pl_ctx *c; int seq; pl_status st; } snap_ctx;
static int w_cb(void *v, FILE *f) { snap_ctx *s = v; return pl_state_save(s->c, s->seq, f, &s->st); }
static int r_cb(void *v, FILE *f, uint64_t size) { snap_ctx *s = v; return pl_state_load(s->c, s->seq, f, size, &s->st); }

Test(sess_state, corrupt_snapshot_rejected, .init = state_setup, .fini = state_teardown, .timeout = 60)
{
    int32_t toks[256];
    int n = chat_tokens(toks, 256);
    int a = seq_decoded(toks, n);
    char *dir = st_tmpdir();
    char *path = sess_snap_path(dir, 7);
    sess_snap_meta meta = {.model_fp = 0x1234, .type_k = PL_TYPE_F16, .type_v = PL_TYPE_F16, .n_tokens = (uint32_t)n};
    snap_ctx sc = {.c = ctx, .seq = a};
    sess_status ss;
    cr_assert_eq(sess_snap_save(path, &meta, w_cb, &sc, &ss), 0, "%s", ss.msg);
    pl_status st;
    snap_ctx rc = {.c = ctx, .seq = pl_seq_new(ctx, &st)};
    cr_assert_eq(sess_snap_load(path, &meta, r_cb, &rc, NULL, &ss), SNAP_OK, "%s", ss.msg);
    cr_assert_eq(pl_seq_len(ctx, rc.seq), n);
    /* The cache now holds other K/V types (or another model): stale, not read. */
    sess_snap_meta q8 = meta, other = meta;
    q8.type_k = PL_TYPE_Q8_0;
    other.model_fp = 0x9999;
    pl_seq_truncate(ctx, rc.seq, 0);
    cr_expect_eq(sess_snap_load(path, &q8, r_cb, &rc, NULL, &ss), SNAP_STALE_TYPES, "got: %s", ss.msg);
    cr_expect_eq(sess_snap_load(path, &other, r_cb, &rc, NULL, &ss), SNAP_STALE_MODEL, "got: %s", ss.msg);
    cr_expect_eq(pl_seq_len(ctx, rc.seq), 0, "a stale snapshot reached the cache");
    /* One flipped byte in the middle of the K/V rows. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(byte ^ 0x40, f);
    fclose(f);
    pl_seq_truncate(ctx, rc.seq, 0);
    cr_expect_eq(sess_snap_load(path, &meta, r_cb, &rc, NULL, &ss), SNAP_BAD_CHECKSUM, "got: %s", ss.msg);
    cr_expect_eq(pl_seq_len(ctx, rc.seq), 0, "a corrupt snapshot reached the cache");
    free(path);
    st_tmpdir_rm(dir);
}

/* The payload's own checks: cut short, other K/V types, garbage. */
Test(sess_state, bad_payload_leaves_sequence_empty, .init = state_setup, .fini = state_teardown, .timeout = 60)
{
    int32_t toks[256];
    int n = chat_tokens(toks, 256);
    int a = seq_decoded(toks, n);
    pl_status st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(pl_state_save(ctx, a, f, &st), 0, "%s", st.msg);
    fclose(f);
    int b = seq_decoded(toks, 10);
    f = fmemopen(buf, len, "rb");   /* cut: the size says less than the header implies */
    cr_expect_neq(pl_state_load(ctx, b, f, len - 100, &st), 0);
    cr_expect(strstr(st.msg, "implies"), "message: %s", st.msg);
    fclose(f);
    uint32_t *words = (uint32_t *)buf;
    words[4] = PL_TYPE_Q8_0;           /* type_k */
    f = fmemopen(buf, len, "rb");
    cr_expect_neq(pl_state_load(ctx, b, f, len, &st), 0);
    cr_expect(strstr(st.msg, "stale"), "message: %s", st.msg);
    fclose(f);
    words[4] = PL_TYPE_F16;
    words[11] = 999999;                /* first token outside the vocabulary */
    f = fmemopen(buf, len, "rb");
    cr_expect_neq(pl_state_load(ctx, b, f, len, &st), 0);
    cr_expect_eq(pl_seq_len(ctx, b), 0, "a refused state left %d positions", pl_seq_len(ctx, b));
    fclose(f);
    free(buf);
    int used = pl_seq_len(ctx, a);
    cr_expect_eq(used, n);
}

/* The state payload parley wrote before the layer-major cache (format 1,
 * tests/fixtures/kv_state: how it was made is in make_state_v1.c): four
 * positions of "The capital of France is", F16 K/V, no logits. */
static char *old_state(size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/kv_state/smollm2.state_v1.bin", fixt_src_dir());
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", path);
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* The old payload loads, and the sequence goes on exactly like a fresh decode. */
Test(sess_state, previous_format_loads, .init = state_setup, .fini = state_teardown, .timeout = 60)
{
    static const int32_t want[5] = {504, 3575, 282, 4649, 314};   /* the fixture's prompt */
    size_t len;
    char *buf = old_state(&len);
    pl_status st;
    int b = pl_seq_new(ctx, &st);
    FILE *f = fmemopen(buf, len, "rb");
    cr_assert_eq(pl_state_load(ctx, b, f, len, &st), 0, "the old format: %s", st.msg);
    fclose(f);
    cr_assert_eq(pl_seq_len(ctx, b), 4);
    cr_assert_eq(memcmp(pl_seq_tokens(ctx, b), want, sizeof(int32_t) * 4), 0, "tokens differ");
    cr_expect_null(pl_logits(ctx, b), "the fixture carries no logits");
    int c = seq_decoded(want, 4);
    cr_assert_eq(pl_decode(ctx, c, want + 4, 1, &st), 0, "%s", st.msg);
    cr_assert_eq(pl_decode(ctx, b, want + 4, 1, &st), 0, "%s", st.msg);
    expect_same_logits(pl_logits(ctx, c), pl_logits(ctx, b), "the token after the old state");
    free(buf);
}

/* A payload of a format this parley does not know is refused with its number. */
Test(sess_state, unknown_format_refused, .init = state_setup, .fini = state_teardown, .timeout = 60)
{
    size_t len;
    char *buf = old_state(&len);
    ((uint32_t *)(void *)buf)[1] = 7;   /* version */
    pl_status st;
    int b = pl_seq_new(ctx, &st);
    FILE *f = fmemopen(buf, len, "rb");
    cr_expect_neq(pl_state_load(ctx, b, f, len, &st), 0);
    cr_expect(strstr(st.msg, "version 7"), "message: %s", st.msg);
    cr_expect_eq(pl_seq_len(ctx, b), 0);
    fclose(f);
    free(buf);
}
