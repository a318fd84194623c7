/* test_template.c — chat templates against llama.cpp's renderings (suite tmpl_*).
 *
 * The fixtures under tests/fixtures/templates/ were written by
 * scripts/gen-template-fixtures.py from llama-cpp-python (version recorded in
 * each file): every built-in template name x conversation x add_gen, and real
 * tokenizer.chat_template texts of model families (incl. the default SmolLM2).
 * A user would notice any byte of difference: the model sees a different prompt.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/template.h"

/* Load a fixture JSON; a missing file fails the test with what to run. */
static json_t *fixture_load(const char *name)
{
    const char *src = getenv("PARLEY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/templates/%s", src ? src : ".", name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert(j, "cannot read %s (%s); regenerate with scripts/gen-template-fixtures.py", path, err.text);
    return j;
}

/* The messages of a named conversation in the fixture (array owned by caller). */
static pl_chat_msg *fixture_conv(json_t *doc, const char *name, int *n)
{
    json_t *arr = json_object_get(json_object_get(doc, "conversations"), name);
    cr_assert(json_is_array(arr), "conversation %s missing from fixture", name);
    *n = (int)json_array_size(arr);
    pl_chat_msg *m = calloc((size_t)*n + 1, sizeof *m);
    for (int i = 0; i < *n; i++) {
        json_t *e = json_array_get(arr, (size_t)i);
        m[i].role = json_string_value(json_object_get(e, "role"));
        m[i].content = json_string_value(json_object_get(e, "content"));
    }
    return m;
}

/* Render into a right-sized heap string (checks the size query agrees). */
static char *render_alloc(int id, const pl_chat_msg *m, int n, bool add_gen)
{
    int need = tmpl_render(id, m, n, add_gen, NULL, 0);
    cr_assert_geq(need, 0, "tmpl_render(%s) failed", tmpl_name(id));
    char *buf = malloc((size_t)need + 1);
    cr_assert_eq(tmpl_render(id, m, n, add_gen, buf, need + 1), need);
    return buf;
}

Test(tmpl_fixtures, every_builtin_name_matches_llama_cpp)
{
    json_t *doc = fixture_load("builtin.json");
    json_t *names = json_object_get(doc, "names"), *cases = json_object_get(doc, "cases"), *v;
    size_t i;
    json_array_foreach(names, i, v)
        cr_expect_neq(tmpl_from_name(json_string_value(v)), TMPL_UNKNOWN,
                      "llama.cpp built-in template '%s' is not supported", json_string_value(v));
    int checked = 0, bad = 0;
    json_array_foreach(cases, i, v) {
        const char *tname = json_string_value(json_object_get(v, "template"));
        const char *cname = json_string_value(json_object_get(v, "conversation"));
        const char *want = json_string_value(json_object_get(v, "output"));
        bool add_gen = json_is_true(json_object_get(v, "add_gen"));
        int id = tmpl_from_name(tname), n;
        if (id == TMPL_UNKNOWN) continue;   /* reported above */
        pl_chat_msg *m = fixture_conv(doc, cname, &n);
        char *got = render_alloc(id, m, n, add_gen);
        if (strcmp(got, want) != 0 && bad++ < 8)
            cr_expect_str_eq(got, want, "%s / %s / add_gen=%d differs from llama.cpp", tname, cname, add_gen);
        checked++;
        free(got);
        free(m);
    }
    cr_expect_eq(bad, 0, "%d of %d renderings differ from llama.cpp", bad, checked);
    cr_expect_gt(checked, 500, "fixture looks truncated: %d cases", checked);
    json_decref(doc);
}

Test(tmpl_fixtures, real_jinja_templates_detected_like_llama_cpp)
{
    json_t *doc = fixture_load("detect.json"), *t, *r;
    size_t i, k;
    json_array_foreach(json_object_get(doc, "templates"), i, t) {
        const char *model = json_string_value(json_object_get(t, "model"));
        int id = tmpl_detect(json_string_value(json_object_get(t, "jinja")));
        cr_expect_neq(id, TMPL_UNKNOWN, "%s: template not recognised", model);
        if (id == TMPL_UNKNOWN) continue;
        json_array_foreach(json_object_get(t, "renders"), k, r) {
            int n;
            const char *cname = json_string_value(json_object_get(r, "conversation"));
            pl_chat_msg *m = fixture_conv(doc, cname, &n);
            char *got = render_alloc(id, m, n, true);
            cr_expect_str_eq(got, json_string_value(json_object_get(r, "llama_cpp")),
                             "%s (detected %s) / %s differs from llama.cpp", model, tmpl_name(id), cname);
            free(got);
            free(m);
        }
    }
    json_decref(doc);
}

Test(tmpl_fixtures, smollm2_template_is_chatml_without_default_system)
{
    json_t *doc = fixture_load("detect.json"), *t;
    size_t i;
    const char *jinja = NULL;
    json_array_foreach(json_object_get(doc, "templates"), i, t)
        if (strstr(json_string_value(json_object_get(t, "model")), "SmolLM2"))
            jinja = json_string_value(json_object_get(t, "jinja"));
    cr_assert(jinja, "detect.json has no SmolLM2 entry");
    cr_assert(strstr(jinja, "named SmolLM"), "the real SmolLM2 template should carry its default system prompt");
    int id = tmpl_detect(jinja);
    cr_assert_str_eq(tmpl_name(id), "chatml");
    pl_chat_msg m[] = { { "user", "Hello" } };
    char *got = render_alloc(id, m, 1, true);
    /* llama.cpp's built-in path (no Jinja) writes no default system turn. */
    cr_expect_str_eq(got, "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    free(got);
    json_decref(doc);
}

Test(tmpl_detect, issue_families_by_marker)
{
    struct { const char *text, *name; } cases[] = {
        { "{{'<|im_start|>' + role}}", "chatml" },
        { "{{ '[INST] ' + content + ' [/INST]' }}", "llama2" },
        { "[INST] <<SYS>>\\n", "llama2-sys" },
        { "<|start_header_id|>{{ role }}<|end_header_id|>", "llama3" },
        { "<start_of_turn>user", "gemma" },
        { "[SYSTEM_PROMPT]{{ s }}[/SYSTEM_PROMPT][INST]", "mistral-v7" },
        { "<|user|>\n{{c}}<|end|>\n<|assistant|>", "phi3" },
        { "### Instruction:\\n ... <|EOT|>", "deepseek" },
        { "<\xef\xbd\x9cUser\xef\xbd\x9c><\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"
          "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "deepseek3" },
        { "gemma", "gemma" },   /* an exact name is taken as is */
        { "mistral", "llama2" }, /* llama.cpp: a text starting "mistral" is in the [INST] family */
        { "mistral-x <<SYS>>", "llama2-sys" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_str_eq(tmpl_name(tmpl_detect(cases[i].text)), cases[i].name, "text: %s", cases[i].text);
    cr_expect_eq(tmpl_detect("{% for m in messages %}{{ m.content }}{% endfor %}"), TMPL_UNKNOWN);
    cr_expect_eq(tmpl_detect(NULL), TMPL_UNKNOWN);
}

Test(tmpl_render, gemma_merges_system_into_first_user_turn)
{
    pl_chat_msg m[] = { { "system", " Be brief. " }, { "user", "Hi" }, { "assistant", "Hello" } };
    char *got = render_alloc(tmpl_from_name("gemma"), m, 3, false);
    cr_expect_str_eq(got, "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                          "<start_of_turn>model\nHello<end_of_turn>\n");
    free(got);
}

Test(tmpl_render, small_buffer_truncates_and_reports_full_size)
{
    pl_chat_msg m[] = { { "user", "Hello" } };
    int id = tmpl_from_name("chatml");
    char small[10];
    memset(small, 'x', sizeof small);
    int need = tmpl_render(id, m, 1, true, small, sizeof small);
    cr_expect_eq(need, (int)strlen("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"));
    cr_expect_str_eq(small, "<|im_star");
    cr_expect_eq(tmpl_render(id, m, 1, true, NULL, 0), need);
    cr_expect_eq(tmpl_render(-1, m, 1, true, small, sizeof small), -1);
    pl_chat_msg bad[] = { { "user", NULL } };
    cr_expect_eq(tmpl_render(id, bad, 1, true, small, sizeof small), -1);
}

Test(tmpl_public, unknown_override_is_an_error_listing_names)
{
    pl_status st;
    pl_chat_msg m[] = { { "user", "Hi" } };
    char buf[256];
    cr_expect_eq(pl_chat_render(NULL, "no-such-template", m, 1, true, buf, sizeof buf, &st), -1);
    cr_expect_eq(st.code, PL_ERR_ARG);
    cr_expect(strstr(st.msg, "no-such-template") && strstr(st.msg, "chatml") && strstr(st.msg, "llama3"),
              "message should name the bad value and valid names: %s", st.msg);
    cr_expect_null(pl_chat_template_name(NULL, "no-such-template"));
}

Test(tmpl_public, override_and_fallback)
{
    pl_status st;
    pl_chat_msg m[] = { { "user", "Hi" } };
    char buf[256];
    int n = pl_chat_render(NULL, "llama3", m, 1, true, buf, sizeof buf, &st);
    cr_expect_eq(st.code, PL_OK);
    cr_expect_str_eq(buf, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    cr_expect_eq(n, (int)strlen(buf));
    /* No model template: ChatML, reported through the status message. */
    n = pl_chat_render(NULL, NULL, m, 1, true, buf, sizeof buf, &st);
    cr_expect_eq(st.code, PL_OK);
    cr_expect(strstr(st.msg, "using chatml") && strstr(st.msg, "--chat-template"), "msg: %s", st.msg);
    cr_expect_str_eq(buf, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    cr_expect_str_eq(pl_chat_template_name(NULL, NULL), "chatml");
}

Test(tmpl_public, list_names_the_issue_families)
{
    const char *const *list = pl_chat_template_list();
    const char *need[] = { "chatml", "llama2", "llama3", "gemma", "mistral-v7", "phi3", "deepseek", "deepseek3" };
    int count = 0;
    while (list[count]) count++;
    cr_expect_eq(count, tmpl_count());
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        bool found = false;
        for (int k = 0; k < count; k++) found |= strcmp(list[k], need[i]) == 0;
        cr_expect(found, "%s missing from pl_chat_template_list()", need[i]);
    }
}
