/* tui_storm.c — 1000 random keys and 100 resizes, while the model loads and
 * while answers stream, and the screen is still usable afterwards: parley is
 * alive, the editor and overlays give the keyboard back, a new message is
 * answered and /quit exits cleanly.
 *
 * The keys are what a person can press: text (with UTF-8), editing keys,
 * Enter, Esc, arrows, PgUp/PgDn, F1-F3, Ctrl-R/B/O/L/J, Tab, pastes (some
 * without their end marker), one Ctrl-C at a time. Left out: Ctrl-D, Ctrl-C
 * twice and '/', which quit or run commands on purpose. Sizes go down to
 * 20x5 and below. The seed is fixed (PARLEY_STORM_SEED overrides it) and
 * every failure prints it, so a failing storm can be replayed. Seed 4 found
 * that a resize could leave the terminal's scroll region at an old size (the
 * screen then kept a stale status line); seeds 1-10 pass. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

#define N_KEYS    1000
#define N_RESIZES 100

static unsigned seed;
static unsigned long long rng;

#define storm_assert(t, cond, ...) do { if (!(cond)) { char *s_ = vt_text(t); \
    cr_log_error("storm seed %u (replay: PARLEY_STORM_SEED=%u); screen:\n%s", seed, seed, s_); free(s_); \
    cr_assert_fail(__VA_ARGS__); } } while (0)
#define screen_assert(t, cond, ...) do { if (!(cond)) { char *s_ = vt_text(t); \
    cr_log_error("screen:\n%s", s_); free(s_); cr_assert_fail(__VA_ARGS__); } } while (0)

/* xorshift64*: the same storm for the same seed on every machine. */
static unsigned pick(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ull) >> 33) % n;
}

static const char *const special[] = {
    "\r", "\r", "\r", "\x1b", "\x1b", "\x1bOA", "\x1bOB", "\x1bOC", "\x1bOD", "\x1b[5~", "\x1b[6~",
    "\x1b[1;2A", "\x1b[1;2B", "\x1b[H", "\x1b[F", "\x1b[3~", "\x7f", "\x7f", "\t",
    "\x1bOP", "\x1bOQ", "\x1bOR",                       /* F1 help, F2 settings, F3 sessions */
    "\x12", "\x02", "\x0f", "\x0c", "\x0a",             /* Ctrl-R, Ctrl-B, Ctrl-O, Ctrl-L, Ctrl-J */
    "\x01", "\x05", "\x0b", "\x15", "\x17", "\x06",     /* Ctrl-A E K U W F */
    "\x03",                                             /* Ctrl-C (never twice in a row) */
    "\x1by", "?", "q", "n", "y", "d", "r",              /* Alt-y; overlay letters */
    "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",     /* é 中 😀 */
    "\x1b[200~pasted\rtwo lines\x1b[201~", "\x1b[200~no end marker",
};
static const char *const words[] = {"hello ", "why ", "sky ", "a ", "tell me ", "story ", "x"};
static const int sizes[][2] = {{24, 80}, {5, 20}, {10, 40}, {40, 120}, {8, 30}, {3, 12}, {15, 50}, {2, 8}, {30, 100}};

/* One random key (never a second Ctrl-C straight after one). */
static const char *random_key(bool *last_ctrl_c)
{
    static char one[2];
    const char *k;
    do {
        unsigned r = pick(100);
        if (r < 45) { one[0] = (char)("abcdefghijklmnopqrstuvwxyz ABCXYZ.,!0123456789"[pick(46)]); k = one; }
        else if (r < 55) k = words[pick(sizeof words / sizeof words[0])];
        else k = special[pick(sizeof special / sizeof special[0])];
    } while (*last_ctrl_c && strcmp(k, "\x03") == 0);
    *last_ctrl_c = strcmp(k, "\x03") == 0;
    return k;
}

/* Read the screen for ms milliseconds (a person's pace between keys); false if parley is gone. */
static bool pump_for(vt_term *t, int ms)
{
    for (long long end = parley_ms() + ms; parley_ms() < end;)
        if (vt_pump(t, (int)(end - parley_ms()) + 1) < 0) return false;
    return true;
}

/* The storm itself: keys, resizes, two model loads (each with a message sent
 * and stopped before the load ends), parley alive throughout. */
static void storm(vt_term *t, const char *model)
{
    char load[1200];
    snprintf(load, sizeof load, "\x1b[201~\x1b\x1b\x03/model %s\r", model);   /* from any state the editor can be in */
    bool last_ctrl_c = false;
    int resizes = 0;
    for (int i = 0; i < N_KEYS; i++) {
        if (i == 300 || i == 700) {   /* load again while answers stream; ask and stop during the load */
            vt_send(t, load);
            vt_send(t, "why\r\x1b");
            pump_for(t, 30);
        }
        vt_send(t, random_key(&last_ctrl_c));
        if (i % (N_KEYS / N_RESIZES) == 5 && resizes < N_RESIZES) {
            const int *s = sizes[pick(sizeof sizes / sizeof sizes[0])];
            vt_resize(t, s[0], s[1]);
            resizes++;
        }
        if (!pump_for(t, pick(4) ? 5 : 50)) {
            int st = 0;
            vt_wait_exit(t, 2000, &st);
            storm_assert(t, false, "parley died at key %d of the storm (%s %d)", i,
                         WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        }
    }
    cr_log_info("storm seed %u: %d keys, %d resizes", seed, N_KEYS, resizes);
}

/* Back to a known state by keys a person would press: end any paste, close overlays, stop, clear. */
static void calm_down(vt_term *t)
{
    vt_resize(t, 24, 100);
    pump_for(t, 1200);   /* an unterminated paste times out */
    for (int i = 0; i < 4; i++) { vt_send(t, "\x1b"); pump_for(t, 150); }
    char st[1024];
    for (long long end = parley_ms() + 10000; parley_ms() < end; vt_pump(t, 50))
        if (!strstr(parley_status(t, st, sizeof st), "answering")) break;
    vt_send(t, "\x03");   /* clears the editor (idle: Ctrl-C on text clears it) */
    pump_for(t, 150);
}

Test(tui_storm, random_keys_and_resizes_leave_a_usable_screen, .timeout = 120)
{
    const char *env = getenv("PARLEY_STORM_SEED");
    seed = env && *env ? (unsigned)strtoul(env, NULL, 10) : 4u;   /* 4 left an old scroll region behind */
    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    const char *model = getenv("PARLEY_MODEL");
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "16", NULL}});
    parley_wait_ui(t);
    long long t0 = parley_ms();
    storm(t, model ? model : "");   /* starts while the model loads */
    long long t1 = parley_ms();
    calm_down(t);
    char cmd[1200];
    const char *setup[] = {"/set temp 0", "/set n-predict 24", "/set ctx-size 0", "/set context-policy shift",
                           "/set cache-type-k f16", "/set cache-type-v f16", NULL};
    for (int i = 0; setup[i]; i++) { parley_type(t, setup[i]); vt_pump(t, 100); }
    snprintf(cmd, sizeof cmd, "/model %s", model);
    parley_type(t, cmd);
    bool loaded = false;
    char st0[1024];
    for (long long end = parley_ms() + 15000; !loaded && parley_ms() < end; vt_pump(t, 50))
        loaded = strstr(parley_status(t, st0, sizeof st0), "ready") != NULL;
    storm_assert(t, loaded, "the model did not load again after the storm");
    parley_type(t, "/clear");
    vt_pump(t, 200);
    parley_type(t, "What is the capital of France?");
    storm_assert(t, vt_wait_text(t, "What is the capital of France?", 3000), "the final message was not shown");
    char st[1024], ans[8192];
    size_t letters = 0;
    bool ready = false;
    for (long long end = parley_ms() + 20000; !(ready && letters >= 3) && parley_ms() < end; vt_pump(t, 50)) {
        ready = strstr(parley_status(t, st, sizeof st), "ready") != NULL;
        letters = 0;
        for (char *p = parley_answer(t, ans, sizeof ans); *p; p++) letters += *p > ' ';
    }
    storm_assert(t, letters >= 3, "the final message got no answer");
    storm_assert(t, ready, "the final answer did not finish");
    pump_for(t, 300);   /* the rest of the frame */
    parley_assert_sane(t);
    parley_type(t, "/quit");
    int status = -1;
    storm_assert(t, vt_wait_exit(t, 10000, &status), "/quit did not exit after the storm");
    storm_assert(t, WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d after the storm", status);
    cr_log_info("storm %lld ms, recovery and final answer %lld ms", t1 - t0, parley_ms() - t1);
    parley_stop(t);
}

/* Found by the storm: shrinking below the minimum and growing back to the very
 * same size left the status line and the input box blank (resizeterm had moved
 * them; they were not made anew because the layout looked unchanged). */
Test(tui_storm, too_small_then_the_same_size_again_redraws_everything, .timeout = 20)
{
    vt_term *t = parley_start(10, 60, &(parley_opts){.no_model = true});   /* 60: the status line says "F1 help" */
    parley_wait_ui(t);
    for (int i = 0; i < 2; i++) {
        vt_resize(t, i ? 3 : 5, i ? 12 : 20);
        screen_assert(t, vt_wait_text(t, "need 40x10", 3000), "no 'too small' at %s", i ? "3x12" : "5x20");
        vt_resize(t, 10, 60);
        screen_assert(t, vt_wait_gone(t, "need 40x10", 3000), "still 'too small' back at 60x10");
        pump_for(t, 300);
        parley_assert_sane(t);
    }
    parley_type(t, "/quit");
    screen_assert(t, vt_wait_exit(t, 5000, NULL), "/quit did not exit");
    parley_stop(t);
}
