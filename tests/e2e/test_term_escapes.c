/* test_term_escapes.c — no escape sequence from text parley did not write
 * reaches the terminal, on every path the real binary prints it.
 *
 * A shared session file, a GGUF's strings, a model file's name and a model's
 * tokens can hold ESC ] 0 ; ... BEL (set the window title), ESC ] 52 (write
 * the clipboard), CSI (clear, colour) and C1 controls. parley must show them
 * as U+FFFD marks with the text around them intact, and keep the bytes
 * exactly only where the user asks: --raw and export -o FILE.
 * The GGUF cases are copies of the synthetic llama fixture with one string
 * changed, written with the engine's own GGUF writer.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/gguf.h"
#include "tests/common/cli.h"
#include "tests/common/fixture.h"

#define FFFD "\xef\xbf\xbd"
#define OSC_TITLE "\x1b]0;pwned\x07"

static char *dir;
static char out[1 << 16];

static void setup(void)
{
    dir = cli_home("esc");
}

static void teardown(void)
{
    cli_rm_tree(dir);
}

/* The first control byte a terminal would act on (C0 but \n and \t, DEL, a C1
 * character in UTF-8 or as a raw byte), or NULL. */
static const char *find_control(const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if ((*u < 0x20 && *u != '\n' && *u != '\t') || *u == 0x7f) return (const char *)u;
        if (*u == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) return (const char *)u;
        if (*u >= 0x80 && *u <= 0x9f) {          /* a continuation byte needs a lead before its run */
            const unsigned char *b = u;
            while (b > (const unsigned char *)s && (b[-1] & 0xc0) == 0x80) b--;
            if (b == (const unsigned char *)s || b[-1] < 0xc0) return (const char *)u;
        }
    }
    return NULL;
}

/* Run `parley ARGS` (stdout and stderr together into out); exit status. */
static int parley(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", cli_bin(), args);
    return cli_run(cmd, true, out, sizeof out);
}

/* out must carry no control, and must show each visible piece. */
static void expect_clean(const char *what, const char *visible)
{
    const char *c = find_control(out);
    cr_assert_null(c, "%s: control byte 0x%02x reached the terminal at offset %td:\n%s", what,
                   c ? (unsigned char)*c : 0, c ? c - out : 0, out);
    cr_assert(strstr(out, visible), "%s: '%s' is not shown:\n%s", what, visible, out);
}

/* ---- sessions ----------------------------------------------------------- */

static const char *HOSTILE =
    "{\"parley_session\":1,"
    "\"title\":\"\\u001b]0;pwned\\u0007Evil \\u009b31mtitle\","
    "\"model_path\":\"/models/\\u001b[2Jbad.gguf\","
    "\"system_prompt\":\"be nice \\u001b]52;c;aGVsbG8=\\u0007now\","
    "\"messages\":["
    "{\"role\":\"user\",\"text\":\"hello \\u001b[31mred\\u001b[0m world \\u0085next\\r\\nline\"},"
    "{\"role\":\"assistant\",\"text\":\"answer \\u001b]52;c;ZXZpbA==\\u0007 \\u009d0;t\\u009c caf\\u00e9\"}]}";

/* Import the hostile session as id 1 and check what import printed. */
static void import_hostile(void)
{
    char path[600], args[700];
    snprintf(path, sizeof path, "%s/hostile.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(HOSTILE, f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley(args), 0, "%s", out);
    expect_clean("sessions import", "Evil");
    cr_assert(strstr(out, "imported session 1:") && strstr(out, FFFD "]0;pwned" FFFD "Evil"), "%s", out);
}

Test(term_escapes, sessions_show_ls_search_rm_show_no_escape, .init = setup, .fini = teardown)
{
    import_hostile();
    cr_assert_eq(parley("sessions ls"), 0, "%s", out);
    expect_clean("sessions ls", "title");
    cr_assert_eq(parley("sessions show 1"), 0, "%s", out);
    expect_clean("sessions show", "Evil");
    cr_assert(strstr(out, "/models/" FFFD "[2Jbad.gguf") && strstr(out, "be nice " FFFD "]52;c;aGVsbG8=" FFFD "now"),
              "model path and system prompt shown with marks:\n%s", out);
    cr_assert(strstr(out, "hello " FFFD "[31mred" FFFD "[0m world " FFFD "next" FFFD "\nline"),
              "message text kept around the marks, newline kept:\n%s", out);
    cr_assert(strstr(out, "caf\xc3\xa9"), "%s", out);
    cr_assert_eq(parley("sessions search answer"), 0, "%s", out);
    expect_clean("sessions search", "answer");
    cr_assert_eq(parley("sessions rm 1"), 0, "%s", out);
    expect_clean("sessions rm", "deleted session 1");
    cr_assert(strstr(out, "Evil"), "%s", out);
}

Test(term_escapes, sessions_export_to_stdout_shows_no_escape, .init = setup, .fini = teardown)
{
    import_hostile();
    cr_assert_eq(parley("sessions export 1"), 0, "%s", out);
    expect_clean("sessions export (md)", "answer ");
    cr_assert(strstr(out, "world " FFFD "next"), "%s", out);
    cr_assert_eq(parley("sessions export 1 --format json"), 0, "%s", out);
    expect_clean("sessions export --format json", "\"parley_session\"");
    cr_assert(strstr(out, FFFD "0;t" FFFD), "C1 controls marked in JSON:\n%s", out);
}

/* Exit status of `parley ARGS > file`; file's bytes into buf (NUL-ended). */
static int parley_to_file(const char *args, const char *name, char *buf, size_t len)
{
    char cmd[4096], path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>/dev/null", cli_bin(), args, path);
    int rc = system(cmd);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s was not written", path);
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    return rc;
}

Test(term_escapes, raw_and_export_to_a_file_keep_the_bytes, .init = setup, .fini = teardown)
{
    import_hostile();
    static char raw[1 << 15], file[1 << 15];
    cr_assert_eq(parley_to_file("sessions show 1 --raw", "show.txt", raw, sizeof raw), 0);
    cr_assert(strstr(raw, OSC_TITLE "Evil \xc2\x9b" "31mtitle") && strstr(raw, "\x1b[31mred\x1b[0m world \xc2\x85next\r\n"),
              "--raw shows the stored bytes:\n%s", raw);
    for (int json = 0; json < 2; json++) {
        char args[800];
        snprintf(args, sizeof args, "sessions export 1 --raw%s", json ? " --format json" : "");
        cr_assert_eq(parley_to_file(args, "raw.out", raw, sizeof raw), 0);
        snprintf(args, sizeof args, "sessions export 1 %s-o '%s/exported'", json ? "--format json " : "", dir);
        cr_assert_eq(parley(args), 0, "%s", out);
        snprintf(args, sizeof args, "%s/exported", dir);
        FILE *f = fopen(args, "rb");
        cr_assert(f, "export -o wrote no file");
        size_t n = fread(file, 1, sizeof file - 1, f);
        fclose(f);
        file[n] = 0;
        cr_assert_str_eq(file, raw, "export -o FILE and export --raw must give the same bytes");
        cr_assert(strstr(file, json ? "\\u0007" : OSC_TITLE "Evil"), "the file keeps the sequences:\n%s", file);
        unlink(args);
    }
}

/* ---- GGUF strings, file names, tokens ---------------------------------- */

/* Copy the synthetic llama fixture to path, with key's string value replaced
 * (key NULL: none) and, if tok >= 0, token tok's text replaced by tok_text. */
static void write_model(const char *path, const char *key, const char *value, int tok, const char *tok_text)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/tests/fixtures/models/synth-f32.gguf", fixt_src_dir());
    pl_status st;
    gguf_file *f = gguf_open(src, &st);
    cr_assert(f, "%s", st.msg);
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char *k = strndup(kv->key.ptr, (size_t)kv->key.len);
        gguf_str s;
        if (key && strcmp(k, key) == 0) {
            gguf_writer_add_str(w, k, value);
        } else if (kv->type == GGUF_STRING && gguf_kv_str(kv, &s)) {
            gguf_writer_add_strn(w, k, s.ptr, s.len);
        } else if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING) {
            char **v = calloc((size_t)kv->arr_n, sizeof *v);
            for (uint64_t j = 0; j < kv->arr_n; j++)
                v[j] = (tok >= 0 && j == (uint64_t)tok && !strcmp(k, "tokenizer.ggml.tokens"))
                       ? strdup(tok_text) : strndup(kv->strs[j].ptr, (size_t)kv->strs[j].len);
            gguf_writer_add_str_arr(w, k, (const char *const *)v, kv->arr_n);
            for (uint64_t j = 0; j < kv->arr_n; j++) free(v[j]);
            free(v);
        } else if (kv->type == GGUF_ARRAY) {
            gguf_writer_add_arr(w, k, kv->arr_type, kv->data, kv->arr_n);
        } else {
            gguf_writer_add_kv(w, k, kv->type, kv->data);
        }
        free(k);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char *name = strndup(t->name.ptr, (size_t)t->name.len);
        gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
        free(name);
    }
    cr_assert_eq(gguf_writer_write_file(w, path, &st), PL_OK, "%s", st.msg);
    gguf_writer_free(w);
    gguf_close(f);
}

/* dir/name, for a model file. */
static const char *in_dir(const char *name)
{
    static char path[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

Test(term_escapes, verbose_general_name_has_no_escape, .init = setup, .fini = teardown)
{
    const char *m = in_dir("named.gguf");
    write_model(m, "general.name", "Evil" OSC_TITLE "Model\xc2\x9b" "2J", -1, NULL);
    char args[1024];
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 2 --temp 0 -v", m);
    cr_assert_eq(parley(args), 0, "%s", out);
    expect_clean("run -v", "model: Evil" FFFD "]0;pwned" FFFD "Model" FFFD "2J");
}

Test(term_escapes, error_quoting_the_architecture_has_no_escape, .init = setup, .fini = teardown)
{
    const char *m = in_dir("arch.gguf");
    write_model(m, "general.architecture", "ll" OSC_TITLE "ama\x1b[2J", -1, NULL);
    char args[1024];
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 2", m);
    cr_assert_eq(parley(args), 1, "%s", out);
    expect_clean("run with a hostile architecture", "is not supported");
    snprintf(args, sizeof args, "bench -m '%s' -p 8 -n 2 -r 1", m);
    cr_assert_neq(parley(args), 0, "%s", out);
    expect_clean("bench with a hostile architecture", "is not supported");
}

Test(term_escapes, error_quoting_the_pre_tokenizer_has_no_escape, .init = setup, .fini = teardown)
{
    const char *m = in_dir("pre.gguf");
    write_model(m, "tokenizer.ggml.pre", "\x1b]52;c;ZXZpbA==\x07smollm", -1, NULL);
    char args[1024];
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 2", m);
    cr_assert_eq(parley(args), 1, "%s", out);
    expect_clean("run with a hostile pre-tokenizer", "unknown pre-tokenizer");
}

Test(term_escapes, models_lists_hostile_file_names_and_arch_without_escape, .init = setup, .fini = teardown)
{
    char models[700];
    snprintf(models, sizeof models, "%s/models", dir);
    cr_assert_eq(mkdir(models, 0700), 0);
    write_model(in_dir("models/evil" OSC_TITLE "name\x1b[2J.gguf"), NULL, NULL, -1, NULL);
    write_model(in_dir("models/arch.gguf"), "general.architecture", "mamba\x1b]52;c;ZXZpbA==\x07", -1, NULL);
    setenv("PARLEY_MODELS", models, 1);
    cr_assert_eq(parley("models -v"), 0, "%s", out);
    unsetenv("PARLEY_MODELS");
    expect_clean("models -v", "evil" FFFD "]0;pwned" FFFD "name" FFFD "[2J.gguf");
    cr_assert(strstr(out, "mamba" FFFD "]52;c;ZXZpbA==" FFFD), "hostile architecture shown with marks:\n%s", out);
}

/* The token greedy decoding picks first after prompt in model path. */
static int32_t first_greedy_token(const char *path, const char *prompt)
{
    pl_status st;
    pl_model *m = pl_model_load(path, NULL, &st);
    cr_assert(m, "%s", st.msg);
    pl_ctx *c = fixt_ctx(m, 64, 64, PL_TYPE_F16, PL_TYPE_F16);
    int32_t toks[64];
    int n = pl_tokenize(m, prompt, strlen(prompt), toks, 64, true, false);
    int seq = pl_seq_new(c, &st);
    cr_assert(n > 0 && seq >= 0 && pl_decode(c, seq, toks, n, &st) == 0, "%s", st.msg);
    int32_t t = fixt_argmax(pl_logits(c, seq), pl_n_vocab(m));
    cr_assert(!pl_token_is_eog(m, t), "the fixture ends at once after '%s'; pick another prompt", prompt);
    pl_ctx_free(c);
    pl_model_free(m);
    return t;
}

/* A model whose next token decodes to ESC ] 0 ; pwned BEL: GPT-2's byte-level
 * alphabet writes byte 0x1b as U+011B and 0x07 as U+0107. */
Test(term_escapes, run_output_token_with_escape_is_marked_unless_raw, .init = setup, .fini = teardown)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/tests/fixtures/models/synth-f32.gguf", fixt_src_dir());
    int32_t t = first_greedy_token(src, "hi");
    const char *m = in_dir("token.gguf");
    write_model(m, NULL, NULL, t, "\xc4\x9b]0;pwned\xc4\x87");
    char args[1024];
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 1 --temp 0", m);
    cr_assert_eq(parley(args), 0, "%s", out);
    expect_clean("run output", FFFD "]0;pwned" FFFD);
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 1 --temp 0 --raw", m);
    static char raw[4096];
    cr_assert_eq(parley_to_file(args, "raw.out", raw, sizeof raw), 0);
    cr_assert(strstr(raw, OSC_TITLE), "--raw writes the token's bytes:\n%s", raw);
}
