/* test_tui_layout.c — the chat's text layout, input editor, transcript file
 * and OSC 52 encoding, without a terminal: widths of wide, emoji and
 * combining text, word wrap, markdown spans, code blocks, control bytes. */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tui/tui.h"

/* Lay text out at width; returns the cache (free with layout_cache_free). */
static lay_cache lay(const char *text, int width, bool md)
{
    lay_cache c = {0};
    layout_text(&c, text, strlen(text), width, 0, ROLE_NORMAL, md, 0);
    return c;
}

Test(tui_layout, display_widths)
{
    cr_expect_eq(tui_str_width("abc", 3), 3);
    cr_expect_eq(tui_str_width("日本語", strlen("日本語")), 6, "CJK is two columns each");
    cr_expect_eq(tui_str_width("\xf0\x9f\x98\x80", 4), 2, "an emoji is two columns");
    cr_expect_eq(tui_str_width("e\xcc\x81", 3), 1, "a combining mark takes no column");
}

Test(tui_layout, wraps_at_word_boundaries)
{
    lay_cache c = lay("the quick brown fox jumps over the lazy dog", 16, false);
    cr_assert_eq(c.n, 3);
    cr_expect_str_eq(c.lines[0].text, "the quick brown");
    cr_expect_str_eq(c.lines[1].text, "fox jumps over");
    cr_expect_str_eq(c.lines[2].text, "the lazy dog");
    for (int i = 0; i < c.n; i++) cr_expect_leq(c.lines[i].cols, 16);
    layout_cache_free(&c);
}

Test(tui_layout, exact_fit_is_one_line)
{
    lay_cache c = lay("hello world", 11, false);
    cr_expect_eq(c.n, 1, "a line exactly as wide as the pane must not wrap");
    layout_cache_free(&c);
}

Test(tui_layout, wide_chars_never_overflow)
{
    lay_cache c = lay("日本語のテキストはとても長いです\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7, false);
    cr_assert_gt(c.n, 3);
    for (int i = 0; i < c.n; i++) cr_expect_leq(c.lines[i].cols, 7, "line %d is %d columns", i, c.lines[i].cols);
    layout_cache_free(&c);
}

Test(tui_layout, combining_mark_stays_with_base)
{
    lay_cache c = lay("abcde\xcc\x81", 5, false);
    cr_assert_eq(c.n, 1, "the combining mark after the 5th column must not start a line");
    cr_expect_str_eq(c.lines[0].text, "abcde\xcc\x81");
    layout_cache_free(&c);
}

Test(tui_layout, long_word_is_cut)
{
    lay_cache c = lay("aaaaaaaaaaaaaaaaaaaa", 8, false);
    cr_expect_eq(c.n, 3);
    layout_cache_free(&c);
}

Test(tui_layout, control_bytes_are_neutralised)
{
    lay_cache c = lay("a\x1b[2Jb\tc\x07\xff", 40, false);
    cr_assert_eq(c.n, 1);
    cr_expect_null(strchr(c.lines[0].text, 0x1b), "ESC reached the screen");
    cr_expect_null(strchr(c.lines[0].text, 0x07), "BEL reached the screen");
    cr_expect_null(strchr(c.lines[0].text, '\t'), "a tab reached the screen");
    layout_cache_free(&c);
}

Test(tui_layout, markdown_spans)
{
    lay_cache c = lay("say **bold** and `code` here", 80, true);
    cr_assert_eq(c.n, 1);
    cr_expect_str_eq(c.lines[0].text, "say bold and code here", "markers are not shown");
    bool bold = false, code = false;
    for (int i = 0; i < c.lines[0].nspans; i++) {
        const lay_span *s = &c.lines[0].spans[i];
        if (s->style & STYLE_BOLD && strncmp(c.lines[0].text + s->start, "bold", 4) == 0) bold = true;
        if ((s->style & 0x0f) == ROLE_CODE && strncmp(c.lines[0].text + s->start, "code", 4) == 0) code = true;
    }
    cr_expect(bold, "**bold** has no bold span");
    cr_expect(code, "`code` has no code span");
    layout_cache_free(&c);
}

Test(tui_layout, fenced_code_blocks)
{
    const char *t = "look:\n```c\nint x = 1;   /* not wrapped at words */\n```\nafter";
    lay_cache c = lay(t, 80, true);
    cr_assert_eq(c.n, 6, "look, gap, label, code, gap, after");
    cr_expect_eq(strncmp(c.lines[2].text, " c ", 3), 0, "no language label: '%s'", c.lines[2].text);
    cr_expect_eq(c.lines[3].cols, 80, "the code box does not span the pane");
    cr_expect_eq(c.lines[3].code_block, 0);
    cr_expect_eq(c.lines[5].code_block, -1);
    cr_expect_eq(c.lines[3].spans[0].style & 0x0f, ROLE_CODE_BLOCK);
    layout_cache_free(&c);
    char *code = layout_code_block(t, strlen(t), -1);
    cr_assert_not_null(code);
    cr_expect_str_eq(code, "int x = 1;   /* not wrapped at words */\n");
    free(code);
}

Test(tui_layout, transcript_cache_rewraps_only_changes)
{
    transcript tr;
    layout L;
    transcript_init(&tr);
    layout_init(&L);
    transcript_add(&tr, TR_USER, "hi");
    int a = transcript_add(&tr, TR_ASSISTANT, "");
    int n0 = layout_update(&L, &tr, 40);
    char *first_line = L.msgs[0].lines[0].text;
    transcript_append(&tr, a, "one two three four five six seven eight nine ten eleven", 55);
    int n1 = layout_update(&L, &tr, 40);
    cr_expect_gt(n1, n0);
    cr_expect_eq(L.msgs[0].lines[0].text, first_line, "the unchanged message was re-laid out");
    cr_expect_not_null(layout_line(&L, n1 - 1));
    cr_expect_null(layout_line(&L, n1));
    layout_done(&L);
    transcript_done(&tr);
}

Test(tui_input, editing_and_history)
{
    input in;
    input_init(&in);
    setlocale(LC_CTYPE, "C.UTF-8");
    const char *s = "héllo wörld";
    for (const char *p = s; *p;) {
        wchar_t wc;
        int k = mbtowc(&wc, p, 4);
        if (k <= 0) { wc = (unsigned char)*p; k = 1; }
        input_key(&in, (tui_key){(int)wc, false, false});
        p += k;
    }
    cr_expect_str_eq(in.buf, "héllo wörld");
    input_key(&in, (tui_key){TUI_CTRL('w'), false, false});
    cr_expect_str_eq(in.buf, "héllo ");
    input_key(&in, (tui_key){127, false, false});
    input_key(&in, (tui_key){127, false, false});
    cr_expect_str_eq(in.buf, "héll", "backspace removes whole code points");
    input_key(&in, (tui_key){'\r', false, true});
    input_key(&in, (tui_key){'x', false, false});
    cr_expect_str_eq(in.buf, "héll\nx", "Alt-Enter inserts a newline");
    cr_expect(input_key(&in, (tui_key){'\r', false, false}) & INPUT_SUBMIT, "Enter submits");
    input_history_add(&in, in.buf);
    input_set(&in, "draft");
    input_key(&in, (tui_key){KEY_UP, true, false});
    cr_expect_str_eq(in.buf, "héll\nx", "Up recalls history");
    input_key(&in, (tui_key){KEY_DOWN, true, false});
    input_key(&in, (tui_key){KEY_DOWN, true, false});
    cr_expect_str_eq(in.buf, "draft", "Down returns to the draft");
    input_done(&in);
}

Test(tui_input, paste_keeps_newlines)
{
    input in;
    input_init(&in);
    input_key(&in, (tui_key){TUI_KEY_PASTE_BEGIN, true, false});
    const char *p = "a\rb\rc";
    int flags = 0;
    for (; *p; p++) flags |= input_key(&in, (tui_key){*p, false, false});
    cr_expect(!(flags & INPUT_SUBMIT), "a pasted newline sent the message");
    input_key(&in, (tui_key){TUI_KEY_PASTE_END, true, false});
    cr_expect_str_eq(in.buf, "a\nb\nc");
    input_done(&in);
}

/* An unsaved conversation's /export md is the store's Markdown form: /load
 * (sess_import_file) reads it back, notices left out, the stop kept. */
Test(tui_transcript, export_markdown_loads_back)
{
    transcript a;
    transcript_init(&a);
    transcript_add(&a, TR_SYSTEM, "Be terse.");
    transcript_add(&a, TR_USER, "question\nwith two lines");
    int k = transcript_add(&a, TR_ASSISTANT, "answer with ```code```\n## User\n");
    a.msgs[k].stopped = true;
    transcript_add(&a, TR_NOTICE, "not saved");
    char dir[] = "/tmp/parley-tr-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/x.md", dir);
    sess_status st = {0};
    cr_assert_eq(transcript_export_md(&a, path, 0, &st), 0, "%s", st.msg);
    sess_store *s = sess_store_open(dir, 0, &st);
    cr_assert_not_null(s, "%s", st.msg);
    int64_t id = sess_import_file(s, path, &st);
    cr_assert_gt(id, 0, "%s", st.msg);
    sess_msg *m = NULL;
    int n = 0;
    cr_assert_eq(sess_msg_list(s, id, &m, &n, &st), 0);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(m[0].text, "question\nwith two lines");
    cr_expect_str_eq(m[1].text, "answer with ```code```\n## User\n");
    cr_expect_not(m[1].complete, "the stopped answer lost its mark");
    sess_info info;
    cr_assert_eq(sess_get_info(s, id, &info, &st), 0);
    cr_expect_str_eq(info.system_prompt, "Be terse.");
    sess_info_clear(&info);
    sess_msg_free_list(m, n);
    sess_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    transcript_done(&a);
}

Test(tui_transcript, chat_skips_notices_and_dropped_turns)
{
    transcript t;
    transcript_init(&t);
    transcript_add(&t, TR_USER, "u1");
    transcript_add(&t, TR_ASSISTANT, "a1");
    transcript_add(&t, TR_NOTICE, "n");
    transcript_add(&t, TR_USER, "u2");
    transcript_drop_turns(&t, 5);
    pl_chat_msg *m;
    int n = transcript_chat(&t, "sys", &m);
    cr_assert_eq(n, 2, "system + the last user message (the turn being answered is never dropped)");
    cr_expect_str_eq(m[0].role, "system");
    cr_expect_str_eq(m[1].content, "u2");
    free(m);
    transcript_done(&t);
}

Test(tui_clipboard, osc52_and_tmux_passthrough)
{
    char *s = tui_osc52_encode("hi!", 3, false, false);
    cr_expect_str_eq(s, "\x1b]52;c;aGkh\x07");
    free(s);
    s = tui_osc52_encode("hi", 2, true, false);
    cr_expect_str_eq(s, "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\");
    free(s);
}
