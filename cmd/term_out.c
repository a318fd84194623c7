/* term_out.c — how cmd/ prints text parley did not write.
 *
 * Session titles and messages, model output, GGUF strings, file names and
 * error messages quoting any of them may hold escape sequences (set the
 * window title, write the clipboard with OSC 52, clear the screen). Every
 * such print in cmd/ goes through these functions, which pass the text
 * through the engine's one terminal sanitizer (pl_term_sanitize: control
 * characters and ill-formed UTF-8 become U+FFFD) unless the user asked for
 * the bytes as they are (--raw). Sanitizing does not depend on whether the
 * output is a terminal: a pipe into less or tmux reaches one all the same.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "cmd.h"

/* Write len bytes of untrusted text; chunked through a stream so a long text
 * needs no large buffer and no character is cut between two chunks. */
void cmd_term_write(FILE *out, const char *s, size_t len, bool raw)
{
    if (raw) {
        fwrite(s, 1, len, out);
        return;
    }
    enum { CHUNK = 1024 };
    char buf[PL_TERM_STREAM_MAX(CHUNK)];
    pl_term_stream ts = { 0 };
    for (size_t i = 0; i < len; i += CHUNK) {
        size_t n = len - i < CHUNK ? len - i : CHUNK;
        fwrite(buf, 1, pl_term_stream_feed(&ts, s + i, n, buf, sizeof buf), out);
    }
    fwrite(buf, 1, pl_term_stream_end(&ts, buf, sizeof buf), out);
}

/* printf for lines that quote untrusted text: the formatted result is
 * sanitized as a whole (parley's own format strings hold no controls). */
void cmd_term_printf(FILE *out, bool raw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    cmd_term_write(out, text, (size_t)n, raw);
    free(text);
}

/* A title or name on one line of a table: sanitized, and newlines and tabs
 * (which the sanitizer keeps) shown as spaces so the row stays one row. */
void cmd_term_line(FILE *out, const char *s)
{
    size_t len = strlen(s);
    char *one = malloc(len + 1);
    if (!one) return;
    for (size_t i = 0; i <= len; i++) one[i] = s[i] == '\n' || s[i] == '\t' ? ' ' : s[i];
    cmd_term_write(out, one, len, false);
    free(one);
}
