/* catalog_sources.c — where other tools keep their GGUF files, and how to
 * walk each layout. Files are read in place, never copied.
 *
 *   parley / path  <dir>/NAME.gguf, up to two sub-folder levels deep (or a file)
 *   ollama         <root>/manifests/<host>/<namespace>/<model>/<tag> is JSON; the
 *                  layer with mediaType application/vnd.ollama.image.model names
 *                  blobs/sha256-<hex>, a GGUF. Shown "model:tag" ("library"
 *                  namespace of registry.ollama.ai omitted, like `ollama list`).
 *   hf             <hub>/models--<org>--<name>/snapshots/<rev>/[sub/]NAME.gguf (symlinks
 *                  into ../../blobs), shown "org/name/file.gguf"
 *   llama.cpp      <cache>/NAME.gguf (flat, "org_repo_file.gguf") and, since
 *                  llama.cpp moved to the HF layout, models--* folders as in hf
 *   lmstudio       <models>/<publisher>/<repo>/NAME.gguf
 *
 * Root directories follow each tool's own environment variables so that the
 * catalog finds what the tool itself would. Directory entries are sorted so a
 * scan is deterministic; hidden entries are skipped.
 */
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog_impl.h"

#define CAT_PATH 1024

/* ---- root directories -------------------------------------------------- */

/* Non-empty environment variable or NULL. */
static const char *cat_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Append a root (skipping an exact duplicate of an earlier one). */
static void cat_root_push(pl_catalog_root *out, int max, int *n, const char *source,
                          const char *dir)
{
    if (!dir || !*dir || *n >= max) return;
    for (int i = 0; i < *n; i++)
        if (strcmp(out[i].dir, dir) == 0 && strcmp(out[i].source, source) == 0) return;
    pl_catalog_root *r = &out[(*n)++];
    snprintf(r->source, sizeof r->source, "%s", source);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    struct stat sb;
    r->exists = stat(dir, &sb) == 0 && (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode));
}

/* Push base + "/" + rest when base is set (e.g. $HF_HOME/hub). */
static void cat_root_join(pl_catalog_root *out, int max, int *n, const char *source,
                          const char *base, const char *rest)
{
    if (!base) return;
    char dir[CAT_PATH];
    if (snprintf(dir, sizeof dir, "%s/%s", base, rest) < (int)sizeof dir)
        cat_root_push(out, max, n, source, dir);
}

/* Each ':'-separated entry of paths as a "path" root; "~/" means $HOME. */
static void cat_roots_extra(pl_catalog_root *out, int max, int *n, const char *paths)
{
    const char *home = cat_env("HOME");
    for (const char *p = paths ? paths : ""; *p;) {
        size_t len = strcspn(p, ":");
        char dir[CAT_PATH];
        if (len > 0 && len < sizeof dir) {
            if (p[0] == '~' && (len == 1 || p[1] == '/') && home)
                snprintf(dir, sizeof dir, "%s%.*s", home, (int)len - 1, p + 1);
            else
                snprintf(dir, sizeof dir, "%.*s", (int)len, p);
            cat_root_push(out, max, n, "path", dir);
        }
        p += len + (p[len] == ':');
    }
}

/* Where Ollama, Hugging Face, llama.cpp and LM Studio keep models. */
static void cat_roots_tools(pl_catalog_root *out, int max, int *n)
{
    const char *home = cat_env("HOME"), *xdg_cache = cat_env("XDG_CACHE_HOME");
    if (cat_env("OLLAMA_MODELS")) cat_root_push(out, max, n, "ollama", cat_env("OLLAMA_MODELS"));
    else cat_root_join(out, max, n, "ollama", home, ".ollama/models");
    cat_root_push(out, max, n, "ollama", "/usr/share/ollama/.ollama/models");  /* Linux service */

    if (cat_env("HF_HUB_CACHE")) cat_root_push(out, max, n, "hf", cat_env("HF_HUB_CACHE"));
    else if (cat_env("HF_HOME")) cat_root_join(out, max, n, "hf", cat_env("HF_HOME"), "hub");
    else if (xdg_cache) cat_root_join(out, max, n, "hf", xdg_cache, "huggingface/hub");
    else cat_root_join(out, max, n, "hf", home, ".cache/huggingface/hub");

    if (cat_env("LLAMA_CACHE")) cat_root_push(out, max, n, "llama.cpp", cat_env("LLAMA_CACHE"));
    else if (xdg_cache) cat_root_join(out, max, n, "llama.cpp", xdg_cache, "llama.cpp");
    else cat_root_join(out, max, n, "llama.cpp", home, ".cache/llama.cpp");

    cat_root_join(out, max, n, "lmstudio", home, ".lmstudio/models");
    cat_root_join(out, max, n, "lmstudio", home, ".cache/lm-studio/models");  /* before 0.3 */
}

/* The directories a scan visits, in listing order. */
int pl_catalog_roots(const char *models_dir, const char *extra_paths,
                     pl_catalog_root *out, int max)
{
    int n = 0;
    if (!out || max <= 0) return 0;
    if (models_dir && *models_dir) cat_root_push(out, max, &n, "parley", models_dir);
    cat_roots_extra(out, max, &n, extra_paths);
    cat_roots_tools(out, max, &n);
    return n;
}

/* ---- directory walking --------------------------------------------------- */

static int cat_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir's non-hidden entries (NULL-terminated, free with cat_names_free). */
static char **cat_names(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    for (struct dirent *de; v && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        if (n + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name))) break;
        n++;
    }
    closedir(d);
    if (!v) return NULL;
    v[n] = NULL;
    qsort(v, n, sizeof *v, cat_name_cmp);
    return v;
}

static void cat_names_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

/* True if name ends in ".gguf" (any case). */
static bool cat_is_gguf_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcasecmp(name + n - 5, ".gguf") == 0;
}

/* One entry of a plain walk: a sub-folder to descend or a .gguf to add. */
static void cat_walk_entry(cat_list *l, const char *source, const char *dir, const char *name,
                           const char *prefix, int depth_left);

/* *.gguf under dir, descending depth_left more folder levels; display = prefix + relative path.
 * Real files go before symlinks, so a link to a listed file is the duplicate, not the file. */
static void cat_walk_gguf(cat_list *l, const char *source, const char *dir, const char *prefix,
                          int depth_left)
{
    char **names = cat_names(dir);
    for (int links = 0; links < 2; links++) {
        for (size_t i = 0; names && names[i]; i++) {
            char path[CAT_PATH];
            struct stat lsb;
            if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
                lstat(path, &lsb) != 0 || S_ISLNK(lsb.st_mode) != (links == 1))
                continue;
            cat_walk_entry(l, source, dir, names[i], prefix, depth_left);
        }
    }
    cat_names_free(names);
}

static void cat_walk_entry(cat_list *l, const char *source, const char *dir, const char *name,
                           const char *prefix, int depth_left)
{
    char path[CAT_PATH], disp[CAT_PATH];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(disp, sizeof disp, "%s%s", prefix, name);
    if (stat(path, &sb) != 0) return;   /* dangling symlink, raced away */
    if (S_ISDIR(sb.st_mode) && depth_left > 0) {
        strncat(disp, "/", sizeof disp - strlen(disp) - 1);
        cat_walk_gguf(l, source, path, disp, depth_left - 1);
    } else if (S_ISREG(sb.st_mode) && cat_is_gguf_name(name)) {
        cat_add(l, path, disp, source);
    }
}

/* ---- Hugging Face hub layout --------------------------------------------- */

/* "models--org--name" -> "org/name/"; false for datasets--, spaces--, others. */
static bool cat_hf_repo(const char *folder, char *out, size_t len)
{
    const char *pre = "models--";
    if (strncmp(folder, pre, strlen(pre)) != 0 || !folder[strlen(pre)]) return false;
    size_t o = 0;
    for (const char *p = folder + strlen(pre); *p && o + 2 < len; p++) {
        if (p[0] == '-' && p[1] == '-') { out[o++] = '/'; p++; }
        else out[o++] = *p;
    }
    out[o++] = '/';
    out[o] = 0;
    return true;
}

/* Every models--ORG--NAME/snapshots/REV/ folder under hub. */
static void cat_walk_hf(cat_list *l, const char *source, const char *hub)
{
    char **repos = cat_names(hub);
    for (size_t i = 0; repos && repos[i]; i++) {
        char repo[512], snaps[CAT_PATH];
        if (!cat_hf_repo(repos[i], repo, sizeof repo)) continue;
        if (snprintf(snaps, sizeof snaps, "%s/%s/snapshots", hub, repos[i]) >= (int)sizeof snaps)
            continue;
        char **revs = cat_names(snaps);
        for (size_t j = 0; revs && revs[j]; j++) {
            char rev[CAT_PATH];
            if (snprintf(rev, sizeof rev, "%s/%s", snaps, revs[j]) < (int)sizeof rev)
                cat_walk_gguf(l, source, rev, repo, 2);
        }
        cat_names_free(revs);
    }
    cat_names_free(repos);
}

/* ---- Ollama's store -------------------------------------------------------- */

/* Ollama's short name: "model:tag", "ns/model:tag" or "host/ns/model:tag". */
static void cat_ollama_display(char *out, size_t len, const char *host, const char *ns,
                               const char *model, const char *tag)
{
    if (strcmp(host, "registry.ollama.ai") != 0)
        snprintf(out, len, "%s/%s/%s:%s", host, ns, model, tag);
    else if (strcmp(ns, "library") != 0)
        snprintf(out, len, "%s/%s:%s", ns, model, tag);
    else
        snprintf(out, len, "%s:%s", model, tag);
}

/* The model layer's digest hex from a manifest; reason filled when there is none. */
static bool cat_ollama_digest(const char *manifest, char *hex, size_t len, char *why, size_t wlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(manifest, 0, &jerr);
    if (!root) {
        snprintf(why, wlen, "manifest is not valid JSON (line %d: %.60s)", jerr.line, jerr.text);
        return false;
    }
    bool ok = false;
    json_t *layers = json_object_get(root, "layers"), *layer;
    size_t i;
    snprintf(why, wlen, "manifest has no model layer");
    json_array_foreach(layers, i, layer) {
        const char *mt = json_string_value(json_object_get(layer, "mediaType"));
        const char *dg = json_string_value(json_object_get(layer, "digest"));
        if (!mt || strcmp(mt, "application/vnd.ollama.image.model") != 0) continue;
        size_t n = dg && strncmp(dg, "sha256:", 7) == 0 ? strlen(dg + 7) : 0;
        ok = n > 0 && n < len && strspn(dg + 7, "0123456789abcdef") == n;
        if (ok) memcpy(hex, dg + 7, n + 1);
        else snprintf(why, wlen, "manifest's model digest is malformed");
        break;
    }
    json_decref(root);
    return ok;
}

/* One manifest file -> its blob as a catalog entry. */
static void cat_ollama_manifest(cat_list *l, const char *root, const char *manifest,
                                const char *display)
{
    char hex[128], why[128], blob[CAT_PATH];
    if (!cat_ollama_digest(manifest, hex, sizeof hex, why, sizeof why)) {
        cat_add_broken(l, manifest, display, "ollama", why);
        return;
    }
    snprintf(blob, sizeof blob, "%s/blobs/sha256-%s", root, hex);
    struct stat sb;
    if (stat(blob, &sb) != 0) {
        snprintf(why, sizeof why, "blob sha256-%.12s... is missing", hex);
        cat_add_broken(l, manifest, display, "ollama", why);
        return;
    }
    cat_add(l, blob, display, "ollama");
}

/* a + "/" + b into out; false if it does not fit. */
static bool cat_join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s/%s", a, b);
    return n >= 0 && (size_t)n < len;
}

/* manifests/<host>/<ns>/<model>/<tag>: part[0..level) named so far, dir is their folder. */
static void cat_walk_manifests(cat_list *l, const char *root, const char *dir,
                               const char *part[4], int level)
{
    char **names = cat_names(dir);
    for (size_t i = 0; names && names[i]; i++) {
        char path[CAT_PATH], disp[256];
        struct stat sb;
        if (!cat_join(path, sizeof path, dir, names[i]) || stat(path, &sb) != 0) continue;
        part[level] = names[i];
        if (level < 3 && S_ISDIR(sb.st_mode)) {
            cat_walk_manifests(l, root, path, part, level + 1);
        } else if (level == 3 && S_ISREG(sb.st_mode)) {
            cat_ollama_display(disp, sizeof disp, part[0], part[1], part[2], part[3]);
            cat_ollama_manifest(l, root, path, disp);
        }
    }
    cat_names_free(names);
}

static void cat_walk_ollama(cat_list *l, const char *root)
{
    char dir[CAT_PATH];
    const char *part[4] = { 0 };
    if (cat_join(dir, sizeof dir, root, "manifests")) cat_walk_manifests(l, root, dir, part, 0);
}

/* ---- dispatch ----------------------------------------------------------- */

typedef struct cat_source {
    const char *name;
    void (*walk)(cat_list *l, const char *source, const char *dir);
} cat_source;

static void walk_plain(cat_list *l, const char *source, const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode)) {   /* model_paths may name a file */
        const char *slash = strrchr(dir, '/');
        cat_add(l, dir, slash ? slash + 1 : dir, source);
        return;
    }
    cat_walk_gguf(l, source, dir, "", 2);
}
static void walk_ollama(cat_list *l, const char *source, const char *dir)
{
    cat_walk_ollama(l, dir);
}
static void walk_llamacpp(cat_list *l, const char *source, const char *dir)
{
    cat_walk_gguf(l, source, dir, "", 0);
    cat_walk_hf(l, source, dir);
}

/* Listing order and walker of every source. */
static const cat_source cat_sources[] = {
    { "parley", walk_plain },   { "path", walk_plain },         { "ollama", walk_ollama },
    { "hf", cat_walk_hf },      { "llama.cpp", walk_llamacpp }, { "lmstudio", walk_plain },
};
#define N_SOURCES (int)(sizeof cat_sources / sizeof cat_sources[0])

int cat_source_rank(const char *source)
{
    for (int i = 0; i < N_SOURCES; i++)
        if (strcmp(cat_sources[i].name, source) == 0) return i;
    return N_SOURCES;
}

void cat_walk_root(cat_list *l, const pl_catalog_root *root)
{
    int r = cat_source_rank(root->source);
    if (root->exists && r < N_SOURCES) cat_sources[r].walk(l, cat_sources[r].name, root->dir);
}
