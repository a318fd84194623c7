/* placement.c — which backend each layer lives on, and moving layers live.
 *
 * Layer placement belongs to the context (DESIGN.md, Backends): layer il
 * runs on c->layer_be[il] with the weights c->layer_w[il] and its KV slice
 * c->kv->layers[il] (forward*.c reads them through ctx_layer_backend /
 * ctx_layer_weights). NULL arrays mean every layer on the CPU with the
 * model's own weights; they come back to NULL when every layer is home.
 *
 * A move runs in three steps so that it is all or nothing:
 *  1. count: the target must hold, for each layer not already there, a copy
 *     of every weight in its layout (none for the CPU: the model's resident
 *     copy is its own) and the layer's live KV blocks; more than its free
 *     memory is refused with the numbers before anything moves;
 *  2. copy: every weight loaded on the target (weight_load), every live KV
 *     block copied there (kv_layer_copy_to); nothing of the context changes
 *     yet, so a failure releases the copies and the context is as before;
 *  3. switch: the old copies are released, the new ones installed.
 * A backend's KV blocks are reached by the cache only through a kv_holder
 * (its alloc/release/upload/download), so a device whose memory the host
 * cannot address works unchanged; the CPU's blocks stay plain malloc.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context_impl.h"

#define PLACE_MAX_BE 4
#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

struct ctx_place;

/* One backend placement started (slot 0 is the CPU: no instance of ours). */
typedef struct place_be {
    const pl_backend_ops *ops;
    pl_backend           *be;       /* NULL for the CPU slot */
    kv_holder             holder;   /* its KV blocks (ud: this slot) */
    char                  holder_name[24];
    struct ctx_place     *place;
} place_be;

typedef struct ctx_place {
    place_be bes[PLACE_MAX_BE];
    int      n_be;
    int     *slot;       /* (n_layer) each layer's slot in bes */
    int      fail_at;    /* tests: the fail_at-th allocation on a target fails (0: never) */
    int      n_alloc;
} ctx_place;

/* Every weight of a layer, as offsets into pl_layer (absent ones have data == NULL). */
static const size_t k_wfield[] = {
    offsetof(pl_layer, attn_norm), offsetof(pl_layer, wq), offsetof(pl_layer, wk), offsetof(pl_layer, wv),
    offsetof(pl_layer, wo), offsetof(pl_layer, ffn_norm), offsetof(pl_layer, ffn_gate),
    offsetof(pl_layer, ffn_up), offsetof(pl_layer, ffn_down), offsetof(pl_layer, bq), offsetof(pl_layer, bk),
    offsetof(pl_layer, bv), offsetof(pl_layer, attn_q_norm), offsetof(pl_layer, attn_k_norm),
    offsetof(pl_layer, attn_post_norm), offsetof(pl_layer, ffn_post_norm),
};
#define N_WFIELD (sizeof k_wfield / sizeof k_wfield[0])

static pl_weight *lw(pl_layer *L, size_t k) { return (pl_weight *)(void *)((char *)L + k_wfield[k]); }
static const pl_weight *lwc(const pl_layer *L, size_t k)
{
    return (const pl_weight *)(const void *)((const char *)L + k_wfield[k]);
}

/* Tests make a chosen allocation fail to see a move undo itself. */
static bool place_fail(ctx_place *p) { return p->fail_at > 0 && ++p->n_alloc == p->fail_at; }

/* ---- the kv_holder over a backend's buffers -------------------------------- */

static void *ph_alloc(void *ud, size_t n)
{
    place_be *b = ud;
    return place_fail(b->place) ? NULL : b->be->ops->alloc(b->be, n);
}
static void ph_release(void *ud, void *buf) { place_be *b = ud; b->be->ops->release(b->be, buf); }
static int ph_upload(void *ud, void *dst, const void *src, size_t n)
{
    place_be *b = ud;
    return b->be->ops->upload(b->be, dst, src, n);
}
static int ph_download(void *ud, void *dst, const void *src, size_t n)
{
    place_be *b = ud;
    return b->be->ops->download(b->be, dst, src, n);
}

/* The holder of slot s's KV blocks: NULL (host memory) for the CPU. */
static const kv_holder *place_holder(ctx_place *p, int s) { return s == 0 ? NULL : &p->bes[s].holder; }

/* ---- state ----------------------------------------------------------------- */

/* The placement record, made on first use: every layer on the CPU. */
static ctx_place *place_get(pl_ctx *c, pl_status *st)
{
    if (c->place) return c->place;
    ctx_place *p = calloc(1, sizeof *p);
    if (p) p->slot = calloc(c->m->hp.n_layer, sizeof *p->slot);
    if (!p || !p->slot) {
        if (p) free(p);
        pl_status_set(st, PL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->bes[0] = (place_be){ .ops = pl_backend_find("cpu"), .place = p };
    p->n_be = 1;
    return c->place = p;
}

/* Slot of the backend named by ops, started (with the context's threads) if new; -1 with st. */
static int place_slot(pl_ctx *c, const pl_backend_ops *ops, pl_status *st)
{
    ctx_place *p = c->place;
    for (int s = 0; s < p->n_be; s++)
        if (p->bes[s].ops == ops) return s;
    if (p->n_be == PLACE_MAX_BE) return pl_status_set(st, PL_ERR_ARG, "too many backends"), -1;
    const bool ref = strcmp(ops->name, "ref") == 0;
    pl_backend_params bp = { .n_threads = c->n_threads, .mem_limit = ref ? c->p.ref_mem_limit : 0 };
    char err[160] = "";
    pl_backend *be = ops->init(&bp, err, sizeof err);
    if (!be) return pl_status_set(st, PL_ERR_NOMEM, "%s backend: %s", ops->name, err[0] ? err : "cannot start"), -1;
    place_be *b = &p->bes[p->n_be];
    *b = (place_be){ .ops = ops, .be = be, .place = p,
                     .holder = { ph_alloc, ph_release, ph_upload, ph_download, b, NULL } };
    snprintf(b->holder_name, sizeof b->holder_name, "%s backend", ops->name);
    b->holder.name = b->holder_name;
    return p->n_be++;
}

/* Bytes free on slot s: the backend's count, or the host's available memory. */
static uint64_t place_free_bytes(const ctx_place *p, int s)
{
    if (s == 0) return (uint64_t)sysconf(_SC_AVPHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    size_t fr = 0;
    p->bes[s].be->ops->mem_info(p->bes[s].be, NULL, NULL, &fr);
    return fr;
}

/* Bytes of the copies of layer L's weights a non-CPU backend holds. */
static uint64_t layer_weight_bytes(const pl_layer *L)
{
    uint64_t n = 0;
    for (size_t k = 0; k < N_WFIELD; k++)
        if (lwc(L, k)->data) n += pl_row_size(lwc(L, k)->type, lwc(L, k)->cols) * (uint64_t)lwc(L, k)->rows;
    return n;
}

/* Release the copies in *w (slot s) that are not the model's own bytes (*home). */
static void place_weights_release(ctx_place *p, int s, pl_layer *w, const pl_layer *home)
{
    if (s == 0) return;
    pl_backend *be = p->bes[s].be;
    for (size_t k = 0; k < N_WFIELD; k++)
        if (lw(w, k)->data && lw(w, k)->data != lwc(home, k)->data) be->ops->release(be, (void *)lw(w, k)->data);
}

/* *w = layer il's weights on slot s (the model's own on the CPU); -1 with st. */
static int place_weights_load(pl_ctx *c, int s, int il, pl_layer *w, pl_status *st)
{
    const pl_layer *home = &c->m->layers[il];
    *w = *home;
    if (s == 0) return 0;
    place_be *b = &c->place->bes[s];
    for (size_t k = 0; k < N_WFIELD; k++) {
        pl_weight *t = lw(w, k);
        if (!t->data) continue;
        const pl_layout lay = b->ops->layout(b->be, t->type, t->rows, t->cols);
        void *out = NULL;
        int rc = place_fail(c->place) ? PL_BACKEND_ENOMEM
                                      : b->ops->weight_load(b->be, t->type, t->rows, t->cols, t->data, t->layout, lay, &out);
        if (rc) {
            for (size_t j = k; j < N_WFIELD; j++) lw(w, j)->data = lwc(home, j)->data;   /* not loaded */
            place_weights_release(c->place, s, w, home);
            *w = *home;
            return pl_status_set(st, PL_ERR_NOMEM, "%s backend: loading layer %d's weights (%.1f MiB): %s",
                                 b->ops->name, il, MIB(pl_row_size(t->type, t->cols) * (uint64_t)t->rows),
                                 pl_backend_strerror(rc)), -1;
        }
        t->data = out;
        t->layout = lay;
    }
    return 0;
}

/* ---- moving ------------------------------------------------------------------ */

/* What the target slot `to` must hold for layers [il0, il1]; refuse with numbers if it cannot. */
static int place_check(pl_ctx *c, int il0, int il1, int to, int *n_move, pl_status *st)
{
    ctx_place *p = c->place;
    uint64_t need_w = 0, need_kv = 0;
    *n_move = 0;
    for (int il = il0; il <= il1; il++) {
        if (p->slot[il] == to) continue;
        ++*n_move;
        need_kv += kv_layer_live_bytes(c->kv, il);
        if (to != 0) need_w += layer_weight_bytes(&c->m->layers[il]);
    }
    const uint64_t fr = place_free_bytes(p, to);
    if (*n_move && need_w + need_kv > fr)
        return pl_status_set(st, PL_ERR_NOMEM, "%s backend: moving layers %d-%d needs %.1f MiB (weights %.1f, "
                             "KV %.1f), %.1f MiB free; nothing moved", p->bes[to].ops->name, il0, il1,
                             MIB(need_w + need_kv), MIB(need_w), MIB(need_kv), MIB(fr));
    return 0;
}

/* Make the per-layer arrays the forward reads (every layer home at first). */
static int place_arrays(pl_ctx *c, pl_status *st)
{
    if (c->layer_be) return 0;
    const int n = (int)c->m->hp.n_layer;
    c->layer_be = malloc(sizeof *c->layer_be * n);
    c->layer_w = malloc(sizeof *c->layer_w * n);
    if (!c->layer_be || !c->layer_w) {
        free(c->layer_be), free(c->layer_w);
        c->layer_be = NULL, c->layer_w = NULL;
        return pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    }
    for (int il = 0; il < n; il++) c->layer_be[il] = c->be_cpu, c->layer_w[il] = c->m->layers[il];
    return 0;
}

/* Step 3 for one layer: release its old copies, install the new. */
static void place_switch(pl_ctx *c, int il, int to, pl_layer *w, uint8_t **fresh)
{
    ctx_place *p = c->place;
    place_weights_release(p, p->slot[il], &c->layer_w[il], &c->m->layers[il]);
    c->layer_w[il] = *w;
    c->layer_be[il] = to == 0 ? c->be_cpu : p->bes[to].be;
    kv_layer_adopt(c->kv, il, place_holder(p, to), fresh);
    p->slot[il] = to;
}

/* Every layer home again: back to the NULL arrays (the all-CPU fast path). */
static void place_tidy(pl_ctx *c)
{
    for (uint32_t il = 0; il < c->m->hp.n_layer; il++)
        if (c->place->slot[il]) return;
    free(c->layer_be), free(c->layer_w);
    c->layer_be = NULL, c->layer_w = NULL;
}

int pl_ctx_place_layers(pl_ctx *c, int il0, int il1, const char *backend, pl_status *st)
{
    pl_status_ok(st);
    const int n_layer = (int)c->m->hp.n_layer;
    if (il1 < il0) return pl_status_set(st, PL_ERR_ARG, "layers %d-%d: the first is after the last", il0, il1);
    if (il0 < 0 || il1 >= n_layer)
        return pl_status_set(st, PL_ERR_ARG, "layers %d-%d: the model has layers 0-%d", il0, il1, n_layer - 1);
    const pl_backend_ops *ops = pl_backend_find(backend);
    if (!ops) return pl_status_set(st, PL_ERR_ARG, "no backend '%s' in this build (cpu, ref)", backend ? backend : "");
    if (!place_get(c, st)) return st ? st->code : PL_ERR_NOMEM;
    const int to = place_slot(c, ops, st);
    int n_move = 0;
    if (to < 0 || place_check(c, il0, il1, to, &n_move, st)) return st ? st->code : PL_ERR_NOMEM;
    if (!n_move) return 0;
    const int nb = c->kv->max_blocks;
    pl_layer *w = calloc((size_t)n_move, sizeof *w);
    uint8_t **fresh = calloc((size_t)n_move * nb, sizeof *fresh);
    int done = 0, rc = w && fresh ? place_arrays(c, st) : (int)pl_status_set(st, PL_ERR_NOMEM, "out of memory");
    for (int il = il0; il <= il1 && !rc; il++) {   /* step 2: copies, the context untouched */
        if (c->place->slot[il] == to) continue;
        if (place_weights_load(c, to, il, &w[done], st)) { rc = PL_ERR_NOMEM; break; }
        if (kv_layer_copy_to(c->kv, il, place_holder(c->place, to), fresh + (size_t)done * nb, st)) {
            place_weights_release(c->place, to, &w[done], &c->m->layers[il]);
            rc = PL_ERR_NOMEM;
            break;
        }
        done++;
    }
    for (int il = il0, i = 0; il <= il1 && i < done; il++) {   /* step 3, or undo step 2 */
        if (c->place->slot[il] == to) continue;
        if (rc) {
            place_weights_release(c->place, to, &w[i], &c->m->layers[il]);
            kv_layer_drop(c->kv, place_holder(c->place, to), fresh + (size_t)i * nb);
        } else {
            place_switch(c, il, to, &w[i], fresh + (size_t)i * nb);
        }
        i++;
    }
    if (rc && st) {
        char why[sizeof st->msg];
        memcpy(why, st->msg, sizeof why);
        pl_status_set(st, rc, "moving layers %d-%d to %s failed, nothing moved: %s", il0, il1, ops->name, why);
    }
    if (c->layer_be) place_tidy(c);
    if (!rc) ctx_acts_free(c);   /* a backend left without layers keeps no activations (made again on use) */
    free(w);
    free(fresh);
    return rc;
}

const char *pl_ctx_layer_backend_name(const pl_ctx *c, int il)
{
    if (il < 0 || il >= (int)c->m->hp.n_layer) return NULL;
    return c->place ? c->place->bes[c->place->slot[il]].ops->name : "cpu";
}

void ctx_place_fail_at(pl_ctx *c, int n)
{
    if (!place_get(c, NULL)) return;
    c->place->fail_at = n;
    c->place->n_alloc = 0;
}

/* After the KV cache is freed (its held blocks went back through the holders). */
void ctx_place_free(pl_ctx *c)
{
    ctx_place *p = c->place;
    if (!p) return;
    for (uint32_t il = 0; c->layer_w && il < c->m->hp.n_layer; il++)
        place_weights_release(p, p->slot[il], &c->layer_w[il], &c->m->layers[il]);
    free(c->layer_be), free(c->layer_w);
    c->layer_be = NULL, c->layer_w = NULL;
    for (int s = 1; s < p->n_be; s++) p->bes[s].ops->free(p->bes[s].be);
    free(p->slot);
    free(p);
    c->place = NULL;
}

/* ---- what each backend holds (the status line) ------------------------------ */

int pl_ctx_backend_usage(const pl_ctx *c, pl_backend_usage *out, int max)
{
    const ctx_place *p = c->place;
    const int n_be = p ? p->n_be : 1;
    int n = 0;
    for (int s = 0; s < n_be && n < max; s++, n++) {
        pl_backend_usage *u = &out[n];
        *u = (pl_backend_usage){ .name = s == 0 ? "cpu" : p->bes[s].ops->name };
        for (uint32_t il = 0; il < c->m->hp.n_layer; il++) {
            if ((p ? p->slot[il] : 0) != s) continue;
            u->n_layers++;
            u->kv_bytes += kv_layer_live_bytes(c->kv, (int)il);
            if (s) u->weight_bytes += layer_weight_bytes(&c->layer_w[il]);
        }
        if (s) {
            size_t total = 0, used = 0;
            p->bes[s].be->ops->mem_info(p->bes[s].be, &total, &used, NULL);
            u->mem_total = total, u->mem_used = used;
        }
    }
    return n;
}

/* Append the runs of layers on slot s ("0-9,30-31") to buf at *at. */
static void place_runs(const pl_ctx *c, int s, char *buf, size_t n, size_t *at)
{
    const int nl = (int)c->m->hp.n_layer;
    bool first = true;
    for (int il = 0; il < nl; il++) {
        if ((c->place ? c->place->slot[il] : 0) != s) continue;
        int end = il;
        while (end + 1 < nl && (c->place ? c->place->slot[end + 1] : 0) == s) end++;
        int k = end > il ? snprintf(buf + *at, n - *at, "%s%d-%d", first ? "" : ",", il, end)
                         : snprintf(buf + *at, n - *at, "%s%d", first ? "" : ",", il);
        if (k > 0) *at = *at + (size_t)k < n ? *at + (size_t)k : n - 1;
        first = false;
        il = end;
    }
}

const char *pl_ctx_placement_str(const pl_ctx *c, char *buf, size_t n)
{
    if (!n) return buf;
    pl_backend_usage u[PLACE_MAX_BE];
    const int nu = pl_ctx_backend_usage(c, u, PLACE_MAX_BE);
    size_t at = 0;
    buf[0] = 0;
    for (int s = 0; s < nu && at + 1 < n; s++) {
        if (!u[s].n_layers) continue;
        int k = snprintf(buf + at, n - at, "%s%s ", at ? " · " : "", u[s].name);
        if (k > 0) at = at + (size_t)k < n ? at + (size_t)k : n - 1;
        place_runs(c, s, buf, n, &at);
        if (s && at + 1 < n) {
            k = snprintf(buf + at, n - at, " (%.1f MiB)", MIB(u[s].weight_bytes + u[s].kv_bytes));
            if (k > 0) at = at + (size_t)k < n ? at + (size_t)k : n - 1;
        }
    }
    return buf;
}
