/* harness.c — see harness.h. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char home[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

vt_term *parley_start(int rows, int cols, const parley_opts *o)
{
    static const parley_opts none;
    if (!o) o = &none;
    const char *bin = getenv("PARLEY_BIN"), *model = getenv("PARLEY_MODEL");
    if (!bin || !*bin) cr_assert_fail("PARLEY_BIN is not set: run the TUI tests with `make test-tui`");
    if (access(bin, X_OK) != 0) cr_assert_fail("PARLEY_BIN=%s is not an executable: run `make parley`", bin);
    if (!o->no_model && (!model || access(model, R_OK) != 0))
        cr_assert_fail("PARLEY_MODEL (%s) is not readable: run `make model` (or make test-tui)", model ? model : "unset");
    if (o->home) snprintf(home, sizeof home, "%s", o->home);
    else {
        snprintf(home, sizeof home, "/tmp/parley-tui-XXXXXX");
        cr_assert(mkdtemp(home), "mkdtemp failed");
    }
    static char e_home[300], e_data[300], e_cfg[320], e_term[64], e_models[1100];
    snprintf(e_home, sizeof e_home, "HOME=%s", home);
    snprintf(e_data, sizeof e_data, "PARLEY_DATA=%s", home);
    snprintf(e_cfg, sizeof e_cfg, "PARLEY_CONFIG=%s/config.ini", home);
    snprintf(e_term, sizeof e_term, "TERM=%s", o->term ? o->term : "xterm-256color");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", model && !o->no_model ? model : home);
    if (strrchr(dir, '/')) *strrchr(dir, '/') = 0;
    snprintf(e_models, sizeof e_models, "PARLEY_MODELS=%s", dir);
    char *env[16] = {e_home, e_data, e_cfg, e_term, e_models, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMUX=", "STY=",
                     "PARLEY_MODEL_PATHS=", o->no_color ? "NO_COLOR=1" : "NO_COLOR="};
    for (int i = 0, e = 11; i < 4 && o->env[i]; i++) env[e++] = (char *)o->env[i];   /* later entries win */
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "-m";
    argv[n++] = o->no_model ? "/nonexistent/missing.gguf" : (char *)model;
    argv[n++] = "--temp";
    argv[n++] = "0";
    for (int i = 0; i < 8 && o->args[i]; i++) argv[n++] = (char *)o->args[i];
    argv[n] = NULL;
    vt_term *t = vt_spawn(argv, env, rows, cols);
    cr_assert(t, "cannot start %s in a pty", bin);
    return t;
}

void parley_stop(vt_term *t)
{
    vt_free(t);
    if (home[0]) nftw(home, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    home[0] = 0;
}

char *parley_stop_keep(vt_term *t)
{
    vt_free(t);
    char *h = strdup(home);
    home[0] = 0;
    return h;
}

void parley_rm_home(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/parley-tui-", 16) == 0) nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

char *parley_mkhome(void)
{
    char *h = strdup("/tmp/parley-tui-XXXXXX");
    cr_assert(h && mkdtemp(h), "mkdtemp failed");
    return h;
}

int parley_cli(const char *dir, const char *args, char *out, size_t len)
{
    const char *bin = getenv("PARLEY_BIN");
    cr_assert(bin && access(bin, X_OK) == 0, "PARLEY_BIN is not set to a built parley: run `make test-tui`");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "HOME='%s' PARLEY_DATA='%s' PARLEY_CONFIG='%s/config.ini' '%s' %s 2>&1", dir, dir, dir,
             bin, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void parley_wait_ready(vt_term *t)
{
    char st[1024];
    for (int i = 0; i < 300; i++) {   /* up to ~15 s */
        if (strstr(parley_status(t, st, sizeof st), "ready")) return;
        vt_pump(t, 50);
    }
    char *s = vt_text(t);
    cr_assert_fail("the model did not load within 15 s; screen:\n%s", s);
}

void parley_wait_ui(vt_term *t)
{
    char st[1024], in[1024];
    for (int i = 0; i < 100; i++) {   /* up to ~5 s */
        parley_status(t, st, sizeof st);
        vt_row(t, vt_rows(t) - 1, in, sizeof in);
        if (strstr(st, "F1 help") && in[0] == '>') return;
        vt_pump(t, 50);
    }
    char *s = vt_text(t);
    cr_assert_fail("no status line and input box within 5 s; screen:\n%s", s);
}

void parley_type(vt_term *t, const char *text)
{
    char one[2] = {0, 0};
    for (const char *p = text; *p; p++) {
        one[0] = *p;
        vt_send(t, one);
        if ((p - text) % 8 == 7) vt_pump(t, 5);
    }
    vt_pump(t, 30);
    vt_send(t, VT_KEY_ENTER);
}

char *parley_status(vt_term *t, char *buf, size_t len)
{
    return vt_row(t, vt_rows(t) - 2, buf, len);
}

char *parley_answer(vt_term *t, char *buf, size_t len)
{
    char row[4096];
    int start = -1;
    for (int r = 0; r < vt_rows(t) - 2; r++)
        if (strncmp(vt_row(t, r, row, sizeof row), "Assistant", 9) == 0) start = r + 1;
    size_t o = 0;
    buf[0] = 0;
    for (int r = start < 0 ? 0 : start; start >= 0 && r < vt_rows(t) - 2; r++) {
        vt_row(t, r, row, sizeof row);
        int w = snprintf(buf + o, len - o, "%s\n", row);
        if (w < 0 || (size_t)w >= len - o) break;
        o += (size_t)w;
    }
    return buf;
}

void parley_assert_sane(vt_term *t)
{
    char st[4096], in[4096];
    parley_status(t, st, sizeof st);
    vt_row(t, vt_rows(t) - 1, in, sizeof in);
    bool lit = vt_cell_reverse(t, vt_rows(t) - 2, 0) || vt_cell_colored(t, vt_rows(t) - 2, 0);
    if ((strstr(st, "F1 help") || strstr(st, "|")) && in[0] == '>' && lit) return;
    char *scr = vt_text(t);
    cr_log_error("screen:\n%s", scr);
    free(scr);
    cr_assert(strstr(st, "F1 help") || strstr(st, "|"), "no status line on row %d: '%s'", vt_rows(t) - 2, st);
    cr_assert(in[0] == '>', "the input row does not start with '>': '%s'", in);
    cr_assert(lit, "the status line has no highlight");
}

long long parley_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool parley_wait_status(vt_term *t, const char *text, int timeout_ms)
{
    char st[1024];
    for (long long end = parley_ms() + timeout_ms; parley_ms() < end; vt_pump(t, 20))
        if (strstr(parley_status(t, st, sizeof st), text)) return true;
    return false;
}
