/* sessions_test_util.h — temp stores for the sess_* suites (never the user's). */
#ifndef SESSIONS_TEST_UTIL_H
#define SESSIONS_TEST_UTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessions/sessions.h"

/* nftw callback: remove whatever it is. */
static inline int st_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* A fresh directory under /tmp; caller removes it with st_tmpdir_rm. */
static inline char *st_tmpdir(void)
{
    char *d = strdup("/tmp/parley-sess-XXXXXX");
    cr_assert_not_null(mkdtemp(d), "mkdtemp failed");
    return d;
}

static inline void st_tmpdir_rm(char *d)
{
    if (d) nftw(d, st_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

/* How many sessions the store lists (fails the test if it cannot list). */
static inline int st_count(sess_store *s)
{
    sess_info *l = NULL;
    int n = 0;
    sess_status st;
    cr_assert_eq(sess_list(s, &l, &n, &st), 0, "%s", st.msg);
    sess_info_free_list(l, n);
    return n;
}

/* Open the store in dir or fail the test with the store's message. */
static inline sess_store *st_open(const char *dir)
{
    sess_status st = {0};
    sess_store *s = sess_store_open(dir, 0, &st);
    cr_assert_not_null(s, "open %s: %s", dir, st.msg);
    return s;
}

/* Path "dir/name" in a static buffer (one at a time). */
static inline const char *st_path(const char *dir, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#endif
