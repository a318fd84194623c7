/* import.c — a JSON export back into the store, all or nothing.
 *
 * The file is someone else's input: every field is checked (presence, type,
 * range, UTF-8) before anything is written, errors name the file and the
 * field ("chat.json: messages[3].role: expected a string"). Sizes are capped
 * (the file, each text) and the limit is said. The messages are inserted in
 * batches (1000 messages or 100 ms per transaction), so a huge import never
 * holds the write lock for long and another parley can save meanwhile; a
 * failure part-way deletes what was inserted, so the store is left as it was
 * (only a kill mid-import leaves the part imported so far). The session gets
 * a new id; ids in the file are never trusted. A UTF-8 BOM is accepted.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sessions_impl.h"

#define IMPORT_MAX_BYTES (256u << 20)
#define BATCH_MSGS 1000   /* messages per write transaction */
#define BATCH_MS   100    /* ... or this long, whichever comes first */
#define BATCH_GAP_MS 5    /* then the lock is left free this long */

typedef struct import_ctx {
    const char *name;   /* file name for messages */
    json_t *doc;
    int64_t id;         /* the new session (0 until its row is inserted) */
    size_t  next;       /* the next message to insert */
    int64_t done_id;    /* id and next as of the last commit (a retried batch starts there) */
    size_t  done_next;
    bool    finished;
} import_ctx;

/* Error naming file and field path; returns -1. */
static int bad(sess_status *st, const char *name, const char *field, const char *what)
{
    return sess_status_set(st, SESS_ERR_FORMAT, "%s: %s: %s", name, field, what), -1;
}

/* obj[key] must be a valid UTF-8 string (optional ones may be absent). */
static int want_string(json_t *obj, const char *key, bool required, const char *name, const char *at,
                       sess_status *st)
{
    char field[96];
    snprintf(field, sizeof field, "%s%s", at, key);
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? bad(st, name, field, "missing") : 0;
    if (!json_is_string(v)) return bad(st, name, field, "expected a string");
    if (!sess_utf8_valid(json_string_value(v), json_string_length(v))) return bad(st, name, field, "invalid UTF-8");
    if (strlen(json_string_value(v)) != json_string_length(v)) return bad(st, name, field, "contains a NUL byte");
    if (json_string_length(v) > SESS_MSG_MAX_BYTES) {
        char what[96];
        snprintf(what, sizeof what, "%zu MiB is too long (the limit is %u MiB)", json_string_length(v) >> 20,
                 SESS_MSG_MAX_BYTES >> 20);
        return bad(st, name, field, what);
    }
    return 0;
}

/* obj[key], if present, must be an integer in [lo, hi] (or any number if real_ok). */
static int want_number(json_t *obj, const char *key, double lo, double hi, bool real_ok, const char *name,
                       const char *at, sess_status *st)
{
    char field[96];
    snprintf(field, sizeof field, "%s%s", at, key);
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!(json_is_integer(v) || (real_ok && json_is_real(v))))
        return bad(st, name, field, real_ok ? "expected a number" : "expected an integer");
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi) return bad(st, name, field, "out of range");
    return 0;
}

/* One message object at messages[i]. */
static int check_message(json_t *m, size_t i, const char *name, sess_status *st)
{
    char at[48];
    snprintf(at, sizeof at, "messages[%zu].", i);
    if (!json_is_object(m)) {
        at[strlen(at) - 1] = 0;
        return bad(st, name, at, "expected an object");
    }
    if (want_string(m, "role", true, name, at, st) < 0 || want_string(m, "text", true, name, at, st) < 0) return -1;
    if (!sess_role_valid(json_string_value(json_object_get(m, "role"))))
        return snprintf(at + strlen(at), sizeof at - strlen(at), "role"),
               bad(st, name, at, "must be system, user or assistant");
    if (want_number(m, "created", 0, 9e15, false, name, at, st) < 0 ||
        want_number(m, "n_tokens", 0, 2147483647.0, false, name, at, st) < 0 ||
        want_number(m, "gen_ms", 0, 2147483647.0, false, name, at, st) < 0 ||
        want_number(m, "tok_s", 0, 1e12, true, name, at, st) < 0) return -1;
    json_t *c = json_object_get(m, "complete");
    if (c && !json_is_boolean(c)) return snprintf(at + strlen(at), sizeof at - strlen(at), "complete"),
                                         bad(st, name, at, "expected true or false");
    return 0;
}

/* The whole document, before any write. */
static int check_doc(json_t *d, const char *name, sess_status *st)
{
    if (!json_is_object(d)) return bad(st, name, "top level", "expected an object");
    json_t *ver = json_object_get(d, "parley_session");
    if (!ver) return bad(st, name, "parley_session", "missing (not a parley session export)");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1)
        return bad(st, name, "parley_session", "unsupported format version (this parley reads 1)");
    if (want_string(d, "title", true, name, "", st) < 0 || want_string(d, "model_path", false, name, "", st) < 0 ||
        want_string(d, "system_prompt", false, name, "", st) < 0 ||
        want_string(d, "model_name", false, name, "", st) < 0 ||
        want_string(d, "model_fingerprint", false, name, "", st) < 0 ||
        want_number(d, "created", 0, 9e15, false, name, "", st) < 0 ||
        want_number(d, "updated", 0, 9e15, false, name, "", st) < 0) return -1;
    json_t *fp = json_object_get(d, "model_fingerprint");
    if (fp && strspn(json_string_value(fp), "0123456789abcdefABCDEF") != json_string_length(fp))
        return bad(st, name, "model_fingerprint", "expected hex digits");
    json_t *set = json_object_get(d, "settings");
    if (set && !json_is_object(set)) return bad(st, name, "settings", "expected an object");
    json_t *msgs = json_object_get(d, "messages");
    if (!msgs) return bad(st, name, "messages", "missing");
    if (!json_is_array(msgs)) return bad(st, name, "messages", "expected an array");
    for (size_t i = 0; i < json_array_size(msgs); i++)
        if (check_message(json_array_get(msgs, i), i, name, st) < 0) return -1;
    return 0;
}

/* obj[key] as a string, default "" when absent. */
static const char *str_or(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* The session row of the checked document (the first batch). */
static int insert_session(sess_store *s, import_ctx *c, sess_status *st)
{
    json_t *d = c->doc, *set = json_object_get(d, "settings");
    char *settings = set ? json_dumps(set, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int64_t now = sess_now_ms();
    json_t *cr = json_object_get(d, "created"), *up = json_object_get(d, "updated");
    sqlite3_stmt *q = sess_prepare(s, "INSERT INTO sessions(title, created, updated, model_path, model_fp, settings,"
                                      " system_prompt, model_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", st);
    if (!q) { free(settings); return -1; }
    sqlite3_bind_text(q, 1, str_or(d, "title"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, cr ? json_integer_value(cr) : now);
    sqlite3_bind_int64(q, 3, up ? json_integer_value(up) : now);
    sqlite3_bind_text(q, 4, str_or(d, "model_path"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, (int64_t)strtoull(str_or(d, "model_fingerprint"), NULL, 16));
    sqlite3_bind_text(q, 6, settings ? settings : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, str_or(d, "system_prompt"), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, str_or(d, "model_name"), -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    free(settings);
    if (rc != SQLITE_DONE) return rc;
    c->id = sqlite3_last_insert_rowid(s->db);
    return SQLITE_OK;
}

/* One message of the document. */
static int insert_message(sess_store *s, import_ctx *c, json_t *m, sess_status *st)
{
    json_t *t = json_object_get(m, "text"), *ts = json_object_get(m, "created"), *cp = json_object_get(m, "complete");
    sess_msg_stats stats = {(int)json_integer_value(json_object_get(m, "n_tokens")),
                            (int)json_integer_value(json_object_get(m, "gen_ms")),
                            json_number_value(json_object_get(m, "tok_s"))};
    int64_t id;
    return sess_msg_insert_tx(s, c->id, str_or(m, "role"), json_string_value(t), json_string_length(t), &stats,
                              ts ? json_integer_value(ts) : sess_now_ms(), cp ? json_is_true(cp) : true, &id, st);
}

/* One batch: the session row first, then messages until the batch is full; the last one keeps the file's time. */
static int import_batch_tx(sess_store *s, void *vctx, sess_status *st)
{
    import_ctx *c = vctx;
    c->id = c->done_id;          /* a retried batch starts from the last commit */
    c->next = c->done_next;
    int64_t t0 = sess_mono_ms();
    int rc = c->id ? SQLITE_OK : insert_session(s, c, st);
    json_t *msgs = json_object_get(c->doc, "messages");
    size_t n = json_array_size(msgs), in_batch = 0;
    while (rc == SQLITE_OK && c->next < n) {
        rc = insert_message(s, c, json_array_get(msgs, c->next), st);
        if (rc != SQLITE_OK) return rc;
        c->next++;
        if (++in_batch >= BATCH_MSGS || sess_mono_ms() - t0 >= BATCH_MS) return SQLITE_OK;
    }
    if (rc != SQLITE_OK) return rc;
    json_t *up = json_object_get(c->doc, "updated");
    if (up) {   /* inserting bumped `updated`; keep the file's value */
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE sessions SET updated = %lld WHERE id = %lld",
                 (long long)json_integer_value(up), (long long)c->id);
        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) c->finished = true;
    return rc;
}

/* Batches until done; on failure the part already committed is deleted again. */
static int import_batches(sess_store *s, import_ctx *c, sess_status *st)
{
    while (!c->finished) {
        if (sess_tx(s, import_batch_tx, c, st) < 0) {
            if (c->done_id) sess_delete(s, c->done_id, NULL);
            return -1;
        }
        c->done_id = c->id;
        c->done_next = c->next;
        if (!c->finished) {   /* a moment with the lock free: a waiting writer gets in */
            struct timespec gap = {0, BATCH_GAP_MS * 1000000L};
            nanosleep(&gap, NULL);
        }
    }
    return 0;
}

/* A parsed document into the store (checked first). */
static int64_t import_doc(sess_store *s, json_t *doc, const char *name, sess_status *st)
{
    import_ctx c = {.name = name, .doc = doc};
    int rc = check_doc(doc, name, st);
    if (rc == 0) rc = import_batches(s, &c, st);
    return rc < 0 ? -1 : c.id;
}

/* Parse text (a UTF-8 BOM skipped); NULL with st on bad JSON. */
static json_t *parse(const char *text, size_t len, const char *name, sess_status *st)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { text += 3; len -= 3; }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) sess_status_set(st, SESS_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", name, je.line, je.column, je.text);
    return doc;
}

int64_t sess_import_json(sess_store *s, const char *text, size_t len, const char *name, sess_status *st)
{
    name = name ? name : "import";
    json_t *doc = parse(text, len, name, st);
    if (!doc) return -1;
    int64_t id = import_doc(s, doc, name, st);
    json_decref(doc);
    return id;
}

/* Read a whole file (or stdin for "-") with a size cap. */
static char *read_all(const char *path, size_t *len, sess_status *st)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return sess_status_set(st, SESS_ERR_IO, "%s: %s", path, strerror(errno)), NULL;
    struct stat sb;
    size_t cap = 1 << 16, n = 0, got;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        if ((uint64_t)sb.st_size > IMPORT_MAX_BYTES) {
            if (f != stdin) fclose(f);
            return sess_status_set(st, SESS_ERR_FORMAT, "%s: %lld MiB is too large to import (the limit is %u MiB)",
                                   path, (long long)(sb.st_size >> 20), IMPORT_MAX_BYTES >> 20), NULL;
        }
        cap = (size_t)sb.st_size + 1;   /* read it in one go: no doubling */
    } else if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (f != stdin) fclose(f);
        return sess_status_set(st, SESS_ERR_IO, "%s is a folder, not a JSON file", path), NULL;
    }
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = cap > IMPORT_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!grown) { free(buf); buf = NULL; break; }
            buf = grown;
            cap *= 2;
        }
    }
    bool err = buf && ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) return sess_status_set(st, SESS_ERR_FORMAT, "%s: too large to import (the limit is %u MiB)", path,
                                     IMPORT_MAX_BYTES >> 20), NULL;
    if (err) { free(buf); return sess_status_set(st, SESS_ERR_IO, "%s: read error", path), NULL; }
    *len = n;
    return buf;
}

/* JSON if the text starts with '{' (after a BOM and blanks), else Markdown. */
static json_t *parse_any(const char *text, size_t len, const char *name, sess_status *st)
{
    size_t i = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i < len && text[i] == '{') return parse(text, len, name, st);
    return sess_md_parse(text + i, len - i, name, st);
}

/* Read path whole, parse it (as JSON, or when any as JSON or Markdown), import it. */
static int64_t import_path(sess_store *s, const char *path, bool any, sess_status *st)
{
    size_t len = 0;
    char *buf = read_all(path, &len, st);
    if (!buf) return -1;
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    json_t *doc = any ? parse_any(buf, len, name, st) : parse(buf, len, name, st);
    free(buf);   /* the parsed document is all we need: do not hold the file twice */
    if (!doc) return -1;
    int64_t id = import_doc(s, doc, name, st);
    json_decref(doc);
    return id;
}

int64_t sess_import_json_file(sess_store *s, const char *path, sess_status *st)
{
    return import_path(s, path, false, st);
}

int64_t sess_import_file(sess_store *s, const char *path, sess_status *st)
{
    return import_path(s, path, true, st);
}
