/* clipboard.c — copy text with OSC 52, the escape sequence that asks the
 * terminal to set its clipboard. It travels through SSH untouched; tmux
 * forwards it when wrapped in its passthrough DCS (every ESC inside doubled),
 * GNU screen when wrapped in its own DCS. The bytes go straight to the tty
 * after a frame: they move no cursor and change no cell.
 */
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

int tui_clipboard_copy(const char *text, size_t len)
{
    const char *tmux = getenv("TMUX"), *sty = getenv("STY");
    char *seq = tui_osc52_encode(text, len, tmux && *tmux, !(tmux && *tmux) && sty && *sty);
    if (!seq) return -1;
    size_t n = strlen(seq), off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, seq + off, n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(seq);
    return off == n ? 0 : -1;
}
