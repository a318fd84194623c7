/* test_sessions_search.c — finding an old conversation by a word in it.
 * Whatever a person types (quotes, FTS operators, stars, other scripts) is a
 * search, never an SQL/FTS syntax error; matches come back highlighted. */
#include "sessions_test_util.h"

/* A store with a few conversations to search. */
static sess_store *seeded(const char *dir, int64_t *a, int64_t *b)
{
    sess_store *s = st_open(dir);
    sess_status st = {0};
    static const char *const texts[][2] = {
        {"user", "How do I reverse a list in Python?"},
        {"assistant", "Use reversed() or the slice [::-1]; both work AND are fast."},
        {"user", "Recette: café crème et croissant"},
        {"assistant", "東京の天気は晴れです"},
        {"user", "what does \"quoted text\" * star mean (NEAR) col:x"},
    };
    *a = sess_create(s, NULL, &st);
    *b = sess_create(s, NULL, &st);
    for (int i = 0; i < 5; i++) {
        int64_t sid = i < 2 ? *a : *b;
        cr_assert_gt(sess_msg_add(s, sid, texts[i][0], texts[i][1], strlen(texts[i][1]), NULL, &st), 0, "%s", st.msg);
    }
    return s;
}

/* Search and return the hit count (the call must succeed). */
static int hits(sess_store *s, const char *q, sess_hit **out)
{
    sess_status st = {0};
    sess_hit *h = NULL;
    int n = -1;
    cr_assert_eq(sess_search(s, q, 20, &h, &n, &st), 0, "query [%s] failed: %s", q, st.msg);
    if (out) *out = h;
    else sess_hit_free_list(h, n);
    return n;
}

Test(sess_search, words_prefixes_accents_and_snippets)
{
    char *dir = st_tmpdir();
    int64_t a, b;
    sess_store *s = seeded(dir, &a, &b);
    sess_hit *h;
    cr_assert_eq(hits(s, "python", &h), 1);
    cr_assert_eq(h[0].session_id, a);
    cr_assert_eq(h[0].seq, 0);
    cr_assert_str_eq(h[0].role, "user");
    cr_assert(strstr(h[0].snippet, SESS_HL_ON "Python" SESS_HL_OFF), "snippet: %s", h[0].snippet);
    cr_assert_str_eq(h[0].title, "How do I reverse a list in Python?");
    sess_hit_free_list(h, 1);
    cr_assert_eq(hits(s, "pyth", NULL), 1, "the last word matches as a prefix");
    cr_assert_eq(hits(s, "reverse python", NULL), 1, "words are ANDed");
    cr_assert_eq(hits(s, "reverse croissant", NULL), 0);
    cr_assert_eq(hits(s, "cafe", NULL), 1, "accents are folded");
    cr_assert_eq(hits(s, "CAFÉ", NULL), 1);
    cr_assert_eq(hits(s, "東京の天気は晴れです", NULL), 1);
    cr_assert_eq(hits(s, "東京", NULL), 1, "prefix of a CJK run");
    cr_assert_eq(hits(s, "", NULL), 0);
    cr_assert_eq(hits(s, "   \t ", NULL), 0);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_search, hostile_queries_are_just_words)
{
    char *dir = st_tmpdir();
    int64_t a, b;
    sess_store *s = seeded(dir, &a, &b);
    static const char *const hostile[] = {
        "\"", "\"\"", "\"quoted", "AND", "OR", "NOT", "and or not", "*", "**", "a*b", "(", ")", "(NEAR)",
        "NEAR(a b)", "col:x", "text:python", "-python", "+python", "^python", "python\"", "{text}: x", "'",
        "';DROP TABLE sessions;--", "\\", "é\"ü", "\xf0\x9f\x98\x80", "\xff\xfe", "x\x01y", "%", "_",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) hits(s, hostile[i], NULL);
    cr_assert_eq(hits(s, "AND", NULL), 1, "AND is the word 'and'");
    cr_assert_eq(hits(s, "quoted text", NULL), 1);
    cr_assert_eq(hits(s, "\"quoted", NULL), 1, "a stray quote is just a character");
    cr_assert_eq(hits(s, "NEAR", NULL), 1);
    sess_info *l = NULL;
    int n = 0;
    sess_status st = {0};
    cr_assert_eq(sess_list(s, &l, &n, &st), 0);
    cr_assert_eq(n, 2, "a query changed the store");
    sess_info_free_list(l, n);
    char *e = sess_search_expr("a\"b  c");
    cr_assert_str_eq(e, "\"a\"\"b\" \"c\"*");
    free(e);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_search, index_follows_edits_streams_and_deletes)
{
    char *dir = st_tmpdir();
    int64_t a, b;
    sess_store *s = seeded(dir, &a, &b);
    sess_status st = {0};
    sess_store_set_checkpoint(s, 0, 1);   /* every append reaches the disk */
    int64_t m = sess_msg_begin(s, b, "assistant", &st);
    cr_assert_eq(sess_msg_append(s, m, "platypus ", 9, &st), 0);
    cr_assert_eq(hits(s, "platypus", NULL), 1, "streamed text is searchable at once");
    cr_assert_eq(sess_msg_append(s, m, "wombat", 6, &st), 0);
    cr_assert_eq(sess_msg_finish(s, m, NULL, &st), 0);
    cr_assert_eq(hits(s, "wombat", NULL), 1);
    cr_assert_eq(sess_msg_truncate(s, b, 2, &st), 0);
    cr_assert_eq(hits(s, "wombat", NULL), 0, "truncated messages leave the index");
    cr_assert_eq(sess_delete(s, a, &st), 0);
    cr_assert_eq(hits(s, "python", NULL), 0, "deleted sessions leave the index");
    cr_assert_eq(hits(s, "croissant", NULL), 1);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
