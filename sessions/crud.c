/* crud.c — sessions as rows: create, rename, delete, list, look up, titles.
 *
 * Reads run outside explicit transactions (WAL gives each statement a
 * consistent snapshot); every write goes through sess_tx. Listing is newest
 * first by `updated`, which every message write bumps, ties broken by id so
 * the order is stable when two writes land in the same millisecond.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessions_impl.h"

#define TITLE_MAX 60

#define SESSION_COLS \
    "s.id, s.title, s.created, s.updated, s.model_path, s.model_fp, s.settings, s.system_prompt," \
    " (SELECT count(*) FROM messages m WHERE m.session_id = s.id), s.model_name"

/* Fill a sess_info from a row of SESSION_COLS. */
static int info_from_row(sqlite3_stmt *q, sess_info *i)
{
    memset(i, 0, sizeof *i);
    i->id = sqlite3_column_int64(q, 0);
    i->title = sess_col_dup(q, 1);
    i->created = sqlite3_column_int64(q, 2);
    i->updated = sqlite3_column_int64(q, 3);
    i->model_path = sess_col_dup(q, 4);
    i->model_fp = (uint64_t)sqlite3_column_int64(q, 5);
    i->settings = sess_col_dup(q, 6);
    i->system_prompt = sess_col_dup(q, 7);
    i->n_messages = sqlite3_column_int(q, 8);
    i->model_name = sess_col_dup(q, 9);
    return i->title && i->model_path && i->settings && i->system_prompt && i->model_name ? 0 : -1;
}

void sess_info_clear(sess_info *i)
{
    if (!i) return;
    free(i->title);
    free(i->model_path);
    free(i->settings);
    free(i->system_prompt);
    free(i->model_name);
    memset(i, 0, sizeof *i);
}

void sess_info_free_list(sess_info *list, int n)
{
    for (int k = 0; list && k < n; k++) sess_info_clear(&list[k]);
    free(list);
}

/* Is this a byte that may start a UTF-8 character (not a continuation)? */
static bool utf8_start(unsigned char c) { return (c & 0xC0) != 0x80; }

void sess_title_from_text(const char *text, char *out, size_t len)
{
    if (!len) return;
    out[0] = 0;
    const char *p = text ? text : "";
    while (*p && isspace((unsigned char)*p)) p++;          /* first non-empty line */
    size_t n = strcspn(p, "\r\n");
    while (n && isspace((unsigned char)p[n - 1])) n--;
    size_t cap = len - 1 < TITLE_MAX ? len - 1 : TITLE_MAX;
    if (n <= cap) {
        memcpy(out, p, n);
        out[n] = 0;
        return;
    }
    if (cap < 8) {                                              /* tiny buffer: no ellipsis */
        while (cap > 0 && !utf8_start((unsigned char)p[cap])) cap--;
        memcpy(out, p, cap);
        out[cap] = 0;
        return;
    }
    size_t room = cap - 3, cut = room;                          /* keep 3 bytes for the ellipsis */
    while (cut > 0 && !isspace((unsigned char)p[cut])) cut--;   /* word boundary */
    if (cut < room / 2) {                                       /* one long word: cut inside it */
        cut = room;
        while (cut > 0 && !utf8_start((unsigned char)p[cut])) cut--;
    }
    while (cut && isspace((unsigned char)p[cut - 1])) cut--;
    memcpy(out, p, cut);
    memcpy(out + cut, "\xe2\x80\xa6", 4);                        /* U+2026 and the NUL */
}

int sess_exists(sess_store *s, int64_t id, sess_status *st)
{
    sqlite3_stmt *q = sess_prepare(s, "SELECT 1 FROM sessions WHERE id = ?", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return sess_sqlite_fail(s, rc, "looking up a session", st);
}

/* The common "no session N" message. */
static int no_session(int64_t id, sess_status *st)
{
    return sess_status_set(st, SESS_ERR_NOTFOUND, "no session %lld (see parley sessions ls)", (long long)id), -1;
}

typedef struct create_ctx { const sess_new *p; int64_t id; } create_ctx;

/* INSERT one session row. */
static int create_tx(sess_store *s, void *vctx, sess_status *st)
{
    create_ctx *c = vctx;
    sqlite3_stmt *q = sess_prepare(s, "INSERT INTO sessions(title, created, updated, model_path, model_fp,"
                                      " settings, system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?)", st);
    if (!q) return -1;
    int64_t now = sess_now_ms();
    const sess_new *p = c->p;
    char title[TITLE_MAX * 4 + 8];
    sess_title_from_text(p && p->title ? p->title : "", title, sizeof title);
    sqlite3_bind_text(q, 1, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, now);
    sqlite3_bind_int64(q, 3, now);
    sqlite3_bind_text(q, 4, p && p->model_path ? p->model_path : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, p ? (int64_t)p->model_fp : 0);
    sqlite3_bind_text(q, 6, p && p->settings ? p->settings : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, p && p->system_prompt ? p->system_prompt : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return rc;
    c->id = sqlite3_last_insert_rowid(s->db);
    return SQLITE_OK;
}

int64_t sess_create(sess_store *s, const sess_new *p, sess_status *st)
{
    create_ctx c = {p, 0};
    return sess_tx(s, create_tx, &c, st) < 0 ? -1 : c.id;
}

typedef struct set_ctx { int64_t id; const char *sql; const char *text; int64_t num; bool has_num; } set_ctx;

/* One UPDATE of a session row; NOTFOUND if no row changed. */
static int set_tx(sess_store *s, void *vctx, sess_status *st)
{
    set_ctx *c = vctx;
    sqlite3_stmt *q = sess_prepare(s, c->sql, st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, c->id);
    if (c->text) sqlite3_bind_text(q, 2, c->text, -1, SQLITE_STATIC);
    if (c->has_num) sqlite3_bind_int64(q, 3, c->num);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return rc;
    return sqlite3_changes(s->db) ? SQLITE_OK : no_session(c->id, st);
}

int sess_rename(sess_store *s, int64_t id, const char *title, sess_status *st)
{
    char t[TITLE_MAX * 4 + 8];
    sess_title_from_text(title, t, sizeof t);
    set_ctx c = {id, "UPDATE sessions SET title = ?2 WHERE id = ?1", t, 0, false};
    return sess_tx(s, set_tx, &c, st);
}

int sess_set_model(sess_store *s, int64_t id, const char *model_path, uint64_t fp, sess_status *st)
{
    set_ctx c = {id, "UPDATE sessions SET model_path = coalesce(?2, model_path), model_fp = ?3 WHERE id = ?1",
                 model_path, (int64_t)fp, true};
    return sess_tx(s, set_tx, &c, st);
}

int sess_set_model_name(sess_store *s, int64_t id, const char *model_name, sess_status *st)
{
    set_ctx c = {id, "UPDATE sessions SET model_name = ?2 WHERE id = ?1", model_name ? model_name : "", 0, false};
    return sess_tx(s, set_tx, &c, st);
}

int sess_set_settings(sess_store *s, int64_t id, const char *settings_json, sess_status *st)
{
    set_ctx c = {id, "UPDATE sessions SET settings = coalesce(?2, settings) WHERE id = ?1", settings_json, 0, false};
    return sess_tx(s, set_tx, &c, st);
}

int sess_set_system(sess_store *s, int64_t id, const char *system_prompt, sess_status *st)
{
    set_ctx c = {id, "UPDATE sessions SET system_prompt = coalesce(?2, system_prompt) WHERE id = ?1",
                 system_prompt, 0, false};
    return sess_tx(s, set_tx, &c, st);
}

int sess_delete(sess_store *s, int64_t id, sess_status *st)
{
    set_ctx c = {id, "DELETE FROM sessions WHERE id = ?1", NULL, 0, false};
    if (sess_tx(s, set_tx, &c, st) < 0) return -1;
    char *snap = sess_store_snap_path(s, id);
    if (snap && unlink(snap) != 0 && errno != ENOENT) {
        sess_status_set(st, SESS_ERR_IO, "session %lld deleted, but its snapshot %s could not be removed: %s",
                        (long long)id, snap, strerror(errno));
        free(snap);
        return -1;
    }
    free(snap);
    return 0;
}

int sess_list(sess_store *s, sess_info **out, int *n, sess_status *st)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = sess_prepare(s, "SELECT " SESSION_COLS " FROM sessions s ORDER BY s.updated DESC, s.id DESC", st);
    if (!q) return -1;
    int rc, cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sess_info *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) { rc = SQLITE_NOMEM; break; }
            *out = grown;
        }
        if (info_from_row(q, &(*out)[(*n)++]) < 0) { rc = SQLITE_NOMEM; break; }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE) return 0;
    sess_info_free_list(*out, *n);
    *out = NULL;
    *n = 0;
    return sess_sqlite_fail(s, rc, "listing sessions", st);
}

int sess_get_info(sess_store *s, int64_t id, sess_info *out, sess_status *st)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = sess_prepare(s, "SELECT " SESSION_COLS " FROM sessions s WHERE s.id = ?", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q), ret = 0;
    if (rc == SQLITE_ROW) {
        if (info_from_row(q, out) < 0) {
            sess_info_clear(out);
            ret = (sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1);
        }
    } else if (rc == SQLITE_DONE) {
        ret = no_session(id, st);
    } else {
        ret = sess_sqlite_fail(s, rc, "reading a session", st);
    }
    sqlite3_finalize(q);
    return ret;
}

int64_t sess_last(sess_store *s, sess_status *st)
{
    sqlite3_stmt *q = sess_prepare(s, "SELECT id FROM sessions ORDER BY updated DESC, id DESC LIMIT 1", st);
    if (!q) return -1;
    int rc = sqlite3_step(q);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sess_sqlite_fail(s, rc, "finding the last session", st);
    return id;
}
