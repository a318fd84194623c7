/* fixture.c — see fixture.h. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "engine/engine.h"
#include "tests/common/fixture.h"

/* Repository root: PARLEY_SRC (set by the Makefile) or the working directory. */
const char *fixt_src_dir(void)
{
    const char *s = getenv("PARLEY_SRC");
    return s && *s ? s : ".";
}

/* Fixture JSON of one model. */
json_t *fixt_load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/forward/%s.json", fixt_src_dir(), name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert(j, "%s: %s (regenerate with scripts/gen-forward-fixtures.py)", path, err.text);
    return j;
}

/* The prompt record named pname. */
json_t *fixt_prompt(json_t *fx, const char *pname)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(fx, "prompts"), i, p)
        if (strcmp(json_string_value(json_object_get(p, "name")), pname) == 0) return p;
    cr_assert_fail("fixture has no prompt %s", pname);
    return NULL;
}

/* int array of a JSON list; returns the count. */
int fixt_ints(json_t *a, int32_t *out, int max)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        cr_assert(i < (size_t)max);
        out[i] = (int32_t)json_integer_value(v);
    }
    return (int)json_array_size(a);
}

/* llama.cpp's logits: inline JSON list, or a float16 file beside the JSON. */
float *fixt_logits(json_t *p, int n_vocab)
{
    float *l = malloc(sizeof(float) * n_vocab);
    json_t *arr = json_object_get(p, "logits");
    if (arr) {
        cr_assert_eq((int)json_array_size(arr), n_vocab);
        for (int i = 0; i < n_vocab; i++) l[i] = (float)json_real_value(json_array_get(arr, i));
        return l;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/forward/%s", fixt_src_dir(),
             json_string_value(json_object_get(p, "logits_f16_file")));
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    pl_f16 *h = malloc(sizeof(pl_f16) * n_vocab);
    cr_assert_eq(fread(h, sizeof(pl_f16), n_vocab, f), (size_t)n_vocab, "%s is short", path);
    fclose(f);
    for (int i = 0; i < n_vocab; i++) l[i] = pl_f16_to_f32(h[i]);
    free(h);
    return l;
}

double fixt_rel_err(const float *a, const float *b, int n)
{
    double md = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return md / (mb > 0 ? mb : 1);
}

int fixt_argmax(const float *l, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) if (l[i] > l[best]) best = i;
    return best;
}

const char *fixt_model(const char *env, const char *make_target)
{
    const char *p = getenv(env);
    FILE *f = p && *p ? fopen(p, "rb") : NULL;
    cr_assert(f, "model not found (%s=%s): run `make %s`", env, p ? p : "(unset)", make_target);
    fclose(f);
    return p;
}

pl_model *fixt_model_load(const char *env, const char *make_target)
{
    pl_status st;
    pl_model_params mp = pl_model_default_params();
    pl_model *m = pl_model_load(fixt_model(env, make_target), &mp, &st);
    cr_assert(m, "%s: %s", env, st.msg);
    return m;
}

pl_ctx *fixt_ctx(pl_model *m, int n_ctx, int n_batch, int type_k, int type_v)
{
    pl_ctx_params cp = pl_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = 2;
    if (n_batch > 0) cp.n_batch = n_batch;
    cp.type_k = (pl_type)type_k, cp.type_v = (pl_type)type_v;
    pl_status st;
    pl_ctx *c = pl_ctx_new(m, &cp, &st);
    cr_assert(c, "pl_ctx_new (k=%s v=%s): %s", pl_type_name(cp.type_k), pl_type_name(cp.type_v), st.msg);
    return c;
}
