/* sess_settings.c — a session's settings come back with it.
 *
 * The store keeps the knobs a session ran with (a JSON object, sessions/) and
 * its system prompt. Resuming it (--continue, --resume ID, the sidebar, /load)
 * brings back those that shape the conversation and its KV cache: context
 * size, K/V cache types, sampling, n-predict, context policy, chat template,
 * stop strings and the system prompt, so its snapshot fits and loads at once.
 * Knobs about this machine (threads, batch size, GPU layers, mmap, the draft
 * model) stay as they are here. A flag given on this command line wins over
 * the session's value, and a notice says so; the config file and PARLEY_*
 * variables are defaults for new sessions only.
 *
 * At startup the session's settings go into the config before the model is
 * loaded, so the context is made with them; later (sidebar, /load) they are
 * applied live, as /set would. What was applied is said once, after the
 * session's own notice (a->resume_note carries it until then).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* How fast, on this machine: never taken from a session. */
static bool machine_knob(const pl_option *o)
{
    static const char *const names[] = {"threads", "batch-size", "n-gpu-layers", "mmap", "draft-model", "draft-max"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(o->name, names[i]) == 0) return true;
    return false;
}

typedef struct restore_job {
    tui_app  *a;
    bool      live;       /* as /set (a model is loaded or loading), else into the config only */
    pl_config want;       /* the session's values, checked through the options table */
    char      set[400], kept[400], bad[300];
    char     *v_want, *v_have;   /* values as text, VALUE_MAX each (stop strings can be long) */
} restore_job;

#define VALUE_MAX (64 << 10)

/* Append one item to a ", "-separated list (cut, never overflowing). */
static void list_add(char *list, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void list_add(char *list, size_t len, const char *fmt, ...)
{
    size_t used = strlen(list);
    if (used && used + 3 < len) { memcpy(list + used, ", ", 3); used += 2; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(list + used, len - used, fmt, ap);
    va_end(ap);
}

/* Set one knob now (live: the worker hears of it too). */
static int restore_set(restore_job *j, const pl_option *o, const char *value, char *msg, size_t len)
{
    if (j->live) return tui_set_option(j->a, o->name, value, msg, len);
    return config_set(j->a->cfg, o, value, msg, len);
}

/* sess_setting_fn: one stored knob, applied unless it is equal, ours, or given as a flag. */
static int restore_one(void *ctx, const pl_option *o, const char *value, char *err, size_t errlen)
{
    restore_job *j = ctx;
    char *want = j->v_want, *have = j->v_have, msg[256];
    if (machine_knob(o) || !(o->scope & CFG_TUI)) return 0;
    if (config_set(&j->want, o, value, msg, sizeof msg) < 0) { list_add(j->bad, sizeof j->bad, "%s", msg); return 0; }
    config_get(&j->want, o, want, VALUE_MAX);
    config_get(j->a->cfg, o, have, VALUE_MAX);
    if (strcmp(want, have) == 0) return 0;
    if (config_from_cli(j->a->cfg, o)) {
        list_add(j->kept, sizeof j->kept, "%s %.40s (the session had %.40s)", o->name, have, want);
        return 0;
    }
    if (restore_set(j, o, want, msg, sizeof msg) < 0) list_add(j->bad, sizeof j->bad, "%s", msg);
    else list_add(j->set, sizeof j->set, "%s %.40s", o->name, want);
    return 0;
}

/* The system prompt: the session's, unless --system was given. */
static void restore_system(restore_job *j, const char *system)
{
    const pl_option *o = config_find("system");
    const char *now = j->a->cfg->system ? j->a->cfg->system : "";
    char msg[256];
    if (!o || strcmp(now, system) == 0) return;
    if (config_from_cli(j->a->cfg, o)) list_add(j->kept, sizeof j->kept, "the system prompt");
    else if (restore_set(j, o, system, msg, sizeof msg) < 0) list_add(j->bad, sizeof j->bad, "%s", msg);
    else list_add(j->set, sizeof j->set, "%s", *system ? "its system prompt" : "no system prompt");
}

void tui_sess_settings_restore(tui_app *a, const sess_info *info, bool live)
{
    restore_job j = {.a = a, .live = live, .v_want = malloc(VALUE_MAX), .v_have = malloc(VALUE_MAX)};
    char err[256];
    config_init(&j.want);
    if (!j.v_want || !j.v_have) snprintf(j.bad, sizeof j.bad, "out of memory");
    else if (sess_settings_each(info->settings, restore_one, &j, err, sizeof err) < 0)
        list_add(j.bad, sizeof j.bad, "%s", err);
    restore_system(&j, info->system_prompt);
    config_free(&j.want);
    free(j.v_want);
    free(j.v_have);
    const char *const parts[][2] = {{"this session's settings are back: ", j.set},
                                    {"kept from the command line: ", j.kept}, {"not applied: ", j.bad}};
    char *note = a->resume_note;
    note[0] = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t used = strlen(note);
        if (parts[i][1][0])
            snprintf(note + used, sizeof a->resume_note - used, "%s%s%s", used ? "; " : "", parts[i][0], parts[i][1]);
    }
}
