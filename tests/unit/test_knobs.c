/* test_knobs.c — when a knob change applies is said once, in the options
 * table, and every place a user reads it agrees: the settings panel (F2),
 * --help, the man page and the README's knob table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/tui.h"

/* What f prints, as a malloc'd string. */
static char *capture_help(unsigned scope)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    config_print_help(mem, scope);
    fclose(mem);
    return buf;
}

/* The line of text that starts with the flag "--name " (help) or NULL. */
static const char *help_line(const char *help, const char *name, char *line, size_t cap)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s ", name);
    for (const char *p = help; (p = strstr(p, flag)); p++) {
        const char *bol = p, *eol = strchr(p, '\n');
        while (bol > help && bol[-1] != '\n') bol--;
        size_t n = (size_t)((eol ? eol : p + strlen(p)) - bol);
        snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), bol);
        return line;
    }
    return NULL;
}

/* The panel's label of every knob is the table's, and the table's knobs of
 * the chat are all on the panel. */
Test(knobs, panel_labels_come_from_the_table)
{
    for (int i = 0; i < tui_n_knobs; i++) {
        const pl_option *o = config_find(tui_knobs[i].name);
        cr_assert(o, "panel knob %s is not an option", tui_knobs[i].name);
        const char *want = config_live_text(o);
        cr_assert(want, "%s is on the panel but the table gives it no liveness", o->name);
        cr_expect_str_eq(tui_knob_when(&tui_knobs[i]), want, "%s", o->name);
    }
    for (int i = 0; i < pl_n_options; i++)
        if (pl_options[i].live != LIVE_NONE && (pl_options[i].scope & CFG_TUI))
            cr_expect(tui_knob_find(pl_options[i].name), "%s is a knob but not on the panel",
                      pl_options[i].name);
}

/* What is not wired into the engine says so everywhere. */
Test(knobs, unsupported_knobs_say_so)
{
    const char *not_yet[] = { "n-gpu-layers", "draft-model", "draft-max" };
    for (int i = 0; i < 3; i++) {
        const tui_knob *k = tui_knob_find(not_yet[i]);
        cr_assert(k);
        cr_expect_str_eq(tui_knob_when(k), "not supported yet", "%s", not_yet[i]);
    }
    cr_expect_str_eq(tui_knob_when(tui_knob_find("cache-type-k")), "live, converts the cache");
    cr_expect_str_eq(tui_knob_when(tui_knob_find("ctx-size")), "next load");
    cr_expect_str_eq(tui_knob_when(tui_knob_find("temp")), "live");
}

/* --help (chat and run) and the man page show each knob's liveness. */
Test(knobs, help_and_man_show_liveness)
{
    char *help = capture_help(CFG_TUI), *run = capture_help(CFG_RUN), line[512];
    char *roff = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&roff, &len);
    config_print_man_options(mem);
    fclose(mem);
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        const char *want = config_live_text(o);
        if (!want) continue;
        cr_assert(help_line(help, o->name, line, sizeof line), "--%s missing from --help", o->name);
        cr_expect(strstr(line, want), "--help line of %s does not say '%s': %s", o->name, want, line);
        if (help_line(run, o->name, line, sizeof line))
            cr_expect(strstr(line, want), "run --help line of %s does not say '%s'", o->name, want);
    }
    cr_expect(strstr(roff, "not supported yet"), "the man page says nothing is unsupported");
    cr_expect_not(strstr(help, "live in the TUI"), "--help still claims a live GPU offload");
    free(help), free(run), free(roff);
}

/* The README's knob table puts every knob in the row of its liveness. */
Test(knobs, readme_table_agrees)
{
    const char *src = getenv("PARLEY_SRC");
    char path[1024], row[64], name[80];
    snprintf(path, sizeof path, "%s/README.md", src ? src : ".");
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    static char text[1 << 17];
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
    for (int i = 0; i < tui_n_knobs; i++) {
        const char *want = tui_knob_when(&tui_knobs[i]);
        snprintf(name, sizeof name, "`%s`", tui_knobs[i].name);
        snprintf(row, sizeof row, "| %s |\n", want);
        bool found = false;
        for (const char *p = text; (p = strstr(p, "\n| `")) && !found; p++) {
            const char *eol = strchr(p + 1, '\n');
            size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p + 1);
            char *at = strstr(line, name);
            found = at && (at[strlen(name)] == ',' || at[strlen(name)] == ' ') && strstr(line, row);
        }
        cr_expect(found, "README's knob table has no row '%s ... %s'", name, row);
    }
}
