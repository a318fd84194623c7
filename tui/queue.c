/* queue.c — messages typed while an answer is awaited.
 *
 * Enter while the model answers (or while the first message waits for the
 * model to load) does not throw the message away: it joins a FIFO shown
 * above the input box, one row each, and the oldest is sent when the answer
 * ends, stopped or not; the others wait for the answers before them. Up on
 * an empty box takes the newest back into the box to edit (Enter queues it
 * again), Esc on an empty box drops the newest (it stays in the input
 * history). What cannot be sent (no model, a new conversation, another
 * session) goes back into the box, never away: nothing typed is lost.
 */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define QUEUE_ROWS_MAX 3   /* rows the queue may take above the box (then "N more") */

/* Enter while an answer is awaited: keep text for when it ends. */
int tui_queue_add(tui_app *a, const char *text)
{
    char **q = realloc(a->queued, sizeof *q * (size_t)(a->n_queued + 1));
    char *copy = strdup(text);
    if (q) a->queued = q;
    if (!q || !copy) {   /* out of memory: the text goes back where it was typed */
        free(copy);
        input_set(&a->in, text);
        tui_status_msg(a, "out of memory: the message was not queued");
        return -1;
    }
    a->queued[a->n_queued++] = copy;
    a->dirty = true;
    return 0;
}

/* Take the oldest (newest: false) or newest queued message out; caller frees. */
static char *queue_take(tui_app *a, bool newest)
{
    if (a->n_queued == 0) return NULL;
    char *t = newest ? a->queued[a->n_queued - 1] : a->queued[0];
    if (!newest) memmove(a->queued, a->queued + 1, sizeof *a->queued * (size_t)(a->n_queued - 1));
    a->n_queued--;
    a->dirty = true;
    return t;
}

/* Every queued message back into the box, before what is typed there, so nothing is lost. */
void tui_queue_to_box(tui_app *a, const char *why)
{
    if (a->n_queued == 0) return;
    size_t len = a->in.len + 1;
    for (int i = 0; i < a->n_queued; i++) len += strlen(a->queued[i]) + 2;
    char *all = malloc(len);
    if (!all) return;   /* they stay queued */
    all[0] = 0;
    for (int i = 0; i < a->n_queued; i++) {
        strcat(all, a->queued[i]);
        if (i + 1 < a->n_queued || a->in.len) strcat(all, "\n\n");
        free(a->queued[i]);
    }
    if (a->in.len) strcat(all, a->in.buf);
    tui_status_msg(a, "%s: %s back in the box", why, a->n_queued > 1 ? "the queued messages are" : "the queued message is");
    a->n_queued = 0;
    input_set(&a->in, all);
    free(all);
}

/* The answer ended: send the oldest queued message (the next waits for its answer). */
void tui_queue_flush(tui_app *a)
{
    if (a->n_queued == 0 || a->generating || a->hangup) return;
    if (!a->es.loaded && !a->loading) { tui_queue_to_box(a, "no model is loaded"); return; }
    char *t = queue_take(a, false);
    tui_send(a, t);
    free(t);
}

/* Up on an empty box: the newest queued message back into the box to edit. */
bool tui_queue_recall(tui_app *a)
{
    char *t = queue_take(a, true);
    if (!t) return false;
    input_set(&a->in, t);
    free(t);
    tui_status_msg(a, "editing the queued message: Enter queues it again");
    return true;
}

/* Esc on an empty box: drop the newest queued message (Up finds it in the history). */
bool tui_queue_drop(tui_app *a)
{
    char *t = queue_take(a, true);
    if (!t) return false;
    free(t);
    tui_status_msg(a, "queued message dropped (it is in the input history)");
    return true;
}

/* Quitting: the queue goes (each message is in the input history). */
void tui_queue_free(tui_app *a)
{
    for (int i = 0; i < a->n_queued; i++) free(a->queued[i]);
    free(a->queued);
    a->queued = NULL;
    a->n_queued = 0;
}

/* Rows the queue takes above the box (0 when empty), at most max. */
int tui_queue_rows(const tui_app *a, int max)
{
    int n = a->n_queued > QUEUE_ROWS_MAX ? QUEUE_ROWS_MAX + 1 : a->n_queued;
    return n < max ? n : max > 0 ? max : 0;
}

/* The queue at rows [row, row + rows) of w: "queued: first line", the keys on the last row. */
void tui_queue_draw(tui_app *a, WINDOW *w, int row, int rows, int cols)
{
    static const char keys[] = "  Up edits, Esc drops, Ctrl-C stops the answer";
    int shown = rows > 0 && a->n_queued > rows ? rows - 1 : rows;
    for (int r = 0; r < rows; r++) {
        char line[320];
        if (r < shown) {
            const char *t = a->queued[r];
            size_t n = strcspn(t, "\n");
            snprintf(line, sizeof line, "queued: %.*s%s", (int)(n < 240 ? n : 240), t, t[n] || n > 240 ? " ..." : "");
        } else {
            snprintf(line, sizeof line, "... and %d more queued", a->n_queued - shown);
        }
        int kw = r == rows - 1 && cols > 60 ? (int)strlen(keys) : 0;
        mvwhline(w, row + r, 0, ' ', cols);
        render_text(w, row + r, 0, cols - kw, line, ROLE_NOTICE);
        if (kw) render_text(w, row + r, cols - kw, kw, keys, ROLE_DIM);
    }
}
