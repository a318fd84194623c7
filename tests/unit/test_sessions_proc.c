/* test_sessions_proc.c — the store under real processes: two parleys writing
 * at once lose nothing and corrupt nothing, and kill -9 in the middle of a
 * streamed answer loses only the last few tokens. Children are fork()ed and
 * report through pipes; they open their own connections, as a second parley would. */
#include <signal.h>
#include <sys/wait.h>

#include "sessions_test_util.h"

#define N_EACH 200

/* Child: append N_EACH messages to sid once the parent opens the gate. */
static void writer_child(const char *dir, int64_t sid, int tag, int gate)
{
    char c;
    if (read(gate, &c, 1) != 1) _exit(3);
    sess_status st;
    sess_store *s = sess_store_open(dir, 0, &st);
    if (!s) _exit(4);
    for (int i = 0; i < N_EACH; i++) {
        char text[64];
        int len = snprintf(text, sizeof text, "writer %d message %d", tag, i);
        if (sess_msg_add(s, sid, i % 2 ? "assistant" : "user", text, (size_t)len, NULL, &st) < 0) {
            fprintf(stderr, "child %d: %s\n", tag, st.msg);
            _exit(5);
        }
    }
    sess_store_close(s);
    _exit(0);
}

/* Run two writer processes at once against sessions a and b. */
static void run_two_writers(const char *dir, int64_t a, int64_t b)
{
    int gate[2];
    cr_assert_eq(pipe(gate), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        cr_assert_geq(kids[k], 0);
        if (kids[k] == 0) { close(gate[1]); writer_child(dir, k ? b : a, k, gate[0]); }
    }
    close(gate[0]);
    cr_assert_eq(write(gate[1], "go", 2), 2);   /* both start together */
    close(gate[1]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed (status %d)", k, status);
    }
}

/* Messages of sid must be seq 0..n-1 and hold each writer's texts in its own order. */
static void check_session(sess_store *s, int64_t sid, int expect)
{
    sess_status st = {0};
    sess_msg *m = NULL;
    int n = 0, next[2] = {0, 0};
    cr_assert_eq(sess_msg_list(s, sid, &m, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, expect, "session %lld has %d of %d messages", (long long)sid, n, expect);
    for (int i = 0; i < n; i++) {
        int tag, k;
        cr_assert_eq(m[i].seq, i);
        cr_assert_eq(sscanf(m[i].text, "writer %d message %d", &tag, &k), 2, "%s", m[i].text);
        cr_assert_eq(k, next[tag]++, "writer %d out of order", tag);
    }
    sess_msg_free_list(m, n);
}

Test(sess_proc, two_processes_different_sessions, .timeout = 60)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t a = sess_create(s, NULL, &st), b = sess_create(s, NULL, &st);
    run_two_writers(dir, a, b);
    check_session(s, a, N_EACH);
    check_session(s, b, N_EACH);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_proc, two_processes_same_session, .timeout = 60)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t a = sess_create(s, NULL, &st);
    run_two_writers(dir, a, a);
    check_session(s, a, 2 * N_EACH);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    sess_hit *h = NULL;
    int n = 0;
    cr_assert_eq(sess_search(s, "writer", 500, &h, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, 2 * N_EACH, "FTS index out of sync after concurrent writes");
    sess_hit_free_list(h, n);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

#define TOKEN_BYTES 8
#define CKPT_BYTES 64
#define KILL_AFTER 300

/* Child: stream an answer token by token forever, reporting each append. */
static void streamer_child(const char *dir, int64_t sid, int report)
{
    sess_status st;
    sess_store *s = sess_store_open(dir, 0, &st);
    if (!s) _exit(4);
    sess_store_set_checkpoint(s, 1000000, CKPT_BYTES);
    int64_t m = sess_msg_begin(s, sid, "assistant", &st);
    if (m < 0 || write(report, &m, sizeof m) != sizeof m) _exit(5);
    for (int i = 0;; i++) {
        char tok[16];
        snprintf(tok, sizeof tok, "t%05d ", i % 100000);
        if (sess_msg_append(s, m, tok, TOKEN_BYTES, &st) < 0) _exit(6);
        int done = i + 1;
        if (write(report, &done, sizeof done) != sizeof done) _exit(7);
        if (i % 16 == 0) usleep(200);
    }
}

Test(sess_proc, kill_9_mid_stream_loses_only_the_tail, .timeout = 60)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    int64_t sid = sess_create(s, NULL, &st);
    cr_assert_gt(sess_msg_add(s, sid, "user", "count forever", 13, NULL, &st), 0);
    int rep[2];
    cr_assert_eq(pipe(rep), 0);
    pid_t kid = fork();
    cr_assert_geq(kid, 0);
    if (kid == 0) { close(rep[0]); streamer_child(dir, sid, rep[1]); }
    close(rep[1]);
    int64_t mid = 0;
    cr_assert_eq(read(rep[0], &mid, sizeof mid), (ssize_t)sizeof mid);
    int done = 0;
    while (done < KILL_AFTER) cr_assert_eq(read(rep[0], &done, sizeof done), (ssize_t)sizeof done, "child died early");
    kill(kid, SIGKILL);
    int status = 0;
    waitpid(kid, &status, 0);
    close(rep[0]);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    sess_store *again = st_open(dir);
    sess_msg *m = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(again, sid, &m, &n, &st), 0, "%s", st.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(m[1].id, mid);
    cr_assert_not(m[1].complete, "a killed answer must be marked incomplete");
    cr_assert_eq(m[1].len % TOKEN_BYTES, 0, "a checkpoint split a token");
    int saved = (int)(m[1].len / TOKEN_BYTES);
    for (int i = 0; i < saved; i++) {
        char tok[16];
        snprintf(tok, sizeof tok, "t%05d ", i % 100000);
        cr_assert_eq(memcmp(m[1].text + i * TOKEN_BYTES, tok, TOKEN_BYTES), 0, "token %d garbled", i);
    }
    int max_lost = CKPT_BYTES / TOKEN_BYTES;
    cr_assert_geq(saved, done - max_lost, "saved %d tokens of at least %d (at most %d may be lost)", saved, done,
                  max_lost);
    cr_assert_eq(sess_store_check(again, &st), 0, "%s", st.msg);
    sess_msg_free_list(m, n);
    sess_store_close(again);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
