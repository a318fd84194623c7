/* catalog.h — the GGUF models on this machine, found and described without loading them.
 */
#ifndef PL_ENGINE_CATALOG_H
#define PL_ENGINE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model catalog (engine/catalog.c, engine/catalog_sources.c) -------
 * The GGUF models on this machine, read in place from parley's models dir,
 * extra paths, Ollama's store, the Hugging Face hub cache, llama.cpp's cache
 * and LM Studio. Only headers are read (no model is loaded), so a scan of a
 * few dozen models takes milliseconds. Used by `parley models` and the TUI's
 * model picker (which greys out entries with supported == false). */

typedef struct pl_model_entry {
    char     path[1024];    /* the file to pl_model_load (first part of a split GGUF) */
    char     display[256];  /* relative file name, "org/repo/file.gguf" or Ollama "name:tag" */
    char     source[16];    /* "parley","path","ollama","hf","llama.cpp","lmstudio" */
    char     name[128];     /* general.name, "" if absent */
    char     arch[32];      /* general.architecture, "" if unreadable */
    char     quant[16];     /* "Q4_1", "Q4_K_M", "F16", ... ("" if unknown) */
    uint64_t n_params;      /* sum over tensors of their element counts */
    uint64_t file_size;     /* bytes, all parts of a split GGUF */
    uint64_t mem_need;      /* file_size + f16 KV cache for min(n_ctx_train, 4096) positions */
    uint32_t n_ctx_train;   /* <arch>.context_length, 0 if absent */
    bool     supported;     /* parley can load and run it */
    char     reason[128];   /* why not, e.g. "architecture 'mamba' is not supported" */
    bool     fits_ram;      /* mem_need < MemAvailable (true if MemAvailable is unknown) */
} pl_model_entry;

/* A directory the catalog looks in (exists: it is there now). */
typedef struct pl_catalog_root {
    char source[16];
    char dir[1024];
    bool exists;
} pl_catalog_root;

#define PL_CATALOG_MAX_ROOTS 32

/* The directories a scan visits, in order. models_dir: parley's own models
 * directory, as the caller resolved it (config_load fills the default); NULL/""
 * = none. extra_paths ':'-separated
 * (a leading ~/ is the home directory). Returns the count (<= max). */
int  pl_catalog_roots(const char *models_dir, const char *extra_paths,
                      pl_catalog_root *out, int max);
/* Scan every root: *out gets a malloc'd array (free with pl_catalog_free),
 * deduplicated by file identity, sorted by source then display name.
 * Returns the count (0: nothing found), or -1 with st on failure (out of memory).
 * A corrupt file is an entry with supported == false and the reader's reason. */
int  pl_catalog_scan(const char *models_dir, const char *extra_paths,
                     pl_model_entry **out, pl_status *st);
void pl_catalog_free(pl_model_entry *entries);
/* One file's entry (metadata only), e.g. to tell why `-m FILE` cannot run.
 * Returns 0; e->supported == false with e->reason when it cannot be used. */
int  pl_catalog_inspect(const char *path, pl_model_entry *e);

/* The file behind `-m MODEL` (malloc'd): MODEL itself when it exists or is
 * written as a path (/, ./, ../), else
 * the one catalog entry named MODEL as `parley models` lists it (file name
 * with or without .gguf, Ollama's "model:tag" or "model"). NULL with st when
 * no model or several have that name, or the one found cannot run. */
char *pl_catalog_resolve(const char *model, const char *models_dir, const char *extra_paths,
                         pl_status *st);

/* True if the engine has a forward pass for general.architecture == arch (engine/arch.c). */
bool pl_arch_supported(const char *arch);
/* llama.cpp's name of a general.file_type id ("Q4_K_M"), NULL if unknown. */
const char *pl_ftype_name(uint32_t ftype);
/* "135M", "1.1B", "7.2B"; "?" for 0. Returns buf. */
const char *pl_catalog_fmt_params(uint64_t n, char *buf, size_t len);
/* "94.1 MiB", "4.07 GiB". Returns buf. */
const char *pl_catalog_fmt_size(uint64_t bytes, char *buf, size_t len);
/* MemAvailable from /proc/meminfo in bytes; 0 if unknown. */
uint64_t pl_mem_available(void);

#ifdef __cplusplus
}
#endif
#endif
