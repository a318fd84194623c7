/* schema.c — the shape of sessions.db and how an older file grows into it.
 *
 * PRAGMA user_version holds the schema version. migrations[v] turns version v
 * into v+1; opening a store runs the missing steps in ONE immediate
 * transaction (two processes opening an old file at once: the second sees the
 * new version inside its transaction and does nothing). A version newer than
 * this build knows is refused with a clear message, never "repaired".
 * Never edit a shipped step: add a new one.
 *
 *   1: sessions, messages (ids never reused: AUTOINCREMENT)
 *   2: model fingerprint, per-message stats and the complete flag, list index
 *   3: FTS5 index over message text, kept in sync by triggers
 *   4: the model's name as users know it ("smollm2:135m" beside its blob's path)
 */
#include <stdlib.h>
#include <string.h>

#include "sessions_impl.h"

static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE sessions("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  model_path TEXT NOT NULL DEFAULT '',"
    "  settings TEXT NOT NULL DEFAULT '{}',"
    "  system_prompt TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  text TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  UNIQUE(session_id, seq));",
    /* 1 -> 2 */
    "ALTER TABLE sessions ADD COLUMN model_fp INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN n_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN gen_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN tok_s REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX sessions_by_updated ON sessions(updated DESC, id DESC);",
    /* 2 -> 3 */
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END;"
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF text ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    "  INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END;"
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');",
    /* 3 -> 4 */
    "ALTER TABLE sessions ADD COLUMN model_name TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION (int)(sizeof migrations / sizeof migrations[0])

int sess_schema_version(void) { return SCHEMA_VERSION; }

/* PRAGMA user_version, or -1 with st on error (a negative version: no parley wrote it). */
static int schema_read_version(sess_store *s, sess_status *st)
{
    sqlite3_stmt *q = sess_prepare(s, "PRAGMA user_version", st);
    if (!q) return -1;
    int rc = sqlite3_step(q);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW) return sess_sqlite_fail(s, rc, "reading the schema version", st);
    if (v < 0)
        return sess_status_set(st, SESS_ERR_CORRUPT, "%s has schema version %d, which no parley writes (damaged, or "
                               "not parley's)", s->path, v), -1;
    return v;
}

/* The message for a file from the future. */
static int schema_newer(sess_store *s, int v, sess_status *st)
{
    return sess_status_set(st, SESS_ERR_NEWER,
                           "sessions.db was written by a newer parley (schema %d; this parley knows up to %d): "
                           "%s was not changed, update parley to use it", v, SCHEMA_VERSION, s->path), -1;
}

/* One transaction: re-read the version under the write lock, apply the missing steps. */
static int schema_migrate_tx(sess_store *s, void *ctx, sess_status *st)
{
    int v = schema_read_version(s, st);
    if (v < 0) return -1;
    if (v > SCHEMA_VERSION) return schema_newer(s, v, st);
    for (; v < SCHEMA_VERSION; v++) {
        int rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            const char *e = sqlite3_errmsg(s->db);
            if (strstr(e, "fts5"))
                return sess_status_set(st, SESS_ERR_IO, "%s: this SQLite has no FTS5 (%s); install a "
                                       "libsqlite3 built with FTS5 (Debian's is)", s->path, e), -1;
            if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_FULL) return rc;
            return sess_status_set(st, SESS_ERR_IO, "%s: upgrading the schema from version %d failed: %s",
                                   s->path, v, e), -1;
        }
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

int sess_schema_migrate(sess_store *s, sess_status *st)
{
    int v = schema_read_version(s, st);
    if (v < 0) return -1;
    if (v > SCHEMA_VERSION) return schema_newer(s, v, st);
    if (v == SCHEMA_VERSION) return 0;
    if (s->ro)
        return sess_status_set(st, SESS_ERR_READONLY, "%s has schema %d and needs an upgrade to %d, "
                               "but it is read-only", s->path, v, SCHEMA_VERSION), -1;
    return sess_tx(s, schema_migrate_tx, NULL, st);
}
