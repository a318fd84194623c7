/* messages.c — messages: whole ones, streamed ones, and reading them back.
 *
 * A streamed answer is a row created empty and incomplete (complete=0) by
 * sess_msg_begin. The caller hands us every token; we keep the text in memory
 * and write it with `text = text || ?` at most every ckpt_ms or ckpt_bytes, each
 * write its own small transaction (cheap in WAL with synchronous=NORMAL: no
 * fsync). kill -9 therefore loses at most the text since the last checkpoint,
 * and the row stays complete=0 so a resume can show it as cut off.
 * sess_msg_finish writes the rest plus the stats and sets complete=1.
 *
 * seq is allocated inside the write transaction (max+1), so two processes
 * appending to one session interleave but never collide.
 */
#include <stdlib.h>
#include <string.h>

#include "sessions_impl.h"

static const char *const roles[] = {"system", "user", "assistant"};

bool sess_role_valid(const char *role)
{
    for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i]) == 0) return true;
    return false;
}

/* Bump a session's updated time (it moves to the top of the list). */
static int touch_session(sess_store *s, int64_t sid)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "UPDATE sessions SET updated = max(updated + 1, ?) WHERE id = ?", -1, &q, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(q, 1, sess_now_ms());
    sqlite3_bind_int64(q, 2, sid);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* An untitled session takes its title from its first user message. */
static int title_from_message(sess_store *s, int64_t sid, const char *text)
{
    char title[256];
    sess_title_from_text(text, title, sizeof title);
    if (!title[0]) return SQLITE_OK;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "UPDATE sessions SET title = ? WHERE id = ? AND title = ''", -1, &q, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(q, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, sid);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sess_msg_insert_tx(sess_store *s, int64_t sid, const char *role, const char *text, size_t len,
                       const sess_msg_stats *stats, int64_t created, bool complete, int64_t *id_out,
                       sess_status *st)
{
    int ex = sess_exists(s, sid, st);
    if (ex <= 0)
        return ex < 0 ? -1 : (sess_status_set(st, SESS_ERR_NOTFOUND, "no session %lld (see parley sessions ls)",
                                              (long long)sid), -1);
    sqlite3_stmt *q = sess_prepare(s, "INSERT INTO messages(session_id, seq, role, text, created, n_tokens, gen_ms,"
                                      " tok_s, complete) VALUES (?1, (SELECT coalesce(max(seq) + 1, 0) FROM messages"
                                      " WHERE session_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8)", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, text ? text : "", text ? (int)len : 0, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, created);
    sqlite3_bind_int(q, 5, stats ? stats->n_tokens : 0);
    sqlite3_bind_int(q, 6, stats ? stats->gen_ms : 0);
    sqlite3_bind_double(q, 7, stats ? stats->tok_s : 0);
    sqlite3_bind_int(q, 8, complete);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return rc;
    *id_out = sqlite3_last_insert_rowid(s->db);
    rc = touch_session(s, sid);
    if (rc == SQLITE_OK && complete && strcmp(role, "user") == 0 && text) {
        char *t = strndup(text, len);
        if (!t) return SQLITE_NOMEM;
        rc = title_from_message(s, sid, t);
        free(t);
    }
    return rc;
}

typedef struct add_ctx {
    int64_t sid; const char *role, *text; size_t len; const sess_msg_stats *stats; bool complete; int64_t id;
} add_ctx;

static int add_tx(sess_store *s, void *vctx, sess_status *st)
{
    add_ctx *c = vctx;
    return sess_msg_insert_tx(s, c->sid, c->role, c->text, c->len, c->stats, sess_now_ms(), c->complete, &c->id, st);
}

/* Shared argument checks of add and begin. */
static int check_msg_args(const char *role, size_t len, sess_status *st)
{
    if (!sess_role_valid(role))
        return sess_status_set(st, SESS_ERR_ARG, "message role '%s' is not system, user or assistant",
                               role ? role : "(null)"), -1;
    if (len > SESS_MSG_MAX_BYTES)
        return sess_status_set(st, SESS_ERR_ARG, "a message of %zu MiB is too long to save (the limit is %u MiB)",
                               len >> 20, SESS_MSG_MAX_BYTES >> 20), -1;
    return 0;
}

int64_t sess_msg_add(sess_store *s, int64_t sid, const char *role, const char *text, size_t len,
                     const sess_msg_stats *stats, sess_status *st)
{
    if (check_msg_args(role, len, st) < 0) return -1;
    add_ctx c = {sid, role, text, len, stats, true, 0};
    return sess_tx(s, add_tx, &c, st) < 0 ? -1 : c.id;
}

/* The in-memory stream of a message, or NULL. */
static sess_stream *stream_find(sess_store *s, int64_t msg_id, sess_stream ***link)
{
    for (sess_stream **p = &s->streams; *p; p = &(*p)->next) {
        if ((*p)->msg_id != msg_id) continue;
        if (link) *link = p;
        return *p;
    }
    return NULL;
}

int64_t sess_msg_begin(sess_store *s, int64_t sid, const char *role, sess_status *st)
{
    if (check_msg_args(role, 0, st) < 0) return -1;
    sess_stream *x = calloc(1, sizeof *x);
    if (!x) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    add_ctx c = {sid, role, "", 0, NULL, false, 0};
    if (sess_tx(s, add_tx, &c, st) < 0) { free(x); return -1; }
    x->msg_id = c.id;
    x->sid = sid;
    x->last_flush_ms = sess_mono_ms();
    x->next = s->streams;
    s->streams = x;
    return c.id;
}

typedef struct flush_ctx { sess_stream *x; int64_t msg_id; const sess_msg_stats *stats; bool finish; } flush_ctx;

/* Append pending text; on finish also the stats, complete=1 and maybe the title. */
static int flush_tx(sess_store *s, void *vctx, sess_status *st)
{
    flush_ctx *c = vctx;
    sqlite3_stmt *q = sess_prepare(s, c->finish
        ? "UPDATE messages SET text = text || ?2, n_tokens = ?3, gen_ms = ?4, tok_s = ?5, complete = 1 WHERE id = ?1"
          " RETURNING session_id, role, text"
        : "UPDATE messages SET text = text || ?2 WHERE id = ?1 RETURNING session_id, role, text", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, c->msg_id);
    bool has = c->x && c->x->buf;
    sqlite3_bind_text(q, 2, has ? c->x->buf : "", has ? (int)c->x->len : 0, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, c->stats ? c->stats->n_tokens : 0);
    sqlite3_bind_int(q, 4, c->stats ? c->stats->gen_ms : 0);
    sqlite3_bind_double(q, 5, c->stats ? c->stats->tok_s : 0);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(q);
        return sess_status_set(st, SESS_ERR_NOTFOUND, "no message %lld (was its session deleted?)",
                               (long long)c->msg_id), -1;
    }
    if (rc != SQLITE_ROW) { sqlite3_finalize(q); return rc; }
    int64_t sid = sqlite3_column_int64(q, 0);
    bool user = strcmp((const char *)sqlite3_column_text(q, 1), "user") == 0;
    char *text = c->finish && user ? sess_col_dup(q, 2) : NULL;
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) { free(text); return rc; }
    rc = touch_session(s, sid);
    if (rc == SQLITE_OK && text) rc = title_from_message(s, sid, text);
    free(text);
    return rc;
}

int sess_msg_flush(sess_store *s, int64_t msg_id, sess_status *st)
{
    sess_stream *x = stream_find(s, msg_id, NULL);
    if (!x || !x->len) return 0;
    flush_ctx c = {x, msg_id, NULL, false};
    if (sess_tx(s, flush_tx, &c, st) < 0) return -1;   /* text stays pending: the next flush retries */
    x->len = 0;
    x->last_flush_ms = sess_mono_ms();
    return 0;
}

int sess_msg_append(sess_store *s, int64_t msg_id, const char *text, size_t len, sess_status *st)
{
    sess_stream *x = stream_find(s, msg_id, NULL);
    if (!x)
        return sess_status_set(st, SESS_ERR_ARG, "message %lld is not being streamed (call sess_msg_begin first)",
                               (long long)msg_id), -1;
    if (x->len + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 512;
        while (cap < x->len + len + 1) cap *= 2;
        char *grown = realloc(x->buf, cap);
        if (!grown) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
        x->buf = grown;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, text, len);
    x->len += len;
    if (x->len >= s->ckpt_bytes || sess_mono_ms() - x->last_flush_ms >= s->ckpt_ms)
        return sess_msg_flush(s, msg_id, st);
    return 0;
}

int sess_msg_finish(sess_store *s, int64_t msg_id, const sess_msg_stats *stats, sess_status *st)
{
    sess_stream **link = NULL;
    sess_stream *x = stream_find(s, msg_id, &link);
    flush_ctx c = {x, msg_id, stats, true};
    if (sess_tx(s, flush_tx, &c, st) < 0) return -1;
    if (x) {
        *link = x->next;
        free(x->buf);
        free(x);
    }
    return 0;
}

typedef struct trunc_ctx { int64_t sid; int from; } trunc_ctx;

static int trunc_tx(sess_store *s, void *vctx, sess_status *st)
{
    trunc_ctx *c = vctx;
    sqlite3_stmt *q = sess_prepare(s, "DELETE FROM messages WHERE session_id = ? AND seq >= ?", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, c->sid);
    sqlite3_bind_int(q, 2, c->from);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? touch_session(s, c->sid) : rc;
}

int sess_msg_truncate(sess_store *s, int64_t sid, int from_seq, sess_status *st)
{
    trunc_ctx c = {sid, from_seq < 0 ? 0 : from_seq};
    return sess_tx(s, trunc_tx, &c, st);
}

void sess_msg_free_list(sess_msg *list, int n)
{
    for (int i = 0; list && i < n; i++) {
        free(list[i].role);
        free(list[i].text);
    }
    free(list);
}

/* One row of the message query into m. */
static int msg_from_row(sqlite3_stmt *q, sess_msg *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(q, 0);
    m->session_id = sqlite3_column_int64(q, 1);
    m->seq = sqlite3_column_int(q, 2);
    m->role = sess_col_dup(q, 3);
    const void *t = sqlite3_column_blob(q, 4);   /* bytes as stored, even a cut UTF-8 tail */
    m->len = (size_t)sqlite3_column_bytes(q, 4);
    m->text = malloc(m->len + 1);
    if (m->text) { if (m->len) memcpy(m->text, t, m->len); m->text[m->len] = 0; }
    m->stats.n_tokens = sqlite3_column_int(q, 5);
    m->stats.gen_ms = sqlite3_column_int(q, 6);
    m->stats.tok_s = sqlite3_column_double(q, 7);
    m->created = sqlite3_column_int64(q, 8);
    m->complete = sqlite3_column_int(q, 9) != 0;
    return m->role && m->text ? 0 : -1;
}

int sess_msg_list(sess_store *s, int64_t sid, sess_msg **out, int *n, sess_status *st)
{
    *out = NULL;
    *n = 0;
    int ex = sess_exists(s, sid, st);
    if (ex <= 0)
        return ex < 0 ? -1 : (sess_status_set(st, SESS_ERR_NOTFOUND, "no session %lld (see parley sessions ls)",
                                              (long long)sid), -1);
    sqlite3_stmt *q = sess_prepare(s, "SELECT id, session_id, seq, role, text, n_tokens, gen_ms, tok_s, created,"
                                      " complete FROM messages WHERE session_id = ? ORDER BY seq", st);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, sid);
    int rc, cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            sess_msg *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) { rc = SQLITE_NOMEM; break; }
            *out = grown;
        }
        if (msg_from_row(q, &(*out)[(*n)++]) < 0) { rc = SQLITE_NOMEM; break; }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE) return 0;
    sess_msg_free_list(*out, *n);
    *out = NULL;
    *n = 0;
    return sess_sqlite_fail(s, rc, "reading messages", st);
}
