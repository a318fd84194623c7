/* paths.c — where parley's files live, following XDG with PARLEY_* overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define DEFAULT_MODEL_FILE "SmolLM2-135M-Instruct.Q4_1.gguf"

/* $var if set, else $XDG_xxx/rest, else $HOME/fallback/rest. Caller frees. */
static char *xdg_path(const char *override, const char *xdg, const char *fallback, const char *rest)
{
    const char *v = override ? getenv(override) : NULL;
    if (v && *v) return strdup(v);
    char *out = NULL;
    const char *base = getenv(xdg), *home = getenv("HOME");
    if (base && *base) {
        if (asprintf(&out, "%s/%s", base, rest) < 0) out = NULL;
    } else {
        if (asprintf(&out, "%s/%s/%s", home && *home ? home : ".", fallback, rest) < 0) out = NULL;
    }
    return out;
}

char *config_file_path(void) { return xdg_path("PARLEY_CONFIG", "XDG_CONFIG_HOME", ".config", "parley/config.ini"); }

/* The user named the config file: reading it must work (the default one is optional). */
bool config_file_given(void)
{
    const char *v = getenv("PARLEY_CONFIG");
    return v && *v;
}
char *config_default_models_dir(void) { return xdg_path("PARLEY_MODELS", "XDG_DATA_HOME", ".local/share", "parley/models"); }
char *config_default_data_dir(void) { return xdg_path("PARLEY_DATA", "XDG_DATA_HOME", ".local/share", "parley"); }

/* The model `make model` installs. */
char *config_default_model_path(void)
{
    char *dir = config_default_models_dir(), *out = NULL;
    if (dir && asprintf(&out, "%s/%s", dir, DEFAULT_MODEL_FILE) < 0) out = NULL;
    free(dir);
    return out;
}

/* The model the user asked for, or the default one. */
char *config_model_path(const pl_config *c)
{
    if (c->model && *c->model) return strdup(c->model);
    if (c->models_dir && *c->models_dir) {
        char *out = NULL;
        if (asprintf(&out, "%s/%s", c->models_dir, DEFAULT_MODEL_FILE) < 0) out = NULL;
        return out;
    }
    return config_default_model_path();
}

/* '\n'-separated stop strings as a NULL-terminated array in one allocation. */
char **config_stop_list(const pl_config *c, int *n)
{
    const char *s = c->stop ? c->stop : "";
    int count = *s ? 1 : 0;
    for (const char *p = s; *p; p++) count += *p == '\n';
    size_t len = strlen(s);
    char **arr = malloc((size_t)(count + 1) * sizeof *arr + len + 1);
    if (!arr) { if (n) *n = 0; return NULL; }
    char *text = (char *)(arr + count + 1);
    memcpy(text, s, len + 1);
    int i = 0;
    for (char *tok = count ? text : NULL; tok && i < count; i++) {
        arr[i] = tok;
        char *nl = strchr(tok, '\n');
        if (nl) *nl = 0;
        tok = nl ? nl + 1 : NULL;
    }
    arr[count] = NULL;
    if (n) *n = count;
    return arr;
}
