/* test_load_messages.c — what `parley run` says about a model file that loads
 * but is not quite right, as the user reads it on the terminal.
 *
 * The models are the loader fuzzer's seed (tests/fuzz/corpus_model/, a whole
 * tiny llama with a ChatML template) copied key by key and tensor by tensor
 * with one thing changed: a chat template over the 16 MiB parley reads, or a
 * token list shorter than the embedding table.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/model.h"
#include "tests/common/cli.h"

/* One kv of src into w, unless its key is skip. */
static void copy_kv(gguf_writer *w, const gguf_kv *kv, const char *skip, int drop_tokens)
{
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
    if (skip && strcmp(key, skip) == 0) return;
    if (kv->type == GGUF_STRING) {
        gguf_str s;
        cr_assert(gguf_kv_str(kv, &s));
        gguf_writer_add_strn(w, key, s.ptr, s.len);
    } else if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING) {
        uint64_t n = kv->arr_n - (strcmp(key, "tokenizer.ggml.tokens") == 0 ? (uint64_t)drop_tokens : 0);
        char **v = calloc(n ? n : 1, sizeof *v);
        for (uint64_t i = 0; i < n; i++) v[i] = strndup(kv->strs[i].ptr, kv->strs[i].len);
        gguf_writer_add_str_arr(w, key, (const char *const *)v, n);
        for (uint64_t i = 0; i < n; i++) free(v[i]);
        free(v);
    } else if (kv->type == GGUF_ARRAY) {
        uint64_t n = kv->arr_n - (strncmp(key, "tokenizer.ggml.", 15) == 0 ? (uint64_t)drop_tokens : 0);
        gguf_writer_add_arr(w, key, kv->arr_type, kv->data, n);   /* data: the first element */
    } else {
        gguf_writer_add_kv(w, key, kv->type, kv->data);
    }
}

/* The seed model rewritten to path: template of tmpl_len bytes (0 = as is), drop_tokens fewer tokens. */
static void write_variant(const char *path, size_t tmpl_len, int drop_tokens)
{
    const char *src = getenv("PARLEY_SRC") ? getenv("PARLEY_SRC") : ".";
    char seed[1024];
    snprintf(seed, sizeof seed, "%s/tests/fuzz/corpus_model/llama_bpe_chatml.gguf", src);
    pl_status st;
    gguf_file *f = gguf_open(seed, &st);
    cr_assert(f, "%s", st.msg);
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < f->n_kv; i++)
        copy_kv(w, &f->kv[i], tmpl_len ? "tokenizer.chat_template" : NULL, drop_tokens);
    char *tmpl = NULL;
    if (tmpl_len) {
        tmpl = malloc(tmpl_len);
        cr_assert(tmpl);
        memset(tmpl, ' ', tmpl_len);
        memcpy(tmpl, "<|im_start|>", 12);
        gguf_writer_add_strn(w, "tokenizer.chat_template", tmpl, tmpl_len);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
    }
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
    free(tmpl);
    gguf_close(f);
}

/* parley run on path with the prompt "hi"; stdout+stderr into out. */
static int run_model(const char *path, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PARLEY_CONFIG=/dev/null '%s' run -m '%s' --chat -p hi -n 2 --temp 0", cli_bin(), path);
    return cli_run(cmd, true, out, len);
}

Test(load_messages, chat_template_too_large_is_said_and_the_answer_still_comes)
{
    char path[] = "/tmp/parley-bigtmpl-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_variant(path, MODEL_TEMPLATE_MAX + 1, 0);
    static char out[8192];
    int rc = run_model(path, out, sizeof out);
    unlink(path);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, out);
    cr_expect(strstr(out, "parley run: warning: the model's chat template is 16777217 bytes, over the 16 MiB "
                          "parley reads: it was ignored and chatml is used"), "%s", out);
}

Test(load_messages, fewer_tokens_than_embedding_rows_is_refused)
{
    char path[] = "/tmp/parley-shortvocab-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_variant(path, 0, 5);
    static char out[8192];
    int rc = run_model(path, out, sizeof out);
    unlink(path);
    cr_expect_neq(rc, 0, "a model with 5 ids beyond its tokens ran: %s", out);
    cr_expect(strstr(out, "the tokenizer has 258 tokens (tokenizer.ggml.tokens) but the model has 263"), "%s", out);
}
