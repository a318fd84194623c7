/* test_sessions_export.c — a conversation exported and imported comes back
 * the same; a broken import file is refused with the field named and leaves
 * the store exactly as it was; knobs survive the trip through settings JSON. */
#include "config/config.h"
#include "sessions/sessions_impl.h"
#include "sessions_test_util.h"

/* A session with everything an export has to carry. */
static int64_t rich_session(sess_store *s)
{
    sess_status st = {0};
    sess_new p = {NULL, "/models/smol.gguf", 0xfedcba9876543210ull, "{\"temp\":0.25,\"top-k\":7}", "Be terse."};
    int64_t sid = sess_create(s, &p, &st);
    cr_assert_gt(sid, 0, "%s", st.msg);
    cr_assert_eq(sess_set_model_name(s, sid, "smollm2:135m", &st), 0, "%s", st.msg);
    const char *q = "Write \"hello\" in C\nwith a tab\tand unicode: ünïcödé 日本 😀";
    cr_assert_gt(sess_msg_add(s, sid, "user", q, strlen(q), NULL, &st), 0);
    sess_msg_stats stats = {12, 240, 50.0};
    const char *a = "```c\nputs(\"hello\");\n```";
    cr_assert_gt(sess_msg_add(s, sid, "assistant", a, strlen(a), &stats, &st), 0);
    int64_t m = sess_msg_begin(s, sid, "assistant", &st);   /* cut off mid-stream */
    cr_assert_eq(sess_msg_append(s, m, "partial \xe6\x97", 10, &st), 0);   /* ends in half a character */
    cr_assert_eq(sess_msg_flush(s, m, &st), 0);
    return sid;
}

/* Export session id as JSON into a malloc'd string. */
static char *export_json(sess_store *s, int64_t id)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sess_status st = {0};
    cr_assert_eq(sess_export_json(s, id, f, &st), 0, "%s", st.msg);
    fclose(f);
    return buf;
}

Test(sess_export, json_round_trip_is_identical)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t sid = rich_session(s);
    char *one = export_json(s, sid);
    sess_status st = {0};
    int64_t copy = sess_import_json(s, one, strlen(one), "one.json", &st);
    cr_assert_gt(copy, sid, "%s", st.msg);
    char *two = export_json(s, copy);
    cr_assert_str_eq(two, one, "export -> import -> export changed the session");
    sess_info info;
    cr_assert_eq(sess_get_info(s, copy, &info, &st), 0);
    cr_assert_eq(info.model_fp, 0xfedcba9876543210ull);
    cr_assert_str_eq(info.system_prompt, "Be terse.");
    cr_assert_str_eq(info.model_name, "smollm2:135m", "the model's name was lost on the way");
    cr_assert_str_eq(info.title, "Write \"hello\" in C");
    sess_info_clear(&info);
    sess_msg *m = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(s, copy, &m, &n, &st), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(m[1].stats.n_tokens, 12);
    cr_assert_not(m[2].complete, "the cut-off answer stays incomplete");
    cr_assert(strstr(m[2].text, "partial \xef\xbf\xbd"), "cut character not replaced: %s", m[2].text);
    sess_msg_free_list(m, n);
    free(one);
    free(two);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_export, markdown_reads_like_the_chat)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t sid = rich_session(s);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sess_status st = {0};
    cr_assert_eq(sess_export_md(s, sid, f, &st), 0, "%s", st.msg);
    fclose(f);
    cr_assert(strstr(buf, "# Write \"hello\" in C\n"), "%s", buf);
    cr_assert(strstr(buf, "## System\n\nBe terse.\n"), "%s", buf);
    cr_assert(strstr(buf, "## User\n\nWrite \"hello\" in C\nwith a tab"), "%s", buf);
    cr_assert(strstr(buf, "## Assistant · 12 tokens, 50.0 tok/s\n\n```c\nputs(\"hello\");\n```"), "%s", buf);
    cr_assert(strstr(buf, "## Assistant · stopped\n\npartial "), "a stopped answer is labelled as in the chat:\n%s", buf);
    free(buf);
    cr_assert_eq(sess_export_md(s, 999, stdout, &st), -1);
    cr_assert(strstr(st.msg, "no session 999"), "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_export, bad_imports_name_the_field_and_change_nothing)
{
    static const struct { const char *json, *words; } bad[] = {
        {"{not json", "not valid JSON"},
        {"[]", "expected an object"},
        {"{\"title\":\"x\",\"messages\":[]}", "parley_session: missing"},
        {"{\"parley_session\":2,\"title\":\"x\",\"messages\":[]}", "unsupported format version"},
        {"{\"parley_session\":1,\"messages\":[]}", "title: missing"},
        {"{\"parley_session\":1,\"title\":5,\"messages\":[]}", "title: expected a string"},
        {"{\"parley_session\":1,\"title\":\"x\"}", "messages: missing"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":{}}", "messages: expected an array"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[7]}", "messages[0]: expected an object"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].text: missing"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"a\"},"
         "{\"role\":1,\"text\":\"b\"}]}", "messages[1].role: expected a string"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"bot\",\"text\":\"b\"}]}",
         "messages[0].role: must be"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"\xff\xfe\"}]}",
         "not valid JSON"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"a\\u0000b\"}]}",
         "not valid JSON"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"\\ud800\"}]}",
         "not valid JSON"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"a\",\"n_tokens\":\"5\"}]}",
         "messages[0].n_tokens: expected an integer"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"a\",\"tok_s\":-1}]}",
         "messages[0].tok_s: out of range"},
        {"{\"parley_session\":1,\"title\":\"x\",\"messages\":[{\"role\":\"user\",\"text\":\"a\",\"complete\":\"yes\"}]}",
         "messages[0].complete: expected true or false"},
        {"{\"parley_session\":1,\"title\":\"x\",\"settings\":[],\"messages\":[]}", "settings: expected an object"},
        {"{\"parley_session\":1,\"title\":\"x\",\"model_fingerprint\":\"xyz\",\"messages\":[]}", "hex"},
        {"{\"parley_session\":1,\"parley_session\":1,\"title\":\"x\",\"messages\":[]}", "duplicate"},
    };
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    rich_session(s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sess_status st = {0};
        cr_assert_eq(sess_import_json(s, bad[i].json, strlen(bad[i].json), "in.json", &st), -1, "case %zu accepted", i);
        cr_assert_eq(st.code, SESS_ERR_FORMAT, "case %zu: %s", i, st.msg);
        cr_assert(strstr(st.msg, bad[i].words) && strstr(st.msg, "in.json"), "case %zu: '%s' lacks '%s'", i, st.msg,
                  bad[i].words);
        cr_assert_eq(st_count(s), 1, "case %zu half-imported", i);
    }
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_export, import_that_fails_midway_leaves_no_trace)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t sid = rich_session(s);
    sess_status st = {0};
    size_t big = 300 * 1024;   /* the session row fits, the big message does not */
    char *doc = malloc(big + 256), *text = malloc(big + 1);
    memset(text, 'q', big);
    text[big] = 0;
    snprintf(doc, big + 256, "{\"parley_session\":1,\"title\":\"big\",\"messages\":[{\"role\":\"user\",\"text\":\"%s\"}]}",
             text);
    sqlite3_stmt *q = sess_prepare(s, "PRAGMA page_count", &st);
    sqlite3_step(q);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", sqlite3_column_int(q, 0) + 4);
    sqlite3_finalize(q);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    cr_assert_eq(sess_import_json(s, doc, strlen(doc), "big.json", &st), -1);
    cr_assert_eq(st.code, SESS_ERR_FULL, "%s", st.msg);
    cr_assert_eq(st_count(s), 1, "the session row of a failed import remains");
    sess_info info;
    cr_assert_eq(sess_get_info(s, sid, &info, &st), 0);
    sess_info_clear(&info);
    cr_assert_eq(sess_store_check(s, &st), 0, "%s", st.msg);
    free(doc);
    free(text);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

Test(sess_export, settings_carry_the_knobs)
{
    pl_config a, b;
    char err[256];
    config_init(&a);
    config_init(&b);
    config_set(&a, config_find("temp"), "0.3", err, sizeof err);
    config_set(&a, config_find("top-k"), "7", err, sizeof err);
    config_set(&a, config_find("cache-type-k"), "q8_0", err, sizeof err);
    config_set(&a, config_find("seed"), "1234567890123", err, sizeof err);
    char *json = sess_settings_from_config(&a);
    cr_assert_not_null(json);
    cr_assert(strstr(json, "\"top-k\":7"), "%s", json);
    cr_assert_null(strstr(json, "\"prompt\""), "the prompt is not a knob: %s", json);
    cr_assert_eq(sess_settings_apply(json, &b, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(b.temp, 0.3f, 1e-6);
    cr_assert_eq(b.top_k, 7);
    cr_assert_str_eq(b.cache_type_k, "q8_0");
    cr_assert_eq(b.seed, 1234567890123LL);
    cr_assert_eq(sess_settings_apply("{\"top-k\":-5}", &b, err, sizeof err), -1);
    cr_assert(strstr(err, "top-k"), "%s", err);
    cr_assert_eq(sess_settings_apply("{\"no-such-knob\":1}", &b, err, sizeof err), 0, "unknown keys are skipped");
    free(json);
    config_free(&a);
    config_free(&b);
}

/* Export session id as Markdown into dir/name; returns the path (static). */
static const char *export_md_file(sess_store *s, int64_t id, const char *dir, const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sess_status st = {0};
    cr_assert_eq(sess_export_file(s, id, false, path, SESS_WRITE_FORCE, &st), 0, "%s", st.msg);
    return path;
}

/* Text that looks like our own headers, blank lines at both ends, a comment
 * closer in the settings: what parley exports in Markdown, it reads back. */
Test(sess_export, markdown_round_trip_is_identical)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    int64_t sid = rich_session(s);
    sess_status st = {0};
    sess_new p = {"Tricky: # not a header", "/m.gguf", 1, "{\"stop\":\"--> <!--\",\"cache-type-k\":\"q8_0\"}",
                  "Line one\n## User\nstill the system prompt"};
    int64_t t = sess_create(s, &p, &st);
    cr_assert_gt(t, 0, "%s", st.msg);
    const char *texts[] = {
        "\n\nstarts with blank lines", "## Assistant\n### user\n\\## User\n\\\\### system\nend\n\n",
        "## Summary (an ordinary heading stays as it is)\n<!-- parley session: {} -->", "x",
    };
    for (int i = 0; i < 4; i++)
        cr_assert_gt(sess_msg_add(s, t, i % 2 ? "assistant" : "user", texts[i], strlen(texts[i]), NULL, &st), 0);
    int64_t ids[] = {sid, t};
    for (int k = 0; k < 2; k++) {
        int64_t copy = sess_import_file(s, export_md_file(s, ids[k], dir, "x.md"), &st);
        cr_assert_gt(copy, 0, "%s", st.msg);
        char *one = export_json(s, ids[k]), *two = export_json(s, copy);
        cr_expect_str_eq(two, one, "Markdown export -> import changed session %lld", (long long)ids[k]);
        free(one);
        free(two);
    }
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

/* Files written by hand or by older parleys: "### user" headers, the old
 * "**System:**" line and stats lines, no comment. */
Test(sess_export, older_and_hand_written_markdown_imports)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    static const char *const files[][2] = {
        {"tui.md", "<!-- parley conversation -->\n\n### user\n\nhi there\n\n### assistant\n\nhello\n"},
        {"cli.md", "# hi there\n\n_session 3, 2026-12-07 10:00, model `m.gguf`_\n\n**System:** Be terse.\n\n"
                   "## User\n\nhi there\n\n## Assistant\n\nhello\n\n_(3 tokens, 30.0 tok/s)_\n\n"
                   "## Assistant\n\ncut\n\n_(incomplete: the answer was cut off)_\n\n"},
    };
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, files[k][0]);
        FILE *f = fopen(path, "w");
        fputs(files[k][1], f);
        fclose(f);
        sess_status st = {0};
        int64_t id = sess_import_file(s, path, &st);
        cr_assert_gt(id, 0, "%s: %s", files[k][0], st.msg);
        sess_msg *m = NULL;
        int n = 0;
        cr_assert_eq(sess_msg_list(s, id, &m, &n, &st), 0);
        cr_assert_geq(n, 2, "%s", files[k][0]);
        cr_expect_str_eq(m[0].role, "user");
        cr_expect_str_eq(m[0].text, "hi there");
        cr_expect_str_eq(m[1].text, "hello", "%s: stats line left in the text", files[k][0]);
        if (k == 1) {
            cr_expect_eq(m[1].stats.n_tokens, 3);
            cr_expect_not(m[2].complete);
            cr_expect_str_eq(m[2].text, "cut");
            sess_info info;
            cr_assert_eq(sess_get_info(s, id, &info, &st), 0);
            cr_expect_str_eq(info.system_prompt, "Be terse.");
            sess_info_clear(&info);
        }
        sess_msg_free_list(m, n);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/notes.md", dir);
    FILE *f = fopen(path, "w");
    fputs("# Shopping\n\n- eggs\n", f);
    fclose(f);
    sess_status st = {0};
    cr_expect_eq(sess_import_file(s, path, &st), -1);
    cr_expect(strstr(st.msg, "not a parley conversation"), "%s", st.msg);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}

/* A session with no turns yet exports to Markdown that imports again. */
Test(sess_export, empty_session_round_trips_in_markdown)
{
    char *dir = st_tmpdir();
    sess_store *s = st_open(dir);
    sess_status st = {0};
    sess_new p = {"nothing yet", "/m.gguf", 1, "{}", "Be terse."};
    int64_t sid = sess_create(s, &p, &st);
    cr_assert_gt(sid, 0, "%s", st.msg);
    int64_t copy = sess_import_file(s, export_md_file(s, sid, dir, "empty.md"), &st);
    cr_assert_gt(copy, 0, "an empty session's Markdown export was refused: %s", st.msg);
    char *one = export_json(s, sid), *two = export_json(s, copy);
    cr_expect_str_eq(two, one);
    free(one);
    free(two);
    sess_store_close(s);
    st_tmpdir_rm(dir);
}
