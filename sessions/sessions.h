/* sessions.h — the door of sessions/: saved conversations, search, KV snapshots.
 *
 * One SQLite file, <data_dir>/sessions.db (WAL, foreign keys, busy timeout),
 * shared safely by several parley processes. Every write is one IMMEDIATE
 * transaction retried a bounded number of times when another process holds
 * the lock. A streaming answer is checkpointed while it grows
 * (sess_msg_begin / _append / _finish): kill -9 loses at most the text since
 * the last checkpoint (~200 ms), and such a message stays marked incomplete.
 *
 * A store handle belongs to one thread at a time (open a second handle for a
 * second thread). Text appended but not yet checkpointed is only in memory:
 * the streaming process shows its own copy; other readers see the checkpoints.
 *
 * Used by `parley sessions` (cmd/sessions.c) and the TUI sidebar. Nothing here
 * prints or exits: every fallible call fills a sess_status whose message a
 * person can act on ("session store is busy (another parley?)").
 *
 * Snapshots (KV cache files for instant resume) are separate files under
 * <data_dir>/snapshots/<id>.snap with a versioned, checksummed header; the
 * payload is produced and consumed by callbacks, so this room does not depend
 * on engine internals. A stale or corrupt snapshot is reported and ignored.
 */
#ifndef PL_SESSIONS_H
#define PL_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pl_config;

/* ---- status ------------------------------------------------------------ */

typedef enum sess_code {
    SESS_OK = 0,
    SESS_ERR_IO,        /* open/read/write failed (errno text in msg) */
    SESS_ERR_BUSY,      /* another process held the lock beyond the timeout */
    SESS_ERR_FULL,      /* disk (or database size limit) full; nothing was half-written */
    SESS_ERR_READONLY,  /* the store was opened read-only */
    SESS_ERR_CORRUPT,   /* sessions.db is damaged or not a database; left untouched */
    SESS_ERR_NEWER,     /* schema written by a newer parley */
    SESS_ERR_NOTFOUND,  /* no such session / message */
    SESS_ERR_ARG,       /* bad argument from the caller */
    SESS_ERR_FORMAT,    /* bad import file or snapshot (see sess_snap_reason) */
    SESS_ERR_NOMEM,
    SESS_ERR_STALE,     /* snapshot made for another model or KV types */
    SESS_ERR_EXISTS     /* the file to write exists and overwriting was not asked for */
} sess_code;

typedef struct sess_status {
    sess_code code;
    char msg[512];
} sess_status;

/* Fill st (may be NULL) and return code. */
sess_code sess_status_set(sess_status *st, sess_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the store ----------------------------------------------------------- */

typedef struct sess_store sess_store;

enum {
    SESS_OPEN_READONLY = 1 << 0,   /* never write (?mode=ro) */
    SESS_OPEN_NO_CREATE = 1 << 1   /* fail if sessions.db does not exist yet */
};

/* The data directory: cfg->data_dir if set, else config_default_data_dir()
 * ($PARLEY_DATA or ~/.local/share/parley). Caller frees. */
char *sess_data_dir(const struct pl_config *cfg);

/* Open (creating dir and file, migrating an older schema) <data_dir>/sessions.db.
 * A file we may read but not write is opened read-only: sess_store_note() says so. */
sess_store *sess_store_open(const char *data_dir, unsigned flags, sess_status *st);
/* 0 if a store can be made in data_dir (a writable folder, or one that can be
 * created); else -1 with the reason ("/x is not writable (Read-only file system)"). */
int         sess_dir_writable(const char *data_dir, sess_status *st);
/* Same with an explicit database file (snapshots go beside it). */
sess_store *sess_store_open_file(const char *db_path, unsigned flags, sess_status *st);
void        sess_store_close(sess_store *s);
const char *sess_store_path(const sess_store *s);
bool        sess_store_read_only(const sess_store *s);
/* A note for the status line ("sessions.db is read-only: ...") or NULL. */
const char *sess_store_note(const sess_store *s);
/* How long a write waits for another process (default 5000 ms). */
void        sess_store_set_busy_timeout(sess_store *s, int ms);
/* Streaming checkpoint policy (default 200 ms or 256 bytes, whichever first). */
void        sess_store_set_checkpoint(sess_store *s, int ms, size_t bytes);
/* True once after another process (or connection) committed a change since the
 * last call: the TUI polls this to refresh its sidebar. */
bool        sess_store_changed(sess_store *s);
/* PRAGMA integrity_check: 0 if ok, else SESS_ERR_CORRUPT with the first problem. */
int         sess_store_check(sess_store *s, sess_status *st);
/* Explicit recovery for a corrupt store: rename db (+ -wal, -shm) to
 * <db>.corrupt-<unix time>; the new name goes to moved_to. Never automatic. */
int         sess_store_move_aside(const char *db_path, char *moved_to, size_t len, sess_status *st);
/* Schema version this build writes (PRAGMA user_version). */
int         sess_schema_version(void);

/* ---- sessions ------------------------------------------------------------ */

/* What a resume of a session would do with its KV snapshot (sess_snap_mark). */
typedef enum sess_snap_state {
    SESS_SNAP_NONE = 0,  /* no snapshot: the transcript is re-decoded */
    SESS_SNAP_READY,     /* fits the model and K/V types it last ran with: resume is instant */
    SESS_SNAP_STALE      /* one that will not fit (other model or types, damaged header) */
} sess_snap_state;

typedef struct sess_info {
    int64_t  id;
    char    *title;            /* "" until the first user message */
    int64_t  created, updated; /* unix time in milliseconds */
    char    *model_path;       /* "" if unknown */
    uint64_t model_fp;         /* sess_model_fingerprint(); 0 if unknown */
    char    *settings;         /* JSON object text: the knobs it ran with ("{}" if none) */
    char    *system_prompt;    /* "" if none */
    int      n_messages;
    sess_snap_state snap;      /* filled by sess_snap_mark only (NONE otherwise) */
    uint64_t snap_bytes;       /* its snapshot file's size */
    char    *model_name;       /* the name users know it by ("smollm2:135m"); "" if none */
} sess_info;

typedef struct sess_new {
    const char *title;          /* NULL: set from the first user message */
    const char *model_path;
    uint64_t    model_fp;
    const char *settings;       /* JSON object text or NULL */
    const char *system_prompt;
} sess_new;

/* A new empty session; returns its id (> 0) or -1. */
int64_t sess_create(sess_store *s, const sess_new *p, sess_status *st);
int     sess_rename(sess_store *s, int64_t id, const char *title, sess_status *st);
/* Delete the session, its messages and its snapshot file. */
int     sess_delete(sess_store *s, int64_t id, sess_status *st);
/* Update what the session runs with (NULL fields are left as they are). */
int     sess_set_model(sess_store *s, int64_t id, const char *model_path, uint64_t fp, sess_status *st);
/* The name users know the session's model by ("" for none). */
int     sess_set_model_name(sess_store *s, int64_t id, const char *model_name, sess_status *st);
int     sess_set_settings(sess_store *s, int64_t id, const char *settings_json, sess_status *st);
int     sess_set_system(sess_store *s, int64_t id, const char *system_prompt, sess_status *st);

/* All sessions, newest first (by updated). *out is an array of *n; free with sess_info_free_list. */
int     sess_list(sess_store *s, sess_info **out, int *n, sess_status *st);
/* One session's row; SESS_ERR_NOTFOUND: "no session 42". Free with sess_info_clear. */
int     sess_get_info(sess_store *s, int64_t id, sess_info *out, sess_status *st);
/* Most recently updated session (for --continue); 0 if the store is empty, -1 on error. */
int64_t sess_last(sess_store *s, sess_status *st);
void    sess_info_clear(sess_info *i);
void    sess_info_free_list(sess_info *list, int n);

/* Title from a user message: first non-empty line, at most ~60 chars, cut at a
 * word boundary (with "..." when cut). Writes a NUL-terminated string. */
void    sess_title_from_text(const char *text, char *out, size_t len);

/* ---- messages ------------------------------------------------------------ */

typedef struct sess_msg_stats {
    int    n_tokens;   /* tokens in the message; 0 unknown */
    int    gen_ms;     /* generation time; 0 unknown */
    double tok_s;      /* tokens per second; 0 unknown */
} sess_msg_stats;

typedef struct sess_msg {
    int64_t id, session_id;
    int     seq;       /* 0, 1, 2 ... within the session */
    char   *role;      /* "system" | "user" | "assistant" */
    char   *text;      /* may end in a cut UTF-8 sequence if incomplete */
    size_t  len;
    sess_msg_stats stats;
    int64_t created;   /* unix ms */
    bool    complete;  /* false: cut off (crash, kill, cancel before finish) */
} sess_msg;

/* The longest message text (and imported title or prompt) a store takes. */
#define SESS_MSG_MAX_BYTES (16u << 20)

/* A whole message in one transaction; returns its id or -1. The first user
 * message of an untitled session gives it its title. stats may be NULL. */
int64_t sess_msg_add(sess_store *s, int64_t sid, const char *role, const char *text, size_t len,
                     const sess_msg_stats *stats, sess_status *st);
/* Streaming: an empty, incomplete message; returns its id or -1. */
int64_t sess_msg_begin(sess_store *s, int64_t sid, const char *role, sess_status *st);
/* Append text (call per token); written to disk at most every checkpoint interval. */
int     sess_msg_append(sess_store *s, int64_t msg_id, const char *text, size_t len, sess_status *st);
/* Write what is pending now (e.g. on cancel). */
int     sess_msg_flush(sess_store *s, int64_t msg_id, sess_status *st);
/* Write the rest, the stats, and mark the message complete. */
int     sess_msg_finish(sess_store *s, int64_t msg_id, const sess_msg_stats *stats, sess_status *st);
/* Drop messages with seq >= from_seq (edit / regenerate). */
int     sess_msg_truncate(sess_store *s, int64_t sid, int from_seq, sess_status *st);
/* A session's messages in order. Free with sess_msg_free_list. */
int     sess_msg_list(sess_store *s, int64_t sid, sess_msg **out, int *n, sess_status *st);
void    sess_msg_free_list(sess_msg *list, int n);

/* ---- search -------------------------------------------------------------- */

typedef struct sess_hit {
    int64_t session_id, msg_id;
    int     seq;
    char   *title;
    char   *role;
    char   *snippet;   /* matches wrapped in SESS_HL_ON .. SESS_HL_OFF */
} sess_hit;

#define SESS_HL_ON  "\x01"
#define SESS_HL_OFF "\x02"

/* Full-text search over message text. Any user input is safe: words are
 * quoted (the last one matches as a prefix), so no query is a syntax error.
 * Best matches first; at most limit hits (<= 0: 50). */
int  sess_search(sess_store *s, const char *query, int limit, sess_hit **out, int *n, sess_status *st);
void sess_hit_free_list(sess_hit *list, int n);
/* The FTS5 MATCH expression built for query (for tests); caller frees. */
char *sess_search_expr(const char *query);

/* ---- export / import ------------------------------------------------------ */

int sess_export_md(sess_store *s, int64_t id, FILE *out, sess_status *st);
int sess_export_json(sess_store *s, int64_t id, FILE *out, sess_status *st);

enum { SESS_WRITE_FORCE = 1 << 0 };   /* sess_file_write: replace an existing file (or link) */
/* Write the file's bytes to f; 0 or -1 with st filled. */
typedef int (*sess_file_fill)(void *ctx, FILE *f, sess_status *st);
/* The one writer of files a person asked for (exports): a private (0600)
 * temporary file in the same folder, fsynced, renamed onto path. An existing
 * path is refused (SESS_ERR_EXISTS) unless SESS_WRITE_FORCE; a symbolic link
 * at path is replaced, never followed. On any failure path is untouched. */
int sess_file_write(const char *path, unsigned flags, sess_file_fill fill, void *ctx, sess_status *st);
/* Session id as Markdown or JSON into path through sess_file_write; the id is
 * checked before anything is written. */
int sess_export_file(sess_store *s, int64_t id, bool json, const char *path, unsigned flags, sess_status *st);
/* Import a JSON export as a new session, all or nothing; returns the new id or -1. */
int64_t sess_import_json(sess_store *s, const char *text, size_t len, const char *name, sess_status *st);
int64_t sess_import_json_file(sess_store *s, const char *path, sess_status *st);  /* "-" = stdin */
/* A file parley exported, JSON or Markdown (told apart by its first byte),
 * as a new session; "-" = stdin. Returns the new id or -1. */
int64_t sess_import_file(sess_store *s, const char *path, sess_status *st);
/* A conversation that is not in a store (the chat's unsaved one) in the
 * Markdown form sess_import_file reads: title, system prompt and settings
 * (JSON object text) may be NULL. */
int     sess_md_write_msgs(FILE *f, const char *title, const char *system, const char *settings_json,
                           const sess_msg *m, int n);
/* The session knobs of cfg (generation and engine options) as a JSON object; caller frees. */
char   *sess_settings_from_config(const struct pl_config *cfg);
/* Apply a settings object to cfg (unknown keys are skipped); -1 with err on a bad value. */
int     sess_settings_apply(const char *json, struct pl_config *cfg, char *err, size_t errlen);
/* Each session knob of a settings object, its value as text (unknown keys are
 * skipped); fn returning -1 stops the walk. -1 with err on a bad object. */
struct pl_option;
typedef int (*sess_setting_fn)(void *ctx, const struct pl_option *o, const char *value, char *err, size_t errlen);
int     sess_settings_each(const char *json, sess_setting_fn fn, void *ctx, char *err, size_t errlen);
/* True if s[0..len) is valid UTF-8. */
bool    sess_utf8_valid(const char *s, size_t len);
/* Local time "YYYY-MM-DD HH:MM" of a unix-ms timestamp. */
void    sess_time_text(int64_t ms, char *buf, size_t len);

/* ---- KV snapshots ----------------------------------------------------------- */

typedef enum sess_snap_reason {
    SNAP_OK = 0,
    SNAP_MISSING,      /* no file */
    SNAP_IO,           /* read/write error */
    SNAP_BAD_MAGIC,    /* not a parley snapshot */
    SNAP_BAD_VERSION,  /* snapshot format we do not know */
    SNAP_TRUNCATED,    /* shorter (or longer) than its header says */
    SNAP_BAD_CHECKSUM, /* bytes changed since it was written */
    SNAP_STALE_MODEL,  /* written for another model file */
    SNAP_STALE_TYPES,  /* written with other KV cache types */
    SNAP_PAYLOAD,      /* the payload callback failed */
    SNAP_NOT_FILE      /* a folder (or device...) where the snapshot file should be */
} sess_snap_reason;

typedef struct sess_snap_meta {
    uint64_t model_fp;       /* sess_model_fingerprint() of the model */
    uint32_t type_k, type_v; /* pl_type of the KV cache */
    uint32_t n_tokens;       /* positions held */
    uint64_t payload_size;   /* filled by save / load */
} sess_snap_meta;

/* Write the engine state to f; return 0 or -1. */
typedef int (*sess_payload_write)(void *ctx, FILE *f);
/* Read exactly size bytes of engine state from f; return 0 or -1. */
typedef int (*sess_payload_read)(void *ctx, FILE *f, uint64_t size);

/* <data_dir>/snapshots/<sid>.snap; caller frees. */
char *sess_snap_path(const char *data_dir, int64_t sid);
/* The store's snapshot path for a session; caller frees. */
char *sess_store_snap_path(const sess_store *s, int64_t sid);
/* Atomic write: temp file, fsync, rename, fsync dir. */
int sess_snap_save(const char *path, const sess_snap_meta *meta, sess_payload_write fn, void *ctx,
                   sess_status *st);
/* Check everything (magic, version, size, checksum, then model and types against
 * expect) before handing the payload to fn. Returns SNAP_OK or the reason,
 * with a message in st; on any reason but SNAP_OK fn was not called or failed.
 * A snapshot loaded counts as used: its mtime becomes now (sess_snap_trim). */
sess_snap_reason sess_snap_load(const char *path, const sess_snap_meta *expect, sess_payload_read fn,
                                void *ctx, sess_snap_meta *got, sess_status *st);
const char *sess_snap_reason_name(sess_snap_reason r);
/* The header of the snapshot at path into got, and the file's size: 1 if it
 * is a whole snapshot by its header (no checksum read), 0 if the file is not
 * one, -1 if there is no such file. */
int sess_snap_peek(const char *path, sess_snap_meta *got, uint64_t *bytes);
/* For each session of list, fill snap and snap_bytes from its snapshot's header. */
void sess_snap_mark(const sess_store *s, sess_info *list, int n);

/* What sess_snap_trim found and did. */
typedef struct sess_trim {
    int      n_files, n_removed;      /* snapshots kept, and removed */
    uint64_t bytes, bytes_removed;    /* their sizes */
} sess_trim;
/* Keep <data_dir>/snapshots/ within budget bytes (0: none kept): the least
 * recently used snapshots (by mtime: written, or loaded by sess_snap_load)
 * are removed first. out may be NULL. 0, or -1 if one could not be removed. */
int sess_snap_trim(const char *data_dir, uint64_t budget, sess_trim *out, sess_status *st);

/* 64-bit fingerprint of a model file: hash of its first 4 MiB and its size. */
uint64_t sess_model_fingerprint(const char *path, sess_status *st);
/* CRC-32C (Castagnoli), chainable: crc = sess_crc32c(crc, buf, n), start from 0. */
uint32_t sess_crc32c(uint32_t crc, const void *buf, size_t n);

#endif
