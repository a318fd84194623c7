/* sessions_impl.h — inside the sessions/ room only (and its unit tests).
 *
 * The store struct, the transaction runner every write goes through, and the
 * SQLite-error-to-message table. Outside this room use sessions.h.
 */
#ifndef PL_SESSIONS_IMPL_H
#define PL_SESSIONS_IMPL_H

#include <jansson.h>
#include <sqlite3.h>

#include "sessions.h"

/* One message being streamed by this process: text not yet on disk. */
typedef struct sess_stream {
    int64_t msg_id, sid;
    char   *buf;            /* pending bytes since the last checkpoint */
    size_t  len, cap;
    int64_t last_flush_ms;  /* monotonic */
    struct sess_stream *next;
} sess_stream;

struct sess_store {
    sqlite3 *db;
    char    *path;          /* .../sessions.db */
    char    *dir;           /* its directory (snapshots/ lives here) */
    bool     ro;
    bool     damaged;       /* SQLite reported damage: nothing more is written */
    char     note[1024];    /* said once at open: read-only, moved aside, not private */
    int      busy_ms;
    int64_t  busy_since;    /* when the current wait for the lock began (busy_poll) */
    int      retries;       /* transaction-level retries on SQLITE_BUSY */
    int      ckpt_ms;
    size_t   ckpt_bytes;
    sess_stream *streams;
    int64_t  data_version;  /* PRAGMA data_version at the last sess_store_changed */
};

/* Body of a write transaction: return SQLITE_OK, a SQLite error code (mapped
 * and maybe retried by sess_tx), or -1 after filling st itself (no retry). */
typedef int (*sess_tx_fn)(sess_store *s, void *ctx, sess_status *st);

/* BEGIN IMMEDIATE; fn; COMMIT — rolled back on any error, retried on BUSY. */
int sess_tx(sess_store *s, sess_tx_fn fn, void *ctx, sess_status *st);
/* Turn a SQLite result into a sess_status message naming the file. Returns -1. */
int sess_sqlite_fail(sess_store *s, int rc, const char *what, sess_status *st);
/* Prepare sql or fail; NULL on error (st filled). */
sqlite3_stmt *sess_prepare(sess_store *s, const char *sql, sess_status *st);
/* Run schema migrations up to sess_schema_version(). */
int sess_schema_migrate(sess_store *s, sess_status *st);
/* Unix time in ms; monotonic ms. */
int64_t sess_now_ms(void);
int64_t sess_mono_ms(void);
/* strdup of a column (never NULL: "" for NULL). */
char *sess_col_dup(sqlite3_stmt *q, int col);
/* True if a session id exists (SQLite error -> -1 with st). */
int sess_exists(sess_store *s, int64_t id, sess_status *st);
/* Insert a whole message inside a running transaction; id out. */
int sess_msg_insert_tx(sess_store *s, int64_t sid, const char *role, const char *text, size_t len,
                       const sess_msg_stats *stats, int64_t created, bool complete, int64_t *id_out,
                       sess_status *st);
/* ---- store_guard.c: privacy, read-only and damage checks at open ---- */
/* Add a sentence to the note shown at open. */
void sess_note_add(sess_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The data folder 0700 (tightened when ours, else a note). */
void sess_guard_folder(sess_store *s, const char *dir);
/* sessions.db (made here 0600 when create and missing), -wal, -shm: 0600. */
int  sess_guard_files(sess_store *s, bool create, sess_status *st);
/* True (and why) when this process cannot write the store's folder or file. */
bool sess_cannot_write(const sess_store *s, char *why, size_t len);
/* PRAGMA quick_check stopped after ms; SESS_ERR_CORRUPT with the first problem. */
int  sess_quick_check(sess_store *s, int ms, sess_status *st);

/* Known roles; false for anything else. */
bool sess_role_valid(const char *role);

/* A JSON string of s[0..len), ill-formed UTF-8 as U+FFFD (export.c). */
json_t *sess_json_text(const char *s, size_t len);
/* The Markdown form of a JSON export document, and back (markdown.c). */
int     sess_md_write(FILE *f, json_t *doc, const sess_msg *m, int n);
json_t *sess_md_parse(const char *text, size_t len, const char *name, sess_status *st);

#endif
