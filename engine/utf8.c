/* utf8.c — UTF-8 validation shared by the tokenizer and the TUI.
 *
 * Well-formed means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. Sanitizing replaces every byte that does not begin a well-formed
 * sequence by U+FFFD and moves on by one byte; that is what llama.cpp's
 * decoder does for truncated sequences and stray bytes, so tokenizing the
 * sanitized text gives llama.cpp's ids for such input.
 *
 * A token stream can end in the middle of a character (byte-level BPE and
 * byte-fallback tokens split characters), so the TUI shows only the
 * pl_utf8_complete_len prefix of what it has and keeps the rest buffered.
 *
 * Text bound for a terminal (model output, stored sessions, GGUF strings, file
 * names) goes through pl_term_sanitize: besides ill-formed bytes, every control
 * character a terminal would act on (C0 but newline and tab, DEL, C1) becomes
 * U+FFFD, the same mark the chat screen shows, so no escape sequence from text
 * parley did not write reaches the terminal. pl_term_stream does the same for
 * a stream cut in arbitrary pieces without breaking a character split between
 * two of them.
 */
#include <string.h>

#include "vocab.h"

/* Sequence length a lead byte announces and the allowed range of the byte
 * after it (RFC 3629 table 3-7); 0 if c leads nothing. */
static int utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80; *hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c == 0xE0) { *lo = 0xA0; return 3; }
    if (c == 0xED) { *hi = 0x9F; return 3; }          /* no surrogates */
    if (c >= 0xE1 && c <= 0xEF) return 3;
    if (c == 0xF0) { *lo = 0x90; return 4; }
    if (c >= 0xF1 && c <= 0xF3) return 4;
    if (c == 0xF4) { *hi = 0x8F; return 4; }           /* <= U+10FFFF */
    return 0;
}

/* Are the first have bytes at s a valid start of an n-byte sequence? */
static bool utf8_prefix_ok(const unsigned char *s, size_t have, unsigned char lo, unsigned char hi)
{
    if (have >= 2 && (s[1] < lo || s[1] > hi)) return false;
    for (size_t i = 2; i < have; i++)
        if ((s[i] & 0xC0) != 0x80) return false;
    return true;
}

/* Length of the well-formed sequence at s (1..4), or 0 if none starts there. */
int utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char lo, hi;
    if (avail == 0) return 0;
    int n = utf8_lead(s[0], &lo, &hi);
    if (n == 0 || avail < (size_t)n || !utf8_prefix_ok(s, (size_t)n, lo, hi)) return 0;
    return n;
}

/* Decode a sequence already checked by utf8_seq_len. */
uint32_t utf8_decode(const unsigned char *s, int n)
{
    static const unsigned char lead_mask[5] = { 0, 0x7F, 0x1F, 0x0F, 0x07 };
    uint32_t cp = s[0] & lead_mask[n];
    for (int i = 1; i < n; i++) cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

/* Encode one code point; returns the number of bytes written. */
int utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Longest prefix of s that does not end inside an unfinished character.
 * Invalid bytes count as complete (they will show as U+FFFD). */
size_t pl_utf8_complete_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* the last lead byte can be at most 3 bytes back */
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = u[len - back], lo, hi;
        if ((c & 0xC0) == 0x80) continue;            /* continuation: look further */
        int want = utf8_lead(c, &lo, &hi);
        if (want <= (int)back) return len;            /* complete (or not a lead) */
        /* more bytes are due: hold back only a valid beginning of a character */
        return utf8_prefix_ok(u + len - back, back, lo, hi) ? len - back : len;
    }
    return len;
}

/* Does a terminal act on cp instead of showing it? C0 controls other than
 * newline and tab, DEL, and the C1 controls U+0080..U+009F (CSI, OSC, ...). */
bool pl_cp_is_control(uint32_t cp)
{
    return (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp < 0xa0);
}

/* The one sanitizing loop: ill-formed bytes, and controls when asked, become
 * U+FFFD. Writes at most cap bytes; returns the full output length. */
static size_t utf8_clean(const char *in, size_t len, char *out, size_t cap, bool controls)
{
    static const char repl[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int n = utf8_seq_len(u + i, len - i);
        bool keep = n && !(controls && pl_cp_is_control(utf8_decode(u + i, n)));
        const char *src = keep ? in + i : repl;
        size_t sl = keep ? (size_t)n : 3;
        for (size_t k = 0; k < sl; k++, o++)
            if (o < cap) out[o] = src[k];
        i += n ? (size_t)n : 1;
    }
    return o;
}

/* Copy in to out with each ill-formed byte replaced by U+FFFD. Writes at most
 * cap bytes (no NUL); returns the full sanitized length (may exceed cap). */
size_t pl_utf8_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    return utf8_clean(in, len, out, cap, false);
}

/* Text bound for a terminal: ill-formed bytes and control characters (one
 * U+FFFD per character, so ESC ] 0 ; shows as U+FFFD ] 0 ;). */
size_t pl_term_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    return utf8_clean(in, len, out, cap, true);
}

/* pl_term_sanitize of a C string into a NUL-terminated buffer, cut at a
 * character boundary when it does not fit; returns the length written. */
size_t pl_term_sanitize_str(const char *in, char *out, size_t cap)
{
    if (cap == 0) return 0;
    size_t n = pl_term_sanitize(in, strlen(in), out, cap - 1);
    if (n > cap - 1) n = pl_utf8_complete_len(out, cap - 1);   /* drop a cut U+FFFD or character */
    out[n] = 0;
    return n;
}

/* Next piece of a stream (a model's tokens): every character completed so far,
 * sanitized; an unfinished one waits in s for the bytes that finish it. */
size_t pl_term_stream_feed(pl_term_stream *s, const char *in, size_t len, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (s->n_held > 0 && i < len) {                 /* finish the held character first */
        s->held[s->n_held++] = in[i++];
        if (pl_utf8_complete_len(s->held, s->n_held) == s->n_held) {
            o += pl_term_sanitize(s->held, s->n_held, out + (o < cap ? o : cap), o < cap ? cap - o : 0);
            s->n_held = 0;
        }
    }
    size_t rest = len - i, ok = pl_utf8_complete_len(in + i, rest);
    o += pl_term_sanitize(in + i, ok, out + (o < cap ? o : cap), o < cap ? cap - o : 0);
    memcpy(s->held + s->n_held, in + i + ok, rest - ok);   /* < 4 bytes: a character's start */
    s->n_held += rest - ok;
    return o;
}

/* End of a stream: a character left unfinished shows as U+FFFD per byte. */
size_t pl_term_stream_end(pl_term_stream *s, char *out, size_t cap)
{
    size_t o = pl_term_sanitize(s->held, s->n_held, out, cap);
    s->n_held = 0;
    return o;
}
