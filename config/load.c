/* load.c — where option values come from: flags, the INI file, PARLEY_* env.
 *
 * The INI parser is deliberately small: `key = value` lines, '#' or ';'
 * comments, optional [section] headers (for grouping only), values may be
 * quoted. Errors name the file and line.
 *
 * The file is read with bounds: at most CONFIG_MAX_BYTES, lines of at most
 * CONFIG_MAX_LINE bytes, and only a regular file (a device such as /dev/zero
 * or a FIFO would never end); /dev/null reads as an empty config. The default
 * path ($XDG_CONFIG_HOME or ~/.config) is optional: if it cannot be reached
 * (no such folder, an unreadable HOME) there is no config. A file named by
 * PARLEY_CONFIG that exists but cannot be read is an error; a missing one is
 * not (PARLEY_CONFIG=/nonexistent runs with no config at all).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"


/* Strip leading and trailing white space in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* Make text from the file safe to print: C0/C1 controls and DEL become '?'. */
static void msg_clean(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) *p = '?';
        else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0) p[0] = p[1] = '?';   /* U+0080..U+009F */
    }
}

/* One "key = value" line (NUL-terminated, lineno for messages). */
static int config_load_line(pl_config *c, const char *name, int lineno, char *line, char *err, size_t len)
{
    char msg[256];
    char *s = trim(line);
    if (!*s || *s == '#' || *s == ';' || *s == '[') return 0;
    char *eq = strchr(s, '=');
    if (!eq) return snprintf(err, len, "%s:%d: expected 'key = value'", name, lineno), -1;
    *eq = 0;
    char *key = trim(s), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
        val[vl - 1] = 0;
        val++;
    }
    const pl_option *o = config_find(key);
    if (!o)
        return snprintf(err, len, "%s:%d: unknown key '%.60s' (see parley --help)", name, lineno, key), -1;
    if (config_set(c, o, val, msg, sizeof msg) < 0)
        return snprintf(err, len, "%s:%d: %s", name, lineno, msg), -1;
    return 0;
}

/* Lines of text[0..n); with !complete the text was cut at the size cap and
 * its unfinished last line is not a line (the file is too big instead). */
static int config_load_lines(pl_config *c, const char *name, const char *text, size_t n, bool complete,
                             char *err, size_t len)
{
    char line[CONFIG_MAX_LINE + 1];
    int lineno = 0;
    for (size_t at = 0; at < n;) {
        lineno++;
        const char *nl = memchr(text + at, '\n', n - at);
        size_t ll = nl ? (size_t)(nl - (text + at)) : n - at;
        if (ll > CONFIG_MAX_LINE)
            return snprintf(err, len, "%s:%d: line too long (over %d bytes): a setting is one short line",
                            name, lineno, CONFIG_MAX_LINE), -1;
        if (!nl && !complete) break;
        if (memchr(text + at, 0, ll))
            return snprintf(err, len, "%s:%d: contains a NUL byte (is it a text file?)", name, lineno), -1;
        memcpy(line, text + at, ll);
        line[ll] = 0;
        if (config_load_line(c, name, lineno, line, err, len) < 0) return -1;
        at += ll + (nl != NULL);
    }
    if (!complete)
        return snprintf(err, len, "%s: file is larger than %d KiB: is it the right file?", name,
                        CONFIG_MAX_BYTES / 1024), -1;
    return 0;
}

int config_load_text(pl_config *c, const char *name, const char *text, size_t n, unsigned scope,
                     char *err, size_t len)
{
    (void)scope;
    int rc = config_load_lines(c, name, text, n, true, err, len);
    if (rc < 0) msg_clean(err);
    return rc;
}

/* Is the open file (sb) the null device? It reads as an empty config. */
static bool is_null_device(const struct stat *sb)
{
    struct stat nb;
    return S_ISCHR(sb->st_mode) && stat("/dev/null", &nb) == 0 && S_ISCHR(nb.st_mode) && nb.st_rdev == sb->st_rdev;
}

/* Open path for reading, refusing what is not a plain file. 1 = fd open,
 * 0 = nothing to read (missing, or the null device), -1 = err filled.
 * given: the user named this file; else a default path we could not reach
 * (missing folder, unreadable HOME) simply means there is no config. */
static int config_open(const char *path, bool given, int *fd, char *err, size_t len)
{
    *fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);   /* a FIFO must not block */
    if (*fd < 0) {
        int e = errno;
        if (e == ENOENT || (!given && (e == ENOTDIR || e == EACCES || e == ELOOP || e == ENAMETOOLONG)))
            return 0;
        return snprintf(err, len, "%s: %s", path, strerror(e)), -1;
    }
    struct stat sb;
    const char *why = NULL;
    if (fstat(*fd, &sb) != 0) why = strerror(errno);
    else if (S_ISDIR(sb.st_mode)) why = "is a folder, not a config file";
    else if (is_null_device(&sb)) { close(*fd); return 0; }
    else if (!S_ISREG(sb.st_mode)) why = "is not a regular file (a device, pipe or socket); the config must be a text file";
    if (why) {
        close(*fd);
        return snprintf(err, len, "%s: %s", path, why), -1;
    }
    return 1;
}

/* Read one INI file (given: named by the user); a missing file is fine, a bad line is not. */
static int config_load_path(pl_config *c, const char *path, bool given, char *err, size_t len)
{
    int fd, rc = config_open(path, given, &fd, err, len);
    if (rc <= 0) return rc;
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) { close(fd); return snprintf(err, len, "%s: out of memory", path), -1; }
    size_t n = 0;
    while (n < CONFIG_MAX_BYTES + 1) {
        ssize_t r = read(fd, buf + n, CONFIG_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { rc = -1; snprintf(err, len, "%s: %s", path, strerror(errno)); break; }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == 1) rc = config_load_lines(c, path, buf, n, n <= CONFIG_MAX_BYTES, err, len);
    free(buf);
    if (rc < 0) msg_clean(err);
    return rc;
}

int config_load_file(pl_config *c, const char *path, unsigned scope, char *err, size_t len)
{
    (void)scope;
    return config_load_path(c, path, true, err, len);
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
    int rc = path ? config_load_path(c, path, config_file_given(), err, len) : 0;
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
