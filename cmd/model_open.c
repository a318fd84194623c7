/* model_open.c — the model a subcommand runs: -m as a path or as a name
 * `parley models` lists (pl_catalog_resolve: "smollm2:135m", a file name),
 * else the default model `make model` fetches; loaded with the config's
 * model settings. One place, so run and bench cannot drift apart. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

struct pl_model *cmd_model_open(const struct pl_config *cfg, char **path_out, struct pl_status *st)
{
    *path_out = NULL;
    char *path = config_model_path(cfg);
    if (!path) return pl_status_set(st, PL_ERR_NOMEM, "out of memory"), NULL;
    bool named = cfg->model && cfg->model[0];
    if (!named && access(path, R_OK) != 0) {
        pl_status_set(st, PL_ERR_IO, "the default model is not at %s; run `make model` or give one with -m FILE", path);
        free(path);
        return NULL;
    }
    if (named) {
        char *file = pl_catalog_resolve(path, cfg->models_dir, cfg->model_paths, st);
        free(path);
        if (!(path = file)) return NULL;
    }
    pl_model_params mp;
    config_to_model_params(cfg, &mp);
    pl_model *m = pl_model_load(path, &mp, st);
    if (m) *path_out = path;
    else free(path);
    return m;
}
