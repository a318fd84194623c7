/* engine_params.c — the one mapping from the configuration to the engine's settings.
 *
 * Why here: the engine must not know config/ (it is used by other front
 * ends, a server later), while the CLI (`parley run`, `parley bench`) and the
 * TUI (its loads and turns) all start from a pl_config. So config/ fills the
 * engine's own parameter structs, through the engine's doors; config.h only
 * names those structs, and a front end that maps a setting does it here and
 * nowhere else. What a front end decides for itself (bench sizes its context
 * to the test; the TUI's random seed per turn) it overrides afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/infer.h"
#include "../engine/turn.h"
#include "config.h"

/* Model loading: offload and weight placement. */
void config_to_model_params(const pl_config *c, pl_model_params *out)
{
    *out = pl_model_default_params();
    out->n_gpu_layers = c->n_gpu_layers;
    out->mmap = c->mmap;
}

/* Context: size, threads, prefill batch, KV cache types (an unknown name keeps the default). */
void config_to_ctx_params(const pl_config *c, pl_ctx_params *out)
{
    *out = pl_ctx_default_params();
    out->n_ctx = c->ctx_size;
    out->n_threads = c->threads;
    out->n_batch = c->batch_size;
    int tk = pl_type_from_name(c->cache_type_k), tv = pl_type_from_name(c->cache_type_v);
    if (tk >= 0) out->type_k = (pl_type)tk;
    if (tv >= 0) out->type_v = (pl_type)tv;
}

/* Sampling; seed -1 asks the sampler for one from the clock. */
void config_to_sampler_params(const pl_config *c, pl_sampler_params *out)
{
    *out = pl_sampler_default_params();
    out->temp = c->temp;
    out->top_k = c->top_k;
    out->top_p = c->top_p;
    out->min_p = c->min_p;
    out->repeat_penalty = c->repeat_penalty;
    out->penalty_last_n = c->repeat_last_n;
    out->freq_penalty = c->freq_penalty;
    out->presence_penalty = c->presence_penalty;
    out->seed = c->seed >= 0 ? (uint64_t)c->seed : PL_SEED_RANDOM;
}

/* A turn's settings; *stops (free() it) holds the strings out->stop points to. */
void config_to_gen_params(const pl_config *c, pl_gen_params *out, char ***stops)
{
    memset(out, 0, sizeof *out);
    config_to_sampler_params(c, &out->sampler);
    out->n_predict = c->n_predict;
    *stops = config_stop_list(c, NULL);
    out->stop = (const char *const *)*stops;
    out->tmpl_override = c->chat_template && *c->chat_template ? c->chat_template : NULL;
    out->shift_on_full = !c->context_policy || strcmp(c->context_policy, "stop") != 0;
}

/* A layer number of --layers-on at *p (digits only, at most 6 of them: no
 * model has a million layers, and nothing overflows); -1 if there is none. */
static long layers_on_num(const char **p)
{
    long v = 0;
    int n = 0;
    for (; **p >= '0' && **p <= '9' && n < 7; (*p)++, n++) v = v * 10 + (**p - '0');
    return n == 0 || n == 7 ? -1 : v;
}

/* --layers-on "ref:10-29,cpu:12-13": each item one live move, in order. */
int config_apply_layers_on(const pl_config *c, pl_ctx *ctx, pl_status *st)
{
    for (const char *p = c->layers_on; p && *p;) {
        const char *q = p;
        char be[16];
        size_t nb = 0;
        while (nb + 1 < sizeof be && ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9'))) be[nb++] = *q++;
        be[nb] = 0;
        long a = -1, b = -1;
        if (nb && *q == ':' && (++q, a = layers_on_num(&q)) >= 0 && *q == '-')
            q++, b = layers_on_num(&q);
        if (b < 0 || (*q && *q != ','))
            return pl_status_set(st, PL_ERR_ARG, "--layers-on: '%s' is not BACKEND:FIRST-LAST (such as ref:10-29)", p);
        int rc = pl_ctx_place_layers(ctx, (int)a, (int)b, be, st);
        if (rc) return rc;
        p = q + (*q == ',');
    }
    return 0;
}
