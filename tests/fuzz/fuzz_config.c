/* fuzz_config.c — libFuzzer target for the config file parser (config/load.c).
 *
 * The bytes are a config file. config_load_text must accept it or refuse it
 * with a message; either way the message names a place (the file, and a line
 * when one is to blame) and carries no terminal control bytes, since it
 * quotes the file. Whatever was accepted must read back through config_get
 * for every option (the values passed config_set's range checks).
 */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* Abort unless err is a one-line message free of control bytes and C1 codes. */
static void fz_check_message(const char *err)
{
    if (!err[0] || strncmp(err, "fuzz.ini", 8) != 0) abort();   /* says which file */
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)) abort();
}

/* Abort unless a numeric option holds a value inside its range. */
static void fz_check_range(const pl_config *c, const pl_option *o)
{
    const char *p = (const char *)c + o->offset;
    double v;
    if (o->kind == OPT_INT) { int x; memcpy(&x, p, sizeof x); v = x; }
    else if (o->kind == OPT_I64) { int64_t x; memcpy(&x, p, sizeof x); v = (double)x; }
    else if (o->kind == OPT_FLOAT) { float x; memcpy(&x, p, sizeof x); v = x; }
    else return;
    if (!(v >= o->min && v <= o->max)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_config c;
    config_init(&c);
    char err[512] = "";
    int rc = config_load_text(&c, "fuzz.ini", (const char *)data, size, CFG_ALL, err, sizeof err);
    if (rc != 0 && rc != -1) abort();
    if (rc < 0) fz_check_message(err);
    char buf[256];
    for (int i = 0; i < pl_n_options; i++) {
        if (!config_get(&c, &pl_options[i], buf, sizeof buf)) abort();
        fz_check_range(&c, &pl_options[i]);
    }
    config_free(&c);
    return 0;
}
