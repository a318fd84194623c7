/* test_sessions_snap.c — KV snapshots: a good one restores the exact bytes; a
 * damaged, truncated or foreign one is refused with its reason and the engine's
 * loader is never handed its payload. */
#include <dirent.h>
#include <sys/stat.h>

#include "sessions_test_util.h"

#define PAYLOAD (200 * 1024 + 13)

typedef struct payload { unsigned char *bytes; size_t n; int calls; bool fail; } payload;

static int pay_write(void *ctx, FILE *f)
{
    payload *p = ctx;
    p->calls++;
    if (p->fail) return -1;
    return fwrite(p->bytes, 1, p->n, f) == p->n ? 0 : -1;
}

static int pay_read(void *ctx, FILE *f, uint64_t size)
{
    payload *p = ctx;
    p->calls++;
    p->bytes = malloc(size ? size : 1);
    p->n = (size_t)size;
    return fread(p->bytes, 1, p->n, f) == p->n ? 0 : -1;
}

/* Random (non-zero) engine state. */
static payload make_payload(void)
{
    payload p = {malloc(PAYLOAD), PAYLOAD, 0, false};
    uint32_t x = 12345;
    for (size_t i = 0; i < p.n; i++) { x = x * 1103515245u + 12345u; p.bytes[i] = (unsigned char)(x >> 16) | 1; }
    return p;
}

static const sess_snap_meta META = {0x1234abcd5678ef90ull, 1, 8, 777, 0};

/* Save a fresh snapshot at path. */
static void save(const char *path, payload *p)
{
    sess_status st = {0};
    cr_assert_eq(sess_snap_save(path, &META, pay_write, p, &st), 0, "%s", st.msg);
}

/* Load and expect reason r; the payload callback must not run unless ok. */
static void expect_reason(const char *path, const sess_snap_meta *expect, sess_snap_reason r, const char *words)
{
    sess_status st = {0};
    payload got = {0};
    sess_snap_reason rr = sess_snap_load(path, expect, pay_read, &got, NULL, &st);
    cr_assert_eq(rr, r, "expected '%s', got '%s' (%s)", sess_snap_reason_name(r), sess_snap_reason_name(rr), st.msg);
    cr_assert_eq(got.calls, 0, "a rejected snapshot reached the engine");
    cr_assert(strstr(st.msg, words) && strstr(st.msg, "ignored"), "message: %s", st.msg);
    free(got.bytes);
}

/* Change one byte of a file at offset. */
static void flip(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

Test(sess_snap, crc32c_known_answer)
{
    cr_assert_eq(sess_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(sess_crc32c(sess_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u, "not chainable");
    cr_assert_eq(sess_crc32c(0, "", 0), 0);
}

Test(sess_snap, round_trip_restores_exact_bytes)
{
    char *dir = st_tmpdir();
    char *path = sess_snap_path(dir, 42);
    cr_assert(strstr(path, "/snapshots/42.snap"), "%s", path);
    payload p = make_payload();
    save(path, &p);
    sess_status st = {0};
    payload got = {0};
    sess_snap_meta m = {0};
    cr_assert_eq(sess_snap_load(path, &META, pay_read, &got, &m, &st), SNAP_OK, "%s", st.msg);
    cr_assert_eq(got.n, p.n);
    cr_assert_eq(memcmp(got.bytes, p.bytes, p.n), 0);
    cr_assert_eq(m.n_tokens, 777);
    cr_assert_eq(m.payload_size, PAYLOAD);
    free(got.bytes);
    /* overwrite with a failing writer: the old snapshot survives, no temp file is left */
    p.fail = true;
    cr_assert_eq(sess_snap_save(path, &META, pay_write, &p, &st), -1);
    expect_reason(path, &(sess_snap_meta){META.model_fp, 2, 8, 0, 0}, SNAP_STALE_TYPES,
                  "K/V types f16/q8_0, the cache is q4_0/q8_0");   /* names, never enum values */
    cr_assert_eq(sess_snap_load(path, &META, NULL, NULL, NULL, &st), SNAP_OK, "old snapshot lost: %s", st.msg);
    char *snapdir = NULL;
    cr_assert_geq(asprintf(&snapdir, "%s/snapshots", dir), 0);
    int entries = 0;
    DIR *d = opendir(snapdir);
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 1, "a temp file was left behind");
    free(snapdir);
    free(p.bytes);
    free(path);
    st_tmpdir_rm(dir);
}

Test(sess_snap, damaged_or_foreign_snapshots_are_refused)
{
    char *dir = st_tmpdir();
    char *path = sess_snap_path(dir, 1);
    payload p = make_payload();
    save(path, &p);
    flip(path, 64 + 5000);                                  /* one payload byte */
    expect_reason(path, &META, SNAP_BAD_CHECKSUM, "checksum");
    save(path, &p);
    flip(path, 33);                                          /* n_tokens in the header */
    expect_reason(path, &META, SNAP_BAD_CHECKSUM, "checksum");
    save(path, &p);
    flip(path, 0);
    expect_reason(path, &META, SNAP_BAD_MAGIC, "not a parley snapshot");
    save(path, &p);
    flip(path, 8);
    expect_reason(path, &META, SNAP_BAD_VERSION, "version");
    save(path, &p);
    cr_assert_eq(truncate(path, 64 + PAYLOAD - 1), 0);
    expect_reason(path, &META, SNAP_TRUNCATED, "truncated");
    cr_assert_eq(truncate(path, 20), 0);
    expect_reason(path, &META, SNAP_TRUNCATED, "truncated");
    cr_assert_eq(truncate(path, 0), 0);
    expect_reason(path, &META, SNAP_TRUNCATED, "truncated");
    save(path, &p);
    FILE *f = fopen(path, "ab");
    fputc('x', f);
    fclose(f);
    expect_reason(path, &META, SNAP_TRUNCATED, "bytes");
    save(path, &p);
    sess_snap_meta other = META;
    other.model_fp ^= 1;
    expect_reason(path, &other, SNAP_STALE_MODEL, "another model");
    sess_status st = {0};
    cr_assert_eq(sess_snap_load(path, &other, NULL, NULL, NULL, &st), SNAP_STALE_MODEL);
    cr_assert_eq(st.code, SESS_ERR_STALE);
    other = META;
    other.type_v = 2;
    expect_reason(path, &other, SNAP_STALE_TYPES, "KV cache types");
    expect_reason(st_path(dir, "snapshots/none.snap"), &META, SNAP_MISSING, "missing");
    free(p.bytes);
    free(path);
    st_tmpdir_rm(dir);
}

Test(sess_snap, fingerprint_and_delete)
{
    char *dir = st_tmpdir();
    const char *a = st_path(dir, "a.gguf"), *b = st_path(dir, "b.gguf");
    FILE *f = fopen(a, "wb");
    fputs("GGUF header one", f);
    fclose(f);
    f = fopen(b, "wb");
    fputs("GGUF header two", f);
    fclose(f);
    sess_status st = {0};
    uint64_t fa = sess_model_fingerprint(a, &st), fb = sess_model_fingerprint(b, &st);
    cr_assert_neq(fa, 0);
    cr_assert_neq(fa, fb);
    cr_assert_eq(fa, sess_model_fingerprint(a, &st));
    cr_assert_eq(sess_model_fingerprint(st_path(dir, "nope.gguf"), &st), 0);
    cr_assert(strstr(st.msg, "nope.gguf"), "%s", st.msg);

    sess_store *s = st_open(dir);
    int64_t sid = sess_create(s, NULL, &st);
    char *snap = sess_store_snap_path(s, sid);
    payload p = make_payload();
    save(snap, &p);
    struct stat sb;
    cr_assert_eq(stat(snap, &sb), 0);
    cr_assert_eq(sess_delete(s, sid, &st), 0, "%s", st.msg);
    cr_assert_neq(stat(snap, &sb), 0, "deleting a session keeps its snapshot");
    free(p.bytes);
    free(snap);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
