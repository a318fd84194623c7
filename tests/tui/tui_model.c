/* tui_model.c — switching models and naming them as users do.
 *
 * A /model that cannot load (no such file, then a file that is not a GGUF)
 * keeps the model in use: the status line still says ready with its name,
 * the next question is answered, and the conversation's KV cache survived
 * (/stats counts tokens reused from it). A model from Ollama's store is
 * shown by its Ollama name ("smollm2:135m", not its blob "sha256-..."), in
 * the status line and in the session's metadata, whether it came from
 * `-m smollm2:135m` or from the picker, which shows each model's source.
 * The Ollama store is a fake one in the test's HOME with a copy of the
 * default model as its blob. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Ask a question and wait for its answer to finish (word must appear). */
static void ask(vt_term *t, const char *q, const char *word)
{
    parley_type(t, q);
    assert_screen(t, vt_wait_text(t, word, 20000), "no answer with '%s' to '%s'", word, q);
    assert_screen(t, parley_wait_status(t, "ready", 15000), "the answer to '%s' did not finish", q);
}

Test(tui_model, failed_switch_keeps_the_model_and_conversation, .timeout = 90)
{
    vt_term *t = parley_start(30, 100, NULL);
    parley_wait_ready(t);
    ask(t, "What is the capital of France?", "Paris");
    parley_type(t, "/model /nonexistent.gguf");
    assert_screen(t, vt_wait_text(t, "cannot load nonexistent.gguf", 5000), "the failed load was not reported");
    assert_screen(t, parley_wait_status(t, "ready", 3000), "a failed /model left no model");
    assert_screen(t, parley_wait_status(t, "SmolLM2", 1000), "the status line lost the model in use");
    char *home = parley_stop_keep(t);   /* a file that is not a GGUF, in the same home */
    char bad[600], cmd[700];
    snprintf(bad, sizeof bad, "%s/bad.gguf", home);
    FILE *f = fopen(bad, "w");
    cr_assert(f);
    fputs("GGUF this is not a model at all, just some text\n", f);
    fclose(f);
    t = parley_start(30, 100, &(parley_opts){.home = home, .args = {"--continue", NULL}});
    parley_wait_ready(t);
    assert_screen(t, vt_wait_text(t, "Paris", 10000), "the conversation did not come back");
    snprintf(cmd, sizeof cmd, "/model %s", bad);
    parley_type(t, cmd);
    assert_screen(t, vt_wait_text(t, "cannot load bad.gguf", 5000), "the bad GGUF was not reported");
    assert_screen(t, parley_wait_status(t, "ready", 3000), "a bad GGUF left no model");
    parley_type(t, "/model /nonexistent.gguf");
    assert_screen(t, vt_wait_text(t, "cannot load nonexistent.gguf", 5000), "the failed load was not reported");
    assert_screen(t, parley_wait_status(t, "ready", 3000), "a failed /model left no model");
    ask(t, "And the capital of Italy?", "Rome");
    parley_type(t, "/stats");
    assert_screen(t, vt_wait_text(t, "reused from the cache", 3000), "/stats said nothing");
    char *s = vt_text(t), *p = strstr(s, "reused from the cache");
    while (p > s && p[-1] != '(') p--;
    int reused = atoi(p);
    free(s);
    assert_screen(t, reused > 20, "the KV cache did not survive the failed switches (%d tokens reused)", reused);
    parley_stop(t);
    free(home);
}

/* A home with a fake Ollama store holding a copy of the default model as
 * smollm2:135m; *env_out gets the OLLAMA_MODELS entry for it. */
static char *ollama_home(char *env, size_t len)
{
    char *home = parley_mkhome(), cmd[2048], path[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/ollama/blobs' '%s/ollama/manifests/registry.ollama.ai/library/smollm2' && "
             "cp '%s' '%s/ollama/blobs/sha256-b179c9d2e3f4'", home, home, getenv("PARLEY_MODEL"), home);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/ollama/manifests/registry.ollama.ai/library/smollm2/135m", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
          "\"digest\":\"sha256:b179c9d2e3f4\"}]}", f);
    fclose(f);
    snprintf(env, len, "OLLAMA_MODELS=%s/ollama", home);
    return home;
}

/* One question, quit, and the session's metadata names the model. */
static void chat_and_check_session(vt_term *t, const char *home)
{
    ask(t, "What is the capital of France?", "Paris");
    vt_send(t, VT_KEY_CTRL('d'));
    cr_assert(vt_wait_exit(t, 10000, NULL), "Ctrl-D did not quit");
    char out[8192];
    cr_assert_eq(parley_cli(home, "sessions show 1", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "model: smollm2:135m ("), "the session does not name the model:\n%s", out);
}

Test(tui_model, ollama_name_from_the_command_line, .timeout = 90)
{
    char env[800];
    char *home = ollama_home(env, sizeof env);
    vt_term *t = parley_start(30, 100, &(parley_opts){.home = home, .env = {env, NULL}, .args = {"-m", "smollm2:135m", NULL}});
    parley_wait_ready(t);
    assert_screen(t, parley_wait_status(t, "smollm2:135m", 2000), "the status line does not name the model as Ollama does");
    assert_screen(t, !vt_contains(t, "sha256-"), "the blob's name is shown");
    chat_and_check_session(t, home);
    parley_stop(t);
    free(home);
}

Test(tui_model, ollama_name_from_the_picker_with_sources, .timeout = 90)
{
    char env[800];
    char *home = ollama_home(env, sizeof env);
    vt_term *t = parley_start(30, 110, &(parley_opts){.home = home, .env = {env, NULL}});
    parley_wait_ready(t);
    vt_send(t, VT_KEY_CTRL('o'));
    assert_screen(t, vt_wait_text(t, "source", 3000), "the picker has no source column");
    int r = vt_find_row(t, "smollm2:135m");
    assert_screen(t, r >= 0, "the picker does not list smollm2:135m");
    char row[512];
    vt_row(t, r, row, sizeof row);
    cr_expect(strstr(row, "ollama"), "the Ollama model's row does not say ollama: %s", row);
    r = vt_find_row(t, "SmolLM2-135M-Instruct");
    assert_screen(t, r >= 0, "the picker does not list the models dir's model");
    cr_expect(strstr(vt_row(t, r, row, sizeof row), "parley"), "the models dir's row does not say parley: %s", row);
    for (int i = 0; i < 10 && !vt_contains(t, "blobs/sha256-b179"); i++) {   /* the footer shows the selected file */
        vt_send(t, VT_KEY_DOWN);
        vt_pump(t, 100);
    }
    vt_send(t, VT_KEY_ENTER);
    assert_screen(t, parley_wait_status(t, "smollm2:135m", 10000), "picking the Ollama model does not show its name");
    parley_wait_ready(t);
    assert_screen(t, !vt_contains(t, "sha256-"), "the blob's name is shown");
    chat_and_check_session(t, home);
    parley_stop(t);
    free(home);
}
