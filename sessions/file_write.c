/* file_write.c — the one way parley writes a file a person asked for (exports).
 *
 * Why it looks like this: an export must never destroy what is already at its
 * path. The bytes go to a private temporary file (0600, mkstemp) in the same
 * folder, are flushed and fsynced, and only then renamed onto the path, so a
 * failure half-way (no such session, disk full) leaves the path exactly as it
 * was. An existing path is refused unless the caller says to overwrite, and the
 * refusal is atomic (rename with RENAME_NOREPLACE, else link): no race with a
 * file that appears meanwhile. A symbolic link at the path is never followed:
 * the rename replaces the link itself, so its target is never truncated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sessions_impl.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* The folder part of path ("." when it has none); caller frees. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Refuse a path that exists (or is a folder) before any byte is written. */
static int check_target(const char *path, unsigned flags, sess_status *st)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT) return 0;
        return sess_status_set(st, SESS_ERR_IO, "%s: %s", path, strerror(errno)), -1;
    }
    if (S_ISDIR(sb.st_mode))
        return sess_status_set(st, SESS_ERR_ARG, "%s is a folder: give a file name", path), -1;
    if (!(flags & SESS_WRITE_FORCE))
        return sess_status_set(st, SESS_ERR_EXISTS, "%s exists%s: not overwritten", path,
                               S_ISLNK(sb.st_mode) ? " (a symbolic link)" : ""), -1;
    return 0;
}

/* Move tmp onto path: atomically refused if path appeared, unless forced. */
static int place(const char *tmp, const char *path, unsigned flags, sess_status *st)
{
    if (flags & SESS_WRITE_FORCE) {
        if (rename(tmp, path) == 0) return 0;
    } else {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EINVAL || errno == ENOSYS) {   /* a file system without it: link refuses too */
            if (link(tmp, path) == 0) { unlink(tmp); return 0; }
        }
        if (errno == EEXIST)
            return sess_status_set(st, SESS_ERR_EXISTS, "%s exists: not overwritten", path), -1;
    }
    return sess_status_set(st, errno == ENOSPC ? SESS_ERR_FULL : SESS_ERR_IO, "%s: cannot put the file there: %s",
                           path, strerror(errno)), -1;
}

/* Write fill's bytes into the open temporary file and make them durable. */
static int fill_tmp(int fd, const char *path, sess_file_fill fill, void *ctx, sess_status *st)
{
    FILE *f = fdopen(fd, "wb");
    if (!f) { close(fd); return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1; }
    int rc = fill(ctx, f, st), e = errno;
    bool io = ferror(f);
    if (rc == 0 && !io && (fflush(f) != 0 || fsync(fileno(f)) != 0)) { io = true; e = errno; }
    if (fclose(f) != 0 && !io) { io = true; e = errno; }
    if (rc == 0 && !io) return 0;
    if (io && (e == ENOSPC || e == EDQUOT))
        return sess_status_set(st, SESS_ERR_FULL, "%s: disk full: the file was not written", path), -1;
    if (io) return sess_status_set(st, SESS_ERR_IO, "%s: writing failed: %s", path, strerror(e)), -1;
    return -1;   /* fill said why */
}

int sess_file_write(const char *path, unsigned flags, sess_file_fill fill, void *ctx, sess_status *st)
{
    if (!path || !*path || !fill) return sess_status_set(st, SESS_ERR_ARG, "no file name"), -1;
    if (st) { st->code = SESS_OK; st->msg[0] = 0; }
    if (check_target(path, flags, st) < 0) return -1;
    char *dir = folder_of(path), *tmp = NULL;
    if (!dir || asprintf(&tmp, "%s/.parley-export-XXXXXX", dir) < 0) {
        free(dir);
        return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    }
    int fd = mkstemp(tmp);   /* 0600, a name nobody else has */
    if (fd < 0) {
        sess_status_set(st, errno == ENOSPC ? SESS_ERR_FULL : SESS_ERR_IO, "%s: cannot write in %s: %s", path, dir,
                        strerror(errno));
        free(dir);
        free(tmp);
        return -1;
    }
    fchmod(fd, 0600);
    int rc = fill_tmp(fd, path, fill, ctx, st);
    if (rc == 0) rc = place(tmp, path, flags, st);
    if (rc < 0) unlink(tmp);
    else {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);   /* the rename survives a power cut */
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
    free(dir);
    free(tmp);
    return rc;
}
