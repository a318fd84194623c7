/* test_model_names.c — `-m NAME` with the names users know: Ollama's
 * "model:tag" (and a bare "model" for ":latest"), and a file name as
 * `parley models` lists it, with or without ".gguf". The real binary runs
 * greedy on the default model reached each way and must write the same text
 * as through its path; a name that is unknown or picks two models is an error
 * that says what to do. HOME, PARLEY_MODELS and OLLAMA_MODELS point into a
 * temporary folder, so the machine's own models play no part. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/common/cli.h"
#include "tests/common/fixture.h"

static char *dir;
static char out[8192];
static const char *model;

/* mkdir -p for dir/rel. */
static void mkdirs(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(path, 0700); *p = '/'; }
    mkdir(path, 0700);
}

/* dir/rel -> target, as a symbolic link. */
static void link_to(const char *target, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    cr_assert_eq(symlink(target, path), 0, "symlink %s", path);
}

/* An Ollama store with the default model as smollm2:135m, and a models dir
 * holding it under its own name. */
static void setup(void)
{
    model = fixt_model("PARLEY_MODEL", "model");
    dir = strdup("/tmp/parley-names-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char buf[1024];
    setenv("HOME", dir, 1);
    snprintf(buf, sizeof buf, "%s/models", dir);
    setenv("PARLEY_MODELS", buf, 1);
    snprintf(buf, sizeof buf, "%s/ollama", dir);
    setenv("OLLAMA_MODELS", buf, 1);
    snprintf(buf, sizeof buf, "%s/no-config.ini", dir);
    setenv("PARLEY_CONFIG", buf, 1);
    setenv("PARLEY_DATA", dir, 1);
    mkdirs("models");
    link_to(model, "models/SmolLM2-135M-Instruct.Q4_1.gguf");
    mkdirs("ollama/blobs");
    mkdirs("ollama/manifests/registry.ollama.ai/library/smollm2");
    char cmd[2048];   /* a copy: the catalog counts a file once, however it is reached */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/ollama/blobs/sha256-0123abcd'", model, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(buf, sizeof buf, "%s/ollama/manifests/registry.ollama.ai/library/smollm2/135m", dir);
    FILE *f = fopen(buf, "w");
    fputs("{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
          "\"digest\":\"sha256:0123abcd\"}]}", f);
    fclose(f);
}

static void teardown(void)
{
    cli_rm_tree(dir);
}

/* `parley run -m M` greedy, 8 tokens; returns the exit status, output in out. */
static int run_with(const char *m, bool with_stderr)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -p 'The capital of France is' -n 8 --temp 0 -t 2",
             cli_bin(), m);
    return cli_run(cmd, with_stderr, out, sizeof out);
}

Test(model_names, ollama_and_file_names_load_the_same_model, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq(run_with(model, false), 0, "by path: %s", out);
    char by_path[8192];
    snprintf(by_path, sizeof by_path, "%s", out);
    cr_assert_gt(strlen(by_path), 0);
    static const char *const names[] = {
        "smollm2:135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cr_assert_eq(run_with(names[i], true), 0, "-m %s failed:\n%s", names[i], out);
        cr_expect_str_eq(out, by_path, "-m %s wrote other text than the path", names[i]);
    }
}

Test(model_names, unknown_name_says_where_names_come_from, .init = setup, .fini = teardown)
{
    cr_assert_eq(run_with("llama3:70b", true), 1, "%s", out);
    cr_expect(strstr(out, "llama3:70b: no such file, and no model of that name"), "%s", out);
    cr_expect(strstr(out, "parley models"), "%s", out);
    /* A bare Ollama name means :latest, which this store does not have. */
    cr_assert_eq(run_with("smollm2", true), 1, "%s", out);
    cr_expect(strstr(out, "no model of that name"), "%s", out);
}

Test(model_names, a_name_that_picks_two_models_is_refused, .init = setup, .fini = teardown)
{
    char cmd[2048];   /* another copy: a third file */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/models/smollm2:135m.gguf'", model, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(run_with("smollm2:135m", true), 1, "%s", out);
    cr_expect(strstr(out, "'smollm2:135m' names 2 models"), "%s", out);
    cr_expect(strstr(out, "(ollama)") && strstr(out, "(parley)"), "sources not named:\n%s", out);
}
