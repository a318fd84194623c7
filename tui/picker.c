/* picker.c — the model picker (Ctrl-O, /model): the GGUF files the engine's
 * catalog finds (parley's models dir, extra paths, Ollama, the HF cache...)
 * with where each was found (its source), architecture, size, quantization,
 * context and whether it fits in RAM.
 * Models the engine cannot run are greyed with the reason. Enter queues a
 * LOAD on the worker; the status line shows the progress bar.
 * The scan reads headers only (milliseconds), so it runs on opening.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* The model given with -m is listed even when it lies outside the scanned directories. */
static void picker_add_current(tui_app *a)
{
    pl_model_entry *e = realloc(a->pk_entries, sizeof *e * (size_t)(a->pk_n + 1));
    if (!e) return;
    a->pk_entries = e;
    memmove(e + 1, e, sizeof *e * (size_t)a->pk_n);
    pl_catalog_inspect(a->model_path, &e[0]);
    a->pk_n++;
    a->pk_sel = 0;
}

void tui_picker_open(tui_app *a)
{
    pl_catalog_free(a->pk_entries);
    a->pk_entries = NULL;
    a->pk_n = a->pk_sel = a->pk_top = 0;
    a->pk_err[0] = 0;
    pl_status st;
    int n = pl_catalog_scan(a->cfg->models_dir, a->cfg->model_paths, &a->pk_entries, &st);
    if (n < 0) snprintf(a->pk_err, sizeof a->pk_err, "scan failed: %.200s", st.msg);
    a->pk_n = n > 0 ? n : 0;
    for (int i = 0; i < a->pk_n; i++)
        if (strcmp(a->pk_entries[i].path, a->model_path) == 0) a->pk_sel = i;
    if (a->model_path[0] && (a->pk_sel == 0 && (a->pk_n == 0 || strcmp(a->pk_entries[0].path, a->model_path) != 0)))
        picker_add_current(a);
    tui_open(a, &tui_picker_view);
}

/* One row: name, where it was found (parley, ollama, hf, llama.cpp, lmstudio, path), arch,
 * params, quant, size, context, fits. */
static void picker_row(const pl_model_entry *e, char *buf, size_t len, int name_w)
{
    char params[16], size[24], ctx[16];
    pl_catalog_fmt_params(e->n_params, params, sizeof params);
    pl_catalog_fmt_size(e->file_size, size, sizeof size);
    snprintf(ctx, sizeof ctx, "%u", e->n_ctx_train);
    const char *name = e->display[0] ? e->display : e->name;
    snprintf(buf, len, "%-*.*s %-9.9s %-8.8s %6s %-7.7s %10s %6s %s", name_w, name_w, name, e->source,
             e->arch[0] ? e->arch : "?",
             params, e->quant[0] ? e->quant : "?", size, e->n_ctx_train ? ctx : "?",
             !e->supported ? "n/a" : e->fits_ram ? "fits" : "big");
}

static void picker_draw(tui_app *a)
{
    int w = a->cols - 4 > 110 ? 110 : a->cols - 2, list_h = a->rows - 8 > 4 ? a->rows - 8 : 2;
    if (list_h > a->pk_n + 1) list_h = a->pk_n + 1 > 2 ? a->pk_n + 1 : 2;
    WINDOW *win = render_overlay(a, list_h + 5, w, "Models - Enter loads, Esc closes");
    if (!win) return;
    int iw = getmaxx(win) - 4, name_w = iw - 57 > 8 ? iw - 57 : 8, rows = getmaxy(win) - 5;
    char buf[512];
    snprintf(buf, sizeof buf, "%-*s %-9s %-8s %6s %-7s %10s %6s %s", name_w, "model", "source", "arch", "params", "quant",
             "size", "ctx", "ram");
    render_text(win, 1, 2, iw, buf, ROLE_DIM | STYLE_BOLD);
    if (a->pk_n == 0) {
        render_text(win, 2, 2, iw, a->pk_err[0] ? a->pk_err : "no GGUF models found (make model fetches the default)", ROLE_NOTICE);
        return;
    }
    if (a->pk_sel < a->pk_top) a->pk_top = a->pk_sel;
    if (a->pk_sel >= a->pk_top + rows) a->pk_top = a->pk_sel - rows + 1;
    for (int r = 0; r < rows && a->pk_top + r < a->pk_n; r++) {
        int i = a->pk_top + r;
        const pl_model_entry *e = &a->pk_entries[i];
        picker_row(e, buf, sizeof buf, name_w);
        uint8_t st = i == a->pk_sel ? ROLE_SELECT : e->supported ? ROLE_NORMAL : ROLE_DIM;
        if (i == a->pk_sel) mvwhline(win, 2 + r, 1, ' ' | render_attr(ROLE_SELECT), getmaxx(win) - 2);
        render_text(win, 2 + r, 2, iw, buf, st);
    }
    const pl_model_entry *e = &a->pk_entries[a->pk_sel];
    snprintf(buf, sizeof buf, "%.500s", e->supported ? e->path : e->reason);
    render_text(win, getmaxy(win) - 2, 2, iw, buf, e->supported ? ROLE_DIM : ROLE_ERROR);
}

static int picker_key(tui_app *a, tui_key k)
{
    if (!k.is_key && (k.code == 27 || k.code == TUI_CTRL('c') || k.code == 'q')) a->overlay = NULL;
    else if (k.is_key && k.code == KEY_UP && a->pk_sel > 0) a->pk_sel--;
    else if (k.is_key && k.code == KEY_DOWN && a->pk_sel + 1 < a->pk_n) a->pk_sel++;
    else if (k.is_key && k.code == KEY_PPAGE) a->pk_sel = a->pk_sel > 10 ? a->pk_sel - 10 : 0;
    else if (k.is_key && k.code == KEY_NPAGE) a->pk_sel = a->pk_sel + 10 < a->pk_n ? a->pk_sel + 10 : (a->pk_n ? a->pk_n - 1 : 0);
    else if ((k.code == '\r' || k.code == '\n' || (k.is_key && k.code == KEY_ENTER)) && a->pk_n > 0) {
        const pl_model_entry *e = &a->pk_entries[a->pk_sel];
        if (!e->supported) {
            tui_status_msg(a, "cannot load: %s", e->reason);
        } else {
            a->overlay = NULL;
            tui_load_model_as(a, e->path, e->display);
        }
    }
    return TUI_HANDLED | TUI_REDRAW;
}

const tui_view tui_picker_view = {"picker", picker_key, picker_draw};
