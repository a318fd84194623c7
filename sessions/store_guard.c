/* store_guard.c — what is checked around sessions.db before anything is written.
 *
 * Why it exists: chats are private and a store must never be made worse.
 *  - Privacy: the data folder is 0700 and the store files 0600, whatever the
 *    umask. A folder that is ours and looser is tightened (not the home folder
 *    itself); one we cannot tighten gets a note. SQLite creates sessions.db with
 *    0644 and -wal/-shm with the database's mode, so the database file is made
 *    here, empty and 0600, before SQLite opens it.
 *  - Read-only: a folder or file we cannot write (permissions, a read-only
 *    mount) means opening read-only, so history can still be read.
 *  - Damage: PRAGMA quick_check at open, bounded in time by a progress handler
 *    (a store too big to check in time is opened unchecked, as before).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sessions_impl.h"

/* Append a sentence to the store's note (notes are shown once, at open). */
void sess_note_add(sess_store *s, const char *fmt, ...)
{
    size_t used = strlen(s->note);
    if (used && used + 2 < sizeof s->note) { memcpy(s->note + used, "; ", 3); used += 2; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->note + used, sizeof s->note - used, fmt, ap);
    va_end(ap);
}

/* Is dir the user's home folder (never tightened: that is the user's call)? */
static bool is_home(const char *dir)
{
    const char *home = getenv("HOME");
    struct stat a, b;
    return home && *home && stat(home, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void sess_guard_folder(sess_store *s, const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || !(sb.st_mode & 077)) return;
    if (sb.st_uid == geteuid() && !is_home(dir) && chmod(dir, sb.st_mode & 07700) == 0) return;
    sess_note_add(s, "%s can be read by other users (mode %03o): chmod 700 it to keep your chats private", dir,
                  (unsigned)(sb.st_mode & 0777));
}

/* One store file: made private when it is ours and looser than 0600. */
static void guard_one(sess_store *s, const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 077)) return;
    if (sb.st_uid == geteuid() && chmod(path, sb.st_mode & 0700) == 0) return;
    sess_note_add(s, "%s can be read by other users (mode %03o)", path, (unsigned)(sb.st_mode & 0777));
}

int sess_guard_files(sess_store *s, bool create, sess_status *st)
{
    if (create) {
        int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) close(fd);
        else if (errno != EEXIST)
            return sess_status_set(st, errno == ENOSPC ? SESS_ERR_FULL : SESS_ERR_IO, "%s: cannot create: %s",
                                   s->path, strerror(errno)), -1;
    }
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char path[4096];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", s->path, suffix[i]);
        guard_one(s, path);
    }
    return 0;
}

bool sess_cannot_write(const sess_store *s, char *why, size_t len)
{
    bool exists = access(s->path, F_OK) == 0;
    if (access(s->dir, W_OK) != 0 || (exists && access(s->path, W_OK) != 0)) {
        snprintf(why, len, "%s", errno == EROFS ? "read-only file system" : strerror(errno));
        return true;
    }
    return false;
}

/* The folder of dir that exists: dir itself, or its nearest existing parent. */
static int existing_folder(const char *dir, char *out, size_t len, struct stat *sb)
{
    snprintf(out, len, "%s", dir);
    for (;;) {
        if (stat(out, sb) == 0) return 0;
        char *slash = strrchr(out, '/');
        if (errno != ENOENT || !slash) return -1;
        if (slash == out) slash[1] = 0;
        else *slash = 0;
    }
}

int sess_dir_writable(const char *dir, sess_status *st)
{
    char at[4096];
    struct stat sb;
    if (existing_folder(dir, at, sizeof at, &sb) < 0)
        return sess_status_set(st, SESS_ERR_IO, "%s: %s", at, strerror(errno)), -1;
    bool self = strcmp(at, dir) == 0;
    if (!S_ISDIR(sb.st_mode))
        return self ? sess_status_set(st, SESS_ERR_IO, "%s is not a folder", dir)
                    : sess_status_set(st, SESS_ERR_IO, "cannot create %s: %s is not a folder", dir, at), -1;
    if (access(at, W_OK | X_OK) != 0)
        return self ? sess_status_set(st, SESS_ERR_READONLY, "%s is not writable (%s)", dir, strerror(errno))
                    : sess_status_set(st, SESS_ERR_READONLY, "cannot create %s: %s is not writable (%s)", dir, at,
                                      strerror(errno)), -1;
    return 0;
}

/* sqlite3_progress_handler: stop the check past its deadline (monotonic ms). */
static int check_deadline(void *p) { return sess_mono_ms() > *(int64_t *)p; }

int sess_quick_check(sess_store *s, int ms, sess_status *st)
{
    int64_t deadline = sess_mono_ms() + ms;
    sqlite3_progress_handler(s->db, 1000, check_deadline, &deadline);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    int out = 0;
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        if (r && strcmp(r, "ok") != 0) out = (sess_status_set(st, SESS_ERR_CORRUPT, "%s", r), -1);
    } else if (rc != SQLITE_INTERRUPT && rc != SQLITE_DONE) {
        int code = rc & 0xff;
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
            out = (sess_status_set(st, SESS_ERR_CORRUPT, "%s", sqlite3_errmsg(s->db)), -1);
    }
    sqlite3_finalize(q);
    sqlite3_progress_handler(s->db, 0, NULL, NULL);
    return out;
}
