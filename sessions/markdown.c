/* markdown.c — the Markdown form of a session: written to be read by a
 * person, and read back by parley (what parley exports, parley imports).
 *
 *   # Title
 *
 *   <!-- parley session: {"parley_session": 1, "created": ..., "settings": {...},
 *        "messages": [{"role": ..., "n_tokens": ...}, ...]} -->
 *
 *   ## System
 *
 *   You are terse.
 *
 *   ## User
 *
 *   What is the capital of France?
 *
 *   ## Assistant · 6 tokens, 40.0 tok/s
 *
 *   Paris.
 *
 * The comment holds what a reader does not need (times, settings, model,
 * per-message stats; '>' written as \u003e so no text can end the comment);
 * a rendered page does not show it. A section's text is exactly what is
 * between its header's blank line and the blank line before the next header.
 * A line of text that would read as one of our headers ("## User", also with
 * backslashes before it) gets one more backslash on the way out and loses it
 * on the way in, which is also how Markdown itself shows it: as text.
 * Reading is tolerant: "### user" headers (the chat's older /export), no
 * comment (a file written by hand), the old "**System:**" line and stats lines.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sessions_impl.h"

#define MD_META_OPEN "<!-- parley session: "
#define MD_META_CLOSE " -->"

static const char *const md_roles[] = {"system", "user", "assistant"};

/* If line (len bytes, no newline) is a role header "##[#] Role[ · note]" after
 * `slashes` backslashes, the role's index; else -1. */
static int md_header_role(const char *line, size_t len, size_t *slashes)
{
    size_t i = 0;
    while (i < len && line[i] == '\\') i++;
    *slashes = i;
    size_t h = 0;
    while (i + h < len && line[i + h] == '#') h++;
    if (h < 2 || h > 3 || i + h >= len || line[i + h] != ' ') return -1;
    const char *word = line + i + h + 1;
    size_t rest = len - (i + h + 1);
    for (int r = 0; r < 3; r++) {
        size_t n = strlen(md_roles[r]);
        if (rest < n || strncasecmp(word, md_roles[r], n) != 0) continue;
        if (rest == n || word[n] == ' ' || word[n] == '\r') return r;
    }
    return -1;
}

/* Message text with header-like lines escaped by one more backslash. */
static void md_put_text(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (s + i)) : len - i, slashes;
        if (md_header_role(s + i, n, &slashes) >= 0) fputc('\\', f);
        fwrite(s + i, 1, n + (nl ? 1 : 0), f);
        i += n + (nl ? 1 : 0);
    }
}

/* "## Assistant · 6 tokens, 40.0 tok/s" / "· stopped": the header a reader sees. */
static void md_put_header(FILE *f, const sess_msg *m)
{
    const char *r = m->role;
    fprintf(f, "## %c%s", r[0] >= 'a' && r[0] <= 'z' ? r[0] - 32 : r[0], r + 1);
    if (!m->complete) fputs(" · stopped", f);
    else if (m->stats.n_tokens > 0 && m->stats.tok_s > 0)
        fprintf(f, " · %d tokens, %.1f tok/s", m->stats.n_tokens, m->stats.tok_s);
    fputs("\n\n", f);
}

/* The comment: the document's fields a reader does not need, '>' escaped. */
static void md_put_meta(FILE *f, json_t *doc)
{
    json_t *meta = json_deep_copy(doc);
    json_object_del(meta, "title");
    json_object_del(meta, "system_prompt");
    json_t *msgs = json_object_get(meta, "messages"), *m;
    size_t i;
    json_array_foreach(msgs, i, m) json_object_del(m, "text");
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(meta);
    if (!text) return;
    fputs(MD_META_OPEN, f);
    for (const char *p = text; *p; p++) {
        if (*p == '>') fputs("\\u003e", f);
        else fputc(*p, f);
    }
    fputs(MD_META_CLOSE "\n\n", f);
    free(text);
}

/* The Markdown form of doc (the JSON export's document) with messages m. */
int sess_md_write(FILE *f, json_t *doc, const sess_msg *m, int n)
{
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *system = json_string_value(json_object_get(doc, "system_prompt"));
    fputs("# ", f);
    for (const char *p = title && *title ? title : "(untitled)"; *p; p++) fputc(*p == '\n' ? ' ' : *p, f);
    fputs("\n\n", f);
    md_put_meta(f, doc);
    if (system && *system) {
        fputs("## System\n\n", f);
        md_put_text(f, system, strlen(system));
        fputs("\n\n", f);
    }
    for (int i = 0; i < n; i++) {
        md_put_header(f, &m[i]);
        md_put_text(f, m[i].text, m[i].len);
        fputs("\n\n", f);
    }
    return ferror(f) ? -1 : 0;
}

int sess_md_write_msgs(FILE *f, const char *title, const char *system, const char *settings_json,
                       const sess_msg *m, int n)
{
    json_t *settings = json_loads(settings_json ? settings_json : "{}", 0, NULL);
    if (!json_is_object(settings)) { json_decref(settings); settings = json_object(); }
    json_t *msgs = json_array();
    for (int i = 0; msgs && i < n; i++)
        json_array_append_new(msgs, json_pack("{s:s, s:i, s:i, s:f, s:b}", "role", m[i].role, "n_tokens",
                                              m[i].stats.n_tokens, "gen_ms", m[i].stats.gen_ms, "tok_s",
                                              m[i].stats.tok_s, "complete", m[i].complete));
    json_t *doc = json_pack("{s:i, s:o, s:o, s:o, s:o}", "parley_session", 1,
                            "title", sess_json_text(title ? title : "", title ? strlen(title) : 0),
                            "settings", settings,
                            "system_prompt", sess_json_text(system ? system : "", system ? strlen(system) : 0),
                            "messages", msgs);
    if (!doc) return -1;
    int rc = sess_md_write(f, doc, m, n);
    json_decref(doc);
    return rc;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct md_section {
    int         role;       /* index into md_roles */
    const char *head;       /* the header line (for the stats a hand-edited file still shows) */
    size_t      head_len;
    char       *text;       /* unescaped */
    size_t      len;
} md_section;

/* Append s[0..n) to a growing buffer; false when out of memory. */
static bool md_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 256);
        while (c < *len + n + 1) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return false;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return true;
}

/* Cut the blank line after the header and the one before the next. */
static void md_trim(md_section *s)
{
    if (!s->text) return;
    if (s->len && s->text[0] == '\n') memmove(s->text, s->text + 1, s->len--);
    if (s->len >= 2 && s->text[s->len - 1] == '\n' && s->text[s->len - 2] == '\n') s->len -= 2;
    else if (s->len && s->text[s->len - 1] == '\n') s->len--;
    s->text[s->len] = 0;
}

/* The meta comment's JSON, if the line is one; NULL otherwise. */
static json_t *md_meta(const char *line, size_t len)
{
    size_t o = strlen(MD_META_OPEN), c = strlen(MD_META_CLOSE);
    if (len < o + c || memcmp(line, MD_META_OPEN, o) != 0 || memcmp(line + len - c, MD_META_CLOSE, c) != 0)
        return NULL;
    json_t *j = json_loadb(line + o, len - o - c, 0, NULL);
    if (!json_is_object(j)) { json_decref(j); return NULL; }
    return j;
}

/* An old export's trailing "_(N tokens, X tok/s)_" or "_(incomplete: ...)_"
 * line: out of the text, into the message object m. */
static void md_cut_old_stats(md_section *s, json_t *m)
{
    char *last = s->text ? memrchr(s->text, '\n', s->len) : NULL;
    const char *line = last ? last + 1 : s->text;
    if (!line) return;
    size_t n = s->len - (size_t)(line - s->text);
    static const char cut_line[] = "_(incomplete: the answer was cut off)_";
    bool cut = n == strlen(cut_line) && memcmp(line, cut_line, n) == 0;
    bool stats = n > 9 && memcmp(line, "_(", 2) == 0 && memcmp(line + n - 7, "tok/s)_", 7) == 0;
    if (!stats && !cut) return;
    int n_tok = 0;
    double tok_s = 0;
    if (stats && sscanf(line, "_(%d tokens, %lf tok/s)_", &n_tok, &tok_s) == 2 && n_tok > 0 && tok_s > 0) {
        json_object_set_new(m, "n_tokens", json_integer(n_tok));
        json_object_set_new(m, "tok_s", json_real(tok_s));
        json_object_set_new(m, "gen_ms", json_integer((json_int_t)(n_tok / tok_s * 1000.0)));
    }
    if (cut) json_object_set_new(m, "complete", json_false());
    s->len = last ? (size_t)(last - s->text) : 0;
    while (s->len && s->text[s->len - 1] == '\n') s->len--;
    s->text[s->len] = 0;
}

/* Split the file into title, meta and sections. */
static int md_split(const char *text, size_t len, char **title, json_t **meta, md_section **out, int *n_out)
{
    md_section *v = NULL;
    int n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n_line = nl ? (size_t)(nl - (text + i)) : len - i, end = i + n_line + (nl ? 1 : 0);
        const char *line = text + i;
        size_t slashes;
        int role = md_header_role(line, n_line, &slashes);
        if (role >= 0 && slashes == 0) {
            md_section *g = realloc(v, (size_t)(n + 1) * sizeof *v);
            if (!g) goto nomem;
            v = g;
            v[n++] = (md_section){role, line, n_line, NULL, 0};
            cap = 0;
        } else if (n > 0) {
            if (role >= 0) { line++; n_line--; }   /* an escaped header-like line: one backslash less */
            if (!md_append(&v[n - 1].text, &v[n - 1].len, &cap, line, n_line + (nl ? 1 : 0))) goto nomem;
        } else if (!*meta && (*meta = md_meta(line, n_line))) {
        } else if (!*title && n_line > 2 && line[0] == '#' && line[1] == ' ') {
            *title = strndup(line + 2, n_line - 2);
        } else if (n_line > 12 && memcmp(line, "**System:** ", 12) == 0) {   /* an old export */
            md_section *g = realloc(v, (size_t)(n + 1) * sizeof *v);
            if (!g) goto nomem;
            v = g;
            char *t = malloc(n_line - 12 + 1);   /* not strndup: a NUL in the line must not make it shorter than len */
            if (!t) goto nomem;
            memcpy(t, line + 12, n_line - 12);
            t[n_line - 12] = 0;
            v[n++] = (md_section){0, line, 0, t, n_line - 12};
            cap = 0;
        }
        i = end;
    }
    *out = v;
    *n_out = n;
    return 0;
nomem:
    for (int k = 0; k < n; k++) free(v[k].text);
    free(v);
    return -1;
}

/* Stats a header shows ("· stopped", "· 6 tokens, 40.0 tok/s") into a message object. */
static void md_header_stats(json_t *m, const md_section *s)
{
    char head[256];
    snprintf(head, sizeof head, "%.*s", (int)(s->head_len < 255 ? s->head_len : 255), s->head);
    const char *dot = strstr(head, " · ");
    if (!dot) return;
    int n_tok = 0;
    double tok_s = 0;
    if (strstr(dot, "stopped")) json_object_set_new(m, "complete", json_false());
    if (sscanf(dot + strlen(" · "), "%d tokens, %lf tok/s", &n_tok, &tok_s) == 2 && n_tok > 0 && tok_s > 0) {
        json_object_set_new(m, "n_tokens", json_integer(n_tok));
        json_object_set_new(m, "tok_s", json_real(tok_s));
        json_object_set_new(m, "gen_ms", json_integer((json_int_t)(n_tok / tok_s * 1000.0)));
    }
}

/* The sections as the JSON document's messages (with the meta's stats when
 * it describes the same messages). */
static json_t *md_messages(md_section *v, int n, json_t *meta, json_t *doc, bool old)
{
    json_t *msgs = json_array(), *known = json_object_get(meta, "messages");
    int n_msgs = 0;
    for (int i = 0; i < n; i++) n_msgs += v[i].role != 0;
    bool same = json_is_array(known) && json_array_size(known) == (size_t)n_msgs;
    size_t k = 0;
    for (int i = 0; msgs && i < n; i++) {
        md_trim(&v[i]);
        if (v[i].role == 0) {   /* the system prompt */
            json_object_set_new(doc, "system_prompt", sess_json_text(v[i].text ? v[i].text : "", v[i].len));
            continue;
        }
        json_t *m = same ? json_deep_copy(json_array_get(known, k)) : json_object();
        if (!json_is_object(m)) { json_decref(m); m = json_object(); }
        k++;
        if (!same) md_header_stats(m, &v[i]);
        if (old) md_cut_old_stats(&v[i], m);
        json_object_set_new(m, "role", json_string(md_roles[v[i].role]));
        json_object_set_new(m, "text", sess_json_text(v[i].text ? v[i].text : "", v[i].len));
        json_array_append_new(msgs, m);
    }
    return msgs;
}

json_t *sess_md_parse(const char *text, size_t len, const char *name, sess_status *st)
{
    char *title = NULL;
    json_t *meta = NULL;
    md_section *v = NULL;
    int n = 0;
    if (md_split(text, len, &title, &meta, &v, &n) < 0) {
        free(title);
        json_decref(meta);
        return sess_status_set(st, SESS_ERR_NOMEM, "%s: out of memory", name), NULL;
    }
    json_t *doc = NULL;
    if (n == 0 && !meta) {   /* a parley export (it has the comment) may hold no turns yet */
        sess_status_set(st, SESS_ERR_FORMAT, "%s: no '## User' / '## Assistant' sections: not a parley "
                        "conversation in Markdown", name);
    } else {
        doc = meta ? json_deep_copy(meta) : json_pack("{s:i}", "parley_session", 1);
        json_object_set_new(doc, "title", sess_json_text(title ? title : "", title ? strlen(title) : 0));
        if (title && strcmp(title, "(untitled)") == 0) json_object_set_new(doc, "title", json_string(""));
        json_object_set_new(doc, "messages", md_messages(v, n, meta, doc, !meta));
    }
    for (int k = 0; k < n; k++) free(v[k].text);
    free(v);
    free(title);
    json_decref(meta);
    return doc;
}
