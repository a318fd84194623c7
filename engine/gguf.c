/* gguf.c — the GGUF v2/v3 reader: map a file, validate all of it, then serve lookups.
 *
 * Why validate everything up front: after gguf_open returns, the model loader,
 * tokenizer and fuzzer touch only pointers this file has proven lie inside the
 * mapping, so no later code needs to distrust the file. The parser walks the
 * header with a cursor (gguf_rd) whose every read checks the bytes left first;
 * counts are compared with the smallest possible encoding of that many items
 * before any array is allocated, so a hostile count cannot make us allocate
 * more than a small multiple of the file size. Errors name the file, the item
 * (kv key or tensor name, sanitised for the terminal) and the offending value.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv (v1 had
 * u32 counts: rejected), n_kv x {string key, u32 type, value}, n_tensors x
 * {string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset}, padding to
 * general.alignment, then the data section. Strings are u64 length + bytes.
 * v3 only added big-endian files (unsupported here: the version reads wrong).
 *
 * Lookups binary-search index arrays sorted by name, built at open time; the
 * same sort finds duplicate keys/names, and a sort by offset finds overlaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_GGML_TYPE_LIMIT   40u  /* ids below this are ggml types we cannot read */
#define GGUF_MIN_KV     (8 + 4 + 1)          /* empty key, type id, 1-byte value */
#define GGUF_MIN_TENSOR (8 + 4 + 8 + 4 + 8)  /* empty name, n_dims, one dim, type, offset */

/* Block geometry per tensor type. Deliberately local (not pl_type_traits_get):
 * the reader, and the fuzzer that links only this file, must not depend on the
 * compute backend. Sizes come from the block structs in quant_blocks.h. */
typedef struct { const char *name; uint32_t block; uint32_t size; } gguf_type_row;
static const gguf_type_row gguf_types[PL_TYPE_COUNT] = {
    [PL_TYPE_F32]  = {"f32", 1, 4},           [PL_TYPE_F16]  = {"f16", 1, 2},
    [PL_TYPE_BF16] = {"bf16", 1, 2},
    [PL_TYPE_Q4_0] = {"q4_0", QK4_0, sizeof(block_q4_0)},
    [PL_TYPE_Q4_1] = {"q4_1", QK4_1, sizeof(block_q4_1)},
    [PL_TYPE_Q5_0] = {"q5_0", QK5_0, sizeof(block_q5_0)},
    [PL_TYPE_Q5_1] = {"q5_1", QK5_1, sizeof(block_q5_1)},
    [PL_TYPE_Q8_0] = {"q8_0", QK8_0, sizeof(block_q8_0)},
    [PL_TYPE_Q8_1] = {"q8_1", QK8_1, sizeof(block_q8_1)},
    [PL_TYPE_Q2_K] = {"q2_K", QK_K, sizeof(block_q2_K)},
    [PL_TYPE_Q3_K] = {"q3_K", QK_K, sizeof(block_q3_K)},
    [PL_TYPE_Q4_K] = {"q4_K", QK_K, sizeof(block_q4_K)},
    [PL_TYPE_Q5_K] = {"q5_K", QK_K, sizeof(block_q5_K)},
    [PL_TYPE_Q6_K] = {"q6_K", QK_K, sizeof(block_q6_K)},
    [PL_TYPE_Q8_K] = {"q8_K", QK_K, sizeof(block_q8_K)},
};

/* Metadata value types: name and encoded size (0 = variable length). */
typedef struct { const char *name; uint8_t size; } gguf_vtype_row;
static const gguf_vtype_row gguf_vtypes[GGUF_VTYPE_COUNT] = {
    [GGUF_UINT8] = {"u8", 1},     [GGUF_INT8] = {"i8", 1},
    [GGUF_UINT16] = {"u16", 2},   [GGUF_INT16] = {"i16", 2},
    [GGUF_UINT32] = {"u32", 4},   [GGUF_INT32] = {"i32", 4},
    [GGUF_FLOAT32] = {"f32", 4}, [GGUF_BOOL] = {"bool", 1},
    [GGUF_STRING] = {"string", 0}, [GGUF_ARRAY] = {"array", 0},
    [GGUF_UINT64] = {"u64", 8},   [GGUF_INT64] = {"i64", 8},
    [GGUF_FLOAT64] = {"f64", 8},
};

/* The open file: the public struct first, so a gguf_file * is a gguf_impl *. */
typedef struct gguf_impl {
    gguf_file pub;
    const gguf_kv **kv_sorted;       /* n_kv, by key */
    const gguf_tensor **t_sorted;    /* n_tensors, by name */
} gguf_impl;

/* Parse cursor: every read checks the bytes left before touching them. */
typedef struct gguf_rd {
    const uint8_t *p;
    size_t size, pos;
    const char *file;   /* for messages */
    char item[112];     /* "kv 'general.name'", "tensor 'output.weight'", ... */
    pl_status *st;
} gguf_rd;

/* ---- small helpers --------------------------------------------------- */

const char *gguf_vtype_name(gguf_vtype t)
{
    return (unsigned)t < GGUF_VTYPE_COUNT ? gguf_vtypes[t].name : NULL;
}

uint32_t gguf_vtype_size(gguf_vtype t)
{
    return (unsigned)t < GGUF_VTYPE_COUNT ? gguf_vtypes[t].size : 0;
}

bool gguf_type_size(pl_type t, uint32_t *block_size, uint32_t *type_size)
{
    if ((unsigned)t >= PL_TYPE_COUNT || !gguf_types[t].block) return false;
    if (block_size) *block_size = gguf_types[t].block;
    if (type_size) *type_size = gguf_types[t].size;
    return true;
}

const char *gguf_type_name(pl_type t)
{
    return gguf_type_size(t, NULL, NULL) ? gguf_types[t].name : NULL;
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* Copy a name from the file for a message: printable ASCII only, capped. */
static void gguf_name_fmt(gguf_str s, char *out, size_t cap)
{
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s.len > n && n + 4 >= cap) { memcpy(out + n, "...", 3); n += 3; }
    out[n] = 0;
}

/* Three-way compare of a file string with (c, n): by bytes, then length. */
static int gguf_str_cmp(gguf_str s, const char *c, size_t n)
{
    size_t m = s.len < n ? (size_t)s.len : n;
    int r = m ? memcmp(s.ptr, c, m) : 0;
    if (r) return r;
    return s.len < n ? -1 : s.len > n;
}

/* ---- cursor reads ------------------------------------------------------ */

/* Fail unless n more bytes are left; what names the field being read. */
static bool rd_need(gguf_rd *r, uint64_t n, const char *what)
{
    if (n <= r->size - r->pos) return true;
    pl_status_set(r->st, PL_ERR_FORMAT,
                  "%s: %s: %s runs past end of file (offset %zu, needs %llu bytes, file is %zu)",
                  r->file, r->item, what, r->pos, (unsigned long long)n, r->size);
    return false;
}

static bool rd_u32(gguf_rd *r, uint32_t *v, const char *what)
{
    if (!rd_need(r, 4, what)) return false;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return true;
}

static bool rd_u64(gguf_rd *r, uint64_t *v, const char *what)
{
    if (!rd_need(r, 8, what)) return false;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return true;
}

/* A u64 length then that many bytes, left in the mapping. */
static bool rd_str(gguf_rd *r, gguf_str *s, const char *what)
{
    if (!rd_u64(r, &s->len, what) || !rd_need(r, s->len, what)) return false;
    s->ptr = (const char *)r->p + r->pos;
    r->pos += (size_t)s->len;
    return true;
}

/* A key or tensor name: a string without NUL bytes, so C-string lookups are unambiguous. */
static bool rd_name(gguf_rd *r, gguf_str *s, const char *what)
{
    if (!rd_str(r, s, what)) return false;
    if (!s->len || !memchr(s->ptr, 0, (size_t)s->len)) return true;
    pl_status_set(r->st, PL_ERR_FORMAT, "%s: %s: %s contains a NUL byte (offset %zu)",
                  r->file, r->item, what, r->pos - (size_t)s->len);
    return false;
}

/* A count must fit in the bytes left at min_size bytes per item. */
static bool rd_count_fits(gguf_rd *r, uint64_t n, uint64_t min_size, const char *what)
{
    if (n <= (r->size - r->pos) / min_size) return true;
    pl_status_set(r->st, PL_ERR_FORMAT,
                  "%s: %s: %s %llu is larger than the file could hold (%zu bytes left at offset %zu)",
                  r->file, r->item, what, (unsigned long long)n, r->size - r->pos, r->pos);
    return false;
}

/* ---- metadata ---------------------------------------------------------- */

/* Array value: element type, count, elements; string arrays get an owned index. */
static bool gguf_parse_array(gguf_rd *r, gguf_kv *kv)
{
    uint32_t et;
    if (!rd_u32(r, &et, "array element type") || !rd_u64(r, &kv->arr_n, "array length"))
        return false;
    if (et == GGUF_ARRAY)
        return pl_status_set(r->st, PL_ERR_UNSUPPORTED, "%s: %s: arrays of arrays are not supported",
                             r->file, r->item), false;
    if (et >= GGUF_VTYPE_COUNT)
        return pl_status_set(r->st, PL_ERR_FORMAT, "%s: %s: bad array element type id %u",
                             r->file, r->item, et), false;
    kv->arr_type = (gguf_vtype)et;
    kv->data = r->p + r->pos;
    if (et != GGUF_STRING) {
        uint64_t sz = gguf_vtypes[et].size;
        if (!rd_count_fits(r, kv->arr_n, sz, "array length")) return false;
        r->pos += (size_t)(kv->arr_n * sz);
        return true;
    }
    if (!rd_count_fits(r, kv->arr_n, 8, "string array length")) return false;
    gguf_str *strs = calloc(kv->arr_n ? (size_t)kv->arr_n : 1, sizeof *strs);
    if (!strs)
        return pl_status_set(r->st, PL_ERR_NOMEM, "%s: %s: out of memory for %llu strings",
                             r->file, r->item, (unsigned long long)kv->arr_n), false;
    kv->strs = strs;
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (!rd_str(r, &strs[i], "array string")) return false;
    return true;
}

/* One kv: key, type id, value. */
static bool gguf_parse_kv(gguf_rd *r, gguf_kv *kv, uint64_t idx)
{
    snprintf(r->item, sizeof r->item, "kv #%llu", (unsigned long long)idx);
    if (!rd_name(r, &kv->key, "key")) return false;
    char name[80];
    gguf_name_fmt(kv->key, name, sizeof name);
    snprintf(r->item, sizeof r->item, "kv '%s'", name);
    uint32_t t;
    if (!rd_u32(r, &t, "value type")) return false;
    if (t >= GGUF_VTYPE_COUNT)
        return pl_status_set(r->st, PL_ERR_FORMAT, "%s: %s: bad value type id %u",
                             r->file, r->item, t), false;
    kv->type = (gguf_vtype)t;
    if (t == GGUF_ARRAY) return gguf_parse_array(r, kv);
    kv->data = r->p + r->pos;
    if (t == GGUF_STRING) {
        gguf_str s;
        return rd_str(r, &s, "string value");
    }
    if (!rd_need(r, gguf_vtypes[t].size, "value")) return false;
    r->pos += gguf_vtypes[t].size;
    return true;
}

/* general.alignment: optional u32, a power of two; default 32. */
static bool gguf_read_alignment(gguf_rd *r, gguf_file *f)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    if (!kv) return true;
    if (kv->type != GGUF_UINT32)
        return pl_status_set(r->st, PL_ERR_FORMAT, "%s: general.alignment has type %s (must be u32)",
                             r->file, gguf_vtypes[kv->type].name), false;
    uint32_t a;
    memcpy(&a, kv->data, 4);
    if (a == 0 || (a & (a - 1)))
        return pl_status_set(r->st, PL_ERR_FORMAT,
                             "%s: general.alignment %u is not a power of two", r->file, a), false;
    f->alignment = a;
    return true;
}

/* ---- tensors ----------------------------------------------------------- */

pl_code gguf_tensor_check(pl_type type, uint32_t n_dims, const uint64_t *ne,
                          uint64_t *nbytes, char *why, size_t why_len)
{
    uint32_t bs, ts;
    if (!gguf_type_size(type, &bs, &ts)) {
        bool ggml = (unsigned)type < GGUF_GGML_TYPE_LIMIT;
        snprintf(why, why_len, ggml ? "tensor type id %u is not supported by parley"
                                    : "unknown tensor type id %u", (unsigned)type);
        return ggml ? PL_ERR_UNSUPPORTED : PL_ERR_FORMAT;
    }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return snprintf(why, why_len, "n_dims %u (must be 1..%d)", n_dims, GGUF_MAX_DIMS), PL_ERR_FORMAT;
    uint64_t elems = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] == 0)
            return snprintf(why, why_len, "dimension %u is 0", i), PL_ERR_FORMAT;
        if (__builtin_mul_overflow(elems, ne[i], &elems) || elems > (uint64_t)INT64_MAX)
            return snprintf(why, why_len, "dimension %u (%llu) makes the element count overflow",
                            i, (unsigned long long)ne[i]), PL_ERR_FORMAT;
    }
    if (ne[0] % bs)
        return snprintf(why, why_len, "row length %llu is not a multiple of the %s block size %u",
                        (unsigned long long)ne[0], gguf_types[type].name, bs), PL_ERR_FORMAT;
    if (__builtin_mul_overflow(elems / bs, (uint64_t)ts, nbytes) || *nbytes > (uint64_t)INT64_MAX)
        return snprintf(why, why_len, "byte size overflows (%llu elements of %s)",
                        (unsigned long long)elems, gguf_types[type].name), PL_ERR_FORMAT;
    return PL_OK;
}

/* One tensor info: name, dims, type, offset; shape and type validated here. */
static bool gguf_parse_tensor(gguf_rd *r, gguf_tensor *t, uint64_t idx)
{
    snprintf(r->item, sizeof r->item, "tensor #%llu", (unsigned long long)idx);
    if (!rd_name(r, &t->name, "name")) return false;
    char name[80];
    gguf_name_fmt(t->name, name, sizeof name);
    snprintf(r->item, sizeof r->item, "tensor '%s'", name);
    if (!rd_u32(r, &t->n_dims, "n_dims")) return false;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return pl_status_set(r->st, PL_ERR_FORMAT, "%s: %s: n_dims %u (must be 1..%d)",
                             r->file, r->item, t->n_dims, GGUF_MAX_DIMS), false;
    for (uint32_t i = 0; i < GGUF_MAX_DIMS; i++) {
        t->ne[i] = 1;
        if (i < t->n_dims && !rd_u64(r, &t->ne[i], "dimension")) return false;
    }
    uint32_t type;
    if (!rd_u32(r, &type, "type") || !rd_u64(r, &t->offset, "offset")) return false;
    t->type = (pl_type)type;
    char why[160];
    pl_code c = gguf_tensor_check(t->type, t->n_dims, t->ne, &t->nbytes, why, sizeof why);
    if (c != PL_OK) return pl_status_set(r->st, c, "%s: %s: %s", r->file, r->item, why), false;
    return true;
}

/* Place every tensor in the data section: aligned, inside the file. */
static bool gguf_place_tensors(gguf_rd *r, gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        char name[80];
        gguf_name_fmt(t->name, name, sizeof name);
        if (t->offset % f->alignment)
            return pl_status_set(r->st, PL_ERR_FORMAT,
                                 "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                                 r->file, name, (unsigned long long)t->offset, f->alignment), false;
        uint64_t room = f->data_offset <= f->size ? f->size - f->data_offset : 0;
        if (t->offset > room || t->nbytes > room - t->offset)   /* offset as in the file: no sum to overflow */
            return pl_status_set(r->st, PL_ERR_FORMAT,
                                 "%s: tensor '%s': data runs past end of file (offset %llu in the data "
                                 "section at %zu, size %llu, file %zu)", r->file, name,
                                 (unsigned long long)t->offset, f->data_offset,
                                 (unsigned long long)t->nbytes, f->size), false;
        t->data = f->base + f->data_offset + t->offset;
    }
    return true;
}

/* ---- index: sort, duplicates, overlaps --------------------------------- */

static int gguf_kv_ptr_cmp(const void *a, const void *b)
{
    gguf_str x = (*(const gguf_kv *const *)a)->key, y = (*(const gguf_kv *const *)b)->key;
    return gguf_str_cmp(x, y.ptr, (size_t)y.len);
}

static int gguf_t_name_cmp(const void *a, const void *b)
{
    gguf_str x = (*(const gguf_tensor *const *)a)->name, y = (*(const gguf_tensor *const *)b)->name;
    return gguf_str_cmp(x, y.ptr, (size_t)y.len);
}

static int gguf_t_off_cmp(const void *a, const void *b)
{
    uint64_t x = (*(const gguf_tensor *const *)a)->offset, y = (*(const gguf_tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

/* Sort the lookup indexes; two equal neighbours are a duplicate. */
static bool gguf_build_index(gguf_rd *r, gguf_impl *g)
{
    gguf_file *f = &g->pub;
    g->kv_sorted = malloc((f->n_kv ? f->n_kv : 1) * sizeof *g->kv_sorted);
    g->t_sorted = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *g->t_sorted);
    if (!g->kv_sorted || !g->t_sorted)
        return pl_status_set(r->st, PL_ERR_NOMEM, "%s: out of memory for the index", r->file), false;
    for (uint64_t i = 0; i < f->n_kv; i++) g->kv_sorted[i] = &f->kv[i];
    for (uint64_t i = 0; i < f->n_tensors; i++) g->t_sorted[i] = &f->tensors[i];
    qsort(g->kv_sorted, f->n_kv, sizeof *g->kv_sorted, gguf_kv_ptr_cmp);
    qsort(g->t_sorted, f->n_tensors, sizeof *g->t_sorted, gguf_t_name_cmp);
    char name[80];
    for (uint64_t i = 1; i < f->n_kv; i++)
        if (!gguf_kv_ptr_cmp(&g->kv_sorted[i - 1], &g->kv_sorted[i])) {
            gguf_name_fmt(g->kv_sorted[i]->key, name, sizeof name);
            return pl_status_set(r->st, PL_ERR_FORMAT, "%s: duplicate key '%s'", r->file, name), false;
        }
    for (uint64_t i = 1; i < f->n_tensors; i++)
        if (!gguf_t_name_cmp(&g->t_sorted[i - 1], &g->t_sorted[i])) {
            gguf_name_fmt(g->t_sorted[i]->name, name, sizeof name);
            return pl_status_set(r->st, PL_ERR_FORMAT, "%s: duplicate tensor name '%s'", r->file, name), false;
        }
    return true;
}

/* Sorted by offset, each tensor must end before the next begins. */
static bool gguf_check_overlaps(gguf_rd *r, gguf_file *f)
{
    if (f->n_tensors < 2) return true;
    const gguf_tensor **by_off = malloc(f->n_tensors * sizeof *by_off);
    if (!by_off) return pl_status_set(r->st, PL_ERR_NOMEM, "%s: out of memory", r->file), false;
    for (uint64_t i = 0; i < f->n_tensors; i++) by_off[i] = &f->tensors[i];
    qsort(by_off, f->n_tensors, sizeof *by_off, gguf_t_off_cmp);
    bool ok = true;
    for (uint64_t i = 1; i < f->n_tensors && ok; i++) {
        const gguf_tensor *a = by_off[i - 1], *b = by_off[i];
        if (a->offset + a->nbytes <= b->offset) continue;   /* both proven inside the file */
        char na[80], nb[80];
        gguf_name_fmt(a->name, na, sizeof na);
        gguf_name_fmt(b->name, nb, sizeof nb);
        pl_status_set(r->st, PL_ERR_FORMAT,
                      "%s: tensor '%s' (offset %llu, size %llu) overlaps tensor '%s' (offset %llu)",
                      r->file, na, (unsigned long long)a->offset, (unsigned long long)a->nbytes,
                      nb, (unsigned long long)b->offset);
        ok = false;
    }
    free(by_off);
    return ok;
}

/* ---- open / close ------------------------------------------------------ */

/* Magic, version and the two counts, checked against the file size. */
static bool gguf_parse_header(gguf_rd *r, gguf_file *f)
{
    snprintf(r->item, sizeof r->item, "header");
    if (!rd_need(r, 4, "magic")) return false;
    if (memcmp(r->p, "GGUF", 4) != 0)
        return pl_status_set(r->st, PL_ERR_FORMAT, "%s: not a GGUF file (magic %02x %02x %02x %02x)",
                             r->file, r->p[0], r->p[1], r->p[2], r->p[3]), false;
    r->pos = 4;
    if (!rd_u32(r, &f->version, "version")) return false;
    if (f->version == 1)
        return pl_status_set(r->st, PL_ERR_UNSUPPORTED,
                             "%s: GGUF version 1 (32-bit counts) is not supported; re-convert the model",
                             r->file), false;
    if (f->version != 2 && f->version != 3)
        return pl_status_set(r->st, PL_ERR_UNSUPPORTED,
                             "%s: GGUF version %u is not supported (2 and 3 are; big-endian files are not)",
                             r->file, f->version), false;
    if (!rd_u64(r, &f->n_tensors, "n_tensors") || !rd_u64(r, &f->n_kv, "n_kv")) return false;
    if (!rd_count_fits(r, f->n_kv, GGUF_MIN_KV, "n_kv")) return false;
    if (!rd_count_fits(r, f->n_tensors, GGUF_MIN_TENSOR, "n_tensors")) return false;
    uint64_t need = f->n_kv * GGUF_MIN_KV + f->n_tensors * GGUF_MIN_TENSOR;   /* each < size */
    if (need <= r->size - r->pos) return true;
    return pl_status_set(r->st, PL_ERR_FORMAT,
                         "%s: n_kv %llu and n_tensors %llu need at least %llu bytes, file has %zu left",
                         r->file, (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors,
                         (unsigned long long)need, r->size - r->pos), false;
}

/* Everything after the mapping exists: header, kvs, tensors, layout. */
static bool gguf_parse(gguf_rd *r, gguf_impl *g)
{
    gguf_file *f = &g->pub;
    if (!gguf_parse_header(r, f)) return false;
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors)
        return pl_status_set(r->st, PL_ERR_NOMEM, "%s: out of memory", r->file), false;
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (!gguf_parse_kv(r, &f->kv[i], i)) return false;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!gguf_parse_tensor(r, &f->tensors[i], i)) return false;
    if (!gguf_build_index(r, g) || !gguf_read_alignment(r, f)) return false;
    f->data_offset = r->pos + (f->alignment - r->pos % f->alignment) % f->alignment;
    return gguf_place_tensors(r, f) && gguf_check_overlaps(r, f);
}

/* Validate an image already in memory; owns_map says whether close unmaps it. */
static gguf_file *gguf_open_image(const uint8_t *base, size_t size, const char *name,
                                  int owns_map, pl_status *st)
{
    gguf_impl *g = calloc(1, sizeof *g);
    if (!g) {
        pl_status_set(st, PL_ERR_NOMEM, "%s: out of memory", name);
        if (owns_map) munmap((void *)base, size);
        return NULL;
    }
    gguf_file *f = &g->pub;
    snprintf(f->path, sizeof f->path, "%s", name);
    f->base = base;
    f->size = size;
    f->owns_map = owns_map;
    gguf_rd r = { .p = base, .size = size, .file = name, .st = st };
    if (!gguf_parse(&r, g)) {
        gguf_close(f);
        return NULL;
    }
    pl_status_ok(st);
    return f;
}

gguf_file *gguf_open_mem(const void *data, size_t size, const char *name, pl_status *st)
{
    if (!name) name = "(memory)";
    if (!data || size == 0) {
        pl_status_set(st, PL_ERR_FORMAT, "%s: empty file (not a GGUF file)", name);
        return NULL;
    }
    return gguf_open_image(data, size, name, 0, st);
}

gguf_file *gguf_open(const char *path, pl_status *st) { return gguf_open_ex(path, 0, st); }

gguf_file *gguf_open_ex(const char *path, int flags, pl_status *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pl_status_set(st, PL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        pl_status_set(st, PL_ERR_IO, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (sb.st_size == 0) {
        close(fd);
        pl_status_set(st, PL_ERR_FORMAT, "%s: empty file (not a GGUF file)", path);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    if (map == MAP_FAILED) {
        close(fd);
        pl_status_set(st, PL_ERR_IO, "%s: mmap of %lld bytes failed: %s", path,
                      (long long)sb.st_size, strerror(err));
        return NULL;
    }
    gguf_file *f = gguf_open_image(map, (size_t)sb.st_size, path, 1, st);
    if (f && (flags & GGUF_RESIDENT) && gguf_make_resident(f, fd, st) != 0) {
        gguf_close(f);
        f = NULL;
    }
    close(fd);
    return f;
}

void gguf_close(gguf_file *f)
{
    if (!f) return;
    gguf_impl *g = (gguf_impl *)f;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free((void *)f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    free(g->kv_sorted);
    free(g->t_sorted);
    if (f->owns_map) munmap((void *)f->base, f->size);
    if (f->resident) munmap(f->resident, f->resident_len);
    free(g);
}

/* ---- lookup (binary search over the sorted indexes) -------------------- */

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key)
{
    const gguf_impl *g = (const gguf_impl *)f;
    if (!f || !key || !g->kv_sorted) return NULL;
    size_t n = strlen(key), lo = 0, hi = (size_t)f->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = gguf_str_cmp(g->kv_sorted[mid]->key, key, n);
        if (c == 0) return g->kv_sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    const gguf_impl *g = (const gguf_impl *)f;
    if (!f || !name || !g->t_sorted) return NULL;
    size_t n = strlen(name), lo = 0, hi = (size_t)f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = gguf_str_cmp(g->t_sorted[mid]->name, name, n);
        if (c == 0) return g->t_sorted[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}
