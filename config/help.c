/* help.c — --help text and the man page's OPTIONS section, both from the table,
 * so the documentation cannot drift from what the parser accepts. */
#include <string.h>

#include "config.h"

/* "-t, --threads N" */
static void flag_text(const pl_option *o, char *buf, size_t len)
{
    char sh[8] = "    ";
    if (o->short_flag) snprintf(sh, sizeof sh, "-%c, ", o->short_flag);
    snprintf(buf, len, "%s--%s%s%s", sh, o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
}

/* Default as shown to people: empty strings are left out. */
static const char *default_text(const pl_option *o, char *buf, size_t len)
{
    if (!o->def || !*o->def || (o->kind == OPT_BOOL && strcmp(o->def, "false") == 0)) return "";
    snprintf(buf, len, " [%s]", o->def);
    return buf;
}

/* The words for when a change in the chat applies, one per cfg_live. */
const char *config_live_text(const pl_option *o)
{
    static const char *const text[] = {
        [LIVE_NONE] = NULL, [LIVE_NOW] = "live", [LIVE_CONVERTS] = "live, converts the cache",
        [LIVE_NEXT_MESSAGE] = "next message", [LIVE_NEXT_LOAD] = "next load",
        [LIVE_NOT_YET] = "not supported yet",
    };
    return (unsigned)o->live < sizeof text / sizeof text[0] ? text[o->live] : NULL;
}

/* " (in the chat: live)", " (not supported yet)", or "" for a non-knob. */
static const char *live_suffix(const pl_option *o, char *buf, size_t len)
{
    const char *t = config_live_text(o);
    if (!t) return "";
    snprintf(buf, len, o->live == LIVE_NOT_YET ? " (%s)" : " (in the chat: %s)", t);
    return buf;
}

/* Every option of the scope, one line each. */
void config_print_help(FILE *out, unsigned scope)
{
    char flag[64], def[64], live[64];
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        if (!(o->scope & scope)) continue;
        flag_text(o, flag, sizeof flag);
        fprintf(out, "  %-30s %s%s%s\n", flag, o->help, default_text(o, def, sizeof def),
                live_suffix(o, live, sizeof live));
    }
}

/* Escape roff specials in a help string ('-' and '\\'). */
static void roff_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '-') fputs("\\-", out);
        else if (*s == '\\') fputs("\\e", out);
        else fputc(*s, out);
    }
}

/* One .TP entry per option, with its config key and env var. */
void config_print_man_options(FILE *out)
{
    char def[64], live[64];
    for (int i = 0; i < pl_n_options; i++) {
        const pl_option *o = &pl_options[i];
        fputs(".TP\n", out);
        if (o->short_flag) fprintf(out, "\\fB\\-%c\\fR, ", o->short_flag);
        fputs("\\fB\\-\\-", out);
        roff_text(out, o->name);
        fputs("\\fR", out);
        if (o->metavar) fprintf(out, " \\fI%s\\fR", o->metavar);
        fputc('\n', out);
        roff_text(out, o->help);
        roff_text(out, default_text(o, def, sizeof def));
        roff_text(out, live_suffix(o, live, sizeof live));
        fputs(".\n", out);
        if (o->env) fprintf(out, "Environment: \\fB%s\\fR. ", o->env);
        fputs("Config key: \\fB", out);
        roff_text(out, o->name);
        fputs("\\fR.\n", out);
    }
}
