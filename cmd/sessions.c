/* sessions.c — `parley sessions`: saved conversations from the shell.
 *
 *   parley sessions [ls]                     id, date, message count, title
 *   parley sessions show ID                  the whole conversation
 *   parley sessions export ID [--format md|json] [-o FILE]
 *   parley sessions rm ID
 *   parley sessions import FILE|-            a JSON export, as a new session
 *   parley sessions search WORDS...          full-text search
 * Verbs are a table; each is a small function over the sessions/ API.
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

/* Print "parley sessions: msg" to stderr; returns code. */
static int say(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "parley sessions: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return code;
}

/* Exit status of a failed sessions/ call, after printing its message. */
static int fail(const sess_status *st)
{
    fprintf(stderr, "parley sessions: %s\n", st->msg);
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

/* Titles and snippets on one terminal line: control characters become spaces. */
static void put_line(const char *s, FILE *out)
{
    for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, out);
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
    if (n) printf("%6s  %-16s  %5s  %s\n", "ID", "UPDATED", "MSGS", "TITLE");
    for (int i = 0; i < n; i++) {
        char when[32];
        sess_time_text(list[i].updated, when, sizeof when);
        printf("%6lld  %-16s  %5d  ", (long long)list[i].id, when, list[i].n_messages);
        put_line(*list[i].title ? list[i].title : "(untitled)", stdout);
        putchar('\n');
    }
    if (!n) fprintf(stderr, "no sessions yet (they are saved in %s)\n", sess_store_path(s));
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
    printf("session %lld: %s\ncreated %s, updated %s, %d messages\n", (long long)id,
           *info.title ? info.title : "(untitled)", c, u, n);
    if (*info.model_path) printf("model: %s\n", info.model_path);
    if (*info.system_prompt) printf("system: %s\n", info.system_prompt);
    for (int i = 0; i < n; i++) {
        printf("\n[%s]%s", m[i].role, m[i].complete ? "" : " (incomplete: cut off)");
        if (m[i].complete && m[i].stats.n_tokens && m[i].stats.tok_s > 0)
            printf(" %d tokens, %.1f tok/s", m[i].stats.n_tokens, m[i].stats.tok_s);
        printf("\n");
        fwrite(m[i].text, 1, m[i].len, stdout);
        printf("\n");
    }
    sess_msg_free_list(m, n);
    sess_info_clear(&info);
    return 0;
}

static int verb_export(sess_store *s, verb_args *a)
{
    int64_t id;
    if (parse_id(a->pos[0], &id)) return 2;
    const char *path = a->cfg->output && *a->cfg->output ? a->cfg->output : NULL;
    FILE *out = path ? fopen(path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "parley sessions: %s: %s\n", path, strerror(errno));
        return 1;
    }
    sess_status st;
    bool json = a->cfg->format && strcmp(a->cfg->format, "json") == 0;
    int rc = json ? sess_export_json(s, id, out, &st) : sess_export_md(s, id, out, &st);
    if (path && fclose(out) != 0 && rc == 0) {
        rc = -1;
        sess_status_set(&st, SESS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (rc < 0 && path) unlink(path);
    if (rc < 0) return fail(&st);
    if (path) fprintf(stderr, "exported session %lld to %s\n", (long long)id, path);
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
    if (rc == 0) printf("deleted session %lld (%s)\n", (long long)id, *info.title ? info.title : "untitled");
    sess_info_clear(&info);
    return rc < 0 ? fail(&st) : 0;
}

static int verb_import(sess_store *s, verb_args *a)
{
    sess_status st;
    int64_t id = sess_import_json_file(s, a->pos[0], &st);
    if (id < 0) return fail(&st);
    sess_info info;
    if (sess_get_info(s, id, &info, &st) < 0) return fail(&st);
    printf("imported session %lld: %s (%d messages)\n", (long long)id, info.title, info.n_messages);
    sess_info_clear(&info);
    return 0;
}

/* A search snippet with its \x01..\x02 markers shown as bold or [brackets]. */
static void put_snippet(const char *s, bool tty)
{
    for (; *s; s++) {
        if (*s == SESS_HL_ON[0]) fputs(tty ? "\033[1m" : "[", stdout);
        else if (*s == SESS_HL_OFF[0]) fputs(tty ? "\033[0m" : "]", stdout);
        else fputc((unsigned char)*s < 0x20 ? ' ' : *s, stdout);
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
        printf("%6lld  #%-3d %-9s ", (long long)h[i].session_id, h[i].seq, h[i].role);
        put_line(h[i].title, stdout);
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
    {"export", 1,  false, "export ID [--format md|json] [-o FILE]", verb_export},
    {"rm",     1,  true,  "rm ID",                                 verb_rm},
    {"import", 1,  true,  "import FILE (- for stdin)",             verb_import},
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
        if (v->writes && sess_store_read_only(s)) fprintf(stderr, "parley sessions: %s\n", sess_store_note(s));
        return s;
    }
    if (st.code != SESS_ERR_NOTFOUND) {
        *rc = fail(&st);
    } else if (strcmp(v->name, "ls") == 0) {
        fprintf(stderr, "no sessions yet (they will be saved in %s)\n", a->dir);
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
