/* fuzz_import.c — libFuzzer target for `parley sessions import` (sess_import_json).
 *
 * The bytes are a session file someone sent. Import is all or nothing into a
 * store in a temporary folder: a refusal carries a message and changes
 * nothing (the session count is unchanged); an accepted session must export
 * to JSON and import again from that export (what we take in, we can give
 * back), and is then deleted so the store stays small.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_store) return 0;
    sess_status st;
    int before = fz_count();
    int64_t id = sess_import_json(fz_store, (const char *)data, size, "fuzz.json", &st);
    if (id < 0) {
        if (st.code == SESS_OK || !st.msg[0]) abort();   /* a refusal says why */
        if (fz_count() != before) abort();               /* and leaves the store as it was */
        return 0;
    }
    char *json = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&json, &len);
    if (!mem) abort();
    if (sess_export_json(fz_store, id, mem, &st) < 0) abort();
    fclose(mem);
    int64_t again = sess_import_json(fz_store, json, len, "export.json", &st);
    if (again < 0) {
        fprintf(stderr, "our own export of an imported session was refused: %s\n", st.msg);
        abort();
    }
    free(json);
    sess_delete(fz_store, again, &st);
    sess_delete(fz_store, id, &st);
    return 0;
}
