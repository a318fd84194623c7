/* tui_export.c — /export from the chat as a person uses it: `~` means the home
 * folder, an existing file is never overwritten by /export (the message says
 * to use /export! and the file keeps its bytes), /export! replaces it, and
 * what is written is private (0600). Every run has its own HOME (harness.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

/* Whole small file into buf ("" when missing). */
static const char *slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

/* parley resumed on one imported session, in a fresh home. */
static vt_term *start_on_a_session(char **home_out)
{
    char *home = parley_mkhome(), path[600], out[4096], args[700];
    snprintf(path, sizeof path, "%s/chat.json", home);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"parley_session\":1,\"title\":\"Exported chat\",\"messages\":[{\"role\":\"user\",\"text\":"
          "\"Tell me about dragons\"},{\"role\":\"assistant\",\"text\":\"Dragons fly.\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "sessions import '%s'", path);
    cr_assert_eq(parley_cli(home, args, out, sizeof out), 0, "%s", out);
    vt_term *t = parley_start(30, 110, &(parley_opts){.home = home, .no_model = true, .args = {"--resume", "1", NULL}});
    parley_wait_ui(t);
    cr_assert(vt_wait_text(t, "Dragons fly.", 5000), "--resume 1 did not show the session");
    *home_out = home;
    return t;
}

Test(tui_export, refuses_an_existing_file_then_replaces_it_with_bang, .timeout = 30)
{
    char *home, notes[600], buf[4096];
    vt_term *t = start_on_a_session(&home);
    snprintf(notes, sizeof notes, "%s/notes.md", home);
    FILE *f = fopen(notes, "w");
    fputs("my own notes\n", f);
    fclose(f);
    parley_type(t, "/export md ~/notes.md");
    cr_assert(vt_wait_text(t, "exists - not overwritten", 3000), "/export over an existing file was not refused");
    cr_expect(vt_contains(t, "/export! md ~/notes.md"), "the refusal does not say how to replace it");
    cr_assert_str_eq(slurp(notes, buf, sizeof buf), "my own notes\n", "/export overwrote the file");
    parley_type(t, "/export! md ~/notes.md");
    cr_assert(vt_wait_text(t, "exported session 1 to", 3000), "/export! did not export");
    cr_expect(strstr(slurp(notes, buf, sizeof buf), "Dragons fly."), "/export! did not replace the file: %s", buf);
    struct stat sb;
    cr_assert_eq(stat(notes, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "the export is mode %o", sb.st_mode & 0777);
    parley_stop(t);
    free(home);
}

Test(tui_export, tilde_is_the_home_folder, .timeout = 30)
{
    char *home, path[600], buf[4096];
    vt_term *t = start_on_a_session(&home);
    parley_type(t, "/export json ~/chat-copy.json");
    cr_assert(vt_wait_text(t, "exported session 1 to", 3000), "/export json ~/... failed");
    snprintf(path, sizeof path, "%s/chat-copy.json", home);
    cr_expect(strstr(slurp(path, buf, sizeof buf), "\"Dragons fly.\""), "~ was not the home folder (%s: '%s')", path, buf);
    cr_expect(vt_contains(t, path), "the message does not name the file it wrote");
    parley_stop(t);
    free(home);
}

Test(tui_export, export_md_then_load_brings_the_session_back, .timeout = 30)
{
    char *home;
    vt_term *t = start_on_a_session(&home);
    parley_type(t, "/export md ~/trip.md");
    cr_assert(vt_wait_text(t, "exported session 1 to", 3000), "/export md failed");
    parley_type(t, "/clear");
    cr_assert(vt_wait_gone(t, "Dragons fly.", 3000), "/clear left the conversation on screen");
    parley_type(t, "/load ~/trip.md");
    cr_assert(vt_wait_text(t, "as session 2", 5000), "/load of the export failed");
    cr_expect(vt_wait_text(t, "Dragons fly.", 3000), "the loaded session does not show its answer");
    cr_expect(vt_contains(t, "Tell me about dragons"), "the loaded session does not show the question");
    parley_stop(t);
    free(home);
}
