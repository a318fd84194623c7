/* test_sessions_guard.c — what opening a store promises about its files:
 * private (folder 0700, sessions.db and its -wal/-shm and snapshots 0600, a
 * 0755 folder or 0644 file of ours tightened); readable when it cannot be
 * written (a folder another user made read-only; tests run as root in CI, so
 * the reader drops to an unprivileged uid in a forked child); and a store
 * damaged in the middle, or not a database at all, or with a schema version
 * no parley writes, is moved aside with its bytes intact, the note says where,
 * and a new store works. Damage found while running stops all writes. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../common/mount_ro.h"
#include "sessions/sessions_impl.h"
#include "sessions_test_util.h"

static int mode_of(const char *path)
{
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0, "%s is missing", path);
    return sb.st_mode & 07777;
}

/* Whole file into a malloc'd buffer; *n its size. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*n + 1);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* A store with n sessions of a few messages each, closed. */
static void fill_store(const char *dir, int n)
{
    sess_store *s = st_open(dir);
    sess_status st;
    char text[600];
    for (int i = 0; i < n; i++) {
        int64_t sid = sess_create(s, NULL, &st);
        cr_assert_gt(sid, 0, "%s", st.msg);
        for (int k = 0; k < 3; k++) {
            snprintf(text, sizeof text, "message %d of session %d: %0400d", k, i, k);
            cr_assert_gt(sess_msg_add(s, sid, k % 2 ? "assistant" : "user", text, strlen(text), NULL, &st), 0,
                         "%s", st.msg);
        }
    }
    sess_store_close(s);
}

Test(sess_guard, fresh_store_is_private)
{
    umask(022);
    char *top = st_tmpdir(), dir[256];
    snprintf(dir, sizeof dir, "%s/data", top);
    sess_store *s = st_open(dir);
    sess_status st;
    int64_t sid = sess_create(s, NULL, &st);
    cr_assert_gt(sess_msg_add(s, sid, "user", "a secret", 8, NULL, &st), 0, "%s", st.msg);
    cr_assert_eq(mode_of(dir), 0700, "data folder mode %o", mode_of(dir));
    static const char *const files[] = {"sessions.db", "sessions.db-wal", "sessions.db-shm"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(mode_of(st_path(dir, files[i])), 0600, "%s mode %o", files[i], mode_of(st_path(dir, files[i])));
    char *snap = sess_store_snap_path(s, sid);
    sess_snap_meta m = {1, 1, 1, 0, 0};
    cr_assert_eq(sess_snap_save(snap, &m, NULL, NULL, &st), 0, "%s", st.msg);
    cr_assert_eq(mode_of(snap), 0600, "snapshot mode %o", mode_of(snap));
    cr_assert_eq(mode_of(st_path(dir, "snapshots")), 0700);
    free(snap);
    cr_assert_null(sess_store_note(s), "unexpected note: %s", sess_store_note(s));
    sess_store_close(s);
    st_tmpdir_rm(top);
}

Test(sess_guard, loose_folder_and_files_of_ours_are_tightened)
{
    umask(022);
    char *dir = st_tmpdir();
    fill_store(dir, 1);
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(st_path(dir, "sessions.db"), 0644), 0);
    sess_store *s = st_open(dir);
    cr_assert_eq(mode_of(dir), 0700, "data folder left at %o", mode_of(dir));
    cr_assert_eq(mode_of(st_path(dir, "sessions.db")), 0600, "sessions.db left at %o", mode_of(st_path(dir, "sessions.db")));
    cr_assert_eq(st_count(s), 1);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

/* Overwrite the middle page of dir/sessions.db with junk; returns the page number. */
static long corrupt_middle_page(const char *db)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &q, NULL);
    sqlite3_step(q);
    long pages = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(h);
    cr_assert_gt(pages, 20, "the store is too small to damage in the middle (%ld pages)", pages);
    long page = pages / 2;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(0x5a ^ (i * 7));
    int fd = open(db, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, junk, sizeof junk, (off_t)(page - 1) * 4096), (ssize_t)sizeof junk);
    close(fd);
    return page;
}

Test(sess_guard, damage_in_the_middle_is_moved_aside_and_a_new_store_starts)
{
    char *dir = st_tmpdir();
    const char *db = st_path(dir, "sessions.db");
    fill_store(dir, 60);
    sess_status st = {0};
    char *snap = sess_snap_path(dir, 1);   /* session 1's snapshot must not meet the new store's session 1 */
    sess_snap_meta meta = {1, 1, 1, 0, 0};
    cr_assert_eq(sess_snap_save(snap, &meta, NULL, NULL, &st), 0, "%s", st.msg);
    corrupt_middle_page(db);
    size_t n0;
    char *before = slurp(db, &n0);
    sess_store *s = sess_store_open(dir, 0, &st);
    cr_assert_not_null(s, "a damaged store stopped parley: %s", st.msg);
    cr_assert_neq(access(snap, F_OK), 0, "the old store's snapshot is still where the new session 1 looks");
    free(snap);
    const char *note = sess_store_note(s);
    cr_assert(note && strstr(note, "damaged") && strstr(note, "moved to"), "nobody was told: %s", note ? note : "(no note)");
    const char *at = strstr(note, "moved to ") + strlen("moved to ");
    char moved[600];
    snprintf(moved, sizeof moved, "%.*s", (int)strcspn(at, ", "), at);
    cr_assert(strstr(moved, "sessions.db.corrupt-"), "%s", moved);
    size_t n1;
    char *after = slurp(moved, &n1);
    cr_assert(n1 == n0 && memcmp(before, after, n0) == 0, "the damaged file's bytes were not kept as they were");
    cr_assert_eq(st_count(s), 0, "the new store is not empty");
    int64_t sid = sess_create(s, NULL, &st);
    cr_assert_gt(sid, 0, "%s", st.msg);
    cr_assert_gt(sess_msg_add(s, sid, "user", "fresh start", 11, NULL, &st), 0, "%s", st.msg);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_store_close(s);
    free(before);
    free(after);
    st_tmpdir_rm(dir);
}

Test(sess_guard, not_a_database_is_moved_aside_and_named)
{
    char *dir = st_tmpdir();
    const char *path = st_path(dir, "sessions.db");
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)('a' + i % 26);
    FILE *f = fopen(path, "wb");
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    sess_status st = {0};
    sess_store *ro = sess_store_open(dir, SESS_OPEN_READONLY, &st);   /* read-only: left exactly as it is */
    cr_assert_null(ro);
    cr_assert_eq(st.code, SESS_ERR_CORRUPT, "%d %s", st.code, st.msg);
    cr_assert(strstr(st.msg, path) && strstr(st.msg, "left as it is"), "%s", st.msg);
    sess_store *s = sess_store_open(dir, 0, &st);
    cr_assert_not_null(s, "%s", st.msg);
    cr_assert(sess_store_note(s) && strstr(sess_store_note(s), "not a parley session database") &&
              strstr(sess_store_note(s), ".corrupt-"), "%s", sess_store_note(s) ? sess_store_note(s) : "(no note)");
    cr_assert(!strstr(sess_store_note(s), "untouched"), "%s", sess_store_note(s));
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_guard, negative_schema_version_is_named_not_an_error)
{
    char *dir = st_tmpdir();
    fill_store(dir, 1);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(st_path(dir, "sessions.db"), &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA user_version=-3", NULL, NULL, NULL);
    sqlite3_close(h);
    sess_status st = {0};
    cr_assert_null(sess_store_open(dir, SESS_OPEN_READONLY, &st));
    cr_assert(strstr(st.msg, "schema version -3") && !strstr(st.msg, "not an error"), "%s", st.msg);
    sess_store *s = sess_store_open(dir, 0, &st);
    cr_assert_not_null(s, "%s", st.msg);
    cr_assert(sess_store_note(s) && strstr(sess_store_note(s), "schema version -3"), "%s",
              sess_store_note(s) ? sess_store_note(s) : "(no note)");
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_guard, damage_found_while_running_stops_all_writes)
{
    char *dir = st_tmpdir();
    const char *db = st_path(dir, "sessions.db");
    fill_store(dir, 60);
    sess_store *s = st_open(dir);
    sess_status st = {0};
    corrupt_middle_page(db);
    sqlite3_exec(s->db, "PRAGMA cache_size=0", NULL, NULL, NULL);
    int64_t sid = 0;
    for (int64_t id = 1; id <= 60 && st.code != SESS_ERR_CORRUPT; id++) {   /* reading finds the bad page */
        sess_msg *m = NULL;
        int n = 0;
        if (sess_msg_list(s, id, &m, &n, &st) == 0) sess_msg_free_list(m, n);
        if (st.code != SESS_ERR_CORRUPT && (sid = sess_create(s, NULL, &st)) > 0)
            sess_msg_add(s, sid, "user", "x", 1, NULL, &st);
    }
    cr_assert_eq(st.code, SESS_ERR_CORRUPT, "the damage was never reported: %s", st.msg);
    cr_assert(!strstr(st.msg, "untouched"), "%s", st.msg);
    size_t n0;
    char *before = slurp(db, &n0);
    cr_assert_eq(sess_create(s, NULL, &st), -1, "a damaged store was written to");
    cr_assert(strstr(st.msg, "damaged") && strstr(st.msg, "not saved"), "%s", st.msg);
    size_t n1;
    char *after = slurp(db, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "the damaged file changed after the damage was seen");
    sess_store_close(s);
    free(before);
    free(after);
    st_tmpdir_rm(dir);
}

/* In a child: drop to an unprivileged uid when root (root ignores permission bits). */
static void become_other_user(const char *dir)
{
    if (geteuid() != 0) return;
    const uid_t nobody = 65534;
    cr_assert_eq(chown(dir, nobody, nobody), 0);
    char path[600];
    static const char *const files[] = {"sessions.db", "sessions.db-wal", "sessions.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (chown(path, nobody, nobody) != 0 && errno != ENOENT) cr_assert_fail("chown %s", path);
    }
    if (setresgid(nobody, nobody, nobody) != 0 || setresuid(nobody, nobody, nobody) != 0) _exit(90);
}

Test(sess_guard, store_in_a_read_only_folder_is_read_and_says_so)
{
    char *dir = st_tmpdir();
    fill_store(dir, 2);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        become_other_user(dir);
        if (chmod(dir, 0500) != 0) _exit(91);
        sess_status st = {0};
        sess_store *s = sess_store_open(dir, 0, &st);
        if (!s) { fprintf(stderr, "open: %s\n", st.msg); _exit(1); }
        sess_info *l = NULL;
        int n = 0;
        if (sess_list(s, &l, &n, &st) < 0 || n != 2) { fprintf(stderr, "list: %d %s\n", n, st.msg); _exit(2); }
        sess_info_free_list(l, n);
        sess_msg *m = NULL;
        if (sess_msg_list(s, 1, &m, &n, &st) < 0 || n != 3) { fprintf(stderr, "messages: %s\n", st.msg); _exit(3); }
        sess_msg_free_list(m, n);
        if (!sess_store_read_only(s) || !sess_store_note(s) || !strstr(sess_store_note(s), "read-only")) _exit(4);
        if (sess_create(s, NULL, &st) != -1 || st.code != SESS_ERR_READONLY) _exit(5);
        sess_store_close(s);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(dir, 0700);
    cr_assert(WIFEXITED(status), "the reader crashed");
    cr_assert_neq(WEXITSTATUS(status), 90, "cannot switch to uid 65534 to test permissions as root");
    cr_assert_eq(WEXITSTATUS(status), 0, "a read-only store could not be read (step %d; see stderr)",
                 WEXITSTATUS(status));
    st_tmpdir_rm(dir);
}

/* The engine's state writer: plain fwrite of its bytes, like engine/state.c. */
static int big_state_write(void *ctx, FILE *f)
{
    static char chunk[64 * 1024];
    memset(chunk, 0x42, sizeof chunk);
    for (int i = 0; i < 32; i++)
        if (fwrite(chunk, 1, sizeof chunk, f) != sizeof chunk) return -1;
    return 0;
}

Test(sess_guard, full_disk_during_a_snapshot_says_disk_full)
{
    char *dir = st_tmpdir();
    const char *why = mount_small_tmpfs(dir, "256k");
    cr_assert_null(why, "%s", why);
    char *path = sess_snap_path(dir, 7);
    sess_snap_meta m = {1, 1, 1, 10, 0};
    sess_status st = {0};
    int rc = sess_snap_save(path, &m, big_state_write, NULL, &st);
    mount_ro_undo(dir);
    cr_assert_eq(rc, -1, "2 MB fitted into a 256 KiB disk");
    cr_assert_eq(st.code, SESS_ERR_FULL, "%d %s", st.code, st.msg);
    cr_assert(strstr(st.msg, "disk full") && !strstr(st.msg, "could not write its state"), "%s", st.msg);
    free(path);
    st_tmpdir_rm(dir);
}

Test(sess_guard, a_folder_in_place_of_a_snapshot_is_named_not_truncated)
{
    char *dir = st_tmpdir();
    char *path = sess_snap_path(dir, 3);
    cr_assert_eq(mkdir(st_path(dir, "snapshots"), 0700), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    sess_status st = {0};
    sess_snap_reason r = sess_snap_load(path, NULL, NULL, NULL, NULL, &st);
    cr_assert_eq(r, SNAP_NOT_FILE, "reason %s: %s", sess_snap_reason_name(r), st.msg);
    cr_assert(strstr(st.msg, "folder") && !strstr(st.msg, "truncated"), "%s", st.msg);
    free(path);
    st_tmpdir_rm(dir);
}

Test(sess_guard, full_disk_message_reads_right)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t sid = sess_create(s, NULL, &st);
    sqlite3_stmt *q = sess_prepare(s, "PRAGMA page_count", &st);
    sqlite3_step(q);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", sqlite3_column_int(q, 0));
    sqlite3_finalize(q);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);   /* the disk is now "full" */
    static char text[64 * 1024];
    memset(text, 'z', sizeof text);
    cr_assert_eq(sess_msg_add(s, sid, "assistant", text, sizeof text, NULL, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_FULL);
    cr_assert(strstr(st.msg, "disk full") && !strstr(st.msg, "saving was not saved"), "%s", st.msg);
    cr_assert(strstr(st.msg, "earlier history is intact"), "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
