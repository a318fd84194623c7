/* tui_chat.c — chatting with the real default model through the real UI:
 * an answer appears, streams in several steps, Esc keeps the partial text,
 * resizing mid-answer keeps the screen sane, the picker lists and loads the
 * model, a knob change shows in the status line. --temp 0 makes answers
 * deterministic. Each test stays under 20 s on two shared cores. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

#define LONG_PROMPT "Write a long story about a dragon and a knight."

/* Wait until the answer area holds at least n characters. */
static bool wait_answer_len(vt_term *t, size_t n, int timeout_ms)
{
    char buf[16384];
    long long end = parley_ms() + timeout_ms;
    while (parley_ms() < end) {
        size_t len = 0;
        parley_answer(t, buf, sizeof buf);
        for (char *p = buf; *p; p++) len += *p != ' ' && *p != '\n';
        if (len >= n) return true;
        vt_pump(t, 30);
    }
    return false;
}

/* Wait until the status line (not just anywhere) shows text: frames can arrive in pieces. */
Test(tui_chat, answer_appears, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, NULL);
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    cr_assert(vt_wait_text(t, "You", 3000), "the message was not shown");
    cr_assert(vt_wait_text(t, "Paris", 15000), "the model's answer (Paris) did not appear");
    char st[1024];
    cr_assert(parley_wait_status(t, "tok/s", 10000), "the answer did not finish");
    parley_status(t, st, sizeof st);
    cr_expect(strstr(st, "tok/s"), "no speed in the status line after an answer: '%s'", st);
    cr_expect(!strstr(st, "ctx 0/"), "the context meter did not move: '%s'", st);
    parley_stop(t);
}

Test(tui_chat, streaming_is_visible, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "48", NULL}});
    parley_wait_ready(t);
    parley_type(t, LONG_PROMPT);
    char prev[16384] = "", cur[16384], st[1024];
    int changes = 0;
    long long end = parley_ms() + 15000;
    bool answering_seen = false;
    while (parley_ms() < end) {
        vt_pump(t, 20);
        parley_status(t, st, sizeof st);
        answering_seen |= strstr(st, "answering") != NULL;
        parley_answer(t, cur, sizeof cur);
        if (strcmp(cur, prev) != 0 && strlen(cur) > strlen(prev)) changes++;
        strcpy(prev, cur);
        if (answering_seen && strstr(st, "ready")) break;
    }
    cr_expect(answering_seen, "the status line never said 'answering'");
    cr_expect(changes >= 3, "the answer appeared in %d steps, expected it to stream in several", changes);
    parley_stop(t);
}

Test(tui_chat, esc_keeps_partial_answer, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, NULL);
    parley_wait_ready(t);
    parley_type(t, LONG_PROMPT);
    cr_assert(wait_answer_len(t, 30, 15000), "no answer text started streaming");
    vt_send(t, VT_KEY_ESC);
    cr_assert(vt_wait_text(t, "(stopped)", 5000), "Esc did not stop the answer");
    /* let the frame that says so arrive whole before reading the answer */
    cr_assert(parley_wait_status(t, "ready", 5000), "the status line does not say ready after Esc");
    vt_pump(t, 300);
    char a1[16384], a2[16384];
    parley_answer(t, a1, sizeof a1);
    cr_expect(strlen(a1) > 30, "the partial answer was not kept: '%s'", a1);
    vt_pump(t, 500);
    parley_answer(t, a2, sizeof a2);
    cr_expect_str_eq(a2, a1, "text kept arriving after Esc");
    parley_type(t, "/stats");
    cr_expect(vt_wait_text(t, "stopped by you", 3000), "/stats does not say the answer was stopped");
    parley_stop(t);
}

Test(tui_chat, resize_while_streaming, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "80", NULL}});
    parley_wait_ready(t);
    parley_type(t, LONG_PROMPT);
    cr_assert(wait_answer_len(t, 10, 15000), "no answer text started streaming");
    static const int sizes[][2] = {{30, 100}, {12, 40}, {20, 60}, {8, 30}, {24, 80}};
    for (int i = 0; i < 5; i++) {
        vt_resize(t, sizes[i][0], sizes[i][1]);
        vt_pump(t, 150);
    }
    cr_assert(parley_wait_status(t, "ready", 15000), "the answer did not finish after resizing");
    vt_pump(t, 200);
    parley_assert_sane(t);
    cr_expect(vt_wait_text(t, "Assistant", 2000), "the answer is gone after resizing");
    cr_expect(!vt_contains(t, "terminal too small"), "still says too small at 80x24");
    parley_stop(t);
}

Test(tui_chat, picker_lists_and_loads_model, .timeout = 20)
{
    vt_term *t = parley_start(30, 100, NULL);
    parley_wait_ready(t);
    vt_send(t, VT_KEY_CTRL('o'));
    cr_assert(vt_wait_text(t, "Models", 3000), "Ctrl-O opened no picker");
    cr_assert(vt_wait_text(t, "SmolLM2-135M-Instruct", 3000), "the default model is not listed");
    cr_expect(vt_wait_text(t, "llama", 2000), "the picker does not show the architecture");
    vt_send(t, VT_KEY_ENTER);
    cr_assert(vt_wait_gone(t, "Models", 3000), "Enter did not close the picker");
    /* The same notice twice is shown once with a count: "(x2)". */
    cr_expect(vt_wait_text(t, "(x2)", 15000), "the picked model was not loaded again");
    parley_wait_ready(t);
    parley_stop(t);
}

Test(tui_chat, knob_change_shows_in_status, .timeout = 20)
{
    vt_term *t = parley_start(24, 100, NULL);
    parley_wait_ready(t);
    char st[1024];
    parley_status(t, st, sizeof st);
    cr_assert(strstr(st, "temp 0 "), "status line lacks the temperature: '%s'", st);
    parley_type(t, "/set temp 0.3");
    cr_assert(vt_wait_text(t, "temp 0.3", 3000), "the status line did not show temp 0.3");
    parley_type(t, "/set threads 1");
    cr_assert(vt_wait_text(t, "| t1 |", 3000), "the status line did not show 1 thread");
    vt_send(t, VT_KEY_F2);
    cr_assert(vt_wait_text(t, "Settings", 3000), "F2 opened no settings panel");
    vt_send(t, VT_KEY_UP);   /* wraps to the last row: draft-max */
    bool said = vt_wait_text(t, "not supported yet", 3000);
    char *scr = vt_text(t);
    cr_expect(said, "the panel does not say which knobs are not live:\n%s", scr);
    free(scr);
    parley_stop(t);
}

/* The KV cache type changes mid-conversation: the cache is converted in place,
 * the status line says so at once and the next answer still comes. */
Test(tui_chat, kv_type_changes_live, .timeout = 30)
{
    vt_term *t = parley_start(24, 160, NULL);   /* wide enough for every status item */
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    cr_assert(vt_wait_text(t, "Paris", 15000), "no first answer");
    cr_assert(parley_wait_status(t, "ready", 15000), "the first answer did not finish");
    vt_pump(t, 300);
    parley_type(t, "/set cache-type-k q8_0");
    cr_assert(vt_wait_text(t, "kv q8_0/f16", 3000), "the status line did not show the new K type");
    cr_expect(!vt_contains(t, "next load"), "a live KV type change was reported as 'next load'");
    parley_type(t, "And of Italy?");
    cr_assert(vt_wait_text(t, "And of Italy?", 3000), "the message was not sent");
    (void)parley_wait_status(t, "answering", 5000);   /* a short answer may be over before we look */
    cr_assert(parley_wait_status(t, "ready", 15000), "the answer after the KV type change did not finish");
    vt_pump(t, 300);
    char *scr = vt_text(t);
    int answers = 0;
    for (const char *p = scr; (p = strstr(p, "Assistant")); p++) answers++;
    cr_expect(answers >= 2, "no second answer after the KV type change:\n%s", scr);
    cr_expect(strstr(scr, "kv q8_0/f16") != NULL, "the K type did not stay q8_0:\n%s", scr);
    free(scr);
    parley_stop(t);
}

Test(tui_chat, regenerate_reuses_prefix, .timeout = 20)
{
    vt_term *t = parley_start(24, 100, NULL);
    parley_wait_ready(t);
    parley_type(t, "What is the capital of France?");
    cr_assert(vt_wait_text(t, "Paris", 15000), "no first answer");
    cr_assert(parley_wait_status(t, "tok/s", 10000), "the first answer did not finish");
    vt_send(t, VT_KEY_CTRL('r'));
    cr_assert(parley_wait_status(t, "answering", 3000), "Ctrl-R did not regenerate");
    cr_assert(parley_wait_status(t, "ready", 10000), "the regenerated answer did not finish");
    vt_pump(t, 100);   /* the rest of the frame */
    cr_expect(vt_wait_text(t, "Paris", 2000), "the regenerated answer differs at temp 0");
    parley_type(t, "/stats");
    cr_assert(vt_wait_text(t, "reused from the cache", 3000), "/stats printed nothing");
    char row[1024];
    int r = vt_find_row(t, "prompt tokens ("), prompt = 0, reused = 0;
    cr_assert(r >= 0);
    sscanf(strstr(vt_row(t, r, row, sizeof row), "answer: ") + 8, "%d prompt tokens (%d reused", &prompt, &reused);
    char *scr = vt_text(t);
    cr_expect(prompt > 5 && reused >= prompt - 1, "regenerate re-decoded the prompt: %d of %d reused; screen:\n%s",
              reused, prompt, scr);
    free(scr);
    parley_stop(t);
}

Test(tui_chat, context_full_is_announced, .timeout = 20)
{
    vt_term *t = parley_start(24, 100, &(parley_opts){.args = {"--ctx-size", "96", "--n-predict", "120", NULL}});
    parley_wait_ready(t);
    parley_type(t, LONG_PROMPT);
    cr_assert(vt_wait_text(t, "context full", 16000), "a full context was not announced");
    vt_send(t, VT_KEY_ESC);
    parley_stop(t);
}

Test(tui_chat, streaming_sends_only_changes, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "48", NULL}});
    parley_wait_ready(t);
    size_t before;
    vt_raw(t, &before);
    parley_type(t, LONG_PROMPT);
    cr_assert(parley_wait_status(t, "tok/s", 15000), "the answer did not finish");
    size_t after;
    vt_raw(t, &after);
    /* 48 tokens: a full 80x24 repaint per token would be ~90 KB. */
    cr_expect(after - before < 16000, "%zu bytes sent for a 48-token answer: frames are not diffs",
              after - before);
    cr_log_info("bytes for a 48-token answer at 80x24: %zu", after - before);
    parley_stop(t);
}

Test(tui_chat, typing_while_streaming, .timeout = 20)
{
    vt_term *t = parley_start(24, 80, &(parley_opts){.args = {"--n-predict", "100", NULL}});
    parley_wait_ready(t);
    parley_type(t, LONG_PROMPT);
    cr_assert(wait_answer_len(t, 10, 15000), "no answer text started streaming");
    vt_send(t, "next question");
    cr_assert(vt_wait_text(t, "> next question", 2000), "typing is not shown while the answer streams");
    char st[1024];
    cr_expect(strstr(parley_status(t, st, sizeof st), "answering"), "the answer ended before the typing showed: '%s'", st);
    vt_send(t, VT_KEY_PGUP);
    cr_expect(vt_wait_text(t, "more below", 2000) || vt_wait_text(t, "You", 100), "PgUp while streaming did nothing");
    vt_send(t, VT_KEY_ESC);
    parley_stop(t);
}
