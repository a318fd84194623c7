/* test_config.c — the options table as a user meets it: flags, config file,
 * environment, their precedence, and the messages for bad values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
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
