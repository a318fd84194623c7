/* load.c — where option values come from: flags, the INI file, PARLEY_* env.
 *
 * The INI parser is deliberately small: `key = value` lines, '#' or ';'
 * comments, optional [section] headers (for grouping only), values may be
 * quoted. Errors name the file and line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"


/* Strip leading and trailing white space in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* Read one INI file; a missing file is fine, a bad line is not. */
int config_load_file(pl_config *c, const char *path, unsigned scope, char *err, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], msg[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';' || *s == '[') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, len, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = 0;
            val++;
        }
        const pl_option *o = config_find(key);
        if (!o) {
            snprintf(err, len, "%s:%d: unknown key '%s' (see parley --help)", path, lineno, key);
            rc = -1;
        } else if (config_set(c, o, val, msg, sizeof msg) < 0) {
            snprintf(err, len, "%s:%d: %s", path, lineno, msg);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

/* PARLEY_* variables for the options that have one. */
int config_load_env(pl_config *c, unsigned scope, char *err, size_t len)
{
    char msg[256];
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (!v || !*v) continue;
        if (config_set(c, o, v, msg, sizeof msg) < 0) {
            snprintf(err, len, "%s: %s", o->env, msg);
            return -1;
        }
    }
    return 0;
}

/* The option for "--name", "--name=value" or "-x" in this scope; NULL if none. */
static const pl_option *flag_lookup(const char *arg, unsigned scope, const char **inline_val)
{
    *inline_val = NULL;
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        if (!(o->scope & scope)) continue;
        if (arg[1] != '-') {
            if (arg[1] == o->short_flag && arg[2] == 0) return o;
            continue;
        }
        size_t n = strlen(o->name);
        if (strncmp(arg + 2, o->name, n) != 0) continue;
        if (arg[2 + n] == 0) return o;
        if (arg[2 + n] == '=') { *inline_val = arg + 3 + n; return o; }
    }
    return NULL;
}

/* Flags: options anywhere, positionals kept in order; "--" ends options. */
int config_parse_args(pl_config *c, unsigned scope, int argc, char **argv, int *first_pos,
                      char *err, size_t len)
{
    int npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) { argv[1 + npos++] = a; continue; }
        if (strcmp(a, "--") == 0) { only_pos = true; continue; }
        const char *val;
        const pl_option *o = flag_lookup(a, scope, &val);
        if (!o) {
            snprintf(err, len, "unknown option '%s' (see --help)", a);
            return -1;
        }
        if (!val && o->kind == OPT_BOOL) val = "true";
        if (!val) {
            if (i + 1 >= argc) {
                snprintf(err, len, "--%s needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
                return -1;
            }
            val = argv[++i];
        }
        if (config_set_from_flag(c, o, val, err, len) < 0) return -1;
        c->from_cli |= 1ull << (o - pl_options);
    }
    for (int i = 1 + npos; i < argc; i++) argv[i] = NULL;
    if (first_pos) *first_pos = 1;
    return npos;
}

/* Defaults < file < env < flags. */
int config_load(pl_config *c, int argc, char **argv, int *first_pos, char *err, size_t len)
{
    unsigned scope = (unsigned)config_scope_of(argc > 0 ? argv[0] : NULL);
    char *path = config_file_path();
    int rc = path ? config_load_file(c, path, scope, err, len) : 0;
    free(path);
    if (rc == 0) rc = config_load_env(c, scope, err, len);
    if (rc == 0) {
        if (config_parse_args(c, scope, argc, argv, first_pos, err, len) < 0) return -1;
    }
    if (rc == 0 && !(c->models_dir && *c->models_dir)) {   /* the engine is handed a real dir */
        char *def = config_default_models_dir();
        if (def) { free(c->models_dir); c->models_dir = def; }
    }
    return rc;
}
