/* tui_markdown.c — an answer's Markdown on the real screen, read through
 * libvterm with attributes: bold and italic words, a code block without
 * fences on a background of its own with coloured keywords, a table in
 * aligned columns, bullets; under TERM=vt100 and NO_COLOR the same
 * structure in ASCII; /copy code and Alt-y still copy the raw text. The
 * answer comes from an imported session (parley sessions import). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char answer[] =
    "## Plan\n\n"
    "Use **strong** and *soft* words, `inline` code and a [link](https://ex.org).\n\n"
    "- first item\n  - nested item\n\n"
    "> quoted\n\n"
    "| Name | Qty |\n|---|--:|\n| \xe6\x97\xa5\xe6\x9c\xac | 12 |\n| pear | 3 |\n\n"
    "```python\ndef f(x):\n    return 42  # answer\n```\n";

/* The answer as a JSON string body (quotes, backslashes, newlines escaped). */
static void json_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; *s && o + 3 < len; s++) {
        if (*s == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
        else if (*s == '"' || *s == '\\') { out[o++] = '\\'; out[o++] = *s; }
        else out[o++] = *s;
    }
    out[o] = 0;
}

/* parley resumed on a session whose answer is the Markdown above. */
static vt_term *start(const char *term, bool no_color, char **home_out)
{
    char *home = parley_mkhome(), path[600], out[4096], args[700], esc[2048];
    snprintf(path, sizeof path, "%s/chat.json", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    json_escape(answer, esc, sizeof esc);
    fprintf(f, "{\"parley_session\":1,\"title\":\"md\",\"messages\":[{\"role\":\"user\",\"text\":\"show me\"},"
               "{\"role\":\"assistant\",\"text\":\"%s\"}]}", esc);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    vt_term *t = parley_start(40, 100, &(parley_opts){.home = home, .no_model = true, .term = term,
                                                       .no_color = no_color, .args = {"--resume", "1", NULL}});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "nested item", 5000), "the answer is not shown");
    *home_out = home;
    return t;
}

/* Column (in cells) of needle's first character on row r, or -1. */
static int cell_col(vt_term *t, int r, const char *needle)
{
    char row[1024];
    vt_row(t, r, row, sizeof row);
    const char *p = strstr(row, needle);
    if (!p) return -1;
    int col = 0;
    for (const char *q = row; q < p; q++)
        if (((unsigned char)*q & 0xC0) != 0x80) col += (unsigned char)*q >= 0xE3 && (unsigned char)*q <= 0xE9 ? 2 : 1;
    return col;
}

/* No row of the screen shows raw Markdown. */
static void expect_no_raw_markup(vt_term *t)
{
    static const char *const raw[] = {"```", "**", "## ", "](", "|---", NULL};
    for (int k = 0; raw[k]; k++) cr_expect(!vt_contains(t, raw[k]), "raw markup '%s' on screen", raw[k]);
}

Test(tui_markdown, styled_on_a_colour_terminal, .timeout = 30)
{
    char *home;
    vt_term *t = start(NULL, false, &home);
    expect_no_raw_markup(t);
    int r = vt_find_row(t, "Use strong");
    cr_assert_geq(r, 0);
    cr_expect(vt_cell_attrs(t, r, cell_col(t, r, "strong")).bold, "**strong** is not bold on screen");
    cr_expect(vt_cell_attrs(t, r, cell_col(t, r, "soft")).italic, "*soft* is not italic on screen");
    cr_expect(vt_cell_attrs(t, r, cell_col(t, r, "link")).underline, "the link is not underlined");
    cr_expect(vt_contains(t, "(https://ex.org)"), "the link's address is not shown");
    cr_expect(vt_contains(t, "\xe2\x80\xa2 first item") && vt_contains(t, "\xe2\x97\xa6 nested item"), "no bullets");
    int h = vt_find_row(t, "Plan");
    cr_expect(vt_cell_attrs(t, h, cell_col(t, h, "Plan")).bold, "the heading is not bold");
    int code = vt_find_row(t, "def f(x):"), ret = vt_find_row(t, "return 42");
    cr_assert(code >= 0 && ret == code + 1, "the code block is not shown");
    vt_attrs kw = vt_cell_attrs(t, code, cell_col(t, code, "def")), plain = vt_cell_attrs(t, code, cell_col(t, code, "f(x)"));
    cr_expect_neq(plain.bg, -1, "the code block has no background of its own");
    cr_expect_eq(vt_cell_attrs(t, code, 95).bg, plain.bg, "the code box does not reach across the pane");
    cr_expect_neq(kw.fg, plain.fg, "the keyword 'def' is not coloured");
    cr_expect_neq(vt_cell_attrs(t, ret, cell_col(t, ret, "# answer")).fg, plain.fg, "the comment is not coloured");
    int a = vt_find_row(t, "Name"), b = vt_find_row(t, "\xe6\x97\xa5\xe6\x9c\xac"), c = vt_find_row(t, "pear");
    cr_assert(a >= 0 && b == a + 2 && c == a + 3, "the table rows are not laid out");
    int bar = cell_col(t, a, "\xe2\x94\x82");
    cr_expect_eq(cell_col(t, b, "\xe2\x94\x82"), bar, "a row with wide characters breaks the columns");
    cr_expect_eq(cell_col(t, c, "\xe2\x94\x82"), bar, "columns do not line up");
    cr_expect_eq(cell_col(t, b, "12"), cell_col(t, c, "3") - 1, "the right-aligned column is not right-aligned");
    parley_stop(t);
    free(home);
}

/* The ASCII form: what TERM=vt100 and NO_COLOR get. */
static void check_ascii(const char *term, bool no_color)
{
    char *home;
    vt_term *t = start(term, no_color, &home);
    expect_no_raw_markup(t);
    cr_expect(vt_contains(t, "- first item") && vt_contains(t, "* nested item"), "no ASCII bullets");
    cr_expect(vt_contains(t, "> quoted"), "no ASCII quote mark");
    cr_expect(vt_contains(t, "`inline`"), "inline code lost its marks");
    cr_expect(vt_contains(t, "+-- python") && vt_contains(t, "| def f(x):"), "no ASCII code rails");
    cr_expect(!vt_contains(t, "\xe2\x80\xa2") && !vt_contains(t, "\xe2\x94\x82"), "Unicode marks without colours");
    int a = vt_find_row(t, "Name"), c = vt_find_row(t, "pear");
    cr_assert(a >= 0 && c > a);
    cr_expect_eq(cell_col(t, a, " | "), cell_col(t, c, " | "), "ASCII columns do not line up");
    int r = vt_find_row(t, "Use strong");
    cr_expect(vt_cell_attrs(t, r, cell_col(t, r, "strong")).bold, "bold is lost without colours");
    parley_stop(t);
    free(home);
}

Test(tui_markdown, ascii_under_vt100, .timeout = 30) { check_ascii("vt100", false); }
Test(tui_markdown, ascii_under_no_color, .timeout = 30) { check_ascii(NULL, true); }

/* The last OSC 52 the program sent, decoded (malloc'd), or NULL. */
static char *last_osc52(vt_term *t)
{
    size_t n;
    const char *raw = vt_raw(t, &n), *p = NULL;
    for (const char *q = raw; (q = strstr(q, "\x1b]52;c;")) != NULL; q++) p = q + 7;
    if (!p) return NULL;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(strlen(p) + 1);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *p && *p != '\x07' && *p != '\x1b'; p++) {
        const char *k = strchr(b64, *p);
        if (!k || *p == '=') continue;
        v = v << 6 | (unsigned)(k - b64);
        if ((bits += 6) >= 8) out[o++] = (char)(v >> (bits -= 8) & 0xff);
    }
    out[o] = 0;
    return out;
}

Test(tui_markdown, copy_gives_the_raw_text, .timeout = 30)
{
    char *home;
    vt_term *t = start(NULL, false, &home);
    parley_type(t, "/copy code");
    cr_assert(vt_wait_text(t, "(OSC 52)", 3000), "/copy code said nothing");
    char *got = last_osc52(t);
    cr_assert_not_null(got, "no OSC 52 sent");
    cr_expect_str_eq(got, "def f(x):\n    return 42  # answer\n", "/copy code did not copy the code as written");
    free(got);
    vt_send(t, "\x1by");
    for (int i = 0; i < 30; i++) {   /* under load the answer may take a while */
        vt_pump(t, 100);
        got = last_osc52(t);
        if (got && strcmp(got, answer) == 0) break;
        free(got);
        got = NULL;
    }
    if (!got) got = last_osc52(t);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, answer, "Alt-y did not copy the raw Markdown");
    free(got);
    parley_stop(t);
    free(home);
}
