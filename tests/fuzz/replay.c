/* replay.c — runs a libFuzzer harness over files, without libFuzzer (`make test`).
 *
 * Why: every crash a fuzzer ever found is kept in tests/fuzz/regress/<target>/
 * and must stay fixed, but CI builds with gcc and has no clang. Linked with one
 * harness (tests/fuzz/fuzz_<target>.c) and the library, this main feeds each
 * file of each folder (or each file named) to LLVMFuzzerTestOneInput, the same
 * entry point the fuzzer calls, after LLVMFuzzerInitialize when the harness has
 * one. A harness aborts on a broken promise, so a regression fails the run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Read a whole file; NULL with a message on failure. */
static uint8_t *replay_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "replay: %s: %s\n", path, strerror(errno)); return NULL; }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *b = realloc(buf, cap);
            if (!b) { fprintf(stderr, "replay: %s: out of memory\n", path); free(buf); fclose(f); return NULL; }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { fprintf(stderr, "replay: %s: read error\n", path); free(buf); return NULL; }
    *size = n;
    return buf;
}

/* Feed one file to the harness; 0, or -1 if it could not be read. */
static int replay_file(const char *path)
{
    size_t n = 0;
    uint8_t *data = replay_read(path, &n);
    if (!data) return -1;
    /* A copy of exactly n bytes, so an overread past the input is a real overread. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) { free(data); return -1; }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

/* Every regular file in dir, in name order; returns the count or -1. */
static int replay_dir(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) { fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno)); return -1; }
    int count = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (replay_file(path) < 0) rc = -1;
            else count++;
        }
        free(names[i]);
    }
    free(names);
    return rc < 0 ? -1 : count;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...  (feeds each file to the fuzz harness)\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int n = S_ISDIR(sb.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) < 0 ? -1 : 1);
        if (n < 0) return 1;
        total += n;
    }
    printf("%s: %d inputs replayed, no failure\n", argv[0], total);
    return 0;
}
