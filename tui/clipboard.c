/* clipboard.c — copy text with OSC 52, the escape sequence that asks the
 * terminal to set its clipboard. It travels through SSH untouched. Inside
 * tmux it is sent plain: tmux takes it into its paste buffer (and passes it
 * on to the outer terminal) when set-clipboard is on, while its passthrough
 * wrapper is ignored by default since tmux 3.3 (allow-passthrough off). GNU
 * screen does not know OSC 52, so there it goes wrapped in screen's DCS.
 * No terminal answers, so parley never knows whether it arrived: what it
 * says is what it sent, and what the terminal needs. The bytes go straight
 * to the tty after a frame: they move no cursor and change no cell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of len bytes into out (4 * ceil(len / 3) bytes + NUL). */
static size_t base64(const unsigned char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < len ? s[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

/* The whole escape sequence, wrapped for tmux or screen when asked. */
char *tui_osc52_encode(const char *text, size_t len, bool tmux, bool screen)
{
    size_t enc = (len + 2) / 3 * 4;
    char *out = malloc(enc + 64);
    if (!out) return NULL;
    const char *pre = tmux ? "\x1bPtmux;\x1b\x1b]52;c;" : screen ? "\x1bP\x1b]52;c;" : "\x1b]52;c;";
    const char *post = tmux || screen ? "\x07\x1b\\" : "\x07";
    size_t o = strlen(pre);
    memcpy(out, pre, o);
    o += base64((const unsigned char *)text, len, out + o);
    strcpy(out + o, post);
    return out;
}

/* Send text as OSC 52 the way this terminal takes it; what to tell the user goes to said. */
int tui_clipboard_copy(const char *text, size_t len, char *said, size_t said_len)
{
    const char *tmux = getenv("TMUX"), *sty = getenv("STY");
    bool in_tmux = tmux && *tmux, in_screen = !in_tmux && sty && *sty;
    char *seq = tui_osc52_encode(text, len, false, in_screen);
    if (!seq) { snprintf(said, said_len, "copy failed: out of memory"); return -1; }
    size_t n = strlen(seq), off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, seq + off, n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(seq);
    if (off != n) { snprintf(said, said_len, "copy failed: the terminal took %zu of %zu bytes", off, n); return -1; }
    if (in_tmux) snprintf(said, said_len, "sent %zu bytes by OSC 52 (tmux needs set-clipboard on)", len);
    else if (in_screen) snprintf(said, said_len, "sent %zu bytes by OSC 52 through screen", len);
    else snprintf(said, said_len, "sent %zu bytes to the terminal's clipboard (OSC 52)", len);
    return 0;
}
