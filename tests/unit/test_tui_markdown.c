/* test_tui_markdown.c — an answer's Markdown as the chat lays it out: the
 * text and styles of the cells a person sees (emphasis, headings, lists,
 * quotes, links, tables in columns, code blocks in a box with syntax colours,
 * rules), the ASCII form for terminals without colours, and a growing answer:
 * no raw markup in any frame, the same lines as a fresh layout, earlier
 * pieces never laid out again. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/tui.h"

/* Lay Markdown out at width with flags (LAY_ASCII...); free with layout_cache_free. */
static lay_cache md(const char *text, int width, int flags)
{
    lay_cache c = {0};
    layout_markdown(&c, text, strlen(text), width, 0, ROLE_ASSISTANT, flags, 0);
    return c;
}

/* The line containing needle, or NULL. */
static const lay_line *find(const lay_cache *c, const char *needle)
{
    for (int i = 0; i < c->n; i++)
        if (strstr(c->lines[i].text, needle)) return &c->lines[i];
    return NULL;
}

/* The style of the span holding the first byte of needle in l (0xff if none). */
static uint8_t style_at(const lay_line *l, const char *needle)
{
    const char *p = l ? strstr(l->text, needle) : NULL;
    if (!p) return 0xff;
    uint32_t at = (uint32_t)(p - l->text);
    for (int i = 0; i < l->nspans; i++)
        if (at >= l->spans[i].start && at < l->spans[i].start + l->spans[i].len) return l->spans[i].style;
    return 0xff;
}

/* Display column where needle starts in l (-1 if absent). */
static int col_of(const lay_line *l, const char *needle)
{
    const char *p = strstr(l->text, needle);
    return p ? tui_str_width(l->text, (size_t)(p - l->text)) : -1;
}

/* Does any line of c (but code lines) show one of the raw marks? */
static const char *raw_mark(const lay_cache *c)
{
    static const char *const marks[] = {"**", "`", "|--", "](", "~~", "# ", NULL};
    for (int i = 0; i < c->n; i++) {
        if (c->lines[i].code_block >= 0) continue;
        for (int k = 0; marks[k]; k++)
            if (strstr(c->lines[i].text, marks[k])) return c->lines[i].text;
    }
    return NULL;
}

Test(tui_markdown, emphasis_code_and_strike)
{
    lay_cache c = md("plain **strong** and *soft* with `x = 1` and ~~old~~ end", 80, 0);
    cr_assert_eq(c.n, 1);
    cr_expect_str_eq(c.lines[0].text, "plain strong and soft with x = 1 and old end", "markers are shown");
    cr_expect(style_at(&c.lines[0], "strong") & STYLE_BOLD, "**strong** is not bold");
    cr_expect(style_at(&c.lines[0], "soft") & STYLE_ITALIC, "*soft* is not italic");
    cr_expect_eq(style_at(&c.lines[0], "x = 1") & 0x0f, ROLE_CODE, "`x = 1` is not code");
    cr_expect_eq(style_at(&c.lines[0], "old") & 0x0f, ROLE_DIM, "~~old~~ is not dimmed");
    cr_expect_eq(style_at(&c.lines[0], "plain") & 0x0f, ROLE_ASSISTANT);
    layout_cache_free(&c);
}

Test(tui_markdown, headings_without_hashes)
{
    lay_cache c = md("# Big title\n\n### Small one\nbody", 80, 0);
    const lay_line *big = find(&c, "Big title"), *small = find(&c, "Small one");
    cr_assert(big && small);
    cr_expect_null(strchr(big->text, '#'), "the # marks are shown: '%s'", big->text);
    cr_expect_eq(style_at(big, "Big") & (STYLE_BOLD | STYLE_UNDERLINE), STYLE_BOLD | STYLE_UNDERLINE);
    cr_expect(style_at(small, "Small") & STYLE_BOLD);
    cr_expect_not(style_at(find(&c, "body"), "body") & STYLE_BOLD, "the paragraph after a heading is bold");
    layout_cache_free(&c);
}

Test(tui_markdown, nested_lists_bullets_numbers_and_hanging_indent)
{
    lay_cache c = md("- one\n- two words that wrap onto a second line here\n  - inner\n    1. first\n    2. second\n- three",
                     30, 0);
    const lay_line *one = find(&c, "one"), *inner = find(&c, "inner"), *first = find(&c, "first");
    cr_assert(one && inner && first);
    cr_expect_eq(strncmp(one->text, "\xe2\x80\xa2 one", 5), 0, "top level bullet: '%s'", one->text);
    cr_expect(strstr(inner->text, "\xe2\x97\xa6 inner"), "second level bullet: '%s'", inner->text);
    cr_expect_gt(col_of(inner, "inner"), col_of(one, "one"), "a nested item is not indented");
    cr_expect(strstr(first->text, "1. first") && find(&c, "2. second"), "no numbers");
    cr_expect_gt(col_of(first, "1."), col_of(inner, "\xe2\x97\xa6"), "the numbered list is not under its item");
    const lay_line *two = find(&c, "two");
    cr_expect_eq(col_of(&two[1], "second line"), col_of(two, "two"), "a wrapped item's second line is not under its text: '%s'",
                 two[1].text);
    layout_cache_free(&c);
}

Test(tui_markdown, numbered_list_counts_on_across_blank_lines)
{
    lay_cache c = md("1. one\n\n1. two\n\n1. three\n\nafter", 40, 0);
    cr_expect(find(&c, "1. one") && find(&c, "2. two") && find(&c, "3. three"), "a loose list is not numbered on");
    layout_cache_free(&c);
}

Test(tui_markdown, block_quote_bar_on_every_line)
{
    lay_cache c = md("> a quoted sentence long enough to wrap twice at this width", 24, 0);
    cr_assert_geq(c.n, 3);
    for (int i = 0; i < c.n; i++) {
        cr_expect_eq(strncmp(c.lines[i].text, "\xe2\x94\x82 ", 4), 0, "line %d has no bar: '%s'", i, c.lines[i].text);
        cr_expect_eq(c.lines[i].spans[0].style & 0x0f, ROLE_DIM);
        cr_expect_leq(c.lines[i].cols, 24);
    }
    layout_cache_free(&c);
}

Test(tui_markdown, links_show_text_then_dim_address)
{
    lay_cache c = md("see [the docs](https://x.org/d) or https://y.org now", 80, 0);
    cr_assert_eq(c.n, 1);
    cr_expect_str_eq(c.lines[0].text, "see the docs (https://x.org/d) or https://y.org now");
    uint8_t t = style_at(&c.lines[0], "the docs");
    cr_expect_eq(t & 0x0f, ROLE_LINK);
    cr_expect(t & STYLE_UNDERLINE, "link text is not underlined");
    cr_expect_eq(style_at(&c.lines[0], "(https://x.org") & 0x0f, ROLE_DIM, "the address is not dimmed");
    cr_expect_eq(style_at(&c.lines[0], "https://y.org") & 0x0f, ROLE_LINK, "a bare address is not a link");
    layout_cache_free(&c);
}

Test(tui_markdown, table_columns_aligned_by_display_width)
{
    lay_cache c = md("| Name | n | City |\n|---|--:|:-:|\n| Alice | 30 | Paris |\n| 日本語 | 5 | 東京 |\n", 80, 0);
    const lay_line *head = find(&c, "Name"), *a = find(&c, "Alice"), *j = find(&c, "日本語");
    cr_assert(head && a && j, "rows missing");
    cr_expect_null(strstr(head->text, "|"), "raw pipes shown: '%s'", head->text);
    int bar = col_of(head, "\xe2\x94\x82");
    cr_expect_gt(bar, 0);
    cr_expect_eq(col_of(a, "\xe2\x94\x82"), bar, "columns do not line up: '%s' / '%s'", head->text, a->text);
    cr_expect_eq(col_of(j, "\xe2\x94\x82"), bar, "a CJK cell is measured in bytes, not columns: '%s'", j->text);
    cr_expect_eq(col_of(a, "30") + 2, col_of(j, "5") + 1, "the right-aligned column is not right-aligned");
    cr_expect(style_at(head, "Name") & STYLE_BOLD, "the header is not bold");
    cr_expect(find(&c, "\xe2\x94\x80\xe2\x94\xbc"), "no rule under the header");
    layout_cache_free(&c);
}

Test(tui_markdown, wide_table_wraps_cells_within_the_pane)
{
    lay_cache c = md("| key | description |\n|---|---|\n| a | a long description that cannot fit in one line |\n", 30, 0);
    for (int i = 0; i < c.n; i++) cr_expect_leq(c.lines[i].cols, 30, "line %d is %d columns", i, c.lines[i].cols);
    const lay_line *l = find(&c, "a long");
    cr_assert_not_null(l);
    cr_expect_eq(col_of(l + 1, "\xe2\x94\x82"), col_of(l, "\xe2\x94\x82"), "a wrapped cell breaks the columns");
    layout_cache_free(&c);
}

Test(tui_markdown, code_block_without_fences_in_a_box)
{
    lay_cache c = md("look:\n\n```c\nint x = 1;\n```\n\nafter", 40, 0);
    cr_expect_null(raw_mark(&c), "raw markup shown: '%s'", raw_mark(&c));
    for (int i = 0; i < c.n; i++) cr_expect_null(strstr(c.lines[i].text, "```"), "a fence is shown");
    const lay_line *label = find(&c, " c"), *code = find(&c, "int x");
    cr_assert(label && code);
    cr_expect_eq(label->code_block, 0);
    cr_expect_eq(code->code_block, 0);
    cr_expect_eq(code->cols, 40, "the box does not span the pane");
    for (int i = 0; i < code->nspans; i++)
        cr_expect(code->spans[i].style & 0x0f ? (code->spans[i].style & 0x0f) >= ROLE_CODE_BLOCK : 1,
                  "a code cell without the block's background");
    cr_expect_eq(style_at(code, "x = ") & 0x0f, ROLE_CODE_BLOCK);
    cr_expect_eq(find(&c, "after")->code_block, -1);
    layout_cache_free(&c);
    char *raw = layout_code_block("1. step\n\n   ```sh\n   ls -l\n   ```\n", 38, -1);
    cr_assert_not_null(raw);
    cr_expect_str_eq(raw, "ls -l\n", "/copy code copies the code as written, no fences, no list indent");
    free(raw);
}

/* One language: the first code line, and what each of four words should be. */
static const struct {
    const char *lang, *line, *kw, *str, *com, *num;
} langs[] = {
    {"c", "static int n = 42; /* c */ char *s = \"hi\";", "static", "\"hi\"", "/* c */", "42"},
    {"python", "def f(): return 0x1F  # note 'x'", "def", NULL, "# note", "0x1F"},
    {"py", "s = 'text' if True else 3.5", "True", "'text'", NULL, "3.5"},
    {"bash", "echo \"$HOME\" 2 # done", "echo", "\"$HOME\"", "# done", "2"},
    {"json", "{\"k\": [1, -2.5, true, null]}", "true", "\"k\"", NULL, "-2.5"},
    {"typescript", "const x: number = `t${1}`; // c", "const", "`t${1}`", "// c", NULL},
    {"js", "let y = 7; /* z */", "let", NULL, "/* z */", "7"},
    {"rust", "fn f<'a>(x: &'a str) -> u8 { let n = 3; \"s\" }", "fn", "\"s\"", NULL, "3"},
    {"go", "func main() { fmt.Println(\"go\", 10) } // end", "func", "\"go\"", "// end", "10"},
};

Test(tui_markdown, syntax_colours_for_common_languages)
{
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "```%s\n%s\n```\n", langs[i].lang, langs[i].line);
        lay_cache c = md(text, 100, 0);
        const lay_line *l = find(&c, langs[i].kw);
        cr_assert_not_null(l, "%s: line not laid out", langs[i].lang);
        cr_expect_eq(style_at(l, langs[i].kw) & 0x0f, ROLE_SYN_KEYWORD, "%s: '%s' is not a keyword", langs[i].lang,
                     langs[i].kw);
        if (langs[i].str)
            cr_expect_eq(style_at(l, langs[i].str) & 0x0f, ROLE_SYN_STRING, "%s: %s is not a string", langs[i].lang,
                         langs[i].str);
        if (langs[i].com)
            cr_expect_eq(style_at(l, langs[i].com) & 0x0f, ROLE_SYN_COMMENT, "%s: %s is not a comment",
                         langs[i].lang, langs[i].com);
        if (langs[i].num)
            cr_expect_eq(style_at(l, langs[i].num) & 0x0f, ROLE_SYN_NUMBER, "%s: %s is not a number", langs[i].lang,
                         langs[i].num);
        layout_cache_free(&c);
    }
}

Test(tui_markdown, comments_and_strings_span_lines)
{
    lay_cache c = md("```c\n/* one\n   two */ int x;\n```\n```python\ns = \"\"\"doc\nstill doc\"\"\"\n```\n", 60, 0);
    cr_expect_eq(style_at(find(&c, "two"), "two") & 0x0f, ROLE_SYN_COMMENT);
    cr_expect_eq(style_at(find(&c, "two"), "int") & 0x0f, ROLE_SYN_KEYWORD, "the comment did not end at */");
    cr_expect_eq(style_at(find(&c, "still"), "still") & 0x0f, ROLE_SYN_STRING);
    layout_cache_free(&c);
}

Test(tui_markdown, horizontal_rule)
{
    lay_cache c = md("above\n\n---\n\nbelow", 20, 0);
    const lay_line *r = find(&c, "\xe2\x94\x80");
    cr_assert_not_null(r, "no rule");
    cr_expect_eq(r->cols, 20);
    cr_expect_eq(r->spans[0].style & 0x0f, ROLE_DIM);
    layout_cache_free(&c);
}

Test(tui_markdown, ascii_structure_without_colours)
{
    const char *t = "# T\n\n- a\n  - b\n\n> q\n\nuse `ls`\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n```py\npass\n```\n\n---\n";
    lay_cache c = md(t, 40, LAY_ASCII);
    for (int i = 0; i < c.n; i++)
        for (const unsigned char *p = (const unsigned char *)c.lines[i].text; *p; p++)
            cr_assert_lt(*p, 0x80, "non-ASCII on line %d: '%s'", i, c.lines[i].text);
    cr_expect(find(&c, "- a") && find(&c, "  * b"), "no ASCII bullets");
    cr_expect(find(&c, "> q"), "no ASCII quote mark");
    cr_expect(find(&c, "use `ls`"), "inline code lost its backticks");
    cr_expect(find(&c, "x | y") && find(&c, "--+--"), "no ASCII table");
    cr_expect(find(&c, "+-- py") && find(&c, "| pass"), "no ASCII code rails");
    cr_expect(find(&c, "----------"), "no ASCII rule");
    layout_cache_free(&c);
}

Test(tui_markdown, control_sequences_never_reach_the_screen)
{
    const char *t = "a\x1b[2J **b\x07** [l](http://x\x1b]52;c;x\x07) &#xD800;&#x9b;\n\n| c\x1b[31m | &#27; |\n|---|---|\n\n"
                    "```\n\x1b[1mcode\x9b\n```\n";
    lay_cache c = md(t, 60, 0);
    for (int i = 0; i < c.n; i++)
        for (const unsigned char *p = (const unsigned char *)c.lines[i].text; *p; p++) {
            cr_assert(*p >= 0x20 && *p != 0x7f, "control byte %#x on line %d", *p, i);
            cr_assert(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0), "C1 control on line %d", i);
            cr_assert(!(p[0] == 0xed && p[1] >= 0xa0), "a surrogate (ill-formed UTF-8) on line %d", i);
        }
    layout_cache_free(&c);
}

/* Stream text one byte at a time as a streaming answer; check every frame. */
static void stream_and_check(const char *text, bool ascii)
{
    transcript tr;
    layout L, fresh;
    transcript_init(&tr);
    layout_init(&L);
    L.ascii = ascii;
    int a = transcript_add(&tr, TR_ASSISTANT, "");
    tr.msgs[a].streaming = true;
    for (size_t i = 0; text[i]; i++) {
        transcript_append(&tr, a, text + i, 1);
        int n = layout_update(&L, &tr, 50);
        lay_cache *c = &L.msgs[a];
        lay_cache body = *c;
        body.lines++, body.n--;   /* not the header */
        cr_assert_null(raw_mark(&body), "after %zu bytes a frame shows raw markup: '%s'", i + 1, raw_mark(&body));
        layout_init(&fresh);
        fresh.ascii = ascii;
        cr_assert_eq(layout_update(&fresh, &tr, 50), n, "after %zu bytes: not the lines of a fresh layout", i + 1);
        for (int k = 0; k < n; k++)
            cr_assert_str_eq(layout_line(&L, k)->text, layout_line(&fresh, k)->text, "after %zu bytes, line %d", i + 1, k);
        layout_done(&fresh);
    }
    layout_done(&L);
    transcript_done(&tr);
}

Test(tui_markdown, streaming_never_shows_raw_markup)
{
    stream_and_check("Intro with **bold words** and `code` and [a link](http://x.y).\n\n"
                     "1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                     "```python\ndef f():\n    return 1\n```\n\n> quote *it*\n\nSetext\n------\n", false);
    stream_and_check("- **x** y\n\n```c\nint a;\n```\n| p | q |\n|---|---|\n", true);
}

Test(tui_markdown, streaming_single_stars_and_underscores)
{
    const char *text = "Compute 2 * 3 for _each_ item in snake_case.\n";
    transcript tr;
    layout L;
    transcript_init(&tr);
    layout_init(&L);
    int a = transcript_add(&tr, TR_ASSISTANT, "");
    tr.msgs[a].streaming = true;
    for (size_t i = 0; text[i]; i++) {
        transcript_append(&tr, a, text + i, 1);
        layout_update(&L, &tr, 80);
        const char *t = L.msgs[a].n > 1 ? L.msgs[a].lines[1].text : "";
        const char *star = strchr(t, '*');
        cr_assert(!star || !strchr(star + 1, '*'), "after %zu bytes a stray '*' shows: '%s'", i + 1, t);
        const char *u = strchr(t, '_');
        cr_assert(!u || strstr(t, "snake_"), "after %zu bytes a raw '_' shows: '%s'", i + 1, t);
    }
    cr_expect(style_at(&L.msgs[a].lines[1], "each") & STYLE_ITALIC);
    layout_done(&L);
    transcript_done(&tr);
}

Test(tui_markdown, streaming_open_fence_and_unfinished_table_row)
{
    transcript tr;
    layout L;
    transcript_init(&tr);
    layout_init(&L);
    int a = transcript_add(&tr, TR_ASSISTANT, "Code:\n\n```c\nint main(void)\n{\n    return");
    tr.msgs[a].streaming = true;
    layout_update(&L, &tr, 50);
    const lay_cache *c = &L.msgs[a];
    cr_expect_null(find(c, "```"), "the open fence is shown raw");
    const lay_line *r = find(c, "return");
    cr_assert_not_null(r, "the unfinished line is not shown");
    cr_expect_eq(r->code_block, 0, "the open block is not laid out as code");
    cr_expect_eq(style_at(r, "return") & 0x0f, ROLE_SYN_KEYWORD);
    const char *more = "\n}\n```\n\n| k | v |\n|---|---|\n| one | tw";
    transcript_append(&tr, a, more, strlen(more));
    layout_update(&L, &tr, 50);
    const lay_line *row = find(&L.msgs[a], "one");
    cr_assert_not_null(row);
    cr_expect(strstr(row->text, "one \xe2\x94\x82 tw"), "the unfinished row is not in columns: '%s'", row->text);
    layout_done(&L);
    transcript_done(&tr);
}

Test(tui_markdown, streaming_lays_out_only_the_last_piece)
{
    transcript tr;
    layout L;
    transcript_init(&tr);
    layout_init(&L);
    int a = transcript_add(&tr, TR_ASSISTANT, "First paragraph.\n\n```sh\n");
    tr.msgs[a].streaming = true;
    for (int i = 0; i < 40; i++) transcript_append(&tr, a, "echo line\n", 10);
    layout_update(&L, &tr, 50);
    const char *kept = L.msgs[a].lines[1].text, *code = L.msgs[a].lines[5].text;
    transcript_append(&tr, a, "echo more", 9);
    layout_update(&L, &tr, 50);
    cr_expect_eq(L.msgs[a].lines[1].text, kept, "the first paragraph was laid out again for one token");
    cr_expect_eq(L.msgs[a].lines[5].text, code, "an early code line was laid out again for one token");
    cr_expect(find(&L.msgs[a], "echo more"), "the new token is not shown");
    layout_done(&L);
    transcript_done(&tr);
}

/* Found by fuzzing: nesting deeper than the pane is wide, and an empty code block. */
Test(tui_markdown, deep_nesting_and_empty_code_stay_in_the_pane)
{
    lay_cache c = md(">>>>>>>>>>>>>>>>>>>>>>>>>>>>>> \xf0\x9f\x98\x80 deep\n\n"
                     "- - - - - - - - - - - - - - - - - - - ```\n", 35, 0);
    for (int i = 0; i < c.n; i++) cr_expect_leq(c.lines[i].cols, 35, "line %d: '%s'", i, c.lines[i].text);
    cr_expect_not_null(find(&c, "deep"));
    layout_cache_free(&c);
    c = md("```\n```\n", 35, LAY_ASCII);
    cr_expect(find(&c, "+--"), "an empty code block is not shown");
    layout_cache_free(&c);
}
