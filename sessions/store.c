/* store.c — opening sessions.db and the transaction discipline around it.
 *
 * Why it looks like this: several parley processes (two terminals, an SSH
 * session) may share one store. WAL lets readers run beside one writer; every
 * write is BEGIN IMMEDIATE (take the write lock up front, so a transaction never
 * fails half-way on a lock upgrade), a busy handler polling every 2 ms waits up
 * to busy_ms, and the whole transaction is retried a few times before we give
 * up with "session store is busy (another parley?)". synchronous=NORMAL: a
 * commit is in the OS page cache before we return, so kill -9 loses nothing
 * committed; only a power cut may lose the last commits, never the database's
 * integrity.
 *
 * Errors map through one table to messages that name the file. A store found
 * damaged at open (quick_check, or SQLite says so) is never deleted or written:
 * it is moved aside whole (sess_store_move_aside) and a new one started; damage
 * found later stops all writes until the next start. See store_guard.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "sessions_impl.h"

#define SESS_DB_NAME "sessions.db"
#define QUICK_CHECK_MS 1000   /* a bigger store is opened unchecked rather than slowly */

sess_code sess_status_set(sess_status *st, sess_code code, const char *fmt, ...)
{
    if (!st) return code;
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return code;
}

int64_t sess_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t sess_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* SQLite primary result code -> our code and the message a person reads. */
static const struct {
    int rc;
    sess_code code;
    const char *fmt;   /* %1$s path, %2$s what, %3$s sqlite detail */
} sqlite_errors[] = {
    {SQLITE_BUSY,     SESS_ERR_BUSY,     "session store is busy (another parley?): %2$s timed out on %1$s (%3$s)"},
    {SQLITE_LOCKED,   SESS_ERR_BUSY,     "session store is busy (another parley?): %2$s timed out on %1$s (%3$s)"},
    {SQLITE_FULL,     SESS_ERR_FULL,     "%1$s: disk full while %2$s: nothing was half-written and earlier history is "
                                         "intact (%3$s)"},
    {SQLITE_READONLY, SESS_ERR_READONLY, "%1$s is read-only: nothing new can be saved (%3$s, while %2$s)"},
    {SQLITE_CORRUPT,  SESS_ERR_CORRUPT,  "%1$s is damaged (%3$s, while %2$s)"},
    {SQLITE_NOTADB,   SESS_ERR_CORRUPT,  "%1$s is not a parley session database (%3$s, while %2$s)"},
    {SQLITE_NOMEM,    SESS_ERR_NOMEM,    "%1$s: out of memory during %2$s (%3$s)"},
    {SQLITE_CANTOPEN, SESS_ERR_IO,       "%1$s: cannot open for %2$s (%3$s)"},
    {SQLITE_IOERR,    SESS_ERR_IO,       "%1$s: I/O error during %2$s (%3$s)"},
    {SQLITE_PERM,     SESS_ERR_READONLY, "%1$s: permission denied during %2$s (%3$s)"},
};

/* Damage seen: never write into it again; the message says what happens to it. */
static void store_damaged(sess_store *s, sess_status *st)
{
    if (s && !s->ro) s->damaged = true;
    if (!st) return;
    size_t used = strlen(st->msg);
    snprintf(st->msg + used, sizeof st->msg - used, "%s",
             s && s->ro ? "; it is read-only here and was left as it is"
                        : "; parley writes nothing more to it, and the next start moves it aside and starts a "
                          "new store");
}

int sess_sqlite_fail(sess_store *s, int rc, const char *what, sess_status *st)
{
    const char *path = s && s->path ? s->path : SESS_DB_NAME;
    const char *detail = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    for (size_t i = 0; i < sizeof sqlite_errors / sizeof sqlite_errors[0]; i++) {
        if (sqlite_errors[i].rc != (rc & 0xff)) continue;
        if (st) {
            st->code = sqlite_errors[i].code;
            snprintf(st->msg, sizeof st->msg, sqlite_errors[i].fmt, path, what, detail);
        }
        if (sqlite_errors[i].code == SESS_ERR_CORRUPT) store_damaged(s, st);
        return -1;
    }
    sess_status_set(st, SESS_ERR_IO, "%s: %s failed: %s", path, what, detail);
    return -1;
}

sqlite3_stmt *sess_prepare(sess_store *s, const char *sql, sess_status *st)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) {
        sess_sqlite_fail(s, rc, "a query", st);
        return NULL;
    }
    return q;
}

char *sess_col_dup(sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    return strdup(t ? (const char *)t : "");
}

/* Sleep between transaction retries, growing a little each time. */
static void tx_backoff(int attempt)
{
    struct timespec t = {0, (long)(20 + 30 * attempt) * 1000000L};
    nanosleep(&t, NULL);
}

int sess_tx(sess_store *s, sess_tx_fn fn, void *ctx, sess_status *st)
{
    if (s->ro)
        return sess_status_set(st, SESS_ERR_READONLY, "%s was opened read-only: the change was not saved",
                               s->path), -1;
    if (s->damaged)
        return sess_status_set(st, SESS_ERR_CORRUPT, "%s is damaged: the change was not saved; the next start of "
                               "parley moves it aside and starts a new store", s->path), -1;
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt <= s->retries; attempt++) {
        if (attempt) tx_backoff(attempt);
        rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_BUSY) continue;
        if (rc != SQLITE_OK) break;
        rc = fn(s, ctx, st);
        if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc < 0) return -1;                   /* fn filled st */
        if ((rc & 0xff) != SQLITE_BUSY) break;
    }
    return sess_sqlite_fail(s, rc, "saving", st);
}

/* mkdir -p for the data directory. */
static int mkdir_p(const char *dir, sess_status *st)
{
    char *p = strdup(dir);
    if (!p) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    for (char *c = p + 1;; c++) {
        if (*c && *c != '/') continue;
        char saved = *c;
        *c = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            sess_status_set(st, SESS_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (!(*c = saved)) break;
    }
    free(p);
    return 0;
}

char *sess_data_dir(const pl_config *cfg)
{
    if (cfg && cfg->data_dir && *cfg->data_dir) return strdup(cfg->data_dir);
    return config_default_data_dir();
}

/* Busy handler: try for the lock every 2 ms until busy_ms have passed. SQLite's
 * own handler sleeps up to 100 ms between tries and so misses the short gaps a
 * long import leaves between its batches. */
static int busy_poll(void *p, int tries)
{
    sess_store *s = p;
    if (tries == 0) s->busy_since = sess_mono_ms();
    if (sess_mono_ms() - s->busy_since >= s->busy_ms) return 0;
    struct timespec t = {0, 2 * 1000000L};
    nanosleep(&t, NULL);
    return 1;
}

/* Per-connection settings: WAL, foreign keys, timeouts. Also detects NOTADB. */
static int store_configure(sess_store *s, sess_status *st)
{
    sqlite3_busy_handler(s->db, busy_poll, s);
    int rc = sqlite3_exec(s->db, "PRAGMA foreign_keys=ON; SELECT count(*) FROM sqlite_master;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sess_sqlite_fail(s, rc, "opening", st);
    if (s->ro) return 0;
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sess_sqlite_fail(s, rc, "opening", st);
    return 0;
}

/* "file:" URI of path (%, ? and # escaped) with a query; sqlite3_free it. */
static char *store_uri(const char *path, const char *query)
{
    sqlite3_str *u = sqlite3_str_new(NULL);
    sqlite3_str_appendall(u, "file:");
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#') sqlite3_str_appendf(u, "%%%02X", (unsigned char)*p);
        else sqlite3_str_appendchar(u, 1, *p);
    }
    sqlite3_str_appendall(u, query);
    return sqlite3_str_finish(u);
}

/* sqlite3_open_v2 with our flags; a write-protected file comes back read-only.
 * immutable: a store in a folder nobody may write (no -shm can be made there). */
static int store_connect(sess_store *s, unsigned flags, bool immutable, sess_status *st)
{
    bool ro = flags & SESS_OPEN_READONLY;
    char *uri = store_uri(s->path, immutable ? "?mode=ro&immutable=1" : ro ? "?mode=ro" : "");
    if (!uri) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    int oflags = SQLITE_OPEN_URI | (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    if (!(flags & (SESS_OPEN_READONLY | SESS_OPEN_NO_CREATE))) oflags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(uri, &s->db, oflags, NULL);
    sqlite3_free(uri);
    if (rc != SQLITE_OK) {
        if (access(s->path, F_OK) != 0 && errno == ENOENT)
            return sess_status_set(st, SESS_ERR_NOTFOUND, "%s: no session store yet", s->path), -1;
        if (access(s->path, F_OK) != 0)   /* the folder cannot be read, or is not a folder */
            return sess_status_set(st, SESS_ERR_IO, "%s: cannot open the session store: %s", s->path,
                                   strerror(errno)), -1;
        return sess_sqlite_fail(s, rc, "opening", st);
    }
    sqlite3_extended_result_codes(s->db, 0);
    s->ro = ro || sqlite3_db_readonly(s->db, "main") == 1;
    return 0;
}

/* Path and directory strings for a store. */
static int store_set_paths(sess_store *s, const char *db_path, sess_status *st)
{
    s->path = strdup(db_path);
    s->dir = strdup(db_path);
    if (!s->path || !s->dir) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    char *slash = strrchr(s->dir, '/');
    if (slash && slash != s->dir) *slash = 0;
    else if (slash) slash[1] = 0;
    else strcpy(s->dir, ".");
    return 0;
}

/* Connect and get the file ready: settings, integrity, schema. */
static int store_ready(sess_store *s, unsigned flags, sess_status *st)
{
    if (!s->ro && !(flags & SESS_OPEN_READONLY) && sess_guard_files(s, !(flags & SESS_OPEN_NO_CREATE), st) < 0)
        return -1;
    if (store_connect(s, flags, false, st) < 0) return -1;
    int rc = store_configure(s, st);
    if (rc < 0 && s->ro && st && st->code != SESS_ERR_CORRUPT) {   /* read-only folder: no -shm can be made */
        sqlite3_close_v2(s->db);
        s->db = NULL;
        if (store_connect(s, flags, true, st) < 0) return -1;
        rc = store_configure(s, st);
    }
    if (rc < 0) return -1;
    if (!s->ro && sess_quick_check(s, QUICK_CHECK_MS, st) < 0) return -1;
    return sess_schema_migrate(s, st);
}

/* Damage found at open: move the file (and -wal, -shm) aside, say where, start anew. */
static int store_recover(sess_store *s, unsigned flags, sess_status *st)
{
    char why[512], moved[4096];
    snprintf(why, sizeof why, "%s", st ? st->msg : "damaged");
    char *tail = strstr(why, "; parley writes nothing more");   /* it is moved aside instead */
    if (tail) *tail = 0;
    sqlite3_close_v2(s->db);
    s->db = NULL;
    s->damaged = false;
    if (sess_store_move_aside(s->path, moved, sizeof moved, st) < 0) {
        char how[sizeof st->msg];
        snprintf(how, sizeof how, "%s", st->msg);
        return sess_status_set(st, SESS_ERR_CORRUPT, "%.200s; it could not be moved aside (%.280s), so nothing "
                               "will be saved", why, how), -1;
    }
    char *snaps = NULL, *snaps_to = NULL;   /* its snapshots belong to its session ids: aside too */
    if (asprintf(&snaps, "%s/snapshots", s->dir) >= 0 && asprintf(&snaps_to, "%s-snapshots", moved) >= 0)
        rename(snaps, snaps_to);
    free(snaps);
    free(snaps_to);
    sess_note_add(s, "%s was damaged (%s): it was moved to %s, nothing in it was changed, and a new store was "
                  "started", s->path, why, moved);
    return store_ready(s, flags & ~(unsigned)SESS_OPEN_NO_CREATE, st);
}

sess_store *sess_store_open_file(const char *db_path, unsigned flags, sess_status *st)
{
    if (!db_path || !*db_path) return sess_status_set(st, SESS_ERR_ARG, "no session store path"), NULL;
    sess_store *s = calloc(1, sizeof *s);
    if (!s) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), NULL;
    s->busy_ms = 5000;
    s->retries = 2;
    s->ckpt_ms = 200;
    s->ckpt_bytes = 256;
    sess_status local;
    if (!st) st = &local;
    st->code = SESS_OK;
    char why[128] = "";
    int rc = store_set_paths(s, db_path, st);
    bool exists = rc == 0 && access(db_path, F_OK) == 0;
    if (exists && !(flags & SESS_OPEN_READONLY) && sess_cannot_write(s, why, sizeof why)) {
        flags |= SESS_OPEN_READONLY;   /* history can still be read */
        s->ro = true;
    }
    if (rc == 0) rc = store_ready(s, flags, st);
    if (rc < 0 && st->code == SESS_ERR_CORRUPT && !s->ro && !(flags & SESS_OPEN_READONLY))
        rc = store_recover(s, flags, st);
    if (rc < 0) {
        sess_store_close(s);
        return NULL;
    }
    if (s->ro)
        sess_note_add(s, "%s is read-only%s%s%s: history is shown but nothing new is saved", s->path,
                      why[0] ? " (" : "", why, why[0] ? ")" : "");
    sess_store_changed(s);   /* start from "nothing new" */
    st->code = SESS_OK;
    st->msg[0] = 0;
    return s;
}

sess_store *sess_store_open(const char *data_dir, unsigned flags, sess_status *st)
{
    if (!data_dir || !*data_dir) return sess_status_set(st, SESS_ERR_ARG, "no data directory"), NULL;
    if (!(flags & (SESS_OPEN_READONLY | SESS_OPEN_NO_CREATE)) && mkdir_p(data_dir, st) < 0) return NULL;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", data_dir, SESS_DB_NAME) < 0)
        return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), NULL;
    sess_store *s = sess_store_open_file(path, flags, st);
    free(path);
    if (s && !s->ro) sess_guard_folder(s, data_dir);
    return s;
}

void sess_store_close(sess_store *s)
{
    if (!s) return;
    while (s->streams) {            /* write what is pending; the message stays incomplete */
        sess_stream *x = s->streams;
        if (s->db && x->len) sess_msg_flush(s, x->msg_id, NULL);
        s->streams = x->next;
        free(x->buf);
        free(x);
    }
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s->dir);
    free(s);
}

const char *sess_store_path(const sess_store *s) { return s->path; }
bool sess_store_read_only(const sess_store *s) { return s->ro; }
const char *sess_store_note(const sess_store *s) { return s->note[0] ? s->note : NULL; }

void sess_store_set_busy_timeout(sess_store *s, int ms)
{
    s->busy_ms = ms < 0 ? 0 : ms;   /* busy_poll reads it */
}

void sess_store_set_checkpoint(sess_store *s, int ms, size_t bytes)
{
    s->ckpt_ms = ms < 0 ? 0 : ms;
    s->ckpt_bytes = bytes;
}

bool sess_store_changed(sess_store *s)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &q, NULL) != SQLITE_OK) return false;
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : s->data_version;
    sqlite3_finalize(q);
    bool changed = v != s->data_version;
    s->data_version = v;
    return changed;
}

int sess_store_check(sess_store *s, sess_status *st)
{
    sqlite3_stmt *q = sess_prepare(s, "PRAGMA integrity_check", st);
    if (!q) return -1;
    int rc = sqlite3_step(q), out = 0;
    if (rc != SQLITE_ROW) out = sess_sqlite_fail(s, rc, "integrity check", st);
    else if (strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0)
        out = (sess_status_set(st, SESS_ERR_CORRUPT, "%s is corrupt: %s", s->path,
                              (const char *)sqlite3_column_text(q, 0)), -1);
    sqlite3_finalize(q);
    return out;
}

int sess_store_move_aside(const char *db_path, char *moved_to, size_t len, sess_status *st)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char from[4096], to[4096];
    long long t = (long long)time(NULL);
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s%s", db_path, suffix[i]);
        snprintf(to, sizeof to, "%s.corrupt-%lld%s", db_path, t, suffix[i]);
        if (rename(from, to) != 0 && (i == 0 || errno != ENOENT))
            return sess_status_set(st, SESS_ERR_IO, "%s: cannot move aside to %s: %s", from, to,
                                   strerror(errno)), -1;
        if (i == 0 && moved_to) snprintf(moved_to, len, "%s", to);
    }
    return 0;
}
