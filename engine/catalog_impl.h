/* catalog_impl.h — what catalog.c (inspection, dedup, order) and
 * catalog_sources.c (where each tool keeps its GGUFs) share. Engine-internal.
 *
 * The sources walk directories and hand candidate files to cat_add; cat_add
 * deduplicates by (st_dev, st_ino), skips the 2nd..nth part of a split GGUF
 * and reads the header of the rest. Nothing here loads a model.
 */
#ifndef PL_CATALOG_IMPL_H
#define PL_CATALOG_IMPL_H

#include <sys/types.h>

#include "engine.h"

typedef struct cat_seen { dev_t dev; ino_t ino; } cat_seen;

/* The growing result of one scan. */
typedef struct cat_list {
    pl_model_entry *v;
    size_t          n, cap;
    cat_seen       *seen;
    size_t          n_seen, cap_seen;
    uint64_t        mem_avail;   /* MemAvailable at scan start, 0 = unknown */
    bool            nomem;       /* an allocation failed: the scan reports it */
} cat_list;

/* Candidate GGUF at path, shown as display under source (a static string). */
void cat_add(cat_list *l, const char *path, const char *display, const char *source);
/* An entry that cannot even be opened (Ollama manifest without its blob, ...). */
void cat_add_broken(cat_list *l, const char *path, const char *display, const char *source,
                    const char *reason);

/* Walk one root the way its source lays files out (catalog_sources.c). */
void cat_walk_root(cat_list *l, const pl_catalog_root *root);

/* Rank of a source name in the listing order (parley first); unknown last. */
int cat_source_rank(const char *source);

#endif
