/* status.c — the status line: what the engine is doing and with what.
 *
 * Items (state, model, context used/total, "not saved" when the session store
 * cannot be written, speed, threads, offload, KV types, draft, temperature)
 * each have a priority and a brief form. When the line is too long, fields
 * are first shortened (the model name to 16 columns, fewer on narrower
 * terminals, "12.3 tok/s" to "12 tok/s",
 * ...), lowest priority first, and only then dropped: the live knobs parley
 * is about (KV types, GPU layers) outlast temperature and draft, and 40
 * columns still show state, model and context.
 * A transient message (kilo's status message) takes the right-hand side and
 * expires. Loading shows a bar: a real one when the worker reports progress,
 * a moving block when it cannot (the engine has no load-progress hook).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tui.h"

typedef struct item {
    char text[96];
    char brief[48];  /* shorter form ("" = none) */
    int  brief_at;   /* step at which the brief form replaces the text */
    int  drop_at;    /* step at which the item goes (steps run from 0 up) */
} item;

/* Steps, in the order they are taken while the line is too long. */
enum {
    DROP_DRAFT = 2, BRIEF_TEMP = 3, BRIEF_SPEED = 4, BRIEF_KV = 4, BRIEF_MODEL = 5, DROP_TEMP = 6,
    DROP_THREADS = 8, DROP_SPEED = 10, DROP_KNOBS = 12, DROP_MODEL = 16, DROP_CTX = 18, DROP_STATE = 20,
    N_STEPS = 21
};

/* "[####......]" for p in 0..1, or a bouncing block when p < 0. */
static void progress_bar(char *out, size_t len, float p, double now)
{
    char bar[11];
    memset(bar, '.', 10);
    bar[10] = 0;
    if (p >= 0) {
        int fill = (int)(p * 10 + 0.5f);
        memset(bar, '#', (size_t)(fill > 10 ? 10 : fill));
    } else {
        int pos = (int)(now * 8) % 14;
        pos = pos < 7 ? pos : 14 - pos;
        memset(bar + pos, '#', 3);
    }
    snprintf(out, len, "[%s]", bar);
}

/* Short model name: the name users know it by (what the user picked), cut to max columns. */
static void model_name(tui_app *a, char *out, size_t len, int max)
{
    char label[256];
    const char *l = tui_model_label(a, label, sizeof label);
    const char *p = strrchr(l, '/');   /* the Hugging Face cache's "org/repo/file": the file */
    snprintf(out, len, "%.60s", p ? p + 1 : l[0] ? l : "no model");
    char *dot = strstr(out, ".gguf");
    if (dot) *dot = 0;
    size_t n = strlen(out);
    while (n > 0 && tui_str_width(out, n) > max) {
        do n--; while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80);
    }
    out[n] = 0;
}

/* Add an item; brief (NULL: none) replaces it at step brief_at, it goes at drop_at. */
static void add(item *it, int *n, int drop_at, int brief_at, const char *brief, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void add(item *it, int *n, int drop_at, int brief_at, const char *brief, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it[*n].text, sizeof it[*n].text, fmt, ap);
    va_end(ap);
    snprintf(it[*n].brief, sizeof it[*n].brief, "%s", brief ? brief : "");
    it[*n].brief_at = brief ? brief_at : N_STEPS;
    it[*n].drop_at = drop_at;
    (*n)++;
}

/* The items, in display order. */
static int status_items(tui_app *a, item *it, int width)
{
    int n = 0;
    char bar[16], name[64], brief[48], quant[24] = "";
    if (a->loading) {
        progress_bar(bar, sizeof bar, a->load_progress, tui_now());
        add(it, &n, DROP_STATE, 0, NULL, "loading %s", bar);
    } else if (a->restoring && !a->generating) {
        progress_bar(bar, sizeof bar, a->restore_progress, tui_now());
        add(it, &n, DROP_STATE, 0, NULL, "resuming %s", bar);
    } else {
        add(it, &n, DROP_STATE, 0, NULL, "%s", a->generating ? "answering" : a->es.loaded ? "ready" : "no model");
    }
    model_name(a, name, sizeof name, 40);
    if (a->es.loaded && a->es.info.ftype[0] && !strcasestr(name, a->es.info.ftype))
        snprintf(quant, sizeof quant, " %s", a->es.info.ftype);
    model_name(a, brief, sizeof brief, width >= 90 ? 16 : width >= 60 ? 12 : 10);
    if (strlen(brief) < strlen(name)) snprintf(brief + strlen(brief), sizeof brief - strlen(brief), "…");
    add(it, &n, DROP_MODEL, BRIEF_MODEL, brief, "%s%s", name, quant);
    add(it, &n, DROP_CTX, 0, NULL, "ctx %d/%d", a->es.n_ctx_used, a->es.n_ctx);
    if (a->save_off) add(it, &n, DROP_CTX, 0, NULL, "not saved");   /* the user must know the conversation is not kept */
    if (a->have_last) {
        snprintf(brief, sizeof brief, "%.0f tok/s", a->last.gen_tps);
        add(it, &n, DROP_SPEED, BRIEF_SPEED, brief, "%.1f tok/s", a->last.gen_tps);
    }
    snprintf(brief, sizeof brief, "T%g", (double)a->cfg->temp);
    add(it, &n, DROP_TEMP, BRIEF_TEMP, brief, "temp %g", (double)a->cfg->temp);
    add(it, &n, DROP_THREADS, 0, NULL, "t%d", a->es.n_threads ? a->es.n_threads : a->cfg->threads);
    add(it, &n, DROP_KNOBS, 0, NULL, "ngl %d", a->es.loaded ? a->es.n_gpu_layers : a->cfg->n_gpu_layers);
    const char *tk = a->es.loaded ? pl_type_name(a->es.type_k) : a->cfg->cache_type_k;
    const char *tv = a->es.loaded ? pl_type_name(a->es.type_v) : a->cfg->cache_type_v;
    tk = tk ? tk : "?";
    tv = tv ? tv : "?";
    snprintf(brief, sizeof brief, "kv %s", tk);
    add(it, &n, DROP_KNOBS, BRIEF_KV, strcmp(tk, tv) == 0 ? brief : NULL, "kv %s/%s", tk, tv);
    add(it, &n, DROP_DRAFT, 0, NULL, "draft %s", a->cfg->draft_model && a->cfg->draft_model[0] ? "n/a" : "off");
    return n;
}

/* Columns the kept items take, with their separators. */
static int items_width(const item *it, const int *form, int n)
{
    int total = 1;
    for (int i = 0; i < n; i++) {
        const char *t = form[i] == 1 ? it[i].text : form[i] == 2 ? it[i].brief : NULL;
        if (t) total += tui_str_width(t, strlen(t)) + 3;
    }
    return total;
}

/* Fit the items into width: form[i] = 1 whole, 2 brief, 0 dropped, taking
 * the steps in order until the line fits. */
static void items_fit(const item *it, int n, int width, int *form)
{
    for (int i = 0; i < n; i++) form[i] = 1;
    for (int step = 0; step < N_STEPS && items_width(it, form, n) > width; step++)
        for (int i = 0; i < n; i++) {
            if (it[i].brief_at == step && form[i] == 1) form[i] = 2;
            if (it[i].drop_at == step) form[i] = 0;
        }
}

/* Draw the line: items that fit, then the message or the F1 hint at the right. */
void status_draw(tui_app *a, WINDOW *w)
{
    int width = getmaxx(w);
    item it[16];
    int n = status_items(a, it, width), form[16];
    const char *right = a->status_msg[0] && tui_now() < a->status_until ? a->status_msg
                      : width >= 60 ? "F1 help" : "";
    int right_w = right[0] ? tui_str_width(right, strlen(right)) + 2 : 0;
    if (right_w > width / 2 && a->status_until > 0 && right != a->status_msg) right_w = width / 2;
    if (right == a->status_msg && right_w > width * 2 / 3) right_w = width * 2 / 3;
    items_fit(it, n, width - right_w, form);
    if (right != a->status_msg && right_w) {   /* the F1 hint yields to speed and knobs (the input box says it too) */
        int without[16];
        bool saves = false;
        items_fit(it, n, width, without);
        for (int i = 0; i < n; i++) saves |= !form[i] && without[i] && it[i].drop_at >= DROP_SPEED;
        if (saves) {
            memcpy(form, without, sizeof without);
            right_w = 0;
        }
    }
    wbkgdset(w, ' ' | render_attr(ROLE_STATUS));
    werase(w);
    int x = 1;
    for (int i = 0; i < n; i++) {
        if (!form[i]) continue;
        if (x > 1) x += render_text(w, 0, x, width - x, " | ", ROLE_STATUS);
        x += render_text(w, 0, x, width - x, form[i] == 1 ? it[i].text : it[i].brief,
                         i == 0 ? ROLE_STATUS | STYLE_BOLD : ROLE_STATUS);
    }
    int rx = width - right_w + 1;
    if (right_w && rx > x) render_text(w, 0, rx, width - rx - 1, right, ROLE_STATUS);
}
