/* catalog_resolve.c — `-m NAME`: a model by the name users know.
 *
 * A path that exists, or is written as one (/..., ./..., ../...), is taken as
 * it is. Anything else is looked up in the
 * catalog by the names `parley models` prints: the file name ("SmolLM2-135M-
 * Instruct.Q4_1.gguf", with or without ".gguf"), "org/repo/file.gguf" for the
 * Hugging Face cache, or Ollama's "model:tag" (a bare "model" meaning
 * "model:latest", as in ollama run). A name must pick exactly one model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "engine.h"

/* True if the catalog's display name is what the user typed. */
static bool name_matches(const char *display, const char *name)
{
    if (strcasecmp(display, name) == 0) return true;
    size_t d = strlen(display), n = strlen(name);
    if (d == n + 5 && strncasecmp(display, name, n) == 0 && strcasecmp(display + n, ".gguf") == 0) return true;
    return !strchr(name, ':') && d == n + 7 && strncasecmp(display, name, n) == 0 &&
           strcmp(display + n, ":latest") == 0;
}

/* The error for a name that picks several models: each with its source. */
static void say_ambiguous(const char *name, const pl_model_entry *v, const int *hit, int n_hit, pl_status *st)
{
    char list[384] = "";
    size_t len = 0;
    for (int i = 0; i < n_hit && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%s)", i ? ", " : "",
                                v[hit[i]].path, v[hit[i]].source);
    pl_status_set(st, PL_ERR_ARG, "'%s' names %d models: %s; give the path", name, n_hit, list);
}

char *pl_catalog_resolve(const char *model, const char *models_dir, const char *extra_paths, pl_status *st)
{
    struct stat sb;
    if (!model || !*model) {
        pl_status_set(st, PL_ERR_ARG, "no model given");
        return NULL;
    }
    /* An existing file, or something written as a path: the loader's to judge. */
    if (stat(model, &sb) == 0 || model[0] == '/' || strncmp(model, "./", 2) == 0 || strncmp(model, "../", 3) == 0) {
        pl_status_ok(st);
        return strdup(model);
    }
    pl_model_entry *v = NULL;
    int n = pl_catalog_scan(models_dir, extra_paths, &v, st);
    if (n < 0) return NULL;
    int hit[8], n_hit = 0;
    for (int i = 0; i < n; i++)
        if (name_matches(v[i].display, model) && n_hit < (int)(sizeof hit / sizeof hit[0])) hit[n_hit++] = i;
    char *path = NULL;
    if (n_hit == 0)
        pl_status_set(st, PL_ERR_IO, "%s: no such file, and no model of that name "
                      "(`parley models` lists the names)", model);
    else if (n_hit > 1)
        say_ambiguous(model, v, hit, n_hit, st);
    else if (!v[hit[0]].supported)
        pl_status_set(st, PL_ERR_UNSUPPORTED, "%s (%s): %s", model, v[hit[0]].path, v[hit[0]].reason);
    else if (!(path = strdup(v[hit[0]].path)))
        pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    else
        pl_status_ok(st);
    pl_catalog_free(v);
    return path;
}
