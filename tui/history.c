/* history.c — the editor's history (Up/Down) kept across restarts.
 *
 * One small private file per data dir, input_history: a header line, then one
 * entry a line, oldest first, with '\' written as "\\" and a newline as "\n",
 * so a multi-line message comes back whole. At most HISTORY_MAX entries (the
 * newest). Every message sent re-reads the file, adds itself and writes it
 * back through the sessions' safe writer (a 0600 temporary file in the same
 * 0700 folder, fsynced, renamed): a crash never leaves half a file, and two
 * parley processes on one data dir lose nothing of each other's but a race.
 * A file that cannot be read or written costs the history, never the chat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui.h"

#define HISTORY_HEADER   "# parley input history v1"
#define HISTORY_MAX_FILE (16u << 20)  /* a bigger file is not ours: read none of it */
#define HISTORY_MAX_LINE (8u << 10)   /* a longer entry (a big paste) is not kept on disk */

/* One file line back into its text (in place). */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) { s++; *o++ = *s == 'n' ? '\n' : *s; }
        else *o++ = *s;
    }
    *o = 0;
}

/* Append text to list (*n, *cap), dropping the oldest past max. */
static void list_push(char ***list, int *n, int *cap, char *text, int max)
{
    if (*n > 0 && strcmp((*list)[*n - 1], text) == 0) { free(text); return; }
    if (*n >= max) {
        free((*list)[0]);
        memmove(*list, *list + 1, sizeof **list * (size_t)(*n - 1));
        (*n)--;
    }
    if (*n >= *cap) {
        int c = *cap ? *cap * 2 : 64;
        char **l = realloc(*list, sizeof *l * (size_t)c);
        if (!l) { free(text); return; }
        *list = l;
        *cap = c;
    }
    (*list)[(*n)++] = text;
}

/* The entries in path, oldest first, at most max; 0 entries if there is none. */
int history_file_load(const char *path, int max, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > HISTORY_MAX_FILE) { fclose(f); return -1; }
    char *line = NULL;
    size_t cap = 0;
    int lcap = 0;
    ssize_t len;
    for (int no = 0; (len = getline(&line, &cap, f)) >= 0; no++) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        if ((no == 0 && strcmp(line, HISTORY_HEADER) == 0) || len == 0 || memchr(line, 0, (size_t)len)) continue;
        char *text = strdup(line);
        if (!text) break;
        unescape(text);
        list_push(out, n, &lcap, text, max);
    }
    free(line);
    fclose(f);
    return 0;
}

typedef struct hist_fill { char **list; int n; } hist_fill;

/* sess_file_write's filler: the header and every entry, escaped. */
static int history_fill(void *ctx, FILE *f, sess_status *st)
{
    const hist_fill *h = ctx;
    fputs(HISTORY_HEADER "\n", f);
    for (int i = 0; i < h->n; i++) {
        for (const char *p = h->list[i]; *p; p++) {
            if (*p == '\\') fputs("\\\\", f);
            else if (*p == '\n') fputs("\\n", f);
            else fputc(*p, f);
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* Add text to the file at path (the newest max entries kept); 0 or -1. */
int history_file_add(const char *path, const char *text, int max)
{
    if (!*text || strlen(text) > HISTORY_MAX_LINE) return 0;
    char **list;
    int n, cap;
    if (history_file_load(path, max, &list, &n) < 0) return -1;
    cap = n;
    char *copy = strdup(text);
    if (copy) list_push(&list, &n, &cap, copy, max);
    hist_fill h = {list, n};
    sess_status st;
    int rc = sess_file_write(path, SESS_WRITE_FORCE, history_fill, &h, &st);
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
    return rc;
}

/* At start: the data dir's history into the editor, and where to keep it. */
void tui_history_open(tui_app *a)
{
    char *dir = sess_data_dir(a->cfg);
    if (!dir) return;
    mkdir(dir, 0700);   /* the store usually made it already */
    size_t len = strlen(dir) + sizeof "/input_history";
    a->in.hist_path = malloc(len);
    if (a->in.hist_path) snprintf(a->in.hist_path, len, "%s/input_history", dir);
    free(dir);
    char **list;
    int n;
    if (!a->in.hist_path || history_file_load(a->in.hist_path, HISTORY_MAX, &list, &n) < 0) return;
    for (int i = 0; i < n; i++) {
        input_history_add_mem(&a->in, list[i]);
        free(list[i]);
    }
    free(list);
}
