/* gguf.h — read-only, mmap'd GGUF v2/v3 reader (engine-internal).
 *
 * gguf_open validates the whole header before returning: every count, string
 * length, array size, tensor dimension, type and offset is checked against the
 * file size, so later lookups never read outside the mapping. Strings point
 * into the mapping and are NOT NUL-terminated (use .len).
 */
#ifndef PL_GGUF_H
#define PL_GGUF_H

#include "engine.h"

typedef enum gguf_vtype {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
    GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
    GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12, GGUF_VTYPE_COUNT
} gguf_vtype;

typedef struct gguf_str { const char *ptr; uint64_t len; } gguf_str;

typedef struct gguf_kv {
    gguf_str    key;
    gguf_vtype  type;       /* GGUF_ARRAY for arrays */
    gguf_vtype  arr_type;   /* element type when type == GGUF_ARRAY */
    uint64_t    arr_n;      /* element count when type == GGUF_ARRAY */
    const void *data;       /* scalar value or first array element, in the mapping */
    const gguf_str *strs;   /* string arrays: arr_n entries (owned by the file) */
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str    name;
    uint32_t    n_dims;
    uint64_t    ne[GGUF_MAX_DIMS];   /* ne[0] is the row length (contiguous) */
    pl_type     type;
    uint64_t    offset;              /* relative to the data section */
    uint64_t    nbytes;
    const void *data;                /* in the mapping, aligned */
} gguf_tensor;

typedef struct gguf_file {
    char        path[256];
    uint32_t    version;
    uint64_t    n_kv, n_tensors;
    gguf_kv    *kv;
    gguf_tensor *tensors;
    uint32_t    alignment;
    const uint8_t *base;   /* mapping */
    size_t      size;
    size_t      data_offset;
    int         owns_map;  /* 1: munmap on close */
} gguf_file;

/* Map and validate path. NULL + st on any error (message names file and field). */
gguf_file *gguf_open(const char *path, pl_status *st);
/* Validate an in-memory image (not copied; must outlive the result). For tests and fuzzing. */
gguf_file *gguf_open_mem(const void *data, size_t size, const char *name, pl_status *st);
void       gguf_close(gguf_file *f);

const gguf_kv     *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: false if missing or of an incompatible type/range.
 * Integer getters accept any integer type whose value fits. */
bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_i32(const gguf_file *f, const char *key, int32_t *out);
bool gguf_get_f32(const gguf_file *f, const char *key, float *out);   /* f32/f64 */
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Copy a string value into buf (NUL-terminated, truncated to len-1). */
bool gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t len);
/* Array of the given element type: count and pointer to the first element. */
bool gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, uint64_t *n, const void **data);

bool gguf_str_eq(gguf_str s, const char *c);

#endif
