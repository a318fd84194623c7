/* snapshot.c — KV-cache snapshot files: resume a long chat without re-decoding.
 *
 * A snapshot is only a cache: the transcript in sessions.db is the truth. So
 * on load we trust nothing until every check passed, and any doubt means
 * "ignore it, say why, re-decode". File layout (little-endian, 64-byte header):
 *
 *    0  magic "PLYSNAP\0"       8
 *    8  u32 version (1)          4     12  u32 header size (64)
 *   16  u64 model fingerprint         24  u32 type_k   28  u32 type_v
 *   32  u32 n_tokens            36  u32 reserved (0)
 *   40  u64 payload size        48  u32 CRC-32C of header (this field 0) + payload
 *   52  12 bytes zero
 *   64  payload (written by the engine's callback)
 *
 * Writes are atomic: a temp file in the same directory, fflush + fsync,
 * rename over the old one, fsync the directory. A crash leaves either the old
 * snapshot or the new one, plus at worst a stray .tmp file.
 * The payload is produced and consumed by callbacks so this file knows nothing
 * of the engine; the checksum is computed by reading the payload back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "sessions_impl.h"

#define SNAP_MAGIC "PLYSNAP"
#define SNAP_VERSION 1
#define SNAP_HDR 64
#define SNAP_CRC_OFF 48
#define FP_PREFIX (4u << 20)

static const char *const reason_names[] = {
    [SNAP_OK] = "ok", [SNAP_MISSING] = "missing", [SNAP_IO] = "I/O error",
    [SNAP_BAD_MAGIC] = "not a parley snapshot", [SNAP_BAD_VERSION] = "unknown snapshot version",
    [SNAP_TRUNCATED] = "truncated", [SNAP_BAD_CHECKSUM] = "checksum mismatch (corrupt)",
    [SNAP_STALE_MODEL] = "made for another model", [SNAP_STALE_TYPES] = "made with other KV cache types",
    [SNAP_PAYLOAD] = "engine could not read the state", [SNAP_NOT_FILE] = "not a snapshot file",
};

const char *sess_snap_reason_name(sess_snap_reason r)
{
    return (unsigned)r < sizeof reason_names / sizeof reason_names[0] ? reason_names[r] : "unknown";
}

/* ---- CRC-32C (Castagnoli, reflected 0x82F63B78), table driven ------------ */

static uint32_t crc_table[8][256];
static int crc_ready;

/* Slice-by-8 tables, built once (idempotent, so a race only repeats work). */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t sess_crc32c(uint32_t crc, const void *buf, size_t n)
{
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init();
    const unsigned char *p = buf;
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
              crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
              crc_table[0][p[7]];
    }
    while (n--) crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- header encoding ------------------------------------------------------ */

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* The 64 header bytes for meta (CRC field zero). */
static void header_encode(unsigned char h[SNAP_HDR], const sess_snap_meta *m)
{
    memset(h, 0, SNAP_HDR);
    memcpy(h, SNAP_MAGIC, 8);
    put32(h + 8, SNAP_VERSION);
    put32(h + 12, SNAP_HDR);
    put64(h + 16, m->model_fp);
    put32(h + 24, m->type_k);
    put32(h + 28, m->type_v);
    put32(h + 32, m->n_tokens);
    put64(h + 40, m->payload_size);
}

char *sess_snap_path(const char *data_dir, int64_t sid)
{
    char *out = NULL;
    if (asprintf(&out, "%s/snapshots/%lld.snap", data_dir, (long long)sid) < 0) return NULL;
    return out;
}

char *sess_store_snap_path(const sess_store *s, int64_t sid) { return sess_snap_path(s->dir, sid); }

/* CRC of the payload bytes already in f, read back from offset SNAP_HDR. */
static int crc_of_payload(FILE *f, uint64_t size, uint32_t *crc)
{
    unsigned char *b = malloc(1 << 16);
    if (!b || fseeko(f, SNAP_HDR, SEEK_SET) != 0) { free(b); return -1; }
    while (size) {
        size_t want = size < (1u << 16) ? (size_t)size : (1u << 16);
        if (fread(b, 1, want, f) != want) { free(b); return -1; }
        *crc = sess_crc32c(*crc, b, want);
        size -= want;
    }
    free(b);
    return 0;
}

/* fsync a directory so a rename in it is durable. */
static void fsync_dir(const char *path)
{
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) *slash = 0;
    int fd = dir ? open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) { fsync(fd); close(fd); }
    free(dir);
}

/* Create the parent directory (snapshots/) if it is missing. */
static int ensure_parent(const char *path, sess_status *st)
{
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            rc = (sess_status_set(st, SESS_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno)), -1);
    }
    free(dir);
    return rc;
}

/* Header, payload via fn, then the header again with size and CRC. */
static int snap_write_file(FILE *f, const char *tmp, const sess_snap_meta *meta, sess_payload_write fn,
                           void *ctx, sess_status *st)
{
    unsigned char h[SNAP_HDR];
    sess_snap_meta m = *meta;
    m.payload_size = 0;
    header_encode(h, &m);
    if (fwrite(h, 1, SNAP_HDR, f) != SNAP_HDR) goto io;
    if (fn && fn(ctx, f) != 0) {
        int e = errno;
        bool refused = ferror(f);
        if (refused || fflush(f) != 0) {   /* the file would not take the bytes: say why (disk full) */
            if (refused) errno = e;
            goto io;
        }
        return sess_status_set(st, SESS_ERR_IO, "%s: the engine could not write its state", tmp), -1;
    }
    if (fflush(f) != 0) goto io;
    off_t end = ftello(f);
    if (end < SNAP_HDR) goto io;
    m.payload_size = (uint64_t)end - SNAP_HDR;
    header_encode(h, &m);
    uint32_t crc = sess_crc32c(0, h, SNAP_HDR);
    if (crc_of_payload(f, m.payload_size, &crc) < 0) goto io;
    put32(h + SNAP_CRC_OFF, crc);
    if (fseeko(f, 0, SEEK_SET) != 0 || fwrite(h, 1, SNAP_HDR, f) != SNAP_HDR) goto io;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) goto io;
    return 0;
io:
    if (errno == ENOSPC || errno == EDQUOT)
        return sess_status_set(st, SESS_ERR_FULL, "disk full: snapshot %s not written (%s)", tmp, strerror(errno)), -1;
    return sess_status_set(st, SESS_ERR_IO, "%s: writing snapshot: %s", tmp, strerror(errno)), -1;
}

int sess_snap_save(const char *path, const sess_snap_meta *meta, sess_payload_write fn, void *ctx,
                   sess_status *st)
{
    if (!path || !meta) return sess_status_set(st, SESS_ERR_ARG, "snapshot: no path or header"), -1;
    if (ensure_parent(path, st) < 0) return -1;
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
        return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);   /* private, whatever the umask */
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        sess_status_set(st, SESS_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = snap_write_file(f, tmp, meta, fn, ctx, st);
    if (fclose(f) != 0 && rc == 0) rc = (sess_status_set(st, SESS_ERR_IO, "%s: %s", tmp, strerror(errno)), -1);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = (sess_status_set(st, SESS_ERR_IO, "%s: rename to %s: %s", tmp, path, strerror(errno)), -1);
    if (rc == 0) fsync_dir(path);
    else unlink(tmp);
    free(tmp);
    return rc;
}

/* Fill st with the reason and return it. */
static sess_snap_reason snap_reject(sess_snap_reason r, sess_status *st, const char *path, const char *detail)
{
    sess_code code = r == SNAP_STALE_MODEL || r == SNAP_STALE_TYPES ? SESS_ERR_STALE
                   : r == SNAP_IO || r == SNAP_MISSING ? SESS_ERR_IO : SESS_ERR_FORMAT;
    sess_status_set(st, code, "%s: snapshot ignored, %s%s%s", path, sess_snap_reason_name(r),
                    detail && *detail ? ": " : "", detail ? detail : "");
    return r;
}

/* Magic, version, size and checksum: is this file exactly what was written? */
static sess_snap_reason snap_verify(FILE *f, const char *path, sess_snap_meta *got, sess_status *st)
{
    unsigned char h[SNAP_HDR];
    char detail[160];
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) return snap_reject(SNAP_IO, st, path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return snap_reject(SNAP_NOT_FILE, st, path, S_ISDIR(sb.st_mode) ? "it is a folder" : "it is not a regular file");
    size_t n = fread(h, 1, SNAP_HDR, f);
    if (n >= 8 && memcmp(h, SNAP_MAGIC, 8) != 0) return snap_reject(SNAP_BAD_MAGIC, st, path, NULL);
    if (n < SNAP_HDR) return snap_reject(SNAP_TRUNCATED, st, path, "header cut short");
    if (get32(h + 8) != SNAP_VERSION || get32(h + 12) != SNAP_HDR) {
        snprintf(detail, sizeof detail, "version %u (this parley reads %d)", get32(h + 8), SNAP_VERSION);
        return snap_reject(SNAP_BAD_VERSION, st, path, detail);
    }
    got->model_fp = get64(h + 16);
    got->type_k = get32(h + 24);
    got->type_v = get32(h + 28);
    got->n_tokens = get32(h + 32);
    got->payload_size = get64(h + 40);
    if ((uint64_t)sb.st_size != SNAP_HDR + got->payload_size) {
        snprintf(detail, sizeof detail, "file has %lld bytes, header says %llu", (long long)sb.st_size,
                 (unsigned long long)(SNAP_HDR + got->payload_size));
        return snap_reject(SNAP_TRUNCATED, st, path, detail);
    }
    uint32_t want = get32(h + SNAP_CRC_OFF), crc;
    put32(h + SNAP_CRC_OFF, 0);
    crc = sess_crc32c(0, h, SNAP_HDR);
    if (crc_of_payload(f, got->payload_size, &crc) < 0) return snap_reject(SNAP_IO, st, path, strerror(errno));
    if (crc != want) return snap_reject(SNAP_BAD_CHECKSUM, st, path, NULL);
    return SNAP_OK;
}

/* A KV type by its name ("q8_0"), or "type N" for one this build does not know. */
static const char *type_text(uint32_t t, char *buf, size_t len)
{
    const char *name = t < 1000 ? pl_type_name((pl_type)t) : NULL;   /* no wild value is cast to the enum */
    if (name) return name;
    snprintf(buf, len, "type %u", t);
    return buf;
}

/* Does the snapshot fit the model and cache it would be loaded into? */
static sess_snap_reason snap_match(const sess_snap_meta *got, const sess_snap_meta *expect, const char *path,
                                   sess_status *st)
{
    char detail[160];
    if (!expect) return SNAP_OK;
    if (got->model_fp != expect->model_fp) {
        snprintf(detail, sizeof detail, "fingerprint %016llx, model is %016llx",
                 (unsigned long long)got->model_fp, (unsigned long long)expect->model_fp);
        return snap_reject(SNAP_STALE_MODEL, st, path, detail);
    }
    if (got->type_k != expect->type_k || got->type_v != expect->type_v) {
        char b[4][16];
        snprintf(detail, sizeof detail, "K/V types %s/%s, the cache is %s/%s", type_text(got->type_k, b[0], 16),
                 type_text(got->type_v, b[1], 16), type_text(expect->type_k, b[2], 16),
                 type_text(expect->type_v, b[3], 16));
        return snap_reject(SNAP_STALE_TYPES, st, path, detail);
    }
    return SNAP_OK;
}

sess_snap_reason sess_snap_load(const char *path, const sess_snap_meta *expect, sess_payload_read fn, void *ctx,
                                sess_snap_meta *got, sess_status *st)
{
    sess_snap_meta g = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return snap_reject(errno == ENOENT ? SNAP_MISSING : SNAP_IO, st, path, strerror(errno));
    sess_snap_reason r = snap_verify(f, path, &g, st);
    if (r == SNAP_OK) r = snap_match(&g, expect, path, st);
    if (r == SNAP_OK && fn) {
        if (fseeko(f, SNAP_HDR, SEEK_SET) != 0) r = snap_reject(SNAP_IO, st, path, strerror(errno));
        else if (fn(ctx, f, g.payload_size) != 0) r = snap_reject(SNAP_PAYLOAD, st, path, NULL);
    }
    if (r == SNAP_OK && fn) futimens(fileno(f), NULL);   /* used now: the last to go over the budget */
    fclose(f);
    if (got) *got = g;
    if (r == SNAP_OK && st) { st->code = SESS_OK; st->msg[0] = 0; }
    return r;
}

int sess_snap_peek(const char *path, sess_snap_meta *got, uint64_t *bytes)
{
    struct stat sb;
    unsigned char h[SNAP_HDR];
    *bytes = 0;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return -1;
    *bytes = (uint64_t)sb.st_size;
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, SNAP_HDR, f) : 0;
    if (f) fclose(f);
    if (n < SNAP_HDR || memcmp(h, SNAP_MAGIC, 8) != 0 || get32(h + 8) != SNAP_VERSION || get32(h + 12) != SNAP_HDR)
        return 0;
    *got = (sess_snap_meta){get64(h + 16), get32(h + 24), get32(h + 28), get32(h + 32), get64(h + 40)};
    return *bytes == SNAP_HDR + got->payload_size ? 1 : 0;
}

uint64_t sess_model_fingerprint(const char *path, sess_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sess_status_set(st, SESS_ERR_IO, "%s: %s", path, strerror(errno)), 0;
    struct stat sb;
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a 64 over the size, then the first 4 MiB */
    unsigned char *b = malloc(1 << 16);
    size_t total = 0, n;
    int ok = b && fstat(fileno(f), &sb) == 0;
    for (int i = 0; ok && i < 8; i++) h = (h ^ (unsigned char)((uint64_t)sb.st_size >> (8 * i))) * 0x100000001b3ull;
    while (ok && total < FP_PREFIX && (n = fread(b, 1, 1 << 16, f)) > 0) {
        for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
        total += n;
    }
    if (ok && ferror(f)) ok = 0;
    free(b);
    fclose(f);
    if (!ok) return sess_status_set(st, SESS_ERR_IO, "%s: cannot read to fingerprint it", path), 0;
    return h ? h : 1;   /* 0 means "unknown" */
}
