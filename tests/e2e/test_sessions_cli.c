/* test_sessions_cli.c — `parley sessions` as a person uses it from the shell:
 * import a conversation, list it, show it, export it both ways, search it,
 * remove it; mistakes get a message and exit status 1 (runtime) or 2 (usage).
 * Runs the real binary ($PARLEY_BIN) against a temporary PARLEY_DATA. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sessions/sessions.h"
#include "tests/common/cli.h"

static char *dir;

static void setup(void)
{
    dir = cli_home("cli");
}

static void teardown(void)
{
    cli_rm_tree(dir);
}

/* Run `parley sessions ARGS`; stdout+stderr into out; returns the exit status. */
static int run(const char *args, char *out, size_t len)
{
    const char *bin = getenv("PARLEY_BIN");
    cr_assert(bin && access(bin, X_OK) == 0, "PARLEY_BIN is not set to a built parley (run make parley)");
    char cmd[2048], log[600];
    snprintf(log, sizeof log, "%s/out.txt", dir);
    snprintf(cmd, sizeof cmd, "'%s' sessions %s >'%s' 2>&1", bin, args, log);
    int status = system(cmd);
    FILE *f = fopen(log, "rb");
    size_t n = f ? fread(out, 1, len - 1, f) : 0;
    if (f) fclose(f);
    out[n] = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write text to dir/name; returns the path (static). */
static const char *put_file(const char *name, const char *text)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *CHAT =
    "{\"parley_session\":1,\"title\":\"\",\"messages\":["
    "{\"role\":\"user\",\"text\":\"What is the capital of France?\"},"
    "{\"role\":\"assistant\",\"text\":\"Paris, on the Seine.\",\"n_tokens\":6,\"tok_s\":40.0}]}";

Test(sess_cli, import_ls_show_export_search_rm, .init = setup, .fini = teardown)
{
    char out[16384], args[1024];
    cr_assert_eq(run("ls", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "no sessions yet"), "%s", out);
    snprintf(args, sizeof args, "import '%s'", put_file("chat.json", CHAT));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "imported session 1: What is the capital of France?"), "%s", out);
    cr_assert_eq(run("ls", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "What is the capital of France?") && strstr(out, "  2  "), "%s", out);
    cr_assert_eq(run("show 1", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "[assistant]") && strstr(out, "Paris, on the Seine."), "%s", out);
    cr_assert_eq(run("export 1", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "# What is the capital of France?") && strstr(out, "## Assistant"), "%s", out);
    snprintf(args, sizeof args, "export 1 --format json -o '%s/x.json'", dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "import '%s/x.json'", dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "re-import of an export failed: %s", out);
    cr_assert_eq(run("search seine", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "[Seine]") || strstr(out, "Seine"), "%s", out);
    cr_assert_eq(run("search '\"AND*(' NEAR", out, sizeof out), 0, "hostile search: %s", out);
    cr_assert_eq(run("rm 1", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "deleted session 1"), "%s", out);
    cr_assert_eq(run("show 1", out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "no session 1 (see parley sessions ls)"), "%s", out);
}

Test(sess_cli, mistakes_get_messages_and_exit_codes, .init = setup, .fini = teardown)
{
    char out[8192], args[1024];
    cr_assert_eq(run("show 42", out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "no session 42 (see parley sessions ls)"), "%s", out);
    cr_assert_eq(run("show abc", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("frobnicate", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "unknown command"), "%s", out);
    cr_assert_eq(run("show", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("export 1 --format xml", out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "import '%s'", put_file("bad.json", "{\"parley_session\":1,\"title\":\"x\"}"));
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "messages: missing"), "%s", out);
    snprintf(args, sizeof args, "import '%s/none.json'", dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "No such file"), "%s", out);
    /* a corrupt store is moved aside (its bytes kept), the command says where, and goes on with a new store */
    put_file("sessions.db", "this is not a database, just some text that is long enough to look like a header....");
    cr_assert_eq(run("ls", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "sessions.db.corrupt-") && strstr(out, "new store"), "%s", out);
}

/* What parley exports, parley imports, in both formats: `sessions show` of the
 * copy reads as the original's (text, roles, system prompt, the stopped mark). */
Test(sess_cli, export_then_import_round_trip_both_formats, .init = setup, .fini = teardown)
{
    char out[8192], args[1024], first[8192];
    static const char *RICH =
        "{\"parley_session\":1,\"title\":\"trip\",\"system_prompt\":\"Be terse.\",\"settings\":{\"temp\":0.25},"
        "\"messages\":[{\"role\":\"user\",\"text\":\"## User\\nhi\"},"
        "{\"role\":\"assistant\",\"text\":\"hello\\n\\n\",\"complete\":false}]}";
    snprintf(args, sizeof args, "import '%s'", put_file("rich.json", RICH));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(run("show 1", first, sizeof first), 0, "%s", first);
    static const char *const fmts[] = {"md", "json"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "export 1 --format %s -o '%s/x.%s'", fmts[k], dir, fmts[k]);
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
        snprintf(args, sizeof args, "import '%s/x.%s'", dir, fmts[k]);
        cr_assert_eq(run(args, out, sizeof out), 0, "import of the %s export failed: %s", fmts[k], out);
        snprintf(args, sizeof args, "show %d", k + 2);
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
        /* Past the header line (its id differs) the two read the same. */
        const char *a = strchr(first, '\n'), *b = strchr(out, '\n');
        cr_assert(a && b);
        cr_expect_str_eq(b, a, "the %s round trip changed the session", fmts[k]);
    }
    cr_expect(strstr(first, "Be terse."), "%s", first);
    cr_expect(strstr(first, "[assistant] (stopped)"), "%s", first);
}

/* Snapshot payload: *(size_t *)ctx zero bytes. */
static int zeros(void *ctx, FILE *f)
{
    for (size_t i = 0, n = *(size_t *)ctx; i < n; i++) if (fputc(0, f) == EOF) return -1;
    return 0;
}

/* A snapshot for session sid in PARLEY_DATA with KV types k/v and n payload bytes. */
static void snapshot(int sid, uint32_t k, uint32_t v, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/snapshots", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/snapshots/%d.snap", dir, sid);
    sess_snap_meta m = {0x1234abcd5678ef90ull, k, v, 12, 0};
    sess_status st = {0};
    cr_assert_eq(sess_snap_save(path, &m, zeros, &n, &st), 0, "%s", st.msg);
}

Test(sess_cli, ls_says_which_sessions_resume_instantly, .init = setup, .fini = teardown)
{
    char out[8192], args[700];
    static const char *const titles[] = {"fits", "none", "other types"};
    for (int i = 0; i < 3; i++) {
        char json[600], name[32];
        snprintf(json, sizeof json, "{\"parley_session\":1,\"title\":\"%s\",\"model_fingerprint\":\"1234abcd5678ef90\","
                 "\"settings\":{\"cache-type-k\":\"q8_0\"},\"messages\":[{\"role\":\"user\",\"text\":\"hi\"}]}", titles[i]);
        snprintf(name, sizeof name, "s%d.json", i);
        snprintf(args, sizeof args, "import '%s'", put_file(name, json));
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    }
    snapshot(1, 8, 1, (41 << 20) - 64);   /* q8_0/f16: what session 1 last ran with */
    snapshot(3, 1, 1, 1000);              /* f16/f16: session 3 ran with q8_0 keys */
    cr_assert_eq(run("ls", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "RESUME"), "no RESUME column: %s", out);
    static const char *const want[] = {"instant 41M", "re-decode", "stale"};
    for (int i = 0; i < 3; i++) {
        char *line = strstr(out, titles[i]), *start = line;
        cr_assert(line, "%s is not listed: %s", titles[i], out);
        while (start > out && start[-1] != '\n') start--;
        cr_expect(memmem(start, (size_t)(line - start), want[i], strlen(want[i])), "%s should say %s: %s", titles[i],
                  want[i], out);
    }
    cr_assert_eq(run("ls --names", out, sizeof out), 0, "%s", out);
    cr_expect_str_eq(out, "3\n2\n1\n", "--names stays ids alone");
}
