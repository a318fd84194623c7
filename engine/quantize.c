/* quantize.c — `parley quantize`: convert a GGUF model's weights to another type.
 *
 * Shape of the work: plan first, then convert. The plan (quantize_recipe.c)
 * gives every tensor its output type and size, so one buffer as large as the
 * converted data is allocated up front and the output's free disk space is
 * checked before minutes are spent converting. Tensors kept as they are point
 * straight into the input's mapping (the writer borrows data, never copies),
 * so the input stays open until the file is written.
 *
 * A tensor is converted row by row on the thread pool: each thread widens a
 * row to f32 (the type's to_float) into its own scratch row and quantizes it
 * (from_float) into place, so no f32 copy of a whole tensor ever exists.
 * Converting from an already-quantized type is allowed (the caller is told
 * per tensor: quality suffers, as llama.cpp's --allow-requantize warns).
 *
 * Metadata is copied kv by kv in order; general.file_type becomes the
 * recipe's llama.cpp ftype id and general.quantization_version 2, split.*
 * keys are dropped. The writer writes atomically (temp file, fsync, rename),
 * so a failure such as a full disk leaves no partial output file.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "gguf.h"
#include "quantize_impl.h"
#include "../backends/backend.h"

#define QUANT_ALIGN 64   /* offsets of tensors inside the output buffer */

/* One tensor's fate. */
typedef struct quant_item {
    char      *name;      /* NUL-terminated copy */
    quant_pick pick;
    pl_type    to;        /* output type */
    bool       convert;   /* else copied from the mapping */
    size_t     offset, nbytes;   /* in the output buffer (convert only) */
} quant_item;

typedef struct quant_plan {
    quant_item *items;
    uint64_t    n;
    size_t      buf_size;      /* converted data */
    uint64_t    out_estimate;  /* bytes of the output file, roughly */
    int64_t     max_row;       /* longest row converted */
} quant_plan;

/* Row job on the pool: rows [ith*n/nth, (ith+1)*n/nth) of one tensor. */
typedef struct quant_job {
    const uint8_t   *src;
    size_t           src_row, dst_row;
    uint8_t         *dst;
    pl_to_float_fn   to_float;
    pl_from_float_fn from_float;
    int64_t          ne0, nrows;
    float           *scratch;   /* one row per thread */
} quant_job;

/* Widen each row to f32 in the thread's scratch, then quantize it into place. */
static void quant_rows_convert(int ith, int nth, void *arg)
{
    const quant_job *j = arg;
    int64_t r0 = j->nrows * ith / nth, r1 = j->nrows * (ith + 1) / nth;
    float *tmp = j->scratch + (size_t)ith * (size_t)j->ne0;
    for (int64_t r = r0; r < r1; r++) {
        j->to_float(j->src + (size_t)r * j->src_row, tmp, j->ne0);
        j->from_float(tmp, j->dst + (size_t)r * j->dst_row, j->ne0);
    }
}

/* Layer count, grouped-query factor and tied-output flag of the model in f. */
static void quant_facts_read(const gguf_file *f, quant_model_facts *m)
{
    char arch[64] = "", key[128];
    uint32_t v = 0, hk = 0;
    m->n_layer = 0;
    m->n_gqa = 1;
    m->has_output = gguf_find_tensor(f, "output.weight") != NULL;
    gguf_get_cstr(f, "general.architecture", arch, sizeof arch);
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (gguf_get_u32(f, key, &v)) m->n_layer = (int)v;
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    if (gguf_get_u32(f, key, &v) && v) {
        snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
        if (gguf_get_u32(f, key, &hk) && hk) m->n_gqa = (int)(v / hk);
    }
    for (uint64_t i = 0; m->n_layer == 0 && i < f->n_tensors; i++) {
        int layer;   /* no block_count: the highest blk.N + 1 */
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)f->tensors[i].name.len, f->tensors[i].name.ptr);
        if (sscanf(name, "blk.%d.", &layer) == 1 && layer + 1 > m->n_layer) m->n_layer = layer + 1;
    }
}

static void quant_plan_free(quant_plan *p)
{
    for (uint64_t i = 0; p->items && i < p->n; i++) free(p->items[i].name);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* Can tensor t be turned into type to? Error naming file, tensor and type if not. */
static pl_code quant_item_check(const gguf_file *f, const gguf_tensor *t, const quant_item *it,
                                pl_status *st)
{
    const pl_type_traits *in = pl_type_traits_get(t->type), *out = pl_type_traits_get(it->to);
    const char *tn = gguf_type_name(t->type);
    if (!in || !in->to_float)
        return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: tensor %s: cannot convert from type %s",
                             f->path, it->name, tn ? tn : "(unknown)");
    if (!out || !out->from_float)
        return pl_status_set(st, PL_ERR_UNSUPPORTED,
                             "%s: tensor %s: no %s quantizer in this build yet",
                             f->path, it->name, pl_type_name(it->to));
    return PL_OK;
}

/* Decide every tensor's type and place in the output buffer. */
static pl_code quant_plan_build(const gguf_file *f, const quant_recipe *r, quant_plan *p,
                                pl_status *st)
{
    quant_model_facts m;
    quant_facts_read(f, &m);
    memset(p, 0, sizeof *p);
    p->items = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *p->items);
    if (!p->items) return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory", f->path);
    p->n = f->n_tensors;
    p->out_estimate = f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        quant_item *it = &p->items[i];
        if (!(it->name = strndup(t->name.ptr, (size_t)t->name.len)))
            return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory", f->path);
        it->pick = quant_recipe_pick(r, &m, it->name, t->n_dims, t->ne);
        it->convert = it->pick.quantize && it->pick.type != t->type;
        it->to = it->convert ? it->pick.type : t->type;
        if (!it->convert) {
            p->out_estimate += t->nbytes + QUANT_ALIGN;
            continue;
        }
        char why[160];
        if (quant_item_check(f, t, it, st)) return st->code;
        if (gguf_tensor_check(it->to, t->n_dims, t->ne, &it->nbytes, why, sizeof why))
            return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: tensor %s: %s", f->path, it->name, why);
        it->offset = p->buf_size;
        p->buf_size += (it->nbytes + QUANT_ALIGN - 1) / QUANT_ALIGN * QUANT_ALIGN;
        p->out_estimate += it->nbytes + QUANT_ALIGN;
        if ((int64_t)t->ne[0] > p->max_row) p->max_row = (int64_t)t->ne[0];
    }
    return PL_OK;
}

/* Copy a string-array kv: NUL-terminated copies in one allocation. */
static pl_code quant_str_arr_copy(gguf_writer *w, const char *key, const gguf_kv *kv,
                                  const char *path, pl_status *st)
{
    size_t chars = 0;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        if (memchr(kv->strs[i].ptr, 0, (size_t)kv->strs[i].len))
            return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: kv %s[%llu]: string holds a NUL byte",
                                 path, key, (unsigned long long)i);
        chars += (size_t)kv->strs[i].len + 1;
    }
    const char **v = malloc((size_t)kv->arr_n * sizeof *v + chars + 1);
    if (!v) return pl_status_set(st, PL_ERR_NOMEM, "%s: kv %s: out of memory", path, key);
    char *c = (char *)(v + kv->arr_n);
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        memcpy(c, kv->strs[i].ptr, (size_t)kv->strs[i].len);
        c[kv->strs[i].len] = 0;
        v[i] = c;
        c += kv->strs[i].len + 1;
    }
    gguf_writer_add_str_arr(w, key, v, kv->arr_n);
    free(v);
    return PL_OK;
}

/* Copy one kv as it is (writer errors are sticky and reported at write time). */
static pl_code quant_kv_copy(gguf_writer *w, const char *key, const gguf_kv *kv,
                             const char *path, pl_status *st)
{
    gguf_str s;
    if (kv->type == GGUF_STRING) {
        if (!gguf_kv_str(kv, &s)) return pl_status_set(st, PL_ERR_FORMAT, "%s: kv %s: bad string", path, key);
        gguf_writer_add_strn(w, key, s.ptr, s.len);
    } else if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING) {
        return quant_str_arr_copy(w, key, kv, path, st);
    } else if (kv->type == GGUF_ARRAY) {
        if (!gguf_vtype_size(kv->arr_type))
            return pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: kv %s: nested arrays are not supported",
                                 path, key);
        gguf_writer_add_arr(w, key, kv->arr_type, kv->data, kv->arr_n);
    } else {
        gguf_writer_add_kv(w, key, kv->type, kv->data);
    }
    return PL_OK;
}

/* All kvs in order, with file_type and quantization_version set for the recipe. */
static pl_code quant_kvs_copy(const gguf_file *f, gguf_writer *w, const quant_recipe *r, pl_status *st)
{
    bool seen_ft = false, seen_qv = false;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char *key = strndup(kv->key.ptr, (size_t)kv->key.len);
        if (!key) return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory", f->path);
        pl_code c = PL_OK;
        if (!strcmp(key, "general.file_type")) {
            gguf_writer_add_u32(w, key, r->ftype);
            seen_ft = true;
        } else if (!strcmp(key, "general.quantization_version")) {
            gguf_writer_add_u32(w, key, 2);
            seen_qv = true;
        } else if (strncmp(key, "split.", 6) != 0) {
            c = quant_kv_copy(w, key, kv, f->path, st);
        }
        free(key);
        if (c) return c;
    }
    if (!seen_qv) gguf_writer_add_u32(w, "general.quantization_version", 2);
    if (!seen_ft) gguf_writer_add_u32(w, "general.file_type", r->ftype);
    return PL_OK;
}

/* The output's folder must exist, be writable and hold about need bytes. */
static pl_code quant_out_check(const char *out, uint64_t need, pl_status *st)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pl_status_set(st, PL_ERR_IO, "%s: folder %s does not exist", out, dir);
    if (access(dir, W_OK) != 0)
        return pl_status_set(st, PL_ERR_IO, "%s: folder %s is not writable", out, dir);
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < need)
        return pl_status_set(st, PL_ERR_IO, "%s: not enough disk space: needs %.1f MiB, %.1f MiB free",
                             out, need / 1048576.0, (double)vs.f_bavail * vs.f_frsize / 1048576.0);
    return PL_OK;
}

/* Fill the progress event of tensor i. */
static void quant_event_fill(const gguf_file *f, const quant_plan *p, uint64_t i, pl_quant_event *ev)
{
    const gguf_tensor *t = &f->tensors[i];
    const quant_item *it = &p->items[i];
    const pl_type_traits *in = pl_type_traits_get(t->type), *to = pl_type_traits_get(it->to);
    memset(ev, 0, sizeof *ev);
    ev->index = (int)i + 1;
    ev->total = (int)f->n_tensors;
    ev->name = it->name;
    ev->n_dims = t->n_dims;
    memcpy(ev->ne, t->ne, sizeof ev->ne);
    ev->from = t->type;
    ev->to = it->to;
    ev->wanted = it->pick.quantize ? it->pick.wanted : t->type;
    ev->converted = it->convert;
    ev->requantized = it->convert && in && in->quantized && to && to->quantized;
    ev->fallback = it->pick.quantize && it->pick.fallback;
}

/* Convert every planned tensor into buf and hand all tensors to the writer. */
static pl_code quant_tensors_run(const gguf_file *f, const quant_plan *p, uint8_t *buf, int n_threads,
                                 gguf_writer *w, pl_quant_progress_fn progress, void *ud,
                                 pl_quant_stats *stats, pl_status *st)
{
    pl_pool *pool = n_threads > 1 ? pl_pool_new(n_threads) : NULL;
    int nth = pool ? pl_pool_size(pool) : 1;
    float *scratch = malloc((size_t)nth * (size_t)(p->max_row > 0 ? p->max_row : 1) * sizeof(float));
    if (!scratch) {
        pl_pool_free(pool);
        return pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory", f->path);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const quant_item *it = &p->items[i];
        pl_quant_event ev;
        quant_event_fill(f, p, i, &ev);
        if (progress) progress(ud, &ev);
        stats->n_converted += ev.converted;
        stats->n_copied += !ev.converted;
        stats->n_requantized += ev.requantized;
        stats->n_fallback += ev.fallback;
        const void *data = t->data;
        if (it->convert) {
            int64_t nrows = (int64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
            quant_job j = {
                .src = t->data, .src_row = pl_row_size(t->type, (int64_t)t->ne[0]),
                .dst = buf + it->offset, .dst_row = pl_row_size(it->to, (int64_t)t->ne[0]),
                .to_float = pl_type_traits_get(t->type)->to_float,
                .from_float = pl_type_traits_get(it->to)->from_float,
                .ne0 = (int64_t)t->ne[0], .nrows = nrows, .scratch = scratch,
            };
            pl_pool_run(pool, quant_rows_convert, &j);
            data = buf + it->offset;
        }
        gguf_writer_add_tensor(w, it->name, it->to, t->n_dims, t->ne, data);
    }
    free(scratch);
    pl_pool_free(pool);
    return PL_OK;
}

/* Every valid name, for the unknown-type message. */
static void quant_names_join(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (const char *const *s = pl_quantize_type_names(); *s && n < len; s++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", *s);
}

pl_code pl_quantize_file(const char *in, const char *out, const char *type_name, int n_threads,
                         pl_quant_progress_fn progress, void *ud, pl_quant_stats *stats,
                         pl_status *st)
{
    const quant_recipe *r = quant_recipe_find(type_name);
    if (!r) {
        char names[512];
        quant_names_join(names, sizeof names);
        return pl_status_set(st, PL_ERR_ARG, "unknown type '%s' (valid: %s)", type_name ? type_name : "", names);
    }
    if (!in || !out) return pl_status_set(st, PL_ERR_ARG, "quantize: no input or output path");
    double t0 = pl_now_s();
    gguf_file *f = gguf_open(in, st);
    if (!f) return st->code;
    pl_quant_stats s = { .in_bytes = f->size, .n_tensors = (int)f->n_tensors };
    quant_plan p = { 0 };
    uint8_t *buf = NULL;
    gguf_writer *w = NULL;
    uint32_t n_split = 0;
    pl_code c = PL_OK;
    if (gguf_get_u32(f, "split.count", &n_split) && n_split > 1) {
        c = pl_status_set(st, PL_ERR_UNSUPPORTED, "%s: first of %u split parts: merge them first "
                          "(llama-gguf-split --merge)", in, n_split);
        goto done;
    }
    if ((c = quant_plan_build(f, r, &p, st)) || (c = quant_out_check(out, p.out_estimate, st))) goto done;
    if (!(buf = aligned_alloc(QUANT_ALIGN, p.buf_size ? p.buf_size : QUANT_ALIGN)) || !(w = gguf_writer_new())) {
        c = pl_status_set(st, PL_ERR_NOMEM, "%s: cannot allocate %.1f MiB for the converted weights",
                          out, p.buf_size / 1048576.0);
        goto done;
    }
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if ((c = quant_kvs_copy(f, w, r, st)) ||
        (c = quant_tensors_run(f, &p, buf, n_threads, w, progress, ud, &s, st)) ||
        (c = gguf_writer_write_file(w, out, st)))
        goto done;
    struct stat sb;
    s.out_bytes = stat(out, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    s.seconds = pl_now_s() - t0;
    if (stats) *stats = s;
    pl_status_ok(st);
done:
    gguf_writer_free(w);
    free(buf);
    quant_plan_free(&p);
    gguf_close(f);
    return c;
}
