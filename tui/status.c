/* status.c — the status line: what the engine is doing and with what.
 *
 * Items (state, model, context used/total, "not saved" when the session store
 * cannot be written, speed, threads, offload, KV types, draft, temperature)
 * each have a priority; on a narrow terminal the least important go first,
 * so 40 columns still show state, model and context.
 * A transient message (kilo's status message) takes the right-hand side and
 * expires. Loading shows a bar: a real one when the worker reports progress,
 * a moving block when it cannot (the engine has no load-progress hook).
 */
#include <stdio.h>
#include <string.h>

#include "tui.h"

typedef struct item {
    char text[96];
    int  prio;      /* lower = dropped first */
} item;

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

/* Short model name: the file name without .gguf (what the user picked), cut to max columns. */
static void model_name(tui_app *a, char *out, size_t len, int max)
{
    const char *p = strrchr(a->model_path, '/');
    snprintf(out, len, "%.60s", p ? p + 1 : a->model_path[0] ? a->model_path : "no model");
    char *dot = strstr(out, ".gguf");
    if (dot) *dot = 0;
    size_t n = strlen(out);
    while (n > 0 && tui_str_width(out, n) > max) {
        do n--; while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80);
    }
    out[n] = 0;
}

/* The items, in display order. */
static int status_items(tui_app *a, item *it, int width)
{
    int n = 0;
    char bar[16], name[64];
    model_name(a, name, sizeof name, width - 50 > 10 ? width - 50 : 10);
    if (a->loading) {
        progress_bar(bar, sizeof bar, a->load_progress, tui_now());
        snprintf(it[n].text, sizeof it[n].text, "loading %s", bar);
    } else if (a->restoring && !a->generating) {
        progress_bar(bar, sizeof bar, a->restore_progress, tui_now());
        snprintf(it[n].text, sizeof it[n].text, "resuming %s", bar);
    } else {
        snprintf(it[n].text, sizeof it[n].text, "%s", a->generating ? "answering" : a->es.loaded ? "ready" : "no model");
    }
    it[n++].prio = 10;
    bool has_quant = a->es.loaded && a->es.info.ftype[0] && strcasestr(name, a->es.info.ftype);
    snprintf(it[n].text, sizeof it[n].text, "%s%s%s", name, a->es.loaded && !has_quant ? " " : "",
             a->es.loaded && !has_quant ? a->es.info.ftype : "");
    it[n++].prio = 8;
    snprintf(it[n].text, sizeof it[n].text, "ctx %d/%d", a->es.n_ctx_used, a->es.n_ctx);
    it[n++].prio = 9;
    if (a->save_off) {   /* the user must know the conversation is not being kept */
        snprintf(it[n].text, sizeof it[n].text, "not saved");
        it[n++].prio = 9;
    }
    if (a->have_last) {
        snprintf(it[n].text, sizeof it[n].text, "%.1f tok/s", a->last.gen_tps);
        it[n++].prio = 6;
    }
    snprintf(it[n].text, sizeof it[n].text, "temp %g", (double)a->cfg->temp);
    it[n++].prio = 5;
    snprintf(it[n].text, sizeof it[n].text, "t%d", a->es.n_threads ? a->es.n_threads : a->cfg->threads);
    it[n++].prio = 4;
    snprintf(it[n].text, sizeof it[n].text, "ngl %d", a->es.loaded ? a->es.n_gpu_layers : a->cfg->n_gpu_layers);
    it[n++].prio = 3;
    const char *tk = a->es.loaded ? pl_type_name(a->es.type_k) : a->cfg->cache_type_k;
    const char *tv = a->es.loaded ? pl_type_name(a->es.type_v) : a->cfg->cache_type_v;
    snprintf(it[n].text, sizeof it[n].text, "kv %s/%s", tk ? tk : "?", tv ? tv : "?");
    it[n++].prio = 2;
    snprintf(it[n].text, sizeof it[n].text, "draft %s",
             a->cfg->draft_model && a->cfg->draft_model[0] ? "n/a" : "off");
    it[n++].prio = 1;
    return n;
}

/* Draw the line: items that fit, then the message or the F1 hint at the right. */
void status_draw(tui_app *a, WINDOW *w)
{
    int width = getmaxx(w);
    item it[16];
    int n = status_items(a, it, width);
    const char *right = a->status_msg[0] && tui_now() < a->status_until ? a->status_msg
                      : width >= 60 ? "F1 help" : "";
    int right_w = right[0] ? tui_str_width(right, strlen(right)) + 2 : 0;
    if (right_w > width / 2 && a->status_until > 0 && right != a->status_msg) right_w = width / 2;
    if (right == a->status_msg && right_w > width * 2 / 3) right_w = width * 2 / 3;
    bool keep[16];
    for (int i = 0; i < n; i++) keep[i] = true;
    for (int prio = 0; prio <= 10; prio++) {
        int total = 1;
        for (int i = 0; i < n; i++) if (keep[i]) total += tui_str_width(it[i].text, strlen(it[i].text)) + 3;
        if (total + right_w <= width) break;
        for (int i = 0; i < n; i++) if (it[i].prio == prio) keep[i] = false;
    }
    wbkgdset(w, ' ' | render_attr(ROLE_STATUS));
    werase(w);
    int x = 1;
    for (int i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (x > 1) x += render_text(w, 0, x, width - x, " | ", ROLE_STATUS);
        x += render_text(w, 0, x, width - x, it[i].text, i == 0 ? ROLE_STATUS | STYLE_BOLD : ROLE_STATUS);
    }
    int rx = width - right_w + 1;
    if (right_w && rx > x) render_text(w, 0, rx, width - rx - 1, right, ROLE_STATUS);
}
