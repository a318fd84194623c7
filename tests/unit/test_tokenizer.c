/* test_tokenizer.c — parley's tokenizers against llama.cpp's (suites tok_*).
 *
 * The fixtures (the .json files in tests/fixtures/tokenizer, made by
 * scripts/gen-tokenizer-fixtures.py with llama-cpp-python) hold llama.cpp's
 * ids and detokenized text for every corpus string, with and without
 * add_special / parse_special. Two vocabs: the default model (SmolLM2,
 * byte-level BPE, pre "smollm") and spm-tiny.gguf, a small synthetic
 * SentencePiece vocab committed beside the fixtures.
 * A missing model is a failure that says how to get it.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vocab.h"

#define DEFAULT_MODEL_HINT "run `make model` (scripts/fetch-model.sh) to fetch SmolLM2-135M-Instruct.Q4_1.gguf"

/* Path under the source tree (PARLEY_SRC, else the current directory). */
static void src_path(char *buf, size_t len, const char *rel)
{
    const char *src = getenv("PARLEY_SRC");
    snprintf(buf, len, "%s/%s", src && *src ? src : ".", rel);
}

/* The default model's path (PARLEY_MODEL, else the fetch-model.sh default). */
static void model_path(char *buf, size_t len)
{
    const char *m = getenv("PARLEY_MODEL");
    if (m && *m) { snprintf(buf, len, "%s", m); return; }
    const char *home = getenv("HOME");
    snprintf(buf, len, "%s/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : "");
}

typedef struct loaded { gguf_file *f; pl_vocab *v; } loaded;

/* Open a GGUF and build its vocab, failing the test with a hint if absent. */
static loaded load_vocab(const char *path, const char *hint)
{
    pl_status st;
    loaded l = { 0 };
    l.f = gguf_open(path, &st);
    cr_assert(l.f, "cannot open %s: %s\n%s", path, st.msg, hint);
    l.v = vocab_load(l.f, &st);
    cr_assert(l.v, "vocab_load(%s): %s", path, st.msg);
    return l;
}

static void unload(loaded l) { vocab_free(l.v); gguf_close(l.f); }

static loaded load_smollm(void)
{
    char p[1024];
    model_path(p, sizeof p);
    return load_vocab(p, DEFAULT_MODEL_HINT);
}

static loaded load_spm_tiny(void)
{
    char p[1024];
    src_path(p, sizeof p, "tests/fixtures/tokenizer/spm-tiny.gguf");
    return load_vocab(p, "the fixture is committed; regenerate with scripts/gen-tokenizer-fixtures.py");
}

/* Decode a hex string into a malloc'd buffer; *n gets its length. */
static char *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h) / 2;
    char *b = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        b[i] = (char)x;
    }
    b[l] = 0;
    *n = l;
    return b;
}

/* "[1, 2, 3]" of an id list, truncated, for failure messages. */
static void ids_str(char *buf, size_t len, const int32_t *ids, int n)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < n && o + 16 < len; i++) o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? ", " : "", ids[i]);
    snprintf(buf + o, len - o, "]");
}

typedef struct tally { int cases, id_fail, detok_fail; int strings, strings_ok; } tally;

/* Compare one fixture case; returns true if ids and both detokenizations match. */
static bool check_case(const pl_vocab *v, json_t *c, tally *t, int *printed)
{
    size_t tl, dl1, dl2;
    char *text = unhex(json_string_value(json_object_get(c, "text_hex")), &tl);
    char *d1 = unhex(json_string_value(json_object_get(c, "detok_special_hex")), &dl1);
    char *d2 = unhex(json_string_value(json_object_get(c, "detok_plain_hex")), &dl2);
    bool add = json_is_true(json_object_get(c, "add_special"));
    bool parse = json_is_true(json_object_get(c, "parse_special"));
    json_t *ids = json_object_get(c, "ids");
    json_t *ids_clean = json_object_get(c, "ids_sanitized");   /* ill-formed UTF-8 input */
    int n_exp = (int)json_array_size(ids);
    int32_t *exp = malloc(sizeof *exp * (size_t)(n_exp + 1));
    for (int i = 0; i < n_exp; i++) exp[i] = (int32_t)json_integer_value(json_array_get(ids, (size_t)i));
    json_t *want = ids_clean ? ids_clean : ids;
    int n_want = (int)json_array_size(want);
    int32_t *wv = malloc(sizeof *wv * (size_t)(n_want + 1));
    for (int i = 0; i < n_want; i++) wv[i] = (int32_t)json_integer_value(json_array_get(want, (size_t)i));
    int cap = (int)tl * 4 + 16;
    int32_t *got = malloc(sizeof *got * (size_t)cap);
    int n = vocab_tokenize(v, text, tl, got, cap, add, parse);
    bool ok = n == n_want && memcmp(got, wv, sizeof *got * (size_t)n) == 0;
    if (!ok) {
        t->id_fail++;
        if ((*printed)++ < 3) {
            static char a[4096], b[4096];
            int k = 0;
            while (k < n && k < n_want && got[k] == wv[k]) k++;
            ids_str(a, sizeof a, got, n);
            ids_str(b, sizeof b, wv, n_want);
            cr_log_error("case %d (add_special=%d parse_special=%d) text '%.80s': first mismatch at %d\n parley:    %s\n llama.cpp: %s",
                         (int)json_integer_value(json_object_get(c, "index")), add, parse, text, k, a, b);
        }
    }
    char *buf = malloc(dl1 + dl2 + tl * 4 + 64);
    int k1 = vocab_detokenize(v, exp, n_exp, buf, (int)(dl1 + dl2 + tl * 4 + 64), false, true);
    bool ok1 = k1 == (int)dl1 && memcmp(buf, d1, dl1) == 0;
    int k2 = vocab_detokenize(v, exp, n_exp, buf, (int)(dl1 + dl2 + tl * 4 + 64), true, false);
    bool ok2 = k2 == (int)dl2 && memcmp(buf, d2, dl2) == 0;
    if (!ok1 || !ok2) {
        t->detok_fail++;
        if ((*printed)++ < 3)
            cr_log_error("case %d: detokenize differs (special: %s, plain: %s) for '%.80s'",
                         (int)json_integer_value(json_object_get(c, "index")), ok1 ? "ok" : "DIFF", ok2 ? "ok" : "DIFF", text);
    }
    t->cases++;
    free(text); free(d1); free(d2); free(exp); free(wv); free(got); free(buf);
    return ok && ok1 && ok2;
}

/* Run every case of a fixture file; a string passes if all its 4 cases do. */
static void check_fixture(const pl_vocab *v, const char *rel)
{
    char p[1024];
    src_path(p, sizeof p, rel);
    json_error_t err;
    json_t *doc = json_load_file(p, 0, &err);
    cr_assert(doc, "%s: %s (line %d)", p, err.text, err.line);
    json_t *cases = json_object_get(doc, "cases");
    cr_assert(json_array_size(cases) > 0, "%s: no cases", p);
    tally t = { 0 };
    int printed = 0, last = -1;
    bool str_ok = true;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        int idx = (int)json_integer_value(json_object_get(c, "index"));
        if (idx != last) {
            if (last >= 0) t.strings_ok += str_ok;
            t.strings++; last = idx; str_ok = true;
        }
        str_ok &= check_case(v, c, &t, &printed);
    }
    t.strings_ok += str_ok;
    cr_log_info("%s (llama-cpp-python %s, llama.cpp %s): %d/%d strings, %d/%d cases match",
                rel, json_string_value(json_object_get(doc, "llama_cpp_python")),
                json_string_value(json_object_get(doc, "llama_cpp_version")),
                t.strings_ok, t.strings, t.cases - t.id_fail - t.detok_fail, t.cases);
    json_decref(doc);
    cr_expect_eq(t.id_fail, 0, "%s: %d of %d cases give other ids than llama.cpp", rel, t.id_fail, t.cases);
    cr_expect_eq(t.detok_fail, 0, "%s: %d of %d cases detokenize differently", rel, t.detok_fail, t.cases);
}

Test(tok_smollm2, matches_llama_cpp)
{
    loaded l = load_smollm();
    check_fixture(l.v, "tests/fixtures/tokenizer/smollm2.json");
    unload(l);
}

Test(tok_spm, matches_llama_cpp)
{
    loaded l = load_spm_tiny();
    check_fixture(l.v, "tests/fixtures/tokenizer/spm-tiny.json");
    unload(l);
}
