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
 */
#include <string.h>

#include "vocab.h"

/* Length of the well-formed sequence at s (1..4), or 0 if none starts there. */
int utf8_seq_len(const unsigned char *s, size_t avail)
{
    if (avail == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;   /* allowed range of the 2nd byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c == 0xED) { n = 3; hi = 0x9F; }          /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }           /* <= U+10FFFF */
    else return 0;
    if (avail < (size_t)n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
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

/* Bytes a lead byte announces (1 for ASCII and for bytes that lead nothing). */
static int utf8_announced_len(unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 1;
}

/* Longest prefix of s that does not end inside an unfinished character.
 * Invalid bytes count as complete (they will show as U+FFFD). */
size_t pl_utf8_complete_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* the last lead byte can be at most 3 bytes back */
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = u[len - back];
        if ((c & 0xC0) == 0x80) continue;            /* continuation: look further */
        int want = utf8_announced_len(c);
        if (want <= (int)back) return len;            /* complete (or not a lead) */
        /* more bytes are due: hold back only a valid beginning of a character */
        unsigned char tmp[4] = { 0x80, 0x80, 0x80, 0x80 };
        memcpy(tmp, u + len - back, back);
        if (utf8_seq_len(tmp, (size_t)want) == 0) return len;  /* already invalid */
        return len - back;
    }
    return len;
}

/* Copy in to out with each ill-formed byte replaced by U+FFFD. Writes at most
 * cap bytes (no NUL); returns the full sanitized length (may exceed cap). */
size_t pl_utf8_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    static const char repl[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int n = utf8_seq_len(u + i, len - i);
        const char *src = n ? in + i : repl;
        size_t sl = n ? (size_t)n : 3;
        for (size_t k = 0; k < sl; k++, o++)
            if (o < cap) out[o] = src[k];
        i += n ? (size_t)n : 1;
    }
    return o;
}
