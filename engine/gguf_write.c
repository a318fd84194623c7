/* gguf_write.c — a small GGUF v3/v2 writer (tests' synthetic files, `parley quantize`).
 *
 * Why this shape: kvs are serialized the moment they are added into one
 * growing buffer (they are small and written in insertion order), tensors are
 * kept as (name, shape, type, borrowed data pointer) so a quantizer can hand
 * over gigabytes without a copy. Writing is one pass through a sink that is
 * either a memory buffer (tests) or a file descriptor (atomic file write:
 * temp file in the target folder, fsync, rename, fsync the folder, so a crash
 * leaves either the old file or the new one, never half of one).
 * Errors are sticky: the first failed add is remembered and reported by the
 * write call, so a caller can add twenty kvs and check once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"

typedef struct gw_tensor {
    char       *name;
    pl_type     type;
    uint32_t    n_dims;
    uint64_t    ne[GGUF_MAX_DIMS];
    uint64_t    nbytes;
    const void *data;
} gw_tensor;

struct gguf_writer {
    uint32_t   version, alignment;
    uint8_t   *kvb;            /* serialized kvs */
    size_t     kvb_len, kvb_cap;
    char     **keys;           /* for duplicate checks */
    uint64_t   n_kv;
    gw_tensor *tensors;
    uint64_t   n_tensors, tensors_cap;
    pl_code    err;            /* first error, sticky */
    char       msg[256];
};

/* Output: a file descriptor (fd >= 0) or a pre-sized memory buffer. */
typedef struct gw_sink { int fd; uint8_t *mem; size_t pos; } gw_sink;

static const uint8_t gw_zeros[64];

/* ---- building ---------------------------------------------------------- */

gguf_writer *gguf_writer_new(void)
{
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) { w->version = 3; w->alignment = 32; }
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kvb);
    free(w);
}

/* Remember the first error; later adds are ignored and return it. */
static pl_code gw_fail(gguf_writer *w, pl_code c, const char *what, const char *name)
{
    if (!w->err) {
        w->err = c;
        snprintf(w->msg, sizeof w->msg, "'%s': %s", name ? name : "(null)", what);
    }
    return w->err;
}

pl_code gguf_writer_set_version(gguf_writer *w, uint32_t version)
{
    if (version != 2 && version != 3) return gw_fail(w, PL_ERR_ARG, "version must be 2 or 3", "version");
    w->version = version;
    return PL_OK;
}

/* Append n bytes to the kv buffer, growing it geometrically. */
static bool gw_put(gguf_writer *w, const void *p, size_t n)
{
    if (n > w->kvb_cap - w->kvb_len) {
        size_t cap = w->kvb_cap ? w->kvb_cap : 256;
        while (cap - w->kvb_len < n) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        uint8_t *nb = realloc(w->kvb, cap);
        if (!nb) return false;
        w->kvb = nb;
        w->kvb_cap = cap;
    }
    if (n) memcpy(w->kvb + w->kvb_len, p, n);
    w->kvb_len += n;
    return true;
}

static bool gw_put_u32(gguf_writer *w, uint32_t v) { return gw_put(w, &v, 4); }
static bool gw_put_u64(gguf_writer *w, uint64_t v) { return gw_put(w, &v, 8); }
static bool gw_put_str(gguf_writer *w, const char *s, uint64_t n)
{
    return gw_put_u64(w, n) && gw_put(w, s, (size_t)n);
}

/* Start a kv: refuse duplicates, record the key, write key and type. */
static pl_code gw_kv_begin(gguf_writer *w, const char *key, gguf_vtype t)
{
    if (w->err) return w->err;
    if (!key) return gw_fail(w, PL_ERR_ARG, "NULL key", NULL);
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return gw_fail(w, PL_ERR_ARG, "duplicate key", key);
    char **keys = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    if (!keys) return gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
    w->keys = keys;
    if (!(keys[w->n_kv] = strdup(key))) return gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
    w->n_kv++;
    if (!gw_put_str(w, key, strlen(key)) || !gw_put_u32(w, (uint32_t)t))
        return gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
    return PL_OK;
}

pl_code gguf_writer_add_strn(gguf_writer *w, const char *key, const char *v, uint64_t len)
{
    pl_code c = gw_kv_begin(w, key, GGUF_STRING);
    if (c) return c;
    return gw_put_str(w, v, len) ? PL_OK : gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
}

pl_code gguf_writer_add_kv(gguf_writer *w, const char *key, gguf_vtype t, const void *val)
{
    if (t == GGUF_STRING)
        return gguf_writer_add_strn(w, key, val, val ? strlen(val) : 0);
    uint32_t n = gguf_vtype_size(t);
    if (!n || !val) return gw_fail(w, PL_ERR_ARG, "bad scalar type or NULL value for", key);
    if (key && !strcmp(key, "general.alignment")) {
        uint32_t a = 0;
        if (t == GGUF_UINT32) memcpy(&a, val, 4);
        if (!a || (a & (a - 1)))
            return gw_fail(w, PL_ERR_ARG, "alignment must be a u32 power of two", key);
        w->alignment = a;
    }
    pl_code c = gw_kv_begin(w, key, t);
    if (c) return c;
    return gw_put(w, val, n) ? PL_OK : gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
}

pl_code gguf_writer_add_u32(gguf_writer *w, const char *k, uint32_t v) { return gguf_writer_add_kv(w, k, GGUF_UINT32, &v); }
pl_code gguf_writer_add_i32(gguf_writer *w, const char *k, int32_t v) { return gguf_writer_add_kv(w, k, GGUF_INT32, &v); }
pl_code gguf_writer_add_u64(gguf_writer *w, const char *k, uint64_t v) { return gguf_writer_add_kv(w, k, GGUF_UINT64, &v); }
pl_code gguf_writer_add_f32(gguf_writer *w, const char *k, float v) { return gguf_writer_add_kv(w, k, GGUF_FLOAT32, &v); }
pl_code gguf_writer_add_str(gguf_writer *w, const char *k, const char *v) { return gguf_writer_add_kv(w, k, GGUF_STRING, v); }

pl_code gguf_writer_add_bool(gguf_writer *w, const char *k, bool v)
{
    uint8_t b = v;
    return gguf_writer_add_kv(w, k, GGUF_BOOL, &b);
}

pl_code gguf_writer_add_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n)
{
    uint32_t sz = gguf_vtype_size(elem);
    if (!sz || (n && !data)) return gw_fail(w, PL_ERR_ARG, "bad array element type or NULL data for", key);
    if (n > SIZE_MAX / sz) return gw_fail(w, PL_ERR_ARG, "array too long", key);
    pl_code c = gw_kv_begin(w, key, GGUF_ARRAY);
    if (c) return c;
    if (!gw_put_u32(w, (uint32_t)elem) || !gw_put_u64(w, n) || !gw_put(w, data, (size_t)(n * sz)))
        return gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
    return PL_OK;
}

pl_code gguf_writer_add_str_arr(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!v[i]) return gw_fail(w, PL_ERR_ARG, "NULL string in array", key);
    pl_code c = gw_kv_begin(w, key, GGUF_ARRAY);
    if (c) return c;
    bool ok = gw_put_u32(w, GGUF_STRING) && gw_put_u64(w, n);
    for (uint64_t i = 0; ok && i < n; i++) ok = gw_put_str(w, v[i], strlen(v[i]));
    return ok ? PL_OK : gw_fail(w, PL_ERR_NOMEM, "out of memory adding", key);
}

pl_code gguf_writer_add_tensor(gguf_writer *w, const char *name, pl_type type, uint32_t n_dims,
                               const uint64_t *ne, const void *data)
{
    if (w->err) return w->err;
    if (!name || !ne || !data) return gw_fail(w, PL_ERR_ARG, "NULL name, shape or data for tensor", name);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) return gw_fail(w, PL_ERR_ARG, "duplicate tensor", name);
    gw_tensor t = { .type = type, .n_dims = n_dims, .data = data, .ne = {1, 1, 1, 1} };
    char why[160];
    if (n_dims >= 1 && n_dims <= GGUF_MAX_DIMS) memcpy(t.ne, ne, n_dims * sizeof *ne);
    if (gguf_tensor_check(type, n_dims, t.ne, &t.nbytes, why, sizeof why) != PL_OK)
        return gw_fail(w, PL_ERR_ARG, why, name);
    if (w->n_tensors == w->tensors_cap) {
        uint64_t cap = w->tensors_cap ? 2 * w->tensors_cap : 16;
        gw_tensor *nt = realloc(w->tensors, (size_t)cap * sizeof *nt);
        if (!nt) return gw_fail(w, PL_ERR_NOMEM, "out of memory adding tensor", name);
        w->tensors = nt;
        w->tensors_cap = cap;
    }
    if (!(t.name = strdup(name))) return gw_fail(w, PL_ERR_NOMEM, "out of memory adding tensor", name);
    w->tensors[w->n_tensors++] = t;
    return PL_OK;
}

/* ---- output ------------------------------------------------------------ */

/* Bytes needed to pad n up to the alignment. */
static uint64_t gw_pad(const gguf_writer *w, uint64_t n)
{
    return (w->alignment - n % w->alignment) % w->alignment;
}

/* Send n bytes to the sink; false (errno set) on a write error. */
static bool gw_emit(gw_sink *s, const void *p, size_t n)
{
    if (s->fd < 0) {
        if (n) memcpy(s->mem + s->pos, p, n);
        s->pos += n;
        return true;
    }
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(s->fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= (size_t)k;
        s->pos += (size_t)k;
    }
    return true;
}

static bool gw_emit_zeros(gw_sink *s, uint64_t n)
{
    for (; n > 0; n -= n > sizeof gw_zeros ? sizeof gw_zeros : n)
        if (!gw_emit(s, gw_zeros, n > sizeof gw_zeros ? sizeof gw_zeros : (size_t)n)) return false;
    return true;
}

/* One tensor info record; offset is relative to the data section. */
static bool gw_emit_info(gw_sink *s, const gw_tensor *t, uint64_t offset)
{
    uint64_t len = strlen(t->name);
    uint32_t type = (uint32_t)t->type;
    return gw_emit(s, &len, 8) && gw_emit(s, t->name, (size_t)len) && gw_emit(s, &t->n_dims, 4) &&
           gw_emit(s, t->ne, t->n_dims * sizeof t->ne[0]) && gw_emit(s, &type, 4) &&
           gw_emit(s, &offset, 8);
}

/* The whole file: header, kvs, tensor infos, padding, data (each padded). */
static bool gw_emit_all(const gguf_writer *w, gw_sink *s)
{
    uint64_t counts[2] = { w->n_tensors, w->n_kv };
    if (!gw_emit(s, "GGUF", 4) || !gw_emit(s, &w->version, 4) || !gw_emit(s, counts, 16) ||
        !gw_emit(s, w->kvb, w->kvb_len))
        return false;
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        if (!gw_emit_info(s, &w->tensors[i], off)) return false;
        off += w->tensors[i].nbytes + gw_pad(w, w->tensors[i].nbytes);
    }
    if (!gw_emit_zeros(s, gw_pad(w, s->pos))) return false;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const gw_tensor *t = &w->tensors[i];
        if (!gw_emit(s, t->data, (size_t)t->nbytes) || !gw_emit_zeros(s, gw_pad(w, t->nbytes)))
            return false;
    }
    return true;
}

/* Total file size, computed the same way gw_emit_all writes it. */
static uint64_t gw_file_size(const gguf_writer *w)
{
    uint64_t n = 4 + 4 + 16 + w->kvb_len, data = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const gw_tensor *t = &w->tensors[i];
        n += 8 + strlen(t->name) + 4 + 8ull * t->n_dims + 4 + 8;
        data += t->nbytes + gw_pad(w, t->nbytes);
    }
    return n + gw_pad(w, n) + data;
}

/* Report a sticky add error, if any. */
static pl_code gw_check(const gguf_writer *w, const char *target, pl_status *st)
{
    if (!w) return pl_status_set(st, PL_ERR_ARG, "%s: no writer", target);
    if (w->err) return pl_status_set(st, w->err, "%s: cannot write GGUF: %s", target, w->msg);
    return PL_OK;
}

pl_code gguf_writer_write_mem(gguf_writer *w, void **out, size_t *size, pl_status *st)
{
    pl_code c = gw_check(w, "(memory)", st);
    if (c) return c;
    uint64_t n = gw_file_size(w);
    gw_sink s = { .fd = -1, .mem = n <= SIZE_MAX ? malloc((size_t)n) : NULL };
    if (!s.mem) return pl_status_set(st, PL_ERR_NOMEM, "(memory): cannot allocate %llu bytes",
                                     (unsigned long long)n);
    gw_emit_all(w, &s);
    *out = s.mem;
    *size = s.pos;
    pl_status_ok(st);
    return PL_OK;
}

/* fsync the folder holding path so the rename itself is durable. */
static void gw_sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }
}

pl_code gguf_writer_write_file(gguf_writer *w, const char *path, pl_status *st)
{
    pl_code c = gw_check(w, path, st);
    if (c) return c;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return pl_status_set(st, PL_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return pl_status_set(st, PL_ERR_IO, "%s: cannot create temp file: %s", path, strerror(errno));
    gw_sink s = { .fd = fd };
    bool ok = fchmod(fd, 0644) == 0 && gw_emit_all(w, &s) && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) { ok = false; err = errno; }
    if (ok && rename(tmp, path) != 0) { ok = false; err = errno; }
    if (!ok) {
        unlink(tmp);
        return pl_status_set(st, PL_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    gw_sync_dir(path);
    pl_status_ok(st);
    return PL_OK;
}
