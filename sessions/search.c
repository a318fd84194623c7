/* search.c — full-text search over every message (FTS5).
 *
 * People type words, not FTS5 syntax: `"`, `AND`, `*`, `(`, `NEAR`, `-` in a
 * query must never become a syntax error or an operator. So each
 * whitespace-separated word becomes one quoted string (inner quotes doubled),
 * and the words are ANDed; the last word matches as a prefix ("pyth" finds
 * "python") so the TUI can search as you type. Words that tokenize to nothing
 * (a lone "*") are ignored by FTS5. Ranking is FTS5's bm25; snippets carry
 * \x01 .. \x02 around the matches for the caller to render.
 */
#include <stdlib.h>
#include <string.h>

#include "sessions_impl.h"

#define SEARCH_DEFAULT_LIMIT 50

char *sess_search_expr(const char *query)
{
    const char *q = query ? query : "";
    size_t cap = strlen(q) * 2 + 8;
    char *out = malloc(cap), *o = out;
    if (!out) return NULL;
    const char *p = q, *ws = " \t\r\n\f\v";
    while (*(p += strspn(p, ws))) {
        size_t n = strcspn(p, ws);
        if (o != out) *o++ = ' ';
        *o++ = '"';
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"') *o++ = '"';
            *o++ = p[i];
        }
        *o++ = '"';
        p += n;
    }
    if (o != out) *o++ = '*';
    *o = 0;
    return out;
}

void sess_hit_free_list(sess_hit *list, int n)
{
    for (int i = 0; list && i < n; i++) {
        free(list[i].title);
        free(list[i].role);
        free(list[i].snippet);
    }
    free(list);
}

/* One result row into h. */
static int hit_from_row(sqlite3_stmt *q, sess_hit *h)
{
    memset(h, 0, sizeof *h);
    h->msg_id = sqlite3_column_int64(q, 0);
    h->session_id = sqlite3_column_int64(q, 1);
    h->seq = sqlite3_column_int(q, 2);
    h->role = sess_col_dup(q, 3);
    h->title = sess_col_dup(q, 4);
    h->snippet = sess_col_dup(q, 5);
    return h->role && h->title && h->snippet ? 0 : -1;
}

int sess_search(sess_store *s, const char *query, int limit, sess_hit **out, int *n, sess_status *st)
{
    *out = NULL;
    *n = 0;
    char *expr = sess_search_expr(query);
    if (!expr) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory"), -1;
    if (!*expr) { free(expr); return 0; }          /* empty query: nothing, not everything */
    sqlite3_stmt *q = sess_prepare(s,
        "SELECT m.id, m.session_id, m.seq, m.role, s.title,"
        "       snippet(messages_fts, 0, char(1), char(2), '\xe2\x80\xa6', 12)"
        "  FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        "  JOIN sessions s ON s.id = m.session_id"
        " WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?", st);
    if (!q) { free(expr); return -1; }
    sqlite3_bind_text(q, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, limit > 0 ? limit : SEARCH_DEFAULT_LIMIT);
    int rc, cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sess_hit *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) { rc = SQLITE_NOMEM; break; }
            *out = grown;
        }
        if (hit_from_row(q, &(*out)[(*n)++]) < 0) { rc = SQLITE_NOMEM; break; }
    }
    sqlite3_finalize(q);
    free(expr);
    if (rc == SQLITE_DONE) return 0;
    sess_hit_free_list(*out, *n);
    *out = NULL;
    *n = 0;
    return sess_sqlite_fail(s, rc, "searching", st);
}
