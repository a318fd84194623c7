/* fuzz_import.c — libFuzzer target for `parley sessions import` (sess_import_file).
 *
 * The bytes are a session file someone sent: JSON or Markdown, told apart by
 * the first byte as the command does. They reach sess_import_file through a
 * memfd's /proc path, the same call `parley sessions import FILE` makes. Import
 * is all or nothing into a store in a temporary folder: a refusal carries a
 * message and changes nothing (the session count is unchanged); an accepted
 * session must export as JSON and as Markdown, and each export must import
 * again (what parley takes in, it can give back); then all are deleted so the
 * store stays small. tests/fuzz/corpus_import/empty.json is a session with
 * no turns: its Markdown export (the comment, no sections) imports too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sessions/sessions.h"

static sess_store *fz_store;

/* A fresh store under /tmp (or $TMPDIR) for this run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/parley-fuzz-import-XXXXXX", tmp);
    sess_status st;
    if (!mkdtemp(dir) || !(fz_store = sess_store_open(dir, 0, &st))) {
        fprintf(stderr, "fuzz_import: cannot make a store in %s\n", dir);
        abort();
    }
    return 0;
}

/* Sessions in the store now. */
static int fz_count(void)
{
    sess_info *list = NULL;
    int n = 0;
    sess_status st;
    if (sess_list(fz_store, &list, &n, &st) < 0) abort();
    sess_info_free_list(list, n);
    return n;
}

/* Import n bytes as a file (a memfd, by its /proc path). */
static int64_t fz_import(const void *data, size_t n, sess_status *st)
{
    int fd = memfd_create("session", MFD_CLOEXEC);
    if (fd < 0) abort();
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, (const char *)data + done, n - done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int64_t id = sess_import_file(fz_store, path, st);
    close(fd);
    return id;
}

/* Export id (JSON or Markdown), import the export: it must be taken back. */
static void fz_round_trip(int64_t id, bool json)
{
    char *text = NULL;
    size_t len = 0;
    sess_status st;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) abort();
    if ((json ? sess_export_json(fz_store, id, mem, &st) : sess_export_md(fz_store, id, mem, &st)) < 0) abort();
    fclose(mem);
    int64_t again = fz_import(text, len, &st);
    if (again < 0) {
        fprintf(stderr, "our own %s export of an imported session was refused: %s\n", json ? "JSON" : "Markdown",
                st.msg);
        abort();
    }
    free(text);
    sess_delete(fz_store, again, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_store) return 0;
    sess_status st;
    int before = fz_count();
    int64_t id = fz_import(data, size, &st);
    if (id < 0) {
        if (st.code == SESS_OK || !st.msg[0]) abort();   /* a refusal says why */
        if (fz_count() != before) abort();               /* and leaves the store as it was */
        return 0;
    }
    fz_round_trip(id, true);
    fz_round_trip(id, false);
    sess_delete(fz_store, id, &st);
    return 0;
}
