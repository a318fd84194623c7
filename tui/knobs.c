/* knobs.c — the settings panel (F2, /set with no arguments).
 *
 * Rows are settings from the one options table (config/options.c); this file
 * only says which ones the panel shows and, honestly, when a change takes
 * effect: live (between two tokens), from the next message, on the next model
 * load, or not supported by the engine yet. Left/Right step numbers and
 * cycle choices; Enter edits the value as text. Every change goes through
 * tui_set_option, the same path as /set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

const tui_knob tui_knobs[] = {
    {"temp", "live", true},              {"top-k", "live", true},
    {"top-p", "live", true},             {"min-p", "live", true},
    {"seed", "live", true},              {"repeat-penalty", "live", true},
    {"repeat-last-n", "live", true},     {"frequency-penalty", "live", true},
    {"presence-penalty", "live", true},  {"n-predict", "live", true},
    {"threads", "live", true},           {"context-policy", "live", true},
    {"system", "next message", false},   {"chat-template", "next message", false},
    {"stop", "next message", false},     {"ctx-size", "next load", true},
    {"batch-size", "next load", true},   {"n-gpu-layers", "next load", true},
    {"mmap", "next load", true},
    {"cache-type-k", "live", true},      {"cache-type-v", "live", true},
    {"draft-model", "not supported yet", true}, {"draft-max", "not supported yet", true},
};
const int tui_n_knobs = (int)(sizeof tui_knobs / sizeof tui_knobs[0]);

const tui_knob *tui_knob_find(const char *name)
{
    for (int i = 0; i < tui_n_knobs; i++)
        if (strcmp(tui_knobs[i].name, name) == 0) return &tui_knobs[i];
    return NULL;
}

void tui_knobs_open(tui_app *a)
{
    a->kb_editing = false;
    tui_open(a, &tui_knobs_view);
}

static void knobs_draw(tui_app *a)
{
    int h = tui_n_knobs + 4, w = 76;
    WINDOW *win = render_overlay(a, h, w, "Settings - Enter edit, Left/Right step, Esc close");
    if (!win) return;
    int rows = getmaxy(win) - 4, iw = getmaxx(win) - 4, top = a->kb_sel >= rows ? a->kb_sel - rows + 1 : 0;
    char val[256], buf[512];
    for (int r = 0; r < rows && top + r < tui_n_knobs; r++) {
        int i = top + r;
        const pl_option *o = config_find(tui_knobs[i].name);
        if (!o) continue;
        config_get(a->cfg, o, val, sizeof val);
        if (strcmp(o->name, "threads") == 0 && strcmp(val, "0") == 0 && a->es.n_threads > 0)
            snprintf(val, sizeof val, "%d (0: all cores)", a->es.n_threads);   /* what runs, not "0" */
        bool sel = i == a->kb_sel;
        if (sel && a->kb_editing) snprintf(val, sizeof val, "%.200s_", a->kb_buf);
        snprintf(buf, sizeof buf, "%-18s %-24.24s %s", o->name, val[0] ? val : "-", tui_knobs[i].when);
        if (sel) mvwhline(win, 1 + r, 1, ' ' | render_attr(ROLE_SELECT), getmaxx(win) - 2);
        render_text(win, 1 + r, 2, iw, buf, sel ? ROLE_SELECT : strstr(tui_knobs[i].when, "not") ? ROLE_DIM : ROLE_NORMAL);
    }
    const pl_option *o = config_find(tui_knobs[a->kb_sel].name);
    render_text(win, getmaxy(win) - 2, 2, iw, o ? o->help : "", ROLE_DIM);
}

/* Left/Right: numbers by a step, choices cycle, booleans flip. */
static void knob_step(tui_app *a, const pl_option *o, int dir)
{
    char cur[256], next[256], err[256];
    config_get(a->cfg, o, cur, sizeof cur);
    if (o->kind == OPT_INT || o->kind == OPT_I64) {
        long long step = o->max - o->min > 1000 ? (strcmp(o->name, "ctx-size") == 0 ? 512 : 1) : 1;
        long long v = strtoll(cur, NULL, 10) + dir * step;
        snprintf(next, sizeof next, "%lld", v < o->min ? (long long)o->min : v > o->max ? (long long)o->max : v);
    } else if (o->kind == OPT_FLOAT) {
        double v = strtod(cur, NULL) + dir * 0.05;
        snprintf(next, sizeof next, "%.2f", v < o->min ? o->min : v > o->max ? o->max : v);
    } else if (o->kind == OPT_ENUM) {
        char choices[256];
        const char *c[16];
        int n = 0, at = 0;
        snprintf(choices, sizeof choices, "%s", o->choices);
        for (char *s = strtok(choices, "|"); s && n < 16; s = strtok(NULL, "|")) c[n++] = s;
        for (int i = 0; i < n; i++) if (strcmp(c[i], cur) == 0) at = i;
        snprintf(next, sizeof next, "%s", c[(at + dir + n) % n]);
    } else if (o->kind == OPT_BOOL) {
        snprintf(next, sizeof next, "%s", strcmp(cur, "true") == 0 ? "false" : "true");
    } else {
        return;
    }
    if (tui_set_option(a, o->name, next, err, sizeof err) < 0) tui_status_msg(a, "%s", err);
}

/* Editing a value as text: Enter applies, Esc abandons. */
static int knobs_edit_key(tui_app *a, tui_key k, const pl_option *o)
{
    size_t n = strlen(a->kb_buf);
    char err[256];
    if (!k.is_key && k.code == 27) a->kb_editing = false;
    else if ((!k.is_key && k.code == '\r') || (k.is_key && k.code == KEY_ENTER)) {
        a->kb_editing = false;
        if (tui_set_option(a, o->name, a->kb_buf, err, sizeof err) < 0) tui_notice(a, TR_ERROR, "%s", err);
    } else if ((k.is_key && k.code == KEY_BACKSPACE) || (!k.is_key && (k.code == 127 || k.code == 8))) {
        while (n > 0 && ((unsigned char)a->kb_buf[n - 1] & 0xC0) == 0x80) n--;
        if (n > 0) n--;
        a->kb_buf[n] = 0;
    } else if (!k.is_key && !k.alt && k.code >= 0x20 && n + 5 < sizeof a->kb_buf) {
        wchar_t wc[2] = {(wchar_t)k.code, 0};
        char mb[8];
        size_t m = wcstombs(mb, wc, sizeof mb);
        if (m != (size_t)-1) { memcpy(a->kb_buf + n, mb, m); a->kb_buf[n + m] = 0; }
    }
    return TUI_HANDLED | TUI_REDRAW;
}

static int knobs_key(tui_app *a, tui_key k)
{
    const pl_option *o = config_find(tui_knobs[a->kb_sel].name);
    if (a->kb_editing && o) return knobs_edit_key(a, k, o);
    if (!k.is_key && (k.code == 27 || k.code == 'q' || k.code == TUI_CTRL('c'))) a->overlay = NULL;
    else if (k.is_key && k.code == KEY_F(2)) a->overlay = NULL;
    else if (k.is_key && k.code == KEY_UP) a->kb_sel = (a->kb_sel + tui_n_knobs - 1) % tui_n_knobs;
    else if (k.is_key && k.code == KEY_DOWN) a->kb_sel = (a->kb_sel + 1) % tui_n_knobs;
    else if (k.is_key && (k.code == KEY_LEFT || k.code == KEY_RIGHT) && o) knob_step(a, o, k.code == KEY_LEFT ? -1 : 1);
    else if (((!k.is_key && k.code == '\r') || (k.is_key && k.code == KEY_ENTER)) && o) {
        config_get(a->cfg, o, a->kb_buf, sizeof a->kb_buf);
        a->kb_editing = true;
    }
    return TUI_HANDLED | TUI_REDRAW;
}

const tui_view tui_knobs_view = {"knobs", knobs_key, knobs_draw};
