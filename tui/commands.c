/* commands.c — slash commands, one table (tmux's cmd entries): name,
 * arguments, help and a function. The help overlay and Tab completion read
 * the same table, so a command is documented by existing. /set completes
 * setting names from the knobs table and the options table.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

/* ---- the commands ---------------------------------------------------------- */

static int c_model(tui_app *a, const char *args)
{
    if (*args) { tui_load_model(a, args); return TUI_REDRAW; }
    tui_picker_open(a);
    return TUI_REDRAW;
}

/* /set: the panel; /set NAME: show; /set NAME VALUE: change. */
static int c_set(tui_app *a, const char *args)
{
    if (!*args) { tui_knobs_open(a); return TUI_REDRAW; }
    char name[64];
    size_t n = strcspn(args, " \t=");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), args);
    const char *v = args + n;
    while (*v == ' ' || *v == '\t' || *v == '=') v++;
    char err[256];
    if (!*v) {
        const pl_option *o = config_find(name);
        if (!o || !(o->scope & CFG_TUI)) { tui_notice(a, TR_ERROR, "unknown setting '%s' (/set lists them)", name); return TUI_REDRAW; }
        char buf[256];
        tui_status_msg(a, "%s = %s", name, config_get(a->cfg, o, buf, sizeof buf));
        return TUI_REDRAW;
    }
    if (tui_set_option(a, name, v, err, sizeof err) < 0) tui_notice(a, TR_ERROR, "%s", err);
    return TUI_REDRAW;
}

static int c_clear(tui_app *a, const char *args) { tui_clear(a); return TUI_REDRAW; }

/* Default file for /export: data dir, dated. */
static void default_export_path(tui_app *a, const char *ext, char *out, size_t len)
{
    char *dir = a->cfg->data_dir && *a->cfg->data_dir ? strdup(a->cfg->data_dir) : config_default_data_dir();
    char stamp[32];
    time_t t = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
    snprintf(out, len, "%s/chat-%s.%s", dir ? dir : ".", stamp, ext);
    free(dir);
}

/* /save [TITLE]: into the session store (it saves as you go; this names it). */
static int c_save(tui_app *a, const char *args)
{
    if (transcript_last(&a->tr, TR_USER) < 0 && a->sid <= 0) { tui_status_msg(a, "nothing to save yet"); return TUI_REDRAW; }
    tui_sess_save(a, args);
    return TUI_REDRAW;
}

static void expand_home(const char *in, char *out, size_t len);

/* /load: the sidebar; /load ID: resume a session; /load FILE: a conversation
 * parley exported (Markdown or JSON), imported as a new session and resumed
 * with its system prompt and settings. */
static int c_load(tui_app *a, const char *args)
{
    char path[1024], *end;
    if (!*args) { tui_sidebar_open(a); return TUI_REDRAW; }
    long long id = strtoll(args, &end, 10);
    if (!*end && id > 0) { tui_sess_resume(a, id); return TUI_REDRAW; }
    if (!a->store || sess_store_read_only(a->store)) {
        tui_notice(a, TR_ERROR, "cannot load %s: the session store %s", args,
                   a->store ? "is read-only" : "is not open");
        return TUI_REDRAW;
    }
    expand_home(args, path, sizeof path);
    sess_status st;
    int64_t sid = sess_import_file(a->store, path, &st);
    if (sid < 0) {
        tui_notice(a, TR_ERROR, "cannot load %s (/load takes a session id from Ctrl-B, or a file "
                   "/export wrote)", st.msg);
        return TUI_REDRAW;
    }
    tui_sess_resume(a, sid);
    tui_notice(a, TR_NOTICE, "loaded %s as session %lld", path, (long long)sid);
    return TUI_REDRAW;
}

/* "~" or "~/x" typed in a command means the home folder, as in a shell. */
static void expand_home(const char *in, char *out, size_t len)
{
    const char *home = getenv("HOME");
    if (in[0] == '~' && (in[1] == '/' || !in[1]) && home && *home) snprintf(out, len, "%s%s", home, in + 1);
    else snprintf(out, len, "%s", in);
}

/* /export md|json [FILE] (flags 0) and /export! (SESS_WRITE_FORCE): the session as
 * Markdown or JSON (Markdown also unsaved), through the store's safe writer. */
static int export_run(tui_app *a, const char *args, unsigned flags)
{
    char fmt[8] = "", path[1024];
    int n = 0;
    sscanf(args, "%7s %n", fmt, &n);
    bool md = strcmp(fmt, "md") == 0, json = strcmp(fmt, "json") == 0;
    if (!md && !json) { tui_notice(a, TR_ERROR, "usage: /export md|json [FILE], /export! md|json FILE"); return TUI_REDRAW; }
    if (args[n]) expand_home(args + n, path, sizeof path);
    else default_export_path(a, fmt, path, sizeof path);
    bool saved = a->sid > 0 && a->store;
    if (!saved && json) {
        tui_notice(a, TR_ERROR, "JSON export needs a saved session (this one is not in the store)");
        return TUI_REDRAW;
    }
    sess_status st;
    int rc = saved ? sess_export_file(a->store, a->sid, json, path, flags, &st)
                   : transcript_export_md(&a->tr, path, flags, &st);
    if (rc == 0 && saved) tui_notice(a, TR_NOTICE, "exported session %lld to %s", (long long)a->sid, path);
    else if (rc == 0) tui_notice(a, TR_NOTICE, "exported to %s", path);
    else if (st.code == SESS_ERR_EXISTS)
        tui_notice(a, TR_ERROR, "%s exists - not overwritten; /export! %s %s replaces it", path, fmt,
                   args[n] ? args + n : path);
    else tui_notice(a, TR_ERROR, "cannot export: %s", st.msg);
    return TUI_REDRAW;
}

static int c_export(tui_app *a, const char *args) { return export_run(a, args, 0); }
static int c_export_force(tui_app *a, const char *args) { return export_run(a, args, SESS_WRITE_FORCE); }

static int c_sessions(tui_app *a, const char *args) { tui_sidebar_open(a); return TUI_REDRAW; }

static int c_system(tui_app *a, const char *args)
{
    char err[256];
    if (!*args) {
        tui_notice(a, TR_NOTICE, "system prompt: %s", a->cfg->system && *a->cfg->system ? a->cfg->system : "(none)");
        return TUI_REDRAW;
    }
    if (tui_set_option(a, "system", args, err, sizeof err) < 0) tui_notice(a, TR_ERROR, "%s", err);
    else tui_notice(a, TR_NOTICE, "system prompt set; it applies from your next message");
    if (a->sid > 0 && a->store && !a->save_off) sess_set_system(a->store, a->sid, args, NULL);
    return TUI_REDRAW;
}

static int c_stats(tui_app *a, const char *args)
{
    if (!a->have_last) { tui_notice(a, TR_NOTICE, "no answer yet"); return TUI_REDRAW; }
    const pl_gen_stats *s = &a->last;
    tui_notice(a, TR_NOTICE,
               "last answer: %d prompt tokens (%d reused from the cache), prefill %.1f tok/s; "
               "%d tokens at %.1f tok/s; context %d/%d%s%s",
               s->n_prompt, s->n_reused, s->prefill_tps, s->n_gen, s->gen_tps, s->n_ctx_used, s->n_ctx,
               s->cancelled ? "; stopped by you" : "", s->n_dropped_turns ? "; oldest turns dropped" : "");
    return TUI_REDRAW;
}

static int c_regen(tui_app *a, const char *args) { tui_regenerate(a); return TUI_REDRAW; }
static int c_edit(tui_app *a, const char *args) { tui_edit_last(a); return TUI_REDRAW; }

/* /copy: the last answer; /copy code: its last code block. */
static int c_copy(tui_app *a, const char *args)
{
    int i = transcript_last(&a->tr, TR_ASSISTANT);
    if (i < 0) { tui_status_msg(a, "nothing to copy yet"); return TUI_REDRAW; }
    const tr_msg *m = &a->tr.msgs[i];
    char *code = strncmp(args, "code", 4) == 0 ? layout_code_block(m->text, m->len, -1) : NULL;
    if (strncmp(args, "code", 4) == 0 && !code) { tui_status_msg(a, "the last answer has no code block"); return TUI_REDRAW; }
    const char *text = code ? code : m->text;
    size_t len = code ? strlen(code) : m->len;
    char said[160];
    tui_clipboard_copy(text, len, said, sizeof said);
    tui_status_msg(a, "%s", said);
    free(code);
    return TUI_REDRAW;
}

static int c_help(tui_app *a, const char *args) { a->help_top = 0; tui_open(a, &tui_help_view); return TUI_REDRAW; }
static int c_quit(tui_app *a, const char *args) { return TUI_QUIT; }

const tui_command tui_commands[] = {
    {"model", "[PATH|NAME]", "pick a model (Ctrl-O), or load one (if it fails, the model in use stays)", c_model},
    {"set", "[NAME [VALUE]]", "settings panel (F2), show or change one", c_set},
    {"clear", "", "start a new conversation", c_clear},
    {"save", "[TITLE]", "keep this session in the store (saved as you go), name it", c_save},
    {"load", "[ID|FILE]", "resume session ID (none: the list), or import a file /export wrote", c_load},
    {"sessions", "", "saved sessions: resume, rename, delete, search (Ctrl-B)", c_sessions},
    {"export", "md|json [FILE]", "write this session as Markdown or JSON (never over a file)", c_export},
    {"export!", "md|json FILE", "the same, replacing FILE if it exists", c_export_force},
    {"system", "[TEXT]", "show or set the system prompt", c_system},
    {"stats", "", "tokens, speed and context of the last answer", c_stats},
    {"regen", "", "regenerate the last answer (Ctrl-R)", c_regen},
    {"edit", "", "edit your last message and resend it", c_edit},
    {"copy", "[code]", "copy the last answer or its last code block", c_copy},
    {"help", "", "keys and commands (F1)", c_help},
    {"quit", "", "leave parley", c_quit},
    {"bye", "", "leave parley (as in Ollama)", c_quit},
    {"exit", "", "leave parley", c_quit},
};
const int tui_n_commands = (int)(sizeof tui_commands / sizeof tui_commands[0]);

/* Run "/name args"; unknown names get a message, never silence. */
int tui_command_run(tui_app *a, const char *line)
{
    const char *p = line + 1;
    size_t n = strcspn(p, " \t");
    const char *args = p + n;
    while (*args == ' ' || *args == '\t') args++;
    char trimmed[2048];
    snprintf(trimmed, sizeof trimmed, "%s", args);
    for (size_t e = strlen(trimmed); e > 0 && isspace((unsigned char)trimmed[e - 1]); e--) trimmed[e - 1] = 0;
    for (int i = 0; i < tui_n_commands; i++)
        if (strlen(tui_commands[i].name) == n && strncmp(tui_commands[i].name, p, n) == 0)
            return tui_commands[i].run(a, trimmed);
    tui_notice(a, TR_ERROR, "unknown command '/%.*s' (/help lists them)", (int)n, p);
    return TUI_REDRAW;
}

/* ---- Tab completion -------------------------------------------------------- */

/* Complete word [start, cur) among names; unique: whole + space; else the common prefix. */
static int complete_from(tui_app *a, input *in, size_t start, const char *const *names, int n)
{
    size_t wl = in->cur - start;
    const char *first = NULL;
    size_t common = 0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i], in->buf + start, wl) != 0) continue;
        if (!hits++) { first = names[i]; common = strlen(first); continue; }
        size_t k = 0;
        while (k < common && first[k] == names[i][k]) k++;
        common = k;
    }
    if (!hits) { tui_status_msg(a, "no completion"); return TUI_REDRAW; }
    if (common > wl) input_insert(in, first + wl, common - wl);
    if (hits == 1) input_insert(in, " ", 1);
    else if (common == wl) {
        char list[256] = "";
        size_t used = 0;
        for (int i = 0; i < n && used < sizeof list - 1; i++) {
            if (strncmp(names[i], in->buf + start, wl) != 0) continue;
            int w = snprintf(list + used, sizeof list - used, "%s ", names[i]);
            used = w < 0 || used + (size_t)w >= sizeof list ? sizeof list - 1 : used + (size_t)w;
        }
        tui_status_msg(a, "%s", list);
    }
    return TUI_REDRAW;
}

/* Tab: command names after '/', setting names after "/set ". */
int tui_command_complete(tui_app *a, input *in)
{
    if (in->len == 0 || in->buf[0] != '/' || in->cur != in->len) return TUI_HANDLED;
    const char *names[128];
    int n = 0;
    if (!memchr(in->buf, ' ', in->len)) {
        for (int i = 0; i < tui_n_commands; i++) names[n++] = tui_commands[i].name;
        return complete_from(a, in, 1, names, n);
    }
    if (strncmp(in->buf, "/set ", 5) == 0 && !memchr(in->buf + 5, ' ', in->len - 5)) {
        for (int i = 0; i < pl_n_options && n < 128; i++)
            if (pl_options[i].scope & CFG_TUI) names[n++] = pl_options[i].name;
        return complete_from(a, in, 5, names, n);
    }
    return TUI_HANDLED;
}
