/* export.c — a session out of the store: Markdown to read, JSON to keep.
 *
 * The JSON form is the interchange format; the Markdown form (markdown.c)
 * renders the same document for reading and carries it in a comment, so
 * sess_import_file reads either back:
 *   { "parley_session": 1, "title", "created", "updated" (unix ms),
 *     "model_path", "model_name" (if known: "smollm2:135m"), "model_fingerprint" (16 hex digits: JSON numbers lose
 *     64-bit precision), "settings" {knob: value}, "system_prompt",
 *     "messages": [ { "role", "text", "created", "n_tokens", "gen_ms",
 *                     "tok_s", "complete" } ] }
 * A message cut off mid-token may end in half a UTF-8 character; JSON needs
 * valid UTF-8, so such bytes are written as U+FFFD (Markdown keeps them as is).
 * Also here: the session-settings JSON made from / applied to a pl_config.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../config/config.h"
#include "sessions_impl.h"

#define JSON_FORMAT_VERSION 1

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    static const struct { unsigned char lead_mask, lead, len; uint32_t min; } forms[] = {
        {0x80, 0x00, 1, 0}, {0xE0, 0xC0, 2, 0x80}, {0xF0, 0xE0, 3, 0x800}, {0xF8, 0xF0, 4, 0x10000},
    };
    for (size_t f = 0; f < 4; f++) {
        if ((p[0] & forms[f].lead_mask) != forms[f].lead) continue;
        size_t len = forms[f].len;
        if (n < len) return 0;
        uint32_t cp = p[0] & (0x7F >> (len == 1 ? 0 : len));
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if (cp < forms[f].min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        return len;
    }
    return 0;
}

bool sess_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

/* A JSON string of s[0..len), invalid bytes replaced by U+FFFD. */
json_t *sess_json_text(const char *s, size_t len)
{
    if (sess_utf8_valid(s, len)) return json_stringn(s, len);
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq((const unsigned char *)s + i, len - i);
        if (k) { memcpy(o, s + i, k); o += k; i += k; }
        else { memcpy(o, "\xef\xbf\xbd", 3); o += 3; i++; }
    }
    json_t *j = json_stringn(out, (size_t)(o - out));
    free(out);
    return j;
}

void sess_time_text(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm)) snprintf(buf, len, "?");
}

/* Session row and messages in one go (for both exporters). */
static int load_session(sess_store *s, int64_t id, sess_info *info, sess_msg **msgs, int *n, sess_status *st)
{
    if (sess_get_info(s, id, info, st) < 0) return -1;
    if (sess_msg_list(s, id, msgs, n, st) < 0) { sess_info_clear(info); return -1; }
    return 0;
}

/* One message as a JSON object. */
static json_t *msg_json(const sess_msg *m)
{
    return json_pack("{s:s, s:o, s:I, s:i, s:i, s:f, s:b}", "role", m->role, "text", sess_json_text(m->text, m->len),
                     "created", (json_int_t)m->created, "n_tokens", m->stats.n_tokens, "gen_ms", m->stats.gen_ms,
                     "tok_s", m->stats.tok_s, "complete", m->complete);
}

/* The whole session as a JSON document. */
static json_t *session_json(const sess_info *info, const sess_msg *m, int n)
{
    char fp[24];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)info->model_fp);
    json_t *settings = json_loads(info->settings, 0, NULL);
    if (!json_is_object(settings)) { json_decref(settings); settings = json_object(); }
    json_t *msgs = json_array();
    for (int i = 0; msgs && i < n; i++) json_array_append_new(msgs, msg_json(&m[i]));
    json_t *doc = json_pack("{s:i, s:o, s:I, s:I, s:o, s:s, s:o, s:o, s:o}", "parley_session", JSON_FORMAT_VERSION,
                     "title", sess_json_text(info->title, strlen(info->title)), "created", (json_int_t)info->created,
                     "updated", (json_int_t)info->updated,
                     "model_path", sess_json_text(info->model_path, strlen(info->model_path)), "model_fingerprint", fp,
                     "settings", settings, "system_prompt", sess_json_text(info->system_prompt, strlen(info->system_prompt)),
                     "messages", msgs);
    if (doc && info->model_name && *info->model_name)   /* the name users know ("smollm2:135m") */
        json_object_set_new(doc, "model_name", sess_json_text(info->model_name, strlen(info->model_name)));
    return doc;
}

/* Session id as its document, written to out as Markdown or JSON. */
static int export_as(sess_store *s, int64_t id, bool json, FILE *out, sess_status *st)
{
    sess_info info;
    sess_msg *m = NULL;
    int n = 0;
    if (load_session(s, id, &info, &m, &n, st) < 0) return -1;
    json_t *doc = session_json(&info, m, n);
    int rc = -1;
    if (doc && json) {
        rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (rc == 0) fputc('\n', out);
    } else if (doc) {
        rc = sess_md_write(out, doc, m, n);
    }
    json_decref(doc);
    sess_msg_free_list(m, n);
    sess_info_clear(&info);
    if (!doc) return sess_status_set(st, SESS_ERR_NOMEM, "out of memory building the export"), -1;
    return rc != 0 || ferror(out) ? sess_status_set(st, SESS_ERR_IO, "writing the export failed"), -1 : 0;
}

int sess_export_md(sess_store *s, int64_t id, FILE *out, sess_status *st)
{
    return export_as(s, id, false, out, st);
}

int sess_export_json(sess_store *s, int64_t id, FILE *out, sess_status *st)
{
    return export_as(s, id, true, out, st);
}

typedef struct export_job { sess_store *s; int64_t id; bool json; } export_job;

/* sess_file_fill for an export. */
static int export_fill(void *ctx, FILE *f, sess_status *st)
{
    export_job *j = ctx;
    return export_as(j->s, j->id, j->json, f, st);
}

int sess_export_file(sess_store *s, int64_t id, bool json, const char *path, unsigned flags, sess_status *st)
{
    int ex = sess_exists(s, id, st);   /* a missing id never gets as far as the file */
    if (ex <= 0)
        return ex < 0 ? -1 : (sess_status_set(st, SESS_ERR_NOTFOUND, "no session %lld (see parley sessions ls)",
                                              (long long)id), -1);
    export_job j = {s, id, json};
    return sess_file_write(path, flags, export_fill, &j, st);
}

/* ---- settings <-> pl_config ---------------------------------------------- */

/* Options that describe how a session ran (not which files or prompt): the
 * generation and engine knobs both the chat and `parley run` take. */
static bool is_session_knob(const pl_option *o)
{
    static const char *const skip[] = {"model", "prompt", "system", "verbose", "models-dir", "data-dir"};
    if ((o->scope & CFG_GEN) != CFG_GEN) return false;
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcmp(o->name, skip[i]) == 0) return false;
    return true;
}

char *sess_settings_from_config(const pl_config *cfg)
{
    json_t *obj = json_object();
    for (int i = 0; obj && i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        if (!is_session_knob(o)) continue;
        const char *f = (const char *)cfg + o->offset;
        json_t *v = NULL;
        switch (o->kind) {
        case OPT_BOOL:  v = json_boolean(*(const bool *)f); break;
        case OPT_INT:   v = json_integer(*(const int *)f); break;
        case OPT_I64: case OPT_SIZE: v = json_integer(*(const int64_t *)f); break;
        case OPT_FLOAT: v = json_real(*(const float *)f); break;
        case OPT_STR: case OPT_ENUM: v = json_string(*(char *const *)f ? *(char *const *)f : ""); break;
        }
        json_object_set_new(obj, o->name, v);
    }
    char *out = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    return out;
}

int sess_settings_each(const char *json, sess_setting_fn fn, void *ctx, char *err, size_t errlen)
{
    json_error_t je;
    json_t *obj = json_loads(json ? json : "{}", 0, &je);
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "session settings: not a JSON object (%s)", obj ? "wrong type" : je.text);
        json_decref(obj);
        return -1;
    }
    const char *key;
    json_t *v;
    char text[64];
    json_object_foreach(obj, key, v) {
        const pl_option *o = config_find(key);
        if (!o || !is_session_knob(o)) continue;
        const char *val = text;
        if (json_is_string(v)) val = json_string_value(v);
        else if (json_is_integer(v)) snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(text, sizeof text, "%.9g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
        else continue;
        if (fn(ctx, o, val, err, errlen) < 0) {
            json_decref(obj);
            return -1;
        }
    }
    json_decref(obj);
    return 0;
}

/* sess_setting_fn of sess_settings_apply: straight into the config. */
static int apply_one(void *cfg, const pl_option *o, const char *value, char *err, size_t errlen)
{
    char msg[256];
    if (config_set(cfg, o, value, msg, sizeof msg) == 0) return 0;
    snprintf(err, errlen, "session settings: %s", msg);
    return -1;
}

int sess_settings_apply(const char *json, pl_config *cfg, char *err, size_t errlen)
{
    return sess_settings_each(json, apply_one, cfg, err, errlen);
}
