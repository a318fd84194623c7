/* test_term_text.c — the one sanitizer for text bound for a terminal.
 *
 * What a user would notice: a model token, a stored session or a GGUF string
 * holding ESC ] 0 ; ... BEL (window title), ESC ] 52 (clipboard) or a C1 CSI
 * must reach the terminal as visible U+FFFD marks, never as a sequence the
 * terminal acts on; the text around it, newlines, tabs and every well-formed
 * character (also one split between two streamed pieces) must stay as it is.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/engine.h"

#define FFFD "\xef\xbf\xbd"

/* Sanitize in whole and compare with want. */
static void expect_term(const char *in, size_t len, const char *want)
{
    char out[512];
    size_t n = pl_term_sanitize(in, len, out, sizeof out);
    cr_assert_eq(pl_term_sanitize(in, len, NULL, 0), n, "measuring gives the same length");
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0,
              "sanitized %zu bytes to '%.*s', want '%s'", len, (int)n, out, want);
}

/* No byte a terminal would start a control sequence with: C0 (but \n, \t),
 * DEL, or a C1 character (UTF-8 C2 80..C2 9F). */
static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return true;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

Test(term_text, escape_sequences_become_visible_marks)
{
    expect_term("a\x1b]0;pwned\x07z", 12, "a" FFFD "]0;pwned" FFFD "z");
    expect_term("\x1b]52;c;aGk=\x07", 12, FFFD "]52;c;aGk=" FFFD);
    expect_term("\x1b[2J\x1b[31mred", 12, FFFD "[2J" FFFD "[31mred");
    expect_term("x\ry\bz\x7f", 6, "x" FFFD "y" FFFD "z" FFFD);          /* CR, BS, DEL */
    expect_term("\xc2\x9b" "31m \xc2\x9d" "0;t\xc2\x9c", 12, FFFD "31m " FFFD "0;t" FFFD);  /* C1 */
    expect_term("nul\0x", 5, "nul" FFFD "x");
}

Test(term_text, text_newlines_tabs_and_characters_are_kept)
{
    expect_term("line 1\n\tline 2", 14, "line 1\n\tline 2");
    expect_term("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0", 17, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0");
    expect_term("\xff" "a\xe2\x82", 4, FFFD "a" FFFD FFFD);            /* ill-formed as before */
}

Test(term_text, c_string_is_cut_at_a_character_boundary)
{
    char out[8];
    size_t n = pl_term_sanitize_str("ab\x1b\x1b", out, sizeof out);   /* ab + 2 x 3 bytes = 8: no room for NUL */
    cr_assert_eq(n, 5, "got %zu bytes '%s'", n, out);
    cr_assert_str_eq(out, "ab" FFFD);
    n = pl_term_sanitize_str("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", out, sizeof out);
    cr_assert_str_eq(out, "\xe2\x82\xac\xe2\x82\xac", "a character is never cut in half");
}

/* Feed pieces through a stream; returns the output (static). */
static const char *stream(const char *const *pieces, const size_t *lens, int n, size_t *out_len)
{
    static char out[1024];
    pl_term_stream ts = { 0 };
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        char buf[PL_TERM_STREAM_MAX(64)];
        cr_assert(lens[i] <= 64);
        size_t k = pl_term_stream_feed(&ts, pieces[i], lens[i], buf, sizeof buf);
        cr_assert(k <= sizeof buf && o + k < sizeof out);
        memcpy(out + o, buf, k);
        o += k;
    }
    char end[PL_TERM_STREAM_MAX(0)];
    size_t k = pl_term_stream_end(&ts, end, sizeof end);
    memcpy(out + o, end, k);
    *out_len = o + k;
    return out;
}

#define STREAM_EXPECT(want, ...) do {                                            \
        const char *p_[] = { __VA_ARGS__ };                                      \
        size_t l_[sizeof p_ / sizeof p_[0]];                                     \
        for (size_t i_ = 0; i_ < sizeof p_ / sizeof p_[0]; i_++) l_[i_] = strlen(p_[i_]); \
        size_t n_;                                                               \
        const char *o_ = stream(p_, l_, (int)(sizeof p_ / sizeof p_[0]), &n_);   \
        cr_assert(n_ == strlen(want) && memcmp(o_, want, n_) == 0,               \
                  "stream gave '%.*s', want '%s'", (int)n_, o_, want);           \
    } while (0)

Test(term_stream, a_character_split_across_pieces_is_kept_whole)
{
    STREAM_EXPECT("caf\xc3\xa9!", "caf\xc3", "\xa9!");
    STREAM_EXPECT("\xf0\x9f\x98\x80 ok", "\xf0", "\x9f", "\x98", "\x80 ok");     /* 4 pieces, 1 byte each */
    STREAM_EXPECT("a\xe2\x82\xac" "b", "a\xe2\x82", "\xac" "b");
}

Test(term_stream, escapes_in_a_token_and_split_c1_are_marked)
{
    STREAM_EXPECT("Hi " FFFD "]0;pwned" FFFD " there", "Hi ", "\x1b]0;pw", "ned\x07", " there");
    STREAM_EXPECT("x" FFFD "31m", "x\xc2", "\x9b" "31m");                          /* C1 CSI split in two */
    STREAM_EXPECT(FFFD "[2J", "\x1b", "[2J");
}

Test(term_stream, invalid_bytes_and_an_unfinished_end_show_as_marks)
{
    STREAM_EXPECT(FFFD "A", "\xe2", "A");                                          /* lead, then not a continuation */
    STREAM_EXPECT("ok" FFFD FFFD, "ok\xf0\x9f");                                   /* stream ends mid-character */
    STREAM_EXPECT(FFFD "z", "\xff", "z");
}

Test(term_stream, output_never_holds_a_control_for_any_cut)
{
    const char text[] = "pre \x1b]52;c;aGk=\x07 caf\xc3\xa9 \xc2\x9b" "1m \xf0\x9f\x98\x80\r\n";
    size_t len = sizeof text - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        const char *p[2] = { text, text + cut };
        size_t l[2] = { cut, len - cut }, n;
        char whole[256];
        size_t wn = pl_term_sanitize(text, len, whole, sizeof whole);
        const char *o = stream(p, l, 2, &n);
        cr_assert(!has_control(o, n), "cut at %zu: a control byte got through", cut);
        cr_assert(n == wn && memcmp(o, whole, n) == 0, "cut at %zu: '%.*s' differs from the whole text's '%.*s'",
                  cut, (int)n, o, (int)wn, whole);
    }
}

Test(term_text, engine_messages_quoting_a_file_carry_no_escape)
{
    pl_status st;
    pl_status_set(&st, PL_ERR_UNSUPPORTED, "architecture '%s' is not supported", "ll\x1b]0;x\x07" "ama");
    cr_assert(!has_control(st.msg, strlen(st.msg)), "message: %s", st.msg);
    cr_assert_str_eq(st.msg, "architecture 'll" FFFD "]0;x" FFFD "ama' is not supported");
}
