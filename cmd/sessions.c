/* sessions.c — `parley sessions`: saved conversations from the shell.
 *
 *   parley sessions [ls]                     id, date, message count, resume (instant from a
 *                                            KV snapshot, or re-decode), title
 *   parley sessions show ID                  the whole conversation
 *   parley sessions export ID [--format md|json] [-o FILE [--force]]
 *   parley sessions rm ID
 *   parley sessions import FILE|-            a JSON or Markdown export, as a new session
 *   parley sessions search WORDS...          full-text search
 * Verbs are a table; each is a small function over the sessions/ API.
 * Stored text (titles, messages, model paths) may come from someone else's
 * file: it is printed through cmd_term_* (controls as U+FFFD) unless --raw.
 * Exit status: 0 ok, 1 runtime error (no such session, busy, corrupt), 2 usage.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/config.h"
#include "../sessions/sessions.h"
#include "cmd.h"

typedef struct verb_args {
    pl_config *cfg;
    char **pos;      /* positionals after the verb, NULL-terminated */
    int npos;
    const char *dir; /* data directory */
} verb_args;

typedef struct verb {
    const char *name;
    int nargs;       /* positionals required (-1: one or more) */
    bool writes;     /* needs a writable store (created if missing) */
    const char *usage;
    int (*fn)(sess_store *s, verb_args *a);
} verb;

/* Print "parley sessions: msg" to stderr (arg made safe); returns code. */
static int say(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "parley sessions: ");
    cmd_term_printf(stderr, false, fmt, arg);
    fputc('\n', stderr);
    return code;
}

/* Exit status of a failed sessions/ call, after printing its message. */
static int fail(const sess_status *st)
{
    cmd_term_printf(stderr, false, "parley sessions: %s\n", st->msg);
    return st->code == SESS_ERR_ARG ? 2 : 1;
}

/* "42" -> 42; anything else is a usage error. */
static int parse_id(const char *s, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0)
        return say(2, "'%s' is not a session id (see parley sessions ls)", s);
    *id = v;
    return 0;
}

/* "41M", "1.2G", "512K": a snapshot's size at a glance. */
static void human_size(uint64_t b, char *buf, size_t len)
{
    static const char units[] = "KMGT";
    double x = (double)b;
    int u = -1;
    while (x >= 1000 && u < 3) { x /= 1024; u++; }
    if (u < 0) snprintf(buf, len, "%lluB", (unsigned long long)b);
    else snprintf(buf, len, x < 9.95 ? "%.1f%c" : "%.0f%c", x, units[u]);
}

/* The RESUME column: instant (a snapshot that fits), stale (one that will be
 * ignored) or re-decode (none); with the snapshot's size. */
static void resume_text(const sess_info *i, char *buf, size_t len)
{
    char size[16];
    human_size(i->snap_bytes, size, sizeof size);
    if (i->snap == SESS_SNAP_READY) snprintf(buf, len, "instant %s", size);
    else if (i->snap == SESS_SNAP_STALE) snprintf(buf, len, "stale %s", size);
    else snprintf(buf, len, "re-decode");
}

static int verb_ls(sess_store *s, verb_args *a)
{
    sess_info *list = NULL;
    int n = 0;
    sess_status st;
    if (sess_list(s, &list, &n, &st) < 0) return fail(&st);
    if (a->cfg->names) {   /* ids alone, for scripts and shell completion */
        for (int i = 0; i < n; i++) printf("%lld\n", (long long)list[i].id);
        sess_info_free_list(list, n);
        return 0;
    }
    sess_snap_mark(s, list, n);
    if (n) printf("%6s  %-16s  %5s  %-13s  %s\n", "ID", "UPDATED", "MSGS", "RESUME", "TITLE");
    for (int i = 0; i < n; i++) {
        char when[32], resume[32];
        sess_time_text(list[i].updated, when, sizeof when);
        resume_text(&list[i], resume, sizeof resume);
        printf("%6lld  %-16s  %5d  %-13s  ", (long long)list[i].id, when, list[i].n_messages, resume);
        cmd_term_line(stdout, *list[i].title ? list[i].title : "(untitled)");
        putchar('\n');
    }
    if (!n) cmd_term_printf(stderr, false, "no sessions yet (they are saved in %s)\n", sess_store_path(s));
    sess_info_free_list(list, n);
    return 0;
}

static int verb_show(sess_store *s, verb_args *a)
{
    int64_t id;
    if (parse_id(a->pos[0], &id)) return 2;
    sess_info info;
    sess_msg *m = NULL;
    int n = 0;
    sess_status st;
    if (sess_get_info(s, id, &info, &st) < 0) return fail(&st);
    if (sess_msg_list(s, id, &m, &n, &st) < 0) { sess_info_clear(&info); return fail(&st); }
    char c[32], u[32];
    sess_time_text(info.created, c, sizeof c);
    sess_time_text(info.updated, u, sizeof u);
    bool raw = a->cfg->raw;
    cmd_term_printf(stdout, raw, "session %lld: %s\ncreated %s, updated %s, %d messages\n", (long long)id,
                    *info.title ? info.title : "(untitled)", c, u, n);
    if (*info.model_name) cmd_term_printf(stdout, raw, "model: %s (%s)\n", info.model_name, info.model_path);
    else if (*info.model_path) cmd_term_printf(stdout, raw, "model: %s\n", info.model_path);
    if (*info.system_prompt) cmd_term_printf(stdout, raw, "system: %s\n", info.system_prompt);
    for (int i = 0; i < n; i++) {
        cmd_term_printf(stdout, raw, "\n[%s]%s", m[i].role, m[i].complete ? "" : " (stopped)");
        if (m[i].complete && m[i].stats.n_tokens && m[i].stats.tok_s > 0)
            printf(" %d tokens, %.1f tok/s", m[i].stats.n_tokens, m[i].stats.tok_s);
        printf("\n");
        cmd_term_write(stdout, m[i].text, m[i].len, raw);
        printf("\n");
    }
    sess_msg_free_list(m, n);
    sess_info_clear(&info);
    return 0;
}

/* Export to stdout: rendered in memory, then written safe for a terminal
 * (or byte for byte with --raw; -o FILE is always byte for byte). */
static int export_to_stdout(sess_store *s, int64_t id, bool json, bool raw)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return say(1, "%s", "out of memory");
    sess_status st;
    int rc = json ? sess_export_json(s, id, mem, &st) : sess_export_md(s, id, mem, &st);
    if (fclose(mem) != 0 && rc == 0) {
        rc = -1;
        sess_status_set(&st, SESS_ERR_NOMEM, "out of memory");
    }
    if (rc == 0) cmd_term_write(stdout, text, len, raw);
    free(text);
    return rc < 0 ? fail(&st) : 0;
}

static int verb_export(sess_store *s, verb_args *a)
{
    int64_t id;
    if (parse_id(a->pos[0], &id)) return 2;
    const char *path = a->cfg->output && *a->cfg->output ? a->cfg->output : NULL;
    bool json = a->cfg->format && strcmp(a->cfg->format, "json") == 0;
    if (!path) return export_to_stdout(s, id, json, a->cfg->raw);
    sess_status st;
    if (sess_export_file(s, id, json, path, a->cfg->force ? SESS_WRITE_FORCE : 0, &st) < 0) {
        if (st.code == SESS_ERR_EXISTS) cmd_term_printf(stderr, false, "parley sessions: %s (add --force to replace it)\n", st.msg);
        return st.code == SESS_ERR_EXISTS ? 1 : fail(&st);
    }
    cmd_term_printf(stderr, false, "exported session %lld to %s\n", (long long)id, path);
    return 0;
}

static int verb_rm(sess_store *s, verb_args *a)
{
    int64_t id;
    if (parse_id(a->pos[0], &id)) return 2;
    sess_info info;
    sess_status st;
    if (sess_get_info(s, id, &info, &st) < 0) return fail(&st);
    int rc = sess_delete(s, id, &st);
    if (rc == 0) {
        printf("deleted session %lld (", (long long)id);
        cmd_term_line(stdout, *info.title ? info.title : "untitled");
        printf(")\n");
    }
    sess_info_clear(&info);
    return rc < 0 ? fail(&st) : 0;
}

static int verb_import(sess_store *s, verb_args *a)
{
    sess_status st;
    int64_t id = sess_import_file(s, a->pos[0], &st);
    if (id < 0) return fail(&st);
    sess_info info;
    if (sess_get_info(s, id, &info, &st) < 0) return fail(&st);
    printf("imported session %lld: ", (long long)id);
    cmd_term_line(stdout, info.title);
    printf(" (%d messages)\n", info.n_messages);
    sess_info_clear(&info);
    return 0;
}

/* A search snippet with its \x01..\x02 markers shown as bold or [brackets];
 * the text between them is stored text, printed safe on one line. */
static void put_snippet(const char *s, bool tty)
{
    while (*s) {
        size_t n = strcspn(s, SESS_HL_ON SESS_HL_OFF);
        char *part = strndup(s, n);
        if (part) cmd_term_line(stdout, part);
        free(part);
        s += n;
        if (*s == SESS_HL_ON[0]) fputs(tty ? "\033[1m" : "[", stdout);
        else if (*s == SESS_HL_OFF[0]) fputs(tty ? "\033[0m" : "]", stdout);
        if (*s) s++;
    }
}

static int verb_search(sess_store *s, verb_args *a)
{
    size_t len = 1;
    for (int i = 0; i < a->npos; i++) len += strlen(a->pos[i]) + 1;
    char *q = calloc(1, len);
    if (!q) return say(1, "%s", "out of memory");
    for (int i = 0; i < a->npos; i++) { strcat(q, a->pos[i]); strcat(q, " "); }
    sess_hit *h = NULL;
    int n = 0;
    sess_status st;
    int rc = sess_search(s, q, 50, &h, &n, &st);
    free(q);
    if (rc < 0) return fail(&st);
    bool tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    for (int i = 0; i < n; i++) {
        cmd_term_printf(stdout, false, "%6lld  #%-3d %-9s ", (long long)h[i].session_id, h[i].seq, h[i].role);
        cmd_term_line(stdout, h[i].title);
        printf("\n        ");
        put_snippet(h[i].snippet, tty);
        putchar('\n');
    }
    if (!n) fprintf(stderr, "no matches\n");
    sess_hit_free_list(h, n);
    return 0;
}

static const verb verbs[] = {
    {"ls",     0,  false, "ls",                                    verb_ls},
    {"show",   1,  false, "show ID",                               verb_show},
    {"export", 1,  false, "export ID [--format md|json] [-o FILE [--force]]", verb_export},
    {"rm",     1,  true,  "rm ID",                                 verb_rm},
    {"import", 1,  true,  "import FILE (JSON or Markdown; - for stdin)", verb_import},
    {"search", -1, false, "search WORDS...",                       verb_search},
};
#define N_VERBS (int)(sizeof verbs / sizeof verbs[0])

/* The verbs for shell completions (cmd/completion.c). */
const char *cmd_sessions_verb(int i, const char **usage)
{
    if (i < 0 || i >= N_VERBS) return NULL;
    if (usage) *usage = verbs[i].usage;
    return verbs[i].name;
}

/* The verb named by argv, or NULL after printing usage. */
static const verb *find_verb(const char *name, int npos)
{
    for (int i = 0; i < N_VERBS; i++) {
        if (strcmp(name, verbs[i].name) != 0) continue;
        if ((verbs[i].nargs >= 0 && npos != verbs[i].nargs) || (verbs[i].nargs < 0 && npos < 1)) {
            say(2, "usage: parley sessions %s", verbs[i].usage);
            return NULL;
        }
        return &verbs[i];
    }
    say(2, "unknown command '%s'; one of:", name);
    for (int i = 0; i < N_VERBS; i++) fprintf(stderr, "  parley sessions %s\n", verbs[i].usage);
    return NULL;
}

/* Open the store for a verb; a missing store is empty for readers. */
static sess_store *open_for(const verb *v, verb_args *a, int *rc)
{
    sess_status st;
    sess_store *s = sess_store_open(a->dir, v->writes ? 0 : SESS_OPEN_NO_CREATE, &st);
    if (s) {
        if (sess_store_note(s)) cmd_term_printf(stderr, false, "parley sessions: %s\n", sess_store_note(s));   /* once */
        return s;
    }
    bool listing = strcmp(v->name, "ls") == 0 || strcmp(v->name, "search") == 0;
    if (st.code == SESS_ERR_NOTFOUND && listing && sess_dir_writable(a->dir, &st) < 0) {
        cmd_term_printf(stderr, false, "parley sessions: %s: no session can be saved there (--data-dir or "
                        "PARLEY_DATA chooses another folder)\n", st.msg);
        *rc = 1;
    } else if (st.code != SESS_ERR_NOTFOUND) {
        *rc = fail(&st);
    } else if (strcmp(v->name, "ls") == 0) {
        cmd_term_printf(stderr, false, "no sessions yet (they will be saved in %s)\n", a->dir);
        *rc = 0;
    } else if (strcmp(v->name, "search") == 0) {
        fprintf(stderr, "no matches\n");
        *rc = 0;
    } else {
        int64_t id;
        *rc = parse_id(a->pos[0], &id) ? 2 : say(1, "no session %s (see parley sessions ls)", a->pos[0]);
    }
    return NULL;
}

int cmd_sessions(int argc, char **argv)
{
    pl_config cfg;
    char err[512];
    int first = 1, rc = 0;
    config_init(&cfg);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err) < 0) {
        config_free(&cfg);
        return say(2, "%s", err);
    }
    int npos = 0;
    while (argv[first + npos]) npos++;
    const char *name = npos ? argv[first] : "ls";
    const verb *v = find_verb(name, npos ? npos - 1 : 0);
    char *dir = v ? sess_data_dir(&cfg) : NULL;
    if (!v || !dir) {
        rc = v ? say(1, "%s", "cannot find the data directory (set --data-dir or PARLEY_DATA)") : 2;
    } else {
        verb_args a = {&cfg, argv + first + (npos ? 1 : 0), npos ? npos - 1 : 0, dir};
        sess_store *s = open_for(v, &a, &rc);
        if (s) rc = v->fn(s, &a);
        sess_store_close(s);
    }
    free(dir);
    config_free(&cfg);
    return rc;
}
