/* vt.c — a pty + libvterm screen for tests (see vt.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vterm.h>

#include "vt.h"

struct vt_term {
    pid_t        pid;
    int          fd;
    VTerm       *vt;
    VTermScreen *screen;
    int          rows, cols;
    bool         altscreen, exited;
    int          status;
    char        *raw;
    size_t       n_raw, cap_raw;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Terminal answers (device attributes etc.) go back to the child. */
static void on_output(const char *s, size_t len, void *user)
{
    vt_term *t = user;
    while (len) {
        ssize_t w = write(t->fd, s, len);
        if (w <= 0) break;
        s += w;
        len -= (size_t)w;
    }
}

static int on_prop(VTermProp prop, VTermValue *val, void *user)
{
    vt_term *t = user;
    if (prop == VTERM_PROP_ALTSCREEN) t->altscreen = val->boolean;
    return 1;
}

static const VTermScreenCallbacks screen_cbs = {.settermprop = on_prop};

vt_term *vt_spawn(char *const argv[], char *const env[], int rows, int cols)
{
    vt_term *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    if (t->pid < 0) { free(t); return NULL; }
    if (t->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* a test that fails or crashes leaves no program behind */
        for (int i = 0; env && env[i]; i++) putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    t->rows = rows;
    t->cols = cols;
    t->vt = vterm_new(rows, cols);
    vterm_set_utf8(t->vt, 1);
    vterm_output_set_callback(t->vt, on_output, t);
    t->screen = vterm_obtain_screen(t->vt);
    vterm_screen_set_callbacks(t->screen, &screen_cbs, t);
    vterm_screen_enable_altscreen(t->screen, 1);
    vterm_screen_reset(t->screen, 1);
    return t;
}

void vt_free(vt_term *t)
{
    if (!t) return;
    if (!t->exited) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &t->status, 0);
    }
    close(t->fd);
    vterm_free(t->vt);
    free(t->raw);
    free(t);
}

/* Keep a copy of the raw bytes (tests look for escape sequences). */
static void raw_add(vt_term *t, const char *s, size_t n)
{
    if (t->n_raw + n + 1 > t->cap_raw) {
        size_t cap = (t->n_raw + n + 1) * 2;
        char *p = realloc(t->raw, cap);
        if (!p) return;
        t->raw = p;
        t->cap_raw = cap;
    }
    memcpy(t->raw + t->n_raw, s, n);
    t->n_raw += n;
    t->raw[t->n_raw] = 0;
}

int vt_pump(vt_term *t, int timeout_ms)
{
    struct pollfd p = {t->fd, POLLIN, 0};
    int total = 0;
    if (poll(&p, 1, timeout_ms) <= 0) return 0;
    char buf[65536];
    for (;;) {
        ssize_t n = read(t->fd, buf, sizeof buf);
        if (n > 0) {
            vterm_input_write(t->vt, buf, (size_t)n);
            raw_add(t, buf, (size_t)n);
            total += (int)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) break;
        return total ? total : -1;   /* EOF / EIO: the child closed the pty */
    }
    vterm_screen_flush_damage(t->screen);
    return total;
}

void vt_send(vt_term *t, const char *bytes)
{
    size_t len = strlen(bytes);
    while (len) {
        ssize_t w = write(t->fd, bytes, len);
        if (w < 0 && errno == EAGAIN) { vt_pump(t, 10); continue; }
        if (w <= 0) break;
        bytes += w;
        len -= (size_t)w;
    }
}

void vt_resize(vt_term *t, int rows, int cols)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(t->fd, TIOCSWINSZ, &ws);
    vterm_set_size(t->vt, rows, cols);
    t->rows = rows;
    t->cols = cols;
    kill(t->pid, SIGWINCH);
}

int vt_pid(const vt_term *t) { return (int)t->pid; }
int vt_rows(const vt_term *t) { return t->rows; }
int vt_cols(const vt_term *t) { return t->cols; }

/* Append code point cp as UTF-8. */
static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

char *vt_row(vt_term *t, int r, char *buf, size_t len)
{
    size_t o = 0, keep = 0;
    for (int c = 0; c < t->cols && o + 4 * VTERM_MAX_CHARS_PER_CELL + 1 < len; c++) {
        VTermScreenCell cell;
        vterm_screen_get_cell(t->screen, (VTermPos){r, c}, &cell);
        if (cell.chars[0] == (uint32_t)-1) continue;       /* right half of a wide char */
        if (cell.chars[0] == 0) { buf[o++] = ' '; continue; }
        for (int k = 0; k < VTERM_MAX_CHARS_PER_CELL && cell.chars[k]; k++) o += put_utf8(buf + o, cell.chars[k]);
        keep = o;
    }
    buf[keep] = 0;
    return buf;
}

char *vt_text(vt_term *t)
{
    size_t cap = (size_t)t->rows * ((size_t)t->cols * 4 * VTERM_MAX_CHARS_PER_CELL + 2) + 1, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (int r = 0; r < t->rows; r++) {
        vt_row(t, r, out + o, cap - o);
        o += strlen(out + o);
        out[o++] = '\n';
    }
    out[o] = 0;
    return out;
}

bool vt_contains(vt_term *t, const char *needle)
{
    char *s = vt_text(t);
    bool found = s && strstr(s, needle);
    free(s);
    return found;
}

int vt_find_row(vt_term *t, const char *needle)
{
    char buf[8192];
    for (int r = 0; r < t->rows; r++)
        if (strstr(vt_row(t, r, buf, sizeof buf), needle)) return r;
    return -1;
}

/* Read until the child has been quiet for 30 ms (at most 300 ms): a frame
 * can reach the pty in several writes, and a test that found one part of it
 * must then see the rest of that frame, not half of it. */
static void vt_settle(vt_term *t)
{
    long long end = now_ms() + 300;
    while (now_ms() < end && vt_pump(t, 30) > 0) {}
}

bool vt_wait_text(vt_term *t, const char *needle, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        if (vt_contains(t, needle)) { vt_settle(t); return true; }
        long long left = end - now_ms();
        if (left <= 0) return false;
        if (vt_pump(t, left > 50 ? 50 : (int)left) < 0) return vt_contains(t, needle);
    }
}

bool vt_wait_gone(vt_term *t, const char *needle, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        if (!vt_contains(t, needle)) { vt_settle(t); return true; }
        long long left = end - now_ms();
        if (left <= 0) return false;
        if (vt_pump(t, left > 50 ? 50 : (int)left) < 0) return !vt_contains(t, needle);
    }
}

bool vt_wait_exit(vt_term *t, int timeout_ms, int *status)
{
    long long end = now_ms() + timeout_ms;
    while (!t->exited) {
        vt_pump(t, 20);
        pid_t r = waitpid(t->pid, &t->status, WNOHANG);
        if (r == t->pid) { t->exited = true; break; }
        if (now_ms() > end) return false;
    }
    vt_pump(t, 0);
    if (status) *status = t->status;
    return true;
}

bool vt_altscreen(const vt_term *t) { return t->altscreen; }

bool vt_cell_reverse(vt_term *t, int r, int c)
{
    VTermScreenCell cell;
    vterm_screen_get_cell(t->screen, (VTermPos){r, c}, &cell);
    return cell.attrs.reverse;
}

bool vt_cell_colored(vt_term *t, int r, int c)
{
    VTermScreenCell cell;
    vterm_screen_get_cell(t->screen, (VTermPos){r, c}, &cell);
    return !VTERM_COLOR_IS_DEFAULT_FG(&cell.fg) || !VTERM_COLOR_IS_DEFAULT_BG(&cell.bg);
}

/* One colour as RGB, or -1 for the terminal's default. */
static long rgb(VTermScreen *s, VTermColor c, bool fg)
{
    if (fg ? VTERM_COLOR_IS_DEFAULT_FG(&c) : VTERM_COLOR_IS_DEFAULT_BG(&c)) return -1;
    vterm_screen_convert_color_to_rgb(s, &c);
    return (long)c.rgb.red << 16 | (long)c.rgb.green << 8 | c.rgb.blue;
}

vt_attrs vt_cell_attrs(vt_term *t, int r, int c)
{
    VTermScreenCell cell;
    vterm_screen_get_cell(t->screen, (VTermPos){r, c}, &cell);
    return (vt_attrs){cell.attrs.bold, cell.attrs.italic, cell.attrs.underline != 0, cell.attrs.reverse,
                      rgb(t->screen, cell.fg, true), rgb(t->screen, cell.bg, false)};
}

const char *vt_raw(const vt_term *t, size_t *len)
{
    if (len) *len = t->n_raw;
    return t->raw ? t->raw : "";
}

typedef struct key_capture { char buf[64]; size_t n; } key_capture;

/* Output callback that keeps the bytes instead of writing them to the child. */
static void on_capture(const char *s, size_t len, void *user)
{
    key_capture *c = user;
    for (size_t i = 0; i < len && c->n + 1 < sizeof c->buf; i++) c->buf[c->n++] = s[i];
    c->buf[c->n] = 0;
}

/* What the terminal would send for key, without sending it. */
static void key_bytes(vt_term *t, VTermKey key, key_capture *c)
{
    c->n = 0;
    c->buf[0] = 0;
    vterm_output_set_callback(t->vt, on_capture, c);
    vterm_keyboard_key(t->vt, key, VTERM_MOD_NONE);
    vterm_output_set_callback(t->vt, on_output, t);
}

bool vt_app_cursor_keys(vt_term *t)
{
    key_capture c;
    key_bytes(t, VTERM_KEY_UP, &c);
    return strcmp(c.buf, "\x1bOA") == 0;
}

bool vt_app_keypad(vt_term *t)
{
    key_capture c;
    key_bytes(t, VTERM_KEY_KP_0, &c);
    return strcmp(c.buf, "\x1bOp") == 0;
}
