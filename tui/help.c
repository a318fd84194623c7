/* help.c — the F1 / ? overlay: keys and commands, read from the same tables
 * the chat view and the command line run on, so the help cannot go stale.
 * Up/Down/PgUp/PgDn scroll it; any other key closes it.
 */
#include <stdio.h>
#include <string.h>

#include "tui.h"

/* Row i of the help text into buf with its style; false past the end. */
static bool help_row(int i, char *buf, size_t len, uint8_t *style)
{
    *style = ROLE_NORMAL;
    if (i == 0) { snprintf(buf, len, "Keys"); *style = ROLE_USER | STYLE_BOLD; return true; }
    i--;
    if (i < tui_n_bindings) { snprintf(buf, len, "  %-28s %s", tui_bindings[i].keys, tui_bindings[i].what); return true; }
    i -= tui_n_bindings;
    if (i == 0) { buf[0] = 0; return true; }
    if (i == 1) { snprintf(buf, len, "Commands"); *style = ROLE_USER | STYLE_BOLD; return true; }
    i -= 2;
    if (i < tui_n_commands) {
        char head[48];
        snprintf(head, sizeof head, "/%s %s", tui_commands[i].name, tui_commands[i].args);
        snprintf(buf, len, "  %-28s %s", head, tui_commands[i].help);
        return true;
    }
    return false;
}

static int help_rows(void) { return 1 + tui_n_bindings + 2 + tui_n_commands; }

static void help_draw(tui_app *a)
{
    int h = help_rows() + 3, w = 88;
    WINDOW *win = render_overlay(a, h, w, "Help - Esc closes");
    if (!win) return;
    int ih = getmaxy(win) - 2, iw = getmaxx(win) - 4, max_top = help_rows() - ih;
    if (a->help_top > max_top) a->help_top = max_top > 0 ? max_top : 0;
    char buf[256];
    uint8_t style;
    for (int r = 0; r < ih && help_row(a->help_top + r, buf, sizeof buf, &style); r++)
        render_text(win, 1 + r, 2, iw, buf, style);
    if (max_top > 0) render_text(win, getmaxy(win) - 1, 2, iw, " Up/Down scroll ", ROLE_DIM);
}

static int help_key(tui_app *a, tui_key k)
{
    if (k.is_key && (k.code == KEY_UP || k.code == KEY_PPAGE)) { a->help_top -= k.code == KEY_UP ? 1 : 10; }
    else if (k.is_key && (k.code == KEY_DOWN || k.code == KEY_NPAGE)) { a->help_top += k.code == KEY_DOWN ? 1 : 10; }
    else a->overlay = NULL;
    if (a->help_top < 0) a->help_top = 0;
    return TUI_HANDLED | TUI_REDRAW;
}

const tui_view tui_help_view = {"help", help_key, help_draw};
