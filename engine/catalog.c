/* catalog.c — the model catalog: which GGUF files on this machine parley can
 * run, told from their headers alone.
 *
 * catalog_sources.c walks each tool's layout and hands candidate files here.
 * For each one we map it with the GGUF reader (lazy: only the header pages
 * are touched), read general.architecture / general.name / general.file_type /
 * <arch>.context_length, sum the tensors' element counts, and decide whether
 * the engine can run it: a known architecture (the arch table in arch.c), only
 * weight types the backends compute, one file (split GGUFs not yet). Nothing
 * is ever loaded or copied; a corrupt file becomes an entry with the reader's
 * message as its reason, so one bad download never hides the others.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../backends/backend.h"
#include "catalog_impl.h"
#include "gguf.h"

/* ---- small tables -------------------------------------------------------- */

/* llama.cpp's llama_ftype ids (general.file_type) and their names. */
static const char *const ftype_names[] = {
    [0] = "F32",     [1] = "F16",     [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
    [8] = "Q5_0",    [9] = "Q5_1",    [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
    [13] = "Q3_K_L", [14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
    [18] = "Q6_K",   [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
    [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S",  [27] = "IQ3_M",
    [28] = "IQ2_S",  [29] = "IQ2_M",  [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
    [36] = "TQ1_0",  [37] = "TQ2_0",  [38] = "MXFP4_MOE",
};
#define FTYPE_GUESSED 1024u   /* llama.cpp ors this in when it guessed the type */

const char *pl_ftype_name(uint32_t ftype)
{
    ftype &= ~FTYPE_GUESSED;
    return ftype < sizeof ftype_names / sizeof ftype_names[0] ? ftype_names[ftype] : NULL;
}

/* ---- formatting ----------------------------------------------------------- */

const char *pl_catalog_fmt_params(uint64_t n, char *buf, size_t len)
{
    static const struct { double div; const char *suffix; } units[] = {
        { 1e12, "T" }, { 1e9, "B" }, { 1e6, "M" }, { 1e3, "K" },
    };
    if (n == 0) { snprintf(buf, len, "?"); return buf; }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double v = (double)n / units[i].div;
        if (v < 1.0) continue;
        /* 1.1B, 7.2B, 135M, 70B: one decimal below 10 */
        snprintf(buf, len, v < 9.95 ? "%.1f%s" : "%.0f%s", v, units[i].suffix);
        return buf;
    }
    snprintf(buf, len, "%llu", (unsigned long long)n);
    return buf;
}

const char *pl_catalog_fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) { v /= 1024.0; u++; }
    if (u == 0) snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else snprintf(buf, len, v < 10.0 ? "%.2f %s" : v < 100.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

uint64_t pl_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

/* ---- one file ------------------------------------------------------------ */

/* Copy src into dst of len bytes, truncating; always NUL-terminated. */
static void cat_copy(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The reader's message without its leading "<path>: " (the table shows the path). */
static void cat_reason_from(pl_model_entry *e, const char *path, const char *msg)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':') msg += n + 1 + (msg[n + 1] == ' ');
    cat_copy(e->reason, sizeof e->reason, msg);
}

/* "Q4_1" from general.file_type, else the type holding the most weight bytes. */
static void cat_quant(const gguf_file *f, pl_model_entry *e)
{
    uint32_t ft;
    const char *name = gguf_get_u32(f, "general.file_type", &ft) ? pl_ftype_name(ft) : NULL;
    if (!name) {
        uint64_t bytes[PL_TYPE_COUNT] = { 0 };
        int best = -1;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            if ((unsigned)t->type >= PL_TYPE_COUNT || t->n_dims < 2) continue;
            bytes[t->type] += t->nbytes;
            if (best < 0 || bytes[t->type] > bytes[best]) best = (int)t->type;
        }
        name = best >= 0 ? gguf_type_name((pl_type)best) : NULL;
    }
    size_t i = 0;
    for (; name && name[i] && i + 1 < sizeof e->quant; i++)
        e->quant[i] = (char)toupper((unsigned char)name[i]);
    e->quant[i] = 0;
}

/* Parameter count; first weight type the engine cannot compute goes into *bad. */
static uint64_t cat_params(const gguf_file *f, const gguf_tensor **bad)
{
    uint64_t total = 0;
    *bad = NULL;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];   /* reader checked overflow */
        total += n;
        const pl_type_traits *tr = pl_type_traits_get(t->type);
        if (!*bad && (!tr || !tr->vec_dot_ref)) *bad = t;   /* no kernel: activation-only type */
    }
    return total;
}

/* f16 K+V bytes for min(n_ctx_train, 4096) positions (what a default context allocates). */
static uint64_t cat_kv_bytes(const gguf_file *f, const char *arch, uint32_t n_ctx_train)
{
    char key[96];
    uint32_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
#define CAT_U32(suffix, var) (snprintf(key, sizeof key, "%s.%s", arch, suffix), gguf_get_u32(f, key, &var))
    if (!CAT_U32("block_count", n_layer) || !CAT_U32("embedding_length", n_embd) ||
        !CAT_U32("attention.head_count", n_head) || n_head == 0)
        return 0;
    n_head_kv = n_head;
    CAT_U32("attention.head_count_kv", n_head_kv);
    head_dim = n_embd / n_head;
    CAT_U32("attention.key_length", head_dim);
#undef CAT_U32
    uint64_t n_ctx = n_ctx_train && n_ctx_train < 4096 ? n_ctx_train : 4096;
    return 2ull * 2ull * n_layer * n_ctx * (uint64_t)n_head_kv * head_dim;
}

/* "name-00001-of-00003.gguf": part index and count, or false. */
static bool cat_split_part(const char *path, int *part, int *count)
{
    size_t n = strlen(path);
    const char *tail = n >= 20 ? path + n - 20 : NULL;   /* "-00001-of-00003.gguf" */
    char dot[8];
    return tail && sscanf(tail, "-%5d-of-%5d%7s", part, count, dot) == 3 &&
           strcasecmp(dot, ".gguf") == 0 && *part >= 1 && *count >= 1;
}

/* Sizes and parameters of parts 2..count of a split GGUF whose first part is path. */
static void cat_split_totals(const char *path, int count, pl_model_entry *e)
{
    char part[sizeof e->path];
    size_t n = strlen(path);
    for (int i = 2; i <= count && n < sizeof part; i++) {
        memcpy(part, path, n + 1);
        char num[16];
        snprintf(num, sizeof num, "%05d", i % 100000);
        memcpy(part + n - 19, num, 5);   /* the part number in "-00001-of-" */
        struct stat sb;
        if (stat(part, &sb) != 0) continue;
        e->file_size += (uint64_t)sb.st_size;
        gguf_file *f = gguf_open(part, NULL);
        const gguf_tensor *bad;
        if (f) e->n_params += cat_params(f, &bad);
        gguf_close(f);
    }
}

/* Why an opened file cannot run ("" when it can); split: its part count (0 if none). */
static void cat_judge(const gguf_file *f, pl_model_entry *e, const gguf_tensor *bad, uint32_t split)
{
    if (!e->arch[0])
        snprintf(e->reason, sizeof e->reason, "no general.architecture key");
    else if (!pl_arch_supported(e->arch))
        snprintf(e->reason, sizeof e->reason, "architecture '%s' is not supported", e->arch);
    else if (bad)
        snprintf(e->reason, sizeof e->reason, "weight type %s (tensor %.*s) is not supported",
                 gguf_type_name(bad->type) ? gguf_type_name(bad->type) : "?",
                 (int)(bad->name.len > 60 ? 60 : bad->name.len), bad->name.ptr);
    else if (split > 1)
        snprintf(e->reason, sizeof e->reason, "split GGUF (%u parts) is not supported yet", split);
    e->supported = e->reason[0] == 0;
}

int pl_catalog_inspect(const char *path, pl_model_entry *e)
{
    memset(e, 0, sizeof *e);
    cat_copy(e->path, sizeof e->path, path);
    const char *slash = strrchr(path, '/');
    cat_copy(e->display, sizeof e->display, slash ? slash + 1 : path);
    cat_copy(e->source, sizeof e->source, "path");
    struct stat sb;
    if (stat(path, &sb) == 0) e->file_size = (uint64_t)sb.st_size;
    pl_status st;
    gguf_file *f = gguf_open(path, &st);
    if (!f) {
        cat_reason_from(e, path, st.msg);
        return 0;
    }
    gguf_get_cstr(f, "general.architecture", e->arch, sizeof e->arch);
    gguf_get_cstr(f, "general.name", e->name, sizeof e->name);
    char key[64];
    snprintf(key, sizeof key, "%s.context_length", e->arch);
    gguf_get_u32(f, key, &e->n_ctx_train);
    cat_quant(f, e);
    const gguf_tensor *bad;
    e->n_params = cat_params(f, &bad);
    uint32_t split = 0;
    gguf_get_u32(f, "split.count", &split);
    int part, count;
    if (split > 1 && cat_split_part(path, &part, &count) && part == 1)
        cat_split_totals(path, count, e);
    cat_judge(f, e, bad, split);
    e->mem_need = e->file_size + cat_kv_bytes(f, e->arch, e->n_ctx_train);
    e->fits_ram = true;
    gguf_close(f);
    return 0;
}

/* ---- the list -------------------------------------------------------------- */

/* Remember a file identity; false if it was seen before (or memory ran out). */
static bool cat_first_sight(cat_list *l, const struct stat *sb)
{
    for (size_t i = 0; i < l->n_seen; i++)
        if (l->seen[i].dev == sb->st_dev && l->seen[i].ino == sb->st_ino) return false;
    if (l->n_seen == l->cap_seen) {
        size_t cap = l->cap_seen ? l->cap_seen * 2 : 32;
        cat_seen *v = realloc(l->seen, cap * sizeof *v);
        if (!v) { l->nomem = true; return false; }
        l->seen = v;
        l->cap_seen = cap;
    }
    l->seen[l->n_seen++] = (cat_seen){ sb->st_dev, sb->st_ino };
    return true;
}

/* A zeroed slot at the end of the list, or NULL when memory ran out. */
static pl_model_entry *cat_push(cat_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pl_model_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) { l->nomem = true; return NULL; }
        l->v = v;
        l->cap = cap;
    }
    pl_model_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Display name and source on an entry (after inspect has set its defaults). */
static void cat_label(pl_model_entry *e, const char *display, const char *source)
{
    cat_copy(e->display, sizeof e->display, display);
    cat_copy(e->source, sizeof e->source, source);
}

void cat_add(cat_list *l, const char *path, const char *display, const char *source)
{
    struct stat sb;
    int part, count;
    if (stat(path, &sb) != 0 || !cat_first_sight(l, &sb)) return;
    if (cat_split_part(path, &part, &count) && part > 1) return;  /* listed with part 1 */
    pl_model_entry *e = cat_push(l);
    if (!e) return;
    pl_catalog_inspect(path, e);
    cat_label(e, display, source);
    if (l->mem_avail) e->fits_ram = e->mem_need < l->mem_avail;
}

void cat_add_broken(cat_list *l, const char *path, const char *display, const char *source,
                    const char *reason)
{
    pl_model_entry *e = cat_push(l);
    if (!e) return;
    cat_copy(e->path, sizeof e->path, path);
    cat_label(e, display, source);
    cat_copy(e->reason, sizeof e->reason, reason);
}

/* Source order first, then display name (case-insensitive), then path. */
static int cat_entry_cmp(const void *a, const void *b)
{
    const pl_model_entry *x = a, *y = b;
    int rx = cat_source_rank(x->source), ry = cat_source_rank(y->source);
    if (rx != ry) return rx < ry ? -1 : 1;
    int c = strcasecmp(x->display, y->display);
    return c ? c : strcmp(x->path, y->path);
}

int pl_catalog_scan(const char *models_dir, const char *extra_paths,
                    pl_model_entry **out, pl_status *st)
{
    pl_catalog_root roots[PL_CATALOG_MAX_ROOTS];
    int n_roots = pl_catalog_roots(models_dir, extra_paths, roots, PL_CATALOG_MAX_ROOTS);
    cat_list l = { .mem_avail = pl_mem_available() };
    for (int i = 0; i < n_roots; i++) cat_walk_root(&l, &roots[i]);
    free(l.seen);
    *out = NULL;
    if (l.nomem) {
        free(l.v);
        pl_status_set(st, PL_ERR_NOMEM, "model catalog: out of memory after %zu entries", l.n);
        return -1;
    }
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cat_entry_cmp);
    *out = l.v;
    pl_status_ok(st);
    return (int)l.n;
}

void pl_catalog_free(pl_model_entry *entries)
{
    free(entries);
}
