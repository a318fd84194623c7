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
#include "../backends/quant_blocks.h"

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
    void       *resident;  /* GGUF_RESIDENT: the private copy of the data section (or NULL) */
    size_t      resident_len;
} gguf_file;

/* Map and validate path. NULL + st on any error (message names file and field). */
gguf_file *gguf_open(const char *path, pl_status *st);
/* gguf_open, and with GGUF_RESIDENT the tensor bytes are copied into private
 * memory in 2 MiB pages when they fit in available memory (gguf_resident.c);
 * f->resident says whether they were. */
enum { GGUF_RESIDENT = 1 };
gguf_file *gguf_open_ex(const char *path, int flags, pl_status *st);
/* Move the data section of f (opened from fd) into resident memory; 0, or -1 + st. */
int gguf_make_resident(gguf_file *f, int fd, pl_status *st);
/* Open the resident copy for writing (the loader repacks weights in it) or
 * close it again; false when f has none or the kernel refuses. */
bool gguf_resident_writable(gguf_file *f, bool writable);
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

/* ---- additions (gguf room) ------------------------------------------------
 * Notes on the fields above: gguf_kv.data points at the encoded value in the
 * mapping and may be UNALIGNED (read it with memcpy or the getters). For a
 * string scalar it points at the u64 length prefix; use gguf_get_str. For a
 * string array, gguf_get_arr(.., GGUF_STRING, ..) returns kv->strs (gguf_str[]).
 * Tensor data is aligned to f->alignment relative to the start of the file.
 * Keys and tensor names never contain NUL bytes (such files are rejected), so
 * C-string lookups are unambiguous. */

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
/* String value of a kv already found (false unless kv is a string scalar). */
bool gguf_kv_str(const gguf_kv *kv, gguf_str *out);
/* Element i of an array kv: any integer element type whose value fits / f32 or f64. */
bool gguf_arr_get_i64(const gguf_kv *kv, uint64_t i, int64_t *out);
bool gguf_arr_get_f32(const gguf_kv *kv, uint64_t i, float *out);
const char *gguf_vtype_name(gguf_vtype t);       /* "u32", "string", ... or NULL */
uint32_t    gguf_vtype_size(gguf_vtype t);       /* encoded bytes; 0 for string, array, unknown */

/* Block size (elements) and bytes per block of a tensor type the reader knows;
 * false for any other id. A table local to the reader: it must not depend on
 * the compute backend. */
bool gguf_type_size(pl_type t, uint32_t *block_size, uint32_t *type_size);
const char *gguf_type_name(pl_type t);            /* "q4_1" or NULL */
/* Validate a tensor shape and compute its bytes: PL_OK, or PL_ERR_UNSUPPORTED /
 * PL_ERR_FORMAT with the reason (naming the value) written to why. */
pl_code gguf_tensor_check(pl_type type, uint32_t n_dims, const uint64_t *ne,
                          uint64_t *nbytes, char *why, size_t why_len);

/* ---- writer (engine/gguf_write.c) ------------------------------------------
 * Builds a GGUF v3 (or v2) file: kvs and tensor infos in insertion order, the
 * data section aligned to general.alignment (default 32), every tensor's data
 * padded to the alignment. add_* calls record the first error (duplicate key,
 * bad shape, out of memory) and gguf_writer_write_* report it. Keys and names
 * are copied; tensor data is NOT copied and must stay valid until written. */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void         gguf_writer_free(gguf_writer *w);
pl_code      gguf_writer_set_version(gguf_writer *w, uint32_t version);   /* 2 or 3 */
/* Scalar of type t read from val (strings: val is a NUL-terminated char *). */
pl_code gguf_writer_add_kv(gguf_writer *w, const char *key, gguf_vtype t, const void *val);
pl_code gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v);
pl_code gguf_writer_add_i32(gguf_writer *w, const char *key, int32_t v);
pl_code gguf_writer_add_u64(gguf_writer *w, const char *key, uint64_t v);
pl_code gguf_writer_add_f32(gguf_writer *w, const char *key, float v);
pl_code gguf_writer_add_bool(gguf_writer *w, const char *key, bool v);
pl_code gguf_writer_add_str(gguf_writer *w, const char *key, const char *v);
/* String with an explicit length (may contain NUL bytes). */
pl_code gguf_writer_add_strn(gguf_writer *w, const char *key, const char *v, uint64_t len);
/* Array of n scalars of type elem (not GGUF_STRING/GGUF_ARRAY), copied. */
pl_code gguf_writer_add_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n);
/* Array of n NUL-terminated strings, copied. */
pl_code gguf_writer_add_str_arr(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Tensor: ne[0] is the row length; data holds gguf_tensor_check()'s nbytes. */
pl_code gguf_writer_add_tensor(gguf_writer *w, const char *name, pl_type type, uint32_t n_dims,
                               const uint64_t *ne, const void *data);
/* Serialize into a malloc'd buffer (caller frees). */
pl_code gguf_writer_write_mem(gguf_writer *w, void **out, size_t *size, pl_status *st);
/* Write path atomically: a temp file in the same folder, fsync, rename, fsync folder. */
pl_code gguf_writer_write_file(gguf_writer *w, const char *path, pl_status *st);

#endif
