/* transcript.c — the conversation as the UI holds it: a list of messages.
 *
 * This is the model layer (tmux's grid): no drawing, no engine. Every change
 * bumps the message's version so layout.c re-wraps only what changed — while
 * an answer streams, that is the one message at the end. Notices and errors
 * live here too (so nothing is reported silently), but never go to the model.
 * /export of a conversation not in the store writes the store's Markdown form
 * (sessions/markdown.c), which /load and `parley sessions import` read back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

void transcript_init(transcript *t) { memset(t, 0, sizeof *t); }

void transcript_done(transcript *t)
{
    transcript_truncate(t, 0);
    free(t->msgs);
    memset(t, 0, sizeof *t);
}

/* A new message at the end; returns its index or -1 (out of memory). */
int transcript_add(transcript *t, tr_kind kind, const char *text)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 32;
        tr_msg *m = realloc(t->msgs, sizeof *m * (size_t)cap);
        if (!m) return -1;
        t->msgs = m;
        t->cap = cap;
    }
    tr_msg *m = &t->msgs[t->n];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    static uint64_t serial;
    m->version = ++serial << 32;   /* distinct from any other message's versions */
    t->n++;
    if (text && transcript_append(t, t->n - 1, text, strlen(text)) < 0) return -1;
    return t->n - 1;
}

/* Append bytes to message i (streaming tokens). */
int transcript_append(transcript *t, int i, const char *bytes, size_t n)
{
    tr_msg *m = &t->msgs[i];
    if (m->len + n + 1 > m->cap) {
        size_t cap = (m->len + n + 1) * 2;
        char *p = realloc(m->text, cap);
        if (!p) return -1;
        m->text = p;
        m->cap = cap;
    }
    memcpy(m->text + m->len, bytes, n);
    m->len += n;
    m->text[m->len] = 0;
    m->version++;
    return 0;
}

void transcript_truncate(transcript *t, int n)
{
    while (t->n > n) free(t->msgs[--t->n].text);
}

void transcript_remove(transcript *t, int i)
{
    if (i < 0 || i >= t->n) return;
    free(t->msgs[i].text);
    memmove(&t->msgs[i], &t->msgs[i + 1], sizeof *t->msgs * (size_t)(t->n - i - 1));
    t->n--;
    for (int k = i; k < t->n; k++) t->msgs[k].version++;   /* their index changed */
}

/* Index of the last message of this kind, or -1. */
int transcript_last(const transcript *t, tr_kind kind)
{
    for (int i = t->n - 1; i >= 0; i--)
        if (t->msgs[i].kind == kind) return i;
    return -1;
}

/* The engine's view: system prompt, then user/assistant messages in context. */
int transcript_chat(const transcript *t, const char *system, pl_chat_msg **out)
{
    pl_chat_msg *m = malloc(sizeof *m * (size_t)(t->n + 1));
    if (!m) return -1;
    int n = 0;
    if (system && *system) m[n++] = (pl_chat_msg){"system", system};
    for (int i = 0; i < t->n; i++) {
        const tr_msg *x = &t->msgs[i];
        if (x->dropped || (x->kind != TR_USER && x->kind != TR_ASSISTANT && x->kind != TR_SYSTEM)) continue;
        if (x->kind == TR_ASSISTANT && x->len == 0) continue;
        m[n++] = (pl_chat_msg){x->kind == TR_USER ? "user" : x->kind == TR_SYSTEM ? "system" : "assistant",
                               x->text ? x->text : ""};
    }
    *out = m;
    return n;
}

/* The worker left the oldest n turns out: remember, so they are not sent again. */
void transcript_drop_turns(transcript *t, int n)
{
    for (int i = 0; i < t->n && n > 0; i++) {
        tr_msg *m = &t->msgs[i];
        if (m->dropped || (m->kind != TR_USER && m->kind != TR_ASSISTANT)) continue;
        if (m->kind == TR_USER) {
            bool later_user = false;   /* never drop the turn being answered */
            for (int k = i + 1; k < t->n; k++) later_user |= t->msgs[k].kind == TR_USER;
            if (!later_user) break;
            n--;
        }
        m->dropped = true;
        m->version++;
        for (int k = i + 1; k < t->n && t->msgs[k].kind != TR_USER; k++) {
            t->msgs[k].dropped = t->msgs[k].kind == TR_ASSISTANT || t->msgs[k].dropped;
            t->msgs[k].version++;
        }
    }
}

/* The conversation (not yet in a store) as the store's Markdown form, so
 * /load and `parley sessions import` read it back. */
int transcript_write_md(const transcript *t, FILE *f)
{
    sess_msg *m = calloc((size_t)t->n + 1, sizeof *m);
    if (!m) return -1;
    const char *system = NULL;
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        const tr_msg *x = &t->msgs[i];
        if (x->kind == TR_SYSTEM && !system) system = x->text;
        if (x->kind != TR_USER && x->kind != TR_ASSISTANT) continue;
        m[n].role = x->kind == TR_USER ? "user" : "assistant";
        m[n].text = x->text ? x->text : "";
        m[n].len = x->text ? x->len : 0;
        m[n].complete = !x->stopped && !x->incomplete;
        n++;
    }
    int rc = sess_md_write_msgs(f, NULL, system, NULL, m, n);
    free(m);   /* the strings are the transcript's */
    return rc;
}

/* sess_file_fill over transcript_write_md. */
static int md_fill(void *ctx, FILE *f, sess_status *st)
{
    return transcript_write_md(ctx, f) == 0 ? 0 : (sess_status_set(st, SESS_ERR_IO, "write failed"), -1);
}

/* The Markdown conversation into path through the store's safe writer (flags: SESS_WRITE_*). */
int transcript_export_md(const transcript *t, const char *path, unsigned flags, sess_status *st)
{
    return sess_file_write(path, flags, md_fill, (void *)t, st);
}
