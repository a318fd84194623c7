/* test_sessions_import.c — importing what people actually have: a session with
 * no messages and no "updated" field, a file saved with a UTF-8 BOM, a text or
 * file over the size limits (refused, the limit said, nothing written), and a
 * huge import that must not lock out another parley saving at the same time. */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "sessions/sessions_impl.h"
#include "sessions_test_util.h"

Test(sess_import, empty_session_without_updated_imports)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    const char *doc = "{\"parley_session\":1,\"title\":\"nothing yet\",\"messages\":[]}";
    int64_t id = sess_import_json(s, doc, strlen(doc), "empty.json", &st);
    cr_assert_gt(id, 0, "refused: %s", st.msg);
    sess_info info;
    cr_assert_eq(sess_get_info(s, id, &info, &st), 0, "%s", st.msg);
    cr_assert_str_eq(info.title, "nothing yet");
    cr_assert_eq(info.n_messages, 0);
    sess_info_clear(&info);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_import, a_utf8_bom_is_accepted)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    const char *doc = "\xEF\xBB\xBF{\"parley_session\":1,\"title\":\"\",\"messages\":[{\"role\":\"user\",\"text\":\"hi\"}]}";
    cr_assert_gt(sess_import_json(s, doc, strlen(doc), "bom.json", &st), 0, "refused: %s", st.msg);
    const char *path = st_path(dir, "bom.json");
    FILE *f = fopen(path, "wb");
    fputs(doc, f);
    fclose(f);
    cr_assert_gt(sess_import_json_file(s, path, &st), 0, "file refused: %s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_import, a_text_over_the_limit_is_refused_with_the_limit)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    size_t big = SESS_MSG_MAX_BYTES + 1;
    char *doc = malloc(big + 200);
    int head = snprintf(doc, 200, "{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"");
    memset(doc + head, 'a', big);
    strcpy(doc + head + big, "\"}]}");
    cr_assert_eq(sess_import_json(s, doc, strlen(doc), "huge.json", &st), -1, "a 16 MiB + 1 message was taken");
    cr_assert(strstr(st.msg, "messages[0].text") && strstr(st.msg, "limit is 16 MiB"), "%s", st.msg);
    cr_assert_eq(st_count(s), 0);
    cr_assert_eq(sess_msg_add(s, sess_create(s, NULL, &st), "user", doc + head, big, NULL, &st), -1);
    cr_assert(strstr(st.msg, "limit is 16 MiB"), "%s", st.msg);
    free(doc);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_import, a_file_over_the_limit_is_refused_before_reading)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    const char *path = st_path(dir, "big.json");
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_eq(ftruncate(fd, 300ll << 20), 0);   /* sparse: no disk used */
    close(fd);
    int64_t t0 = sess_mono_ms();
    cr_assert_eq(sess_import_json_file(s, path, &st), -1);
    cr_assert(strstr(st.msg, "300 MiB") && strstr(st.msg, "limit is 256 MiB"), "%s", st.msg);
    cr_assert_lt(sess_mono_ms() - t0, 1000, "the file was read before it was refused");
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

#define HUGE_N 50000

Test(sess_import, a_huge_import_lets_another_parley_save, .timeout = 120)
{
    char *dir = st_tmpdir();
    sess_store_close(st_open(dir));
    size_t cap = (size_t)HUGE_N * 48 + 256, used = 0;
    char *doc = malloc(cap);
    used += (size_t)snprintf(doc, cap, "{\"parley_session\":1,\"title\":\"huge\",\"messages\":[");
    for (int i = 0; i < HUGE_N; i++)
        used += (size_t)snprintf(doc + used, cap - used, "%s{\"role\":\"user\",\"text\":\"line %d\"}", i ? "," : "", i);
    used += (size_t)snprintf(doc + used, cap - used, "]}");
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {   /* "the other parley": imports the huge file */
        sess_status st = {0};
        sess_store *s = sess_store_open(dir, 0, &st);
        if (!s) _exit(2);
        if (write(go[1], "x", 1) != 1) _exit(3);
        int64_t id = sess_import_json(s, doc, used, "huge.json", &st);
        sess_store_close(s);
        _exit(id > 0 ? 0 : 1);
    }
    char x;
    cr_assert_eq(read(go[0], &x, 1), 1);
    sess_store *s = st_open(dir);
    sess_store_set_busy_timeout(s, 500);
    sess_status st = {0};
    int saved = 0, during = 0;
    for (int i = 0; i < 5; i++) {
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
        int status;
        bool running = waitpid(pid, &status, WNOHANG) == 0;
        int64_t id = sess_create(s, NULL, &st);
        cr_assert_gt(id, 0, "a save waited more than 500 ms for the import: %s", st.msg);
        saved++;
        during += running;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the import failed (%d)", status);
    cr_assert_gt(during, 0, "the import finished before any save was tried: make HUGE_N bigger");
    sess_info *l = NULL;
    int n = 0;
    cr_assert_eq(sess_list(s, &l, &n, &st), 0);
    cr_assert_eq(n, saved + 1);
    int huge = -1;
    for (int i = 0; i < n; i++) if (strcmp(l[i].title, "huge") == 0) huge = l[i].n_messages;
    cr_assert_eq(huge, HUGE_N, "the import is not whole: %d messages", huge);
    sess_info_free_list(l, n);
    sess_store_close(s);
    free(doc);
    st_tmpdir_rm(dir);
}

/* An old Markdown export whose "**System:**" line holds a NUL byte (found by
 * tests/fuzz/fuzz_import.c): the prompt was copied with strndup, shorter than
 * the length kept for it, and trimming then read and wrote past it. Now the
 * whole line is kept and the NUL refused by name; nothing is imported. */
Test(sess_import, old_markdown_system_line_with_a_nul_is_refused_by_name)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    static const char doc[] = "# T\n\n**System:** be\0brief and keep going for a while\n\n## User\n\nhi\n";
    const char *path = st_path(dir, "old.md");
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(doc, 1, sizeof doc - 1, f), sizeof doc - 1);
    fclose(f);
    cr_expect_lt(sess_import_file(s, path, &st), 0, "a system prompt with a NUL byte was imported");
    cr_expect(strstr(st.msg, "system_prompt: contains a NUL byte"), "%s", st.msg);
    cr_expect_eq(st_count(s), 0);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
