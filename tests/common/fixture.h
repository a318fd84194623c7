/* fixture.h — reading the llama.cpp forward fixtures (tests/fixtures/forward/,
 * written by scripts/gen-forward-fixtures.py) and comparing logits with them.
 * Shared by the e2e tests of every architecture; failures are Criterion asserts
 * that name the file and what to regenerate. */
#ifndef PL_TEST_FIXTURE_H
#define PL_TEST_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

const char *fixt_src_dir(void);                              /* PARLEY_SRC or "." */
json_t     *fixt_load(const char *name);                     /* forward/<name>.json */
json_t     *fixt_prompt(json_t *fx, const char *pname);      /* the prompt record named pname */
int         fixt_ints(json_t *a, int32_t *out, int max);     /* a JSON int list; returns the count */
float      *fixt_logits(json_t *p, int n_vocab);             /* llama.cpp's logits (caller frees) */
double      fixt_rel_err(const float *a, const float *b, int n);  /* max|a - b| / max|b| */
int         fixt_argmax(const float *l, int n);
/* Path in env var (PARLEY_MODEL, PARLEY_GEMMA), or fail saying which make target fetches it. */
const char *fixt_model(const char *env, const char *make_target);
/* The model at fixt_model(env, make_target), loaded with default parameters. */
struct pl_model *fixt_model_load(const char *env, const char *make_target);
/* A context like the fixtures': 2 threads, n_ctx positions, n_batch, KV types k and v. */
struct pl_ctx *fixt_ctx(struct pl_model *m, int n_ctx, int n_batch, int type_k, int type_v);

#endif
