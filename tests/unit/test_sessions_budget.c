/* test_sessions_budget.c — KV snapshots within a disk budget, with real files:
 * the least recently used go first (written or loaded counts as used), only
 * until the rest fit, only snapshot files count, the sizes add up; and which
 * sessions a snapshot makes instant to resume (model and K/V types it last
 * ran with). */
#include <fcntl.h>
#include <sys/stat.h>

#include "sessions_test_util.h"

#define FP 0x1234abcd5678ef90ull
#define T_F16 1
#define T_Q8_0 8

typedef struct blob { size_t n; } blob;

/* Payload writer: n bytes of 0x5a. */
static int blob_write(void *ctx, FILE *f)
{
    const blob *b = ctx;
    for (size_t i = 0; i < b->n; i++) if (fputc(0x5a, f) == EOF) return -1;
    return 0;
}

static int blob_read(void *ctx, FILE *f, uint64_t size)
{
    (void)ctx;
    for (uint64_t i = 0; i < size; i++) if (fgetc(f) == EOF) return -1;
    return 0;
}

/* Snapshot of session sid with a payload of n bytes, last used at unix time t. */
static uint64_t snap_at(const char *dir, int64_t sid, size_t n, time_t t)
{
    char *path = sess_snap_path(dir, sid);
    blob b = {n};
    sess_status st = {0};
    sess_snap_meta m = {FP, T_F16, T_F16, 10, 0};
    cr_assert_eq(sess_snap_save(path, &m, blob_write, &b, &st), 0, "%s", st.msg);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    free(path);
    return (uint64_t)sb.st_size;
}

static bool has_snap(const char *dir, int64_t sid)
{
    char *path = sess_snap_path(dir, sid);
    bool yes = access(path, F_OK) == 0;
    free(path);
    return yes;
}

Test(sess_budget, least_recently_used_go_first_until_the_rest_fit)
{
    char *dir = st_tmpdir();
    uint64_t s1 = snap_at(dir, 1, 1000, 1000000100);   /* used second */
    uint64_t s2 = snap_at(dir, 2, 3000, 1000000000);   /* oldest */
    uint64_t s3 = snap_at(dir, 3, 2000, 1000000300);   /* newest */
    uint64_t s4 = snap_at(dir, 4, 1500, 1000000200);
    FILE *f = fopen(st_path(dir, "snapshots/4.snap.77.tmp"), "w");   /* a crash's leftover: not a snapshot */
    fputs("partial", f);
    fclose(f);
    sess_trim r;
    sess_status st = {0};
    cr_assert_eq(sess_snap_trim(dir, s1 + s2 + s3 + s4, &r, &st), 0, "%s", st.msg);
    cr_expect_eq(r.n_removed, 0, "within the budget nothing goes");
    cr_expect_eq(r.bytes, s1 + s2 + s3 + s4, "only .snap files count");
    cr_assert_eq(sess_snap_trim(dir, s3 + s4 + s1 - 1, &r, &st), 0, "%s", st.msg);   /* 2, then 1 must go */
    cr_expect(!has_snap(dir, 2) && !has_snap(dir, 1), "the two least recently used were kept");
    cr_expect(has_snap(dir, 3) && has_snap(dir, 4), "a more recently used one was removed");
    cr_expect_eq(r.n_removed, 2);
    cr_expect_eq(r.bytes_removed, s1 + s2);
    cr_expect_eq(r.bytes, s3 + s4);
    cr_expect_eq(r.n_files, 2);
    cr_expect_eq(access(st_path(dir, "snapshots/4.snap.77.tmp"), F_OK), 0, "a file that is not a snapshot was removed");
    cr_assert_eq(sess_snap_trim(dir, 0, &r, &st), 0, "%s", st.msg);
    cr_expect(!has_snap(dir, 3) && !has_snap(dir, 4), "budget 0 keeps no snapshot");
    cr_expect_eq(r.bytes, 0);
    cr_expect_eq(r.n_files, 0);
    st_tmpdir_rm(dir);
}

Test(sess_budget, loading_a_snapshot_counts_as_using_it)
{
    char *dir = st_tmpdir();
    uint64_t s1 = snap_at(dir, 1, 1000, 1000000000);   /* oldest, but loaded below */
    uint64_t s2 = snap_at(dir, 2, 1000, 1000000100);
    char *path = sess_snap_path(dir, 1);
    sess_status st = {0};
    sess_snap_meta expect = {FP, T_F16, T_F16, 0, 0};
    cr_assert_eq(sess_snap_load(path, &expect, blob_read, NULL, NULL, &st), SNAP_OK, "%s", st.msg);
    sess_trim r;
    cr_assert_eq(sess_snap_trim(dir, s1 + s2 - 1, &r, &st), 0, "%s", st.msg);
    cr_expect(has_snap(dir, 1), "the snapshot just loaded was removed");
    cr_expect(!has_snap(dir, 2), "the one not used since was kept");
    free(path);
    st_tmpdir_rm(dir);
}

Test(sess_budget, no_snapshot_folder_is_an_empty_one)
{
    char *dir = st_tmpdir();
    sess_trim r = {1, 1, 1, 1};
    sess_status st = {0};
    cr_assert_eq(sess_snap_trim(dir, 0, &r, &st), 0, "%s", st.msg);
    cr_expect_eq(r.n_files + r.n_removed, 0);
    st_tmpdir_rm(dir);
}

/* A session in s ran with settings (JSON) and the model FP; returns its id. */
static int64_t session(sess_store *s, const char *settings)
{
    sess_status st = {0};
    int64_t id = sess_create(s, &(sess_new){"t", "/m.gguf", FP, settings, ""}, &st);
    cr_assert_gt(id, 0, "%s", st.msg);
    return id;
}

Test(sess_budget, marks_say_which_sessions_resume_instantly)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t fits = session(s, "{\"cache-type-k\":\"q8_0\",\"cache-type-v\":\"f16\"}");
    int64_t other = session(s, "{\"cache-type-k\":\"q8_0\"}");   /* made with f16 below */
    int64_t none = session(s, NULL);
    int64_t damaged = session(s, NULL);
    sess_status st = {0};
    blob b = {500};
    char *p = sess_snap_path(dir, fits);
    cr_assert_eq(sess_snap_save(p, &(sess_snap_meta){FP, T_Q8_0, T_F16, 5, 0}, blob_write, &b, &st), 0, "%s", st.msg);
    free(p);
    snap_at(dir, other, 500, 1000000000);
    FILE *f = fopen(st_path(dir, "snapshots/4.snap"), "w");
    cr_assert_eq(damaged, 4);
    fputs("not a snapshot at all", f);
    fclose(f);
    sess_info *list;
    int n;
    cr_assert_eq(sess_list(s, &list, &n, &st), 0, "%s", st.msg);
    sess_snap_mark(s, list, n);
    for (int i = 0; i < n; i++) {
        sess_snap_state want = list[i].id == fits ? SESS_SNAP_READY : list[i].id == none ? SESS_SNAP_NONE : SESS_SNAP_STALE;
        cr_expect_eq(list[i].snap, want, "session %lld: state %d, want %d", (long long)list[i].id, list[i].snap, want);
        if (list[i].id == fits) cr_expect_eq(list[i].snap_bytes, 64 + 500, "the size is the file's");
        if (list[i].id == none) cr_expect_eq(list[i].snap_bytes, 0);
    }
    sess_info_free_list(list, n);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
