/* test_share_cli.c — share/ as a user meets it after `make install`: the bash,
 * zsh and fish completions complete flags, enum values, subcommands, session
 * verbs, saved session ids and model names; the example config.ini loads as it
 * is and with every key uncommented; and the committed files are what the
 * binary writes from the options table today (else: run `make share`).
 * The real binary ($PARLEY_BIN) runs in the shells, on a temporary PARLEY_DATA. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/common/cli.h"
#include "tests/common/fixture.h"

static char *dir;
static char out[65536];

/* A private data dir and no user config; parley on PATH as an installed one is;
 * the default model's folder as the models dir, so names come from it. */
static void setup(void)
{
    dir = cli_home("share");
    char buf[4096];
    char *model = strdup(fixt_model("PARLEY_MODEL", "model"));
    char *slash = strrchr(model, '/');
    if (slash) *slash = 0;
    setenv("PARLEY_MODELS", model, 1);
    free(model);
    char *bin = strdup(cli_bin());
    slash = strrchr(bin, '/');
    if (slash) *slash = 0;
    snprintf(buf, sizeof buf, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", buf, 1);
    free(bin);
}

static void teardown(void)
{
    cli_rm_tree(dir);
}

/* share/NAME in the source tree. */
static const char *share_file(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/share/%s", fixt_src_dir(), name);
    cr_assert(access(path, R_OK) == 0, "%s is missing: run `make share`", path);
    return path;
}

/* The shell, or fail saying how to get it. */
static void need(const char *shell)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null", shell);
    cr_assert_eq(system(cmd), 0, "%s is not installed: apt-get install %s (make deps)", shell, shell);
}

/* Write script to dir/name and run it with shell; returns its output (static). */
static const char *run_script(const char *shell, const char *name, const char *script)
{
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s '%s'", shell, path);
    int rc = cli_run(cmd, true, out, sizeof out);
    cr_assert_eq(rc, 0, "%s %s failed (%d):\n%s", shell, name, rc, out);
    return out;
}

/* One saved session, so there is an id to complete. */
static void import_one_session(void)
{
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/chat.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"parley_session\":1,\"title\":\"t\",\"messages\":[{\"role\":\"user\",\"text\":\"hi\"}]}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "parley sessions import '%s'", path);
    cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "import failed: %s", out);
}

Test(share, committed_files_are_what_the_binary_writes, .init = setup, .fini = teardown)
{
    static const struct { const char *file, *args; } files[] = {
        {"completions/parley.bash", "--completion bash"}, {"completions/_parley", "--completion zsh"},
        {"completions/parley.fish", "--completion fish"}, {"config.ini", "--config-example"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "parley %s | cmp - '%s'", files[i].args, share_file(files[i].file));
        cr_expect_eq(cli_run(cmd, true, out, sizeof out), 0,
                     "share/%s differs from `parley %s`: run `make share` and commit it\n%s",
                     files[i].file, files[i].args, out);
    }
    cr_assert_eq(cli_run("parley --completion tcsh", true, out, sizeof out), 2);
    cr_expect(strstr(out, "bash, zsh or fish"), "%s", out);
}

Test(share, bash_completes_flags_values_subcommands_and_ids, .init = setup, .fini = teardown)
{
    need("bash");
    import_one_session();
    char script[4096];
    snprintf(script, sizeof script,
             "source '%s'\n"
             "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _parley;\n"
             "      echo \"[$*]=${COMPREPLY[*]}\"; }\n"
             "t parley ''\n"
             "t parley --cache-type-k ''\n"
             "t parley run --cont\n"
             "t parley sessions ''\n"
             "t parley sessions show ''\n"
             "t parley -m SmolLM\n"
             "t parley bench -p ''\n"
             "t parley --resume ''\n",
             share_file("completions/parley.bash"));
    const char *o = run_script("bash", "t.bash", script);
    cr_expect(strstr(o, "[parley ]=run bench models quantize sessions\n"), "%s", o);
    cr_expect(strstr(o, "[parley --cache-type-k ]=f16 q8_0 q4_0\n"), "%s", o);
    cr_expect(strstr(o, "[parley run --cont]=--context-policy\n"), "%s", o);
    cr_expect(strstr(o, "[parley sessions ]=ls show export rm import search\n"), "%s", o);
    cr_expect(strstr(o, "[parley sessions show ]=1\n"), "session id not offered:\n%s", o);
    cr_expect(strstr(o, "[parley --resume ]=1\n"), "session id not offered:\n%s", o);
    cr_expect(strstr(o, "[parley -m SmolLM]=SmolLM2-135M-Instruct.Q4_1.gguf\n"), "model name not offered:\n%s", o);
    cr_expect(strstr(o, "[parley bench -p ]=\n"), "bench's -p takes a number, nothing to offer:\n%s", o);
}

Test(share, fish_completes_flags_values_and_ids, .init = setup, .fini = teardown)
{
    need("fish");
    import_one_session();
    char script[4096];
    snprintf(script, sizeof script,
             "source '%s'\n"
             "complete -C 'parley --cache-type-v '\n"
             "complete -C 'parley sessions '\n"
             "complete -C 'parley sessions rm '\n"
             "complete -C 'parley run --tem'\n",
             share_file("completions/parley.fish"));
    const char *o = run_script("fish", "t.fish", script);
    cr_expect(strstr(o, "q8_0\t"), "%s", o);
    cr_expect(strstr(o, "search\n"), "%s", o);
    cr_expect(strstr(o, "\n1\n") || strncmp(o, "1\n", 2) == 0, "session id not offered:\n%s", o);
    cr_expect(strstr(o, "--temp\tsampling temperature"), "%s", o);
}

Test(share, zsh_script_parses_and_knows_every_flag, .init = setup, .fini = teardown)
{
    need("zsh");
    char script[4096];
    snprintf(script, sizeof script,
             "zsh -n '%s' || exit 1\n"
             "eval \"$(sed -n '/^_parley_opts_run=(/,/^)/p' '%s')\"\n"
             "print -rl -- $_parley_opts_run\n",
             share_file("completions/_parley"), share_file("completions/_parley"));
    const char *o = run_script("zsh", "t.zsh", script);
    cr_expect(strstr(o, "--context-policy[when the context is full\\: drop the oldest turns]:POLICY:(shift stop)"), "%s", o);
    cr_expect(strstr(o, "(-m --model)-m[GGUF model\\: a file"), "%s", o);
    cr_expect(strstr(o, "]:PATH:_parley_models\n"), "%s", o);
    cr_expect_null(strstr(o, "--bench-bw"), "a bench flag offered for run:\n%s", o);
}

Test(share, example_config_loads_with_every_key_uncommented, .init = setup, .fini = teardown)
{
    char cmd[4096];
    /* As shipped (all commented out) and with every "#key = value" line made live. */
    snprintf(cmd, sizeof cmd,
             "PARLEY_CONFIG='%s' parley models --names >/dev/null && "
             "sed 's/^#\\([a-z-]* =\\)/\\1/' '%s' > '%s/live.ini' && "
             "grep -c '^[a-z-]* =' '%s/live.ini' && "
             "PARLEY_CONFIG='%s/live.ini' parley models --names",
             share_file("config.ini"), share_file("config.ini"), dir, dir, dir);
    int rc = cli_run(cmd, true, out, sizeof out);
    cr_assert_eq(rc, 0, "the example config does not load:\n%s", out);
    cr_expect_geq(atoi(out), 30, "fewer keys than the options table has:\n%s", out);
    cr_expect(strstr(out, "SmolLM2-135M-Instruct.Q4_1.gguf"), "%s", out);
}

Test(share, models_and_sessions_names_alone, .init = setup, .fini = teardown)
{
    import_one_session();
    cr_assert_eq(cli_run("parley sessions ls --names", false, out, sizeof out), 0);
    cr_expect_str_eq(out, "1\n");
    cr_assert_eq(cli_run("parley models --names", false, out, sizeof out), 0);
    cr_expect(strstr(out, "SmolLM2-135M-Instruct.Q4_1.gguf\n"), "%s", out);
    cr_expect_null(strstr(out, "NAME"), "--names printed the table header:\n%s", out);
}
