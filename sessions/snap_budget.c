/* snap_budget.c — KV snapshots within a disk budget, and which sessions they
 * make instant to resume.
 *
 * Every session may leave a snapshot (41 MB for a 1.8k-token chat with the
 * 135M model, about 0.5 GB for a 4k-token chat with an 8B one), so they are
 * kept within a budget: after each snapshot written and at start, the least
 * recently used are removed until the rest fit. "Used" is the file's mtime:
 * a snapshot is written after each answer and touched when a resume loads it
 * (sess_snap_load), so the order is the order people came back to sessions.
 * Only <id>.snap files count; a snapshot is only a cache, so removing one
 * costs a slower resume (the transcript is re-decoded), never a message.
 *
 * sess_snap_mark reads each session's snapshot header (not the payload: ls
 * stays fast) and compares it with what the session last ran with, its model
 * fingerprint and K/V cache types, to say which sessions resume instantly.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "sessions_impl.h"

typedef struct snap_file {
    char    *path;
    uint64_t bytes;
    struct timespec used;   /* mtime: last written or loaded */
} snap_file;

/* Oldest use first; the name breaks ties so the order is stable. */
static int by_use(const void *pa, const void *pb)
{
    const snap_file *a = pa, *b = pb;
    if (a->used.tv_sec != b->used.tv_sec) return a->used.tv_sec < b->used.tv_sec ? -1 : 1;
    if (a->used.tv_nsec != b->used.tv_nsec) return a->used.tv_nsec < b->used.tv_nsec ? -1 : 1;
    return strcmp(a->path, b->path);
}

/* Is name "<digits>.snap"? */
static bool is_snap_name(const char *name)
{
    size_t n = strspn(name, "0123456789");
    return n > 0 && strcmp(name + n, ".snap") == 0;
}

/* The snapshot files of dir/snapshots (regular files only) into *out. */
static int snap_files(const char *data_dir, snap_file **out, int *n, sess_status *st)
{
    char *sdir = NULL;
    *out = NULL;
    *n = 0;
    if (asprintf(&sdir, "%s/snapshots", data_dir) < 0) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    DIR *d = opendir(sdir);
    if (!d) {
        int e = errno;
        free(sdir);
        return e == ENOENT ? 0 : (sess_status_set(st, SESS_ERR_IO, "%s/snapshots: %s", data_dir, strerror(e)), -1);
    }
    int cap = 0, rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        struct stat sb;
        char *path = NULL;
        if (!is_snap_name(e->d_name)) continue;
        if (asprintf(&path, "%s/%s", sdir, e->d_name) < 0) { rc = -1; break; }
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) { free(path); continue; }
        if (*n == cap) {
            snap_file *g = realloc(*out, sizeof **out * (size_t)(cap = cap ? cap * 2 : 16));
            if (!g) { free(path); rc = -1; break; }
            *out = g;
        }
        (*out)[(*n)++] = (snap_file){path, (uint64_t)sb.st_size, sb.st_mtim};
    }
    closedir(d);
    free(sdir);
    return rc < 0 ? sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1 : 0;
}

int sess_snap_trim(const char *data_dir, uint64_t budget, sess_trim *out, sess_status *st)
{
    snap_file *f;
    int n;
    sess_trim r = {0};
    if (snap_files(data_dir, &f, &n, st) < 0) return -1;
    if (n > 1) qsort(f, (size_t)n, sizeof *f, by_use);   /* f may be NULL when there are none */
    for (int i = 0; i < n; i++) r.bytes += f[i].bytes;
    r.n_files = n;
    int rc = 0;
    for (int i = 0; i < n && r.bytes > budget; i++) {
        if (unlink(f[i].path) != 0 && errno != ENOENT) {
            rc = (sess_status_set(st, SESS_ERR_IO, "%s: cannot remove it to keep snapshots within %llu bytes: %s",
                                  f[i].path, (unsigned long long)budget, strerror(errno)), -1);
            break;
        }
        r.bytes -= f[i].bytes;
        r.bytes_removed += f[i].bytes;
        r.n_removed++;
        r.n_files--;
    }
    for (int i = 0; i < n; i++) free(f[i].path);
    free(f);
    if (out) *out = r;
    return rc;
}

typedef struct kv_types { const char *k, *v; } kv_types;

/* sess_setting_fn: pick the cache types out of a session's settings. */
static int pick_types(void *ctx, const pl_option *o, const char *value, char *err, size_t errlen)
{
    kv_types *t = ctx;
    if (strcmp(o->name, "cache-type-k") == 0) t->k = strdup(value);
    else if (strcmp(o->name, "cache-type-v") == 0) t->v = strdup(value);
    return 0;
}

/* Does a snapshot with this header fit what the session last ran with? */
static bool snap_fits(const sess_info *info, const sess_snap_meta *m)
{
    kv_types t = {0};
    char err[128];
    sess_settings_each(info->settings, pick_types, &t, err, sizeof err);
    const pl_option *ok = config_find("cache-type-k"), *ov = config_find("cache-type-v");
    int k = pl_type_from_name(t.k ? t.k : ok ? ok->def : "f16"), v = pl_type_from_name(t.v ? t.v : ov ? ov->def : "f16");
    free((char *)t.k);
    free((char *)t.v);
    bool model = !info->model_fp || !m->model_fp || info->model_fp == m->model_fp;
    return model && k >= 0 && v >= 0 && m->type_k == (uint32_t)k && m->type_v == (uint32_t)v;
}

void sess_snap_mark(const sess_store *s, sess_info *list, int n)
{
    for (int i = 0; i < n; i++) {
        sess_info *info = &list[i];
        char *path = sess_store_snap_path(s, info->id);
        sess_snap_meta m;
        uint64_t bytes = 0;
        int r = path ? sess_snap_peek(path, &m, &bytes) : -1;
        info->snap = r < 0 ? SESS_SNAP_NONE : r > 0 && snap_fits(info, &m) ? SESS_SNAP_READY : SESS_SNAP_STALE;
        info->snap_bytes = r < 0 ? 0 : bytes;
        free(path);
    }
}
