/* gguf_get.c — typed getters over a validated gguf_file.
 *
 * Why a separate file: gguf.c is the hostile-input parser; this is the
 * convenience layer the model loader and tokenizer use. Values in the mapping
 * may be unaligned (a u32 after a 5-byte string), so every read is a memcpy,
 * and integers are widened to (sign, magnitude) once so each getter only asks
 * "does it fit". gguf_open has already proven every pointer read here lies
 * inside the mapping.
 */
#include <string.h>

#include "gguf.h"

/* An integer of any width and sign: negative values in s, others in u. */
typedef struct { bool neg; int64_t s; uint64_t u; } gguf_int;

/* Signedness of the integer value types; 0 = not an integer. */
enum { GI_NONE, GI_UNSIGNED, GI_SIGNED };
static const uint8_t gguf_int_kind[GGUF_VTYPE_COUNT] = {
    [GGUF_UINT8] = GI_UNSIGNED, [GGUF_UINT16] = GI_UNSIGNED,
    [GGUF_UINT32] = GI_UNSIGNED, [GGUF_UINT64] = GI_UNSIGNED,
    [GGUF_INT8] = GI_SIGNED, [GGUF_INT16] = GI_SIGNED,
    [GGUF_INT32] = GI_SIGNED, [GGUF_INT64] = GI_SIGNED,
};

/* Load an encoded integer of type t at p; false if t is not an integer type. */
static bool gguf_int_load(const void *p, gguf_vtype t, gguf_int *v)
{
    if ((unsigned)t >= GGUF_VTYPE_COUNT || gguf_int_kind[t] == GI_NONE) return false;
    uint32_t n = gguf_vtype_size(t);
    uint64_t raw = 0;
    memcpy(&raw, p, n);                       /* little-endian host */
    *v = (gguf_int){ .u = raw };
    if (gguf_int_kind[t] == GI_SIGNED && n < 8 && (raw >> (8 * n - 1)) & 1)
        raw |= ~0ull << (8 * n);              /* sign-extend */
    if (gguf_int_kind[t] == GI_SIGNED && (int64_t)raw < 0) {
        v->neg = true;
        v->s = (int64_t)raw;
    }
    return true;
}

/* The kv for key if it is a scalar (not an array). */
static const gguf_kv *gguf_scalar(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv && kv->type != GGUF_ARRAY ? kv : NULL;
}

static bool gguf_get_int(const gguf_file *f, const char *key, gguf_int *v)
{
    const gguf_kv *kv = gguf_scalar(f, key);
    return kv && gguf_int_load(kv->data, kv->type, v);
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    gguf_int v;
    if (!gguf_get_int(f, key, &v) || v.neg || v.u > UINT32_MAX) return false;
    *out = (uint32_t)v.u;
    return true;
}

bool gguf_get_i32(const gguf_file *f, const char *key, int32_t *out)
{
    gguf_int v;
    if (!gguf_get_int(f, key, &v)) return false;
    if (v.neg ? v.s < INT32_MIN : v.u > INT32_MAX) return false;
    *out = v.neg ? (int32_t)v.s : (int32_t)v.u;
    return true;
}

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    gguf_int v;
    if (!gguf_get_int(f, key, &v) || v.neg) return false;
    *out = v.u;
    return true;
}

bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out)
{
    gguf_int v;
    if (!gguf_get_int(f, key, &v) || (!v.neg && v.u > INT64_MAX)) return false;
    *out = v.neg ? v.s : (int64_t)v.u;
    return true;
}

/* f32 or f64 at p (type t) as a float. */
static bool gguf_float_load(const void *p, gguf_vtype t, float *out)
{
    if (t == GGUF_FLOAT32) { memcpy(out, p, 4); return true; }
    if (t != GGUF_FLOAT64) return false;
    double d;
    memcpy(&d, p, 8);
    *out = (float)d;
    return true;
}

bool gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv = gguf_scalar(f, key);
    return kv && gguf_float_load(kv->data, kv->type, out);
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_kv *kv = gguf_scalar(f, key);
    if (!kv || kv->type != GGUF_BOOL) return false;
    *out = *(const uint8_t *)kv->data != 0;
    return true;
}

bool gguf_kv_str(const gguf_kv *kv, gguf_str *out)
{
    if (!kv || kv->type != GGUF_STRING) return false;
    memcpy(&out->len, kv->data, 8);
    out->ptr = (const char *)kv->data + 8;
    return true;
}

bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    return gguf_kv_str(gguf_find_kv(f, key), out);
}

bool gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t len)
{
    gguf_str s;
    if (!len || !gguf_get_str(f, key, &s)) return false;
    size_t n = s.len < len - 1 ? (size_t)s.len : len - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = 0;
    return true;
}

bool gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, uint64_t *n, const void **data)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != elem) return false;
    *n = kv->arr_n;
    *data = elem == GGUF_STRING ? (const void *)kv->strs : kv->data;
    return true;
}

bool gguf_arr_get_i64(const gguf_kv *kv, uint64_t i, int64_t *out)
{
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n) return false;
    gguf_int v;
    const uint8_t *p = (const uint8_t *)kv->data + i * gguf_vtype_size(kv->arr_type);
    if (!gguf_int_load(p, kv->arr_type, &v) || (!v.neg && v.u > INT64_MAX)) return false;
    *out = v.neg ? v.s : (int64_t)v.u;
    return true;
}

bool gguf_arr_get_f32(const gguf_kv *kv, uint64_t i, float *out)
{
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n) return false;
    const uint8_t *p = (const uint8_t *)kv->data + i * gguf_vtype_size(kv->arr_type);
    return gguf_float_load(p, kv->arr_type, out);
}
