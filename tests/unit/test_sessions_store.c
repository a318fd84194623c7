/* test_sessions_store.c — the session store as a user meets it: sessions come
 * back in the order they were used, titles read well, an old store is upgraded,
 * a newer one refused, and a full disk, a read-only file, a locked store or a
 * corrupt file each give their own message without losing what was saved. */
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "sessions/sessions_impl.h"
#include "sessions_test_util.h"

/* Add a message or fail the test. */
static int64_t add(sess_store *s, int64_t sid, const char *role, const char *text)
{
    sess_status st = {0};
    int64_t id = sess_msg_add(s, sid, role, text, strlen(text), NULL, &st);
    cr_assert_gt(id, 0, "add: %s", st.msg);
    return id;
}

static int64_t create(sess_store *s)
{
    sess_status st = {0};
    int64_t id = sess_create(s, NULL, &st);
    cr_assert_gt(id, 0, "create: %s", st.msg);
    return id;
}

/* One integer from a SQL query on a separate raw connection. */
static long long raw_int(const char *db, const char *sql)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

Test(sess_store, crud_order_titles_and_cascade)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t a = create(s), b = create(s), c = create(s);
    add(s, a, "user", "\n\n   How do I reverse a list in Python?\nmore detail here");
    add(s, a, "assistant", "Use reversed() or slicing.");
    add(s, b, "assistant", "hello");  /* no user message: stays untitled */
    add(s, b, "user", "first user line");
    struct timespec t = {0, 3000000};
    nanosleep(&t, NULL);
    add(s, a, "user", "thanks");       /* a was used last */

    sess_info *l = NULL;
    int n = 0;
    cr_assert_eq(sess_list(s, &l, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(l[0].id, a);
    cr_assert_eq(l[1].id, b);
    cr_assert_eq(l[2].id, c);
    cr_assert_str_eq(l[0].title, "How do I reverse a list in Python?");
    cr_assert_eq(l[0].n_messages, 3);
    cr_assert_str_eq(l[1].title, "first user line");
    cr_assert_str_eq(l[2].title, "");
    sess_info_free_list(l, n);
    cr_assert_eq(sess_last(s, &st), a);

    cr_assert_eq(sess_rename(s, b, "Renamed", &st), 0);
    sess_info info;
    cr_assert_eq(sess_get_info(s, b, &info, &st), 0);
    cr_assert_str_eq(info.title, "Renamed");
    sess_info_clear(&info);

    cr_assert_eq(sess_delete(s, a, &st), 0, "%s", st.msg);
    cr_assert_eq(sess_get_info(s, a, &info, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_NOTFOUND);
    cr_assert(strstr(st.msg, "no session") && strstr(st.msg, "parley sessions ls"), "%s", st.msg);
    cr_assert_eq(raw_int(sess_store_path(s), "SELECT count(*) FROM messages"), 2, "messages of a deleted session remain");
    cr_assert_eq(sess_rename(s, 4242, "x", &st), -1);
    cr_assert_eq(st.code, SESS_ERR_NOTFOUND);
    cr_assert_eq(sess_msg_add(s, 4242, "user", "x", 1, NULL, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_NOTFOUND);
    cr_assert_eq(sess_msg_add(s, b, "robot", "x", 1, NULL, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_ARG);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_store, title_cut_on_word_boundary)
{
    char t[256];
    sess_title_from_text("  short one  ", t, sizeof t);
    cr_assert_str_eq(t, "short one");
    const char *longer = "Please explain the difference between a process and a thread in operating systems";
    sess_title_from_text(longer, t, sizeof t);
    cr_assert_leq(strlen(t), 60);
    cr_assert_str_eq(t, "Please explain the difference between a process and a\xe2\x80\xa6");
    char word[200];
    memset(word, 'x', 150);
    word[150] = 0;
    sess_title_from_text(word, t, sizeof t);   /* no space: cut inside the word */
    cr_assert_eq(strlen(t), 57 + 3);
    /* two-byte characters are never split */
    char accents[200] = "";
    for (int i = 0; i < 40; i++) strcat(accents, "\xc3\xa9");
    sess_title_from_text(accents, t, sizeof t);
    cr_assert(sess_utf8_valid(t, strlen(t)), "title cut a UTF-8 character: %s", t);
    sess_title_from_text("\n\n\t\n", t, sizeof t);
    cr_assert_str_eq(t, "");
}

Test(sess_store, streaming_checkpoints_and_finish)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir), *other = st_open(dir);
    sess_status st = {0};
    int64_t sid = create(s);
    add(s, sid, "user", "count to ten");
    sess_store_set_checkpoint(s, 1000000, 16);   /* by size only */
    int64_t m = sess_msg_begin(s, sid, "assistant", &st);
    cr_assert_gt(m, 0, "%s", st.msg);
    cr_assert_eq(sess_msg_append(s, m, "one two ", 8, &st), 0);
    sess_msg *l = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(other, sid, &l, &n, &st), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(l[1].len, 0, "written before the checkpoint");
    cr_assert_not(l[1].complete);
    sess_msg_free_list(l, n);
    cr_assert_eq(sess_msg_append(s, m, "three four ", 11, &st), 0);
    cr_assert_eq(sess_msg_list(other, sid, &l, &n, &st), 0);
    cr_assert_str_eq(l[1].text, "one two three four ");
    sess_msg_free_list(l, n);
    cr_assert(sess_store_changed(other), "the other handle is not told about new text");
    cr_assert_not(sess_store_changed(other));
    cr_assert_eq(sess_msg_append(s, m, "five", 4, &st), 0);
    sess_msg_stats stats = {5, 100, 50.0};
    cr_assert_eq(sess_msg_finish(s, m, &stats, &st), 0, "%s", st.msg);
    cr_assert_eq(sess_msg_list(other, sid, &l, &n, &st), 0);
    cr_assert_str_eq(l[1].text, "one two three four five");
    cr_assert(l[1].complete);
    cr_assert_eq(l[1].stats.n_tokens, 5);
    cr_assert_float_eq(l[1].stats.tok_s, 50.0, 1e-9);
    cr_assert_eq(l[1].seq, 1);
    sess_msg_free_list(l, n);
    cr_assert_eq(sess_msg_append(s, m, "late", 4, &st), -1, "append after finish");
    cr_assert_eq(sess_msg_truncate(s, sid, 1, &st), 0);
    cr_assert_eq(sess_msg_list(other, sid, &l, &n, &st), 0);
    cr_assert_eq(n, 1, "regenerate drops the answer");
    sess_msg_free_list(l, n);
    sess_store_close(other);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

/* A store as parley's first schema wrote it, made by hand. */
static void make_v1_store(const char *path)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    const char *sql =
        "CREATE TABLE sessions(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',"
        " created INTEGER NOT NULL, updated INTEGER NOT NULL, model_path TEXT NOT NULL DEFAULT '',"
        " settings TEXT NOT NULL DEFAULT '{}', system_prompt TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, session_id INTEGER NOT NULL"
        " REFERENCES sessions(id) ON DELETE CASCADE, seq INTEGER NOT NULL, role TEXT NOT NULL,"
        " text TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, UNIQUE(session_id, seq));"
        "INSERT INTO sessions VALUES (7, 'old chat', 1000, 2000, 'm.gguf', '{\"temp\":0.5}', 'be brief');"
        "INSERT INTO messages VALUES (1, 7, 0, 'user', 'what is a walrus', 1000);"
        "INSERT INTO messages VALUES (2, 7, 1, 'assistant', 'a large marine mammal', 1500);"
        "PRAGMA user_version=1;";
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
}

Test(sess_store, migrates_a_v1_store)
{
    char *dir = st_tmpdir();
    make_v1_store(st_path(dir, "sessions.db"));
    sess_store *s = st_open(dir);
    sess_status st = {0};
    cr_assert_eq(raw_int(sess_store_path(s), "PRAGMA user_version"), sess_schema_version());
    sess_info info;
    cr_assert_eq(sess_get_info(s, 7, &info, &st), 0, "%s", st.msg);
    cr_assert_str_eq(info.title, "old chat");
    cr_assert_str_eq(info.system_prompt, "be brief");
    cr_assert_eq(info.n_messages, 2);
    cr_assert_eq(info.model_fp, 0);
    sess_info_clear(&info);
    sess_msg *l = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(s, 7, &l, &n, &st), 0);
    cr_assert(l[1].complete, "old messages count as complete");
    cr_assert_str_eq(l[1].text, "a large marine mammal");
    sess_msg_free_list(l, n);
    sess_hit *h = NULL;
    cr_assert_eq(sess_search(s, "marine", 10, &h, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, 1, "old text is indexed after the upgrade");
    cr_assert_eq(h[0].session_id, 7);
    sess_hit_free_list(h, n);
    cr_assert_gt(add(s, 7, "user", "and a seal?"), 2);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_store_close(s);
    s = st_open(dir);   /* re-open: already current, nothing to do */
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_store, refuses_a_newer_schema)
{
    char *dir = st_tmpdir();
    const char *path = st_path(dir, "sessions.db");
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "CREATE TABLE future(x); PRAGMA user_version=99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    sess_status st = {0};
    cr_assert_null(sess_store_open(dir, 0, &st));
    cr_assert_eq(st.code, SESS_ERR_NEWER);
    cr_assert(strstr(st.msg, "sessions.db was written by a newer parley (schema 99"), "%s", st.msg);
    cr_assert_eq(raw_int(path, "PRAGMA user_version"), 99, "the file was changed");
    st_tmpdir_rm(dir);
}

Test(sess_store, read_only_store_reads_and_refuses_writes)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t sid = create(s);
    add(s, sid, "user", "keep me");
    sess_store_close(s);
    sess_status st = {0};
    s = sess_store_open(dir, SESS_OPEN_READONLY, &st);
    cr_assert_not_null(s, "%s", st.msg);
    cr_assert(sess_store_read_only(s));
    cr_assert_not_null(sess_store_note(s));
    cr_assert(strstr(sess_store_note(s), "read-only"));
    sess_info *l = NULL;
    int n = 0;
    cr_assert_eq(sess_list(s, &l, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, 1);
    sess_info_free_list(l, n);
    cr_assert_eq(sess_create(s, NULL, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_READONLY);
    cr_assert(strstr(st.msg, "read-only"), "%s", st.msg);
    cr_assert_eq(sess_msg_begin(s, sid, "assistant", &st), -1);
    cr_assert_eq(st.code, SESS_ERR_READONLY);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_store, full_disk_keeps_earlier_history)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t sid = create(s);
    add(s, sid, "user", "small question");
    long long pages = raw_int(sess_store_path(s), "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", pages);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);   /* the disk is now "full" */
    size_t big = 64 * 1024;
    char *text = malloc(big);
    memset(text, 'z', big);
    cr_assert_eq(sess_msg_add(s, sid, "assistant", text, big, NULL, &st), -1);
    cr_assert_eq(st.code, SESS_ERR_FULL, "%d %s", st.code, st.msg);
    cr_assert(strstr(st.msg, "disk full") && strstr(st.msg, "sessions.db"), "%s", st.msg);
    sess_msg *l = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(s, sid, &l, &n, &st), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(l[0].text, "small question");
    sess_msg_free_list(l, n);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sqlite3_exec(s->db, "PRAGMA max_page_count=1073741823", NULL, NULL, NULL);   /* space again */
    cr_assert_gt(sess_msg_add(s, sid, "assistant", text, big, NULL, &st), 0, "%s", st.msg);
    free(text);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_store, busy_store_says_so)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    sqlite3 *h;   /* "another parley" holding the write lock */
    cr_assert_eq(sqlite3_open(sess_store_path(s), &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO sessions(created, updated) VALUES (1, 1);",
                              NULL, NULL, NULL), SQLITE_OK);
    sess_store_set_busy_timeout(s, 100);
    int64_t t0 = sess_mono_ms();
    cr_assert_eq(sess_create(s, NULL, &st), -1);
    int64_t waited = sess_mono_ms() - t0;
    cr_assert_eq(st.code, SESS_ERR_BUSY);
    cr_assert(strstr(st.msg, "session store is busy (another parley?)"), "%s", st.msg);
    cr_assert(waited >= 100 && waited < 3000, "waited %lld ms", (long long)waited);
    cr_assert_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    cr_assert_gt(sess_create(s, NULL, &st), 0, "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
