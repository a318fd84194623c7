/* test_config.c — the options table as a user meets it: flags, config file,
 * environment, their precedence, and the messages for bad values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

/* Write text to a fresh temp file and return its path (static buffer). */
static const char *temp_ini(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/parley-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, defaults_come_from_the_table)
{
    pl_config c;
    config_init(&c);
    cr_expect_eq(c.threads, 0);
    cr_expect_eq(c.batch_size, 512);
    cr_expect_float_eq(c.temp, 0.8f, 1e-6);
    cr_expect_eq(c.seed, -1);
    cr_expect_str_eq(c.cache_type_k, "f16");
    cr_expect_str_eq(c.context_policy, "shift");
    config_free(&c);
}

Test(config, precedence_file_env_flags)
{
    const char *ini = temp_ini("# comment\n[engine]\nthreads = 3\ntemp = 0.5\ntop-k = 7\nsystem = \"be brief\"\n");
    setenv("PARLEY_CONFIG", ini, 1);
    setenv("PARLEY_TEMP", "0.25", 1);
    unsetenv("PARLEY_THREADS");
    char *argv[] = {"run", "-t", "2", "-p", "hello", "extra", NULL};
    pl_config c;
    config_init(&c);
    char err[256] = "";
    int first = 0;
    cr_assert_eq(config_load(&c, 6, argv, &first, err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.threads, 2, "flag beats file");
    cr_expect_float_eq(c.temp, 0.25f, 1e-6, "env beats file");
    cr_expect_eq(c.top_k, 7, "file beats default");
    cr_expect_str_eq(c.system, "be brief", "quotes are stripped");
    cr_expect_str_eq(c.prompt, "hello");
    cr_expect_str_eq(argv[first], "extra");
    cr_expect_null(argv[first + 1]);
    cr_expect(config_from_cli(&c, config_find("threads")), "-t was on the command line");
    cr_expect(!config_from_cli(&c, config_find("temp")), "temp came from the environment, not a flag");
    cr_expect(!config_from_cli(&c, config_find("top-k")), "top-k came from the file, not a flag");
    config_free(&c);
    unsetenv("PARLEY_TEMP");
    unlink(ini);
    unsetenv("PARLEY_CONFIG");
}

Test(config, bad_values_name_option_and_range)
{
    pl_config c;
    config_init(&c);
    char err[256];
    char *a1[] = {"run", "--threads", "lots", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_RUN, 3, a1, NULL, err, sizeof err), -1);
    cr_expect_str_eq(err, "--threads: 'lots' is not a whole number (0..512)");
    char *a2[] = {"run", "--top-p=1.5", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_RUN, 2, a2, NULL, err, sizeof err), -1);
    cr_expect_str_eq(err, "--top-p: 1.5 is out of range (0..1)");
    char *a3[] = {"run", "--cache-type-k", "q3", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_RUN, 3, a3, NULL, err, sizeof err), -1);
    cr_expect_str_eq(err, "--cache-type-k: 'q3' is not one of f16|q8_0|q4_0");
    char *a4[] = {"run", "--frobnicate", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_RUN, 2, a4, NULL, err, sizeof err), -1);
    cr_expect_str_eq(err, "unknown option '--frobnicate' (see --help)");
    char *a5[] = {"run", "-n", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_RUN, 2, a5, NULL, err, sizeof err), -1);
    cr_expect_str_eq(err, "--n-predict needs a value (N)");
    config_free(&c);
}

Test(config, options_belong_to_their_commands)
{
    pl_config c;
    config_init(&c);
    char err[256];
    /* -p is the prompt for run, the prefill length for bench */
    char *a1[] = {"bench", "-p", "64", "-r", "5", NULL};
    cr_assert_geq(config_parse_args(&c, CFG_BENCH, 5, a1, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.bench_pp, 64);
    cr_expect_eq(c.bench_reps, 5);
    char *a2[] = {"bench", "--chat", NULL};
    cr_expect_eq(config_parse_args(&c, CFG_BENCH, 2, a2, NULL, err, sizeof err), -1);
    config_free(&c);
}

Test(config, config_file_errors_name_file_and_line)
{
    const char *ini = temp_ini("threads = 2\nnot a setting\n");
    pl_config c;
    config_init(&c);
    char err[512];
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, ":2: expected 'key = value'") != NULL, "%s", err);
    unlink(ini);
    ini = temp_ini("colour = red\n");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, ":1: unknown key 'colour'") != NULL, "%s", err);
    unlink(ini);
    cr_expect_eq(config_load_file(&c, "/nonexistent/parley.ini", CFG_TUI, err, sizeof err), 0,
                 "a missing config file is fine");
    config_free(&c);
}

Test(config, stop_strings_accumulate)
{
    pl_config c;
    config_init(&c);
    char err[256];
    char *argv[] = {"run", "--stop", "</s>", "--stop", "User:", NULL};
    cr_assert_geq(config_parse_args(&c, CFG_RUN, 5, argv, NULL, err, sizeof err), 0);
    int n = 0;
    char **list = config_stop_list(&c, &n);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(list[0], "</s>");
    cr_expect_str_eq(list[1], "User:");
    cr_expect_null(list[2]);
    free(list);
    config_free(&c);
}

Test(config, man_page_lists_every_option_of_the_table)
{
    char *roff = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&roff, &len);
    config_print_man_options(mem);
    fclose(mem);
    const char *src = getenv("PARLEY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/man/parley.1", src ? src : ".");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static char page[1 << 16];
    size_t n = fread(page, 1, sizeof page - 1, f);
    page[n] = 0;
    fclose(f);
    cr_expect(strstr(page, roff) != NULL, "man/parley.1 is out of date with config/options.c: run `make man`");
    free(roff);
}

/* Load a config through config_load the way every command does (PARLEY_CONFIG
 * unset unless given, so the default path under HOME is used). */
static int load_as_command(const char *cfg_env, char *err, size_t len)
{
    if (cfg_env) setenv("PARLEY_CONFIG", cfg_env, 1);
    else unsetenv("PARLEY_CONFIG");
    char *argv[] = {"run", NULL};
    pl_config c;
    config_init(&c);
    int rc = config_load(&c, 1, argv, NULL, err, len);
    config_free(&c);
    return rc;
}

Test(config, device_and_fifo_are_refused_not_read_forever, .timeout = 20)
{
    pl_config c;
    config_init(&c);
    char err[512] = "";
    cr_expect_eq(config_load_file(&c, "/dev/zero", CFG_TUI, err, sizeof err), -1, "/dev/zero was accepted");
    cr_expect(strstr(err, "/dev/zero: is not a regular file"), "%s", err);
    char fifo[] = "/tmp/parley-cfg-fifo-XXXXXX";
    cr_assert(mkdtemp(fifo));
    char path[64];
    snprintf(path, sizeof path, "%s/config.ini", fifo);
    cr_assert_eq(mkfifo(path, 0600), 0);
    err[0] = 0;
    cr_expect_eq(config_load_file(&c, path, CFG_TUI, err, sizeof err), -1, "a FIFO was accepted");
    cr_expect(strstr(err, "is not a regular file"), "%s", err);
    unlink(path);
    rmdir(fifo);
    cr_expect_eq(config_load_file(&c, "/dev/null", CFG_TUI, err, sizeof err), 0,
                 "/dev/null is the usual 'no config': %s", err);
    config_free(&c);
}

Test(config, folder_as_config_is_reported)
{
    char dir[] = "/tmp/parley-cfg-dir-XXXXXX";
    cr_assert(mkdtemp(dir));
    char err[512] = "";
    cr_expect_eq(load_as_command(dir, err, sizeof err), -1, "a folder as PARLEY_CONFIG was ignored silently");
    cr_expect(strstr(err, "is a folder, not a config file"), "%s", err);
    cr_expect(strstr(err, dir), "the message names the path: %s", err);
    /* the default path being a folder is just as wrong */
    char cfgdir[128];
    snprintf(cfgdir, sizeof cfgdir, "%s/parley", dir);
    cr_assert_eq(mkdir(cfgdir, 0700), 0);
    snprintf(cfgdir, sizeof cfgdir, "%s/parley/config.ini", dir);
    cr_assert_eq(mkdir(cfgdir, 0700), 0);
    setenv("XDG_CONFIG_HOME", dir, 1);
    err[0] = 0;
    cr_expect_eq(load_as_command(NULL, err, sizeof err), -1, "a folder at the default path was ignored");
    cr_expect(strstr(err, "is a folder"), "%s", err);
    rmdir(cfgdir);
    snprintf(cfgdir, sizeof cfgdir, "%s/parley", dir);
    rmdir(cfgdir);
    rmdir(dir);
}

Test(config, unreachable_default_config_is_no_config)
{
    /* HOME that is not a folder we can enter: every command used to fail on a
     * config file that does not exist. (A HOME without read permission behaves
     * the same for a normal user; as root permissions do not apply, so a file
     * stands in for it here.) */
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/etc/hostname", 1);
    char err[512] = "";
    cr_expect_eq(load_as_command(NULL, err, sizeof err), 0, "unreachable default config failed: %s", err);
    char home[] = "/tmp/parley-cfg-home-XXXXXX";
    cr_assert(mkdtemp(home));
    setenv("HOME", home, 1);
    if (geteuid() != 0) {
        cr_assert_eq(chmod(home, 0), 0);
        err[0] = 0;
        cr_expect_eq(load_as_command(NULL, err, sizeof err), 0, "unreadable HOME failed: %s", err);
        chmod(home, 0700);
    }
    rmdir(home);
    /* a file the user names explicitly must be readable */
    err[0] = 0;
    cr_expect_eq(load_as_command("/etc/hostname/config.ini", err, sizeof err), -1,
                 "an unreachable PARLEY_CONFIG was ignored");
    cr_expect(strstr(err, "/etc/hostname/config.ini: Not a directory"), "%s", err);
}

/* A file of n bytes: prefix, then fill bytes of c, then suffix. */
static const char *temp_ini_big(const char *prefix, size_t fill, char ch, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *text = malloc(pl + fill + sl + 1);
    cr_assert(text);
    memcpy(text, prefix, pl);
    memset(text + pl, ch, fill);
    memcpy(text + pl + fill, suffix, sl + 1);
    const char *path = temp_ini(text);
    free(text);
    return path;
}

Test(config, long_line_names_its_own_line_and_says_too_long, .timeout = 20)
{
    pl_config c;
    config_init(&c);
    char err[512] = "";
    /* line 1 is a 10 MB value: it used to be reported as a bad "line 2" */
    const char *ini = temp_ini_big("system = ", 10u << 20, 'x', "\nthreads = 2\n");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, ":1: line too long"), "%s", err);
    unlink(ini);
    ini = temp_ini_big("threads = 2\n# ok\nsystem = \"", 5000, 'y', "\"\n");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, ":3: line too long (over 4096 bytes)"), "%s", err);
    unlink(ini);
    /* many short lines past the size cap: the file is too big, not a bad line */
    ini = temp_ini_big("threads = 2\n", 2u << 20, '\n', "");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, "file is larger than 1024 KiB"), "%s", err);
    unlink(ini);
    config_free(&c);
}

Test(config, escapes_from_the_file_do_not_reach_the_message)
{
    pl_config c;
    config_init(&c);
    char err[512] = "";
    const char *ini = temp_ini("\x1b]0;owned\x07 = 1\n");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(strstr(err, "unknown key '?]0;owned?'"), "%s", err);
    unlink(ini);
    ini = temp_ini("threads = \x1b[2J\n");
    cr_expect_eq(config_load_file(&c, ini, CFG_TUI, err, sizeof err), -1);
    cr_expect(!strchr(err, 0x1b), "ESC in: %s", err);
    unlink(ini);
    config_free(&c);
}

Test(config, sizes_read_as_people_write_them)
{
    pl_config c;
    char err[256] = "", buf[64];
    const pl_option *o = config_find("snapshot-budget");
    cr_assert_not_null(o);
    config_init(&c);
    cr_expect_eq(c.snapshot_budget, 2LL << 30, "the default is 2 GiB");
    cr_expect_str_eq(config_get(&c, o, buf, sizeof buf), "2G");
    static const struct { const char *in; long long bytes; const char *shown; } ok[] = {
        {"512M", 512LL << 20, "512M"}, {"1.5G", 3LL << 29, "1536M"}, {"0", 0, "0"}, {"4096", 4096, "4K"},
        {"64KiB", 64 << 10, "64K"}, {"2gb", 2LL << 30, "2G"}, {"1000", 1000, "1000"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(config_set(&c, o, ok[i].in, err, sizeof err), 0, "%s: %s", ok[i].in, err);
        cr_expect_eq(c.snapshot_budget, ok[i].bytes, "%s", ok[i].in);
        cr_expect_str_eq(config_get(&c, o, buf, sizeof buf), ok[i].shown, "%s", ok[i].in);
    }
    static const char *const bad[] = {"x", "-1", "2Q", "", "1e30", "G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(config_set(&c, o, bad[i], err, sizeof err), -1, "'%s' was taken", bad[i]);
        cr_expect(strstr(err, "--snapshot-budget"), "%s", err);
    }
    config_free(&c);
}
