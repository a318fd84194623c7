/* test_catalog.c — the model catalog finds GGUFs where each tool keeps them.
 *
 * Every test builds fake stores (parley's models dir, Ollama, the Hugging Face
 * hub cache, llama.cpp's cache, LM Studio) in a temporary HOME with tiny GGUF
 * files written byte by byte here (so the tests do not depend on the writer),
 * scans, and checks what a user would see in `parley models`: each model once,
 * with the right name, source, architecture, parameter count and quant, and
 * broken files listed with a reason instead of crashing the scan.
 * The real default model ($PARLEY_MODEL) is checked too.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "engine/engine.h"
#include "engine/gguf.h"

/* ---- a tiny GGUF encoder ------------------------------------------------- */

typedef struct tg_buf { uint8_t *p; size_t n, cap; } tg_buf;

static void tg_put(tg_buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (d) memcpy(b->p + b->n, d, n);
    else memset(b->p + b->n, 0, n);
    b->n += n;
}
static void tg_u32(tg_buf *b, uint32_t v) { tg_put(b, &v, 4); }
static void tg_u64(tg_buf *b, uint64_t v) { tg_put(b, &v, 8); }
static void tg_str(tg_buf *b, const char *s) { tg_u64(b, strlen(s)); tg_put(b, s, strlen(s)); }

typedef struct tg_kv { const char *key; const char *s; uint32_t u; } tg_kv;   /* s NULL: u32 */
typedef struct tg_tensor { const char *name; pl_type type; uint32_t n_dims; uint64_t ne[4]; } tg_tensor;

/* GGUF v3 with the given kvs and zero-filled tensors, alignment 32. */
static void tg_write(const char *path, const tg_kv *kv, int n_kv, const tg_tensor *t, int n_t)
{
    tg_buf b = { 0 };
    tg_put(&b, "GGUF", 4);
    tg_u32(&b, 3);
    tg_u64(&b, (uint64_t)n_t);
    tg_u64(&b, (uint64_t)n_kv);
    for (int i = 0; i < n_kv; i++) {
        tg_str(&b, kv[i].key);
        tg_u32(&b, kv[i].s ? GGUF_STRING : GGUF_UINT32);
        if (kv[i].s) tg_str(&b, kv[i].s);
        else tg_u32(&b, kv[i].u);
    }
    uint64_t off = 0, sizes[8];
    cr_assert(n_t <= 8);
    for (int i = 0; i < n_t; i++) {
        char why[128];
        cr_assert_eq(gguf_tensor_check(t[i].type, t[i].n_dims, t[i].ne, &sizes[i], why, sizeof why), PL_OK,
                     "%s: %s", t[i].name, why);
        tg_str(&b, t[i].name);
        tg_u32(&b, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) tg_u64(&b, t[i].ne[d]);
        tg_u32(&b, (uint32_t)t[i].type);
        tg_u64(&b, off);
        off += (sizes[i] + 31) / 32 * 32;
    }
    tg_put(&b, NULL, (32 - b.n % 32) % 32);
    tg_put(&b, NULL, off);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    free(b.p);
}

/* A small "model": 640 + 64 = 704 parameters, Q8_0 weights, 2 layers. */
#define TINY_PARAMS 704u
static void tg_model(const char *path, const char *arch, uint32_t ctx, uint32_t ftype, uint32_t split)
{
    char k_ctx[64], k_layers[64], k_embd[64], k_head[64];
    snprintf(k_ctx, sizeof k_ctx, "%s.context_length", arch);
    snprintf(k_layers, sizeof k_layers, "%s.block_count", arch);
    snprintf(k_embd, sizeof k_embd, "%s.embedding_length", arch);
    snprintf(k_head, sizeof k_head, "%s.attention.head_count", arch);
    tg_kv kv[] = {
        { "general.architecture", arch, 0 }, { "general.name", "Tiny Test", 0 },
        { "general.file_type", NULL, ftype }, { k_ctx, NULL, ctx }, { k_layers, NULL, 2 },
        { k_embd, NULL, 64 }, { k_head, NULL, 4 }, { "split.count", NULL, split },
    };
    tg_tensor t[] = {
        { "token_embd.weight", PL_TYPE_Q8_0, 2, { 64, 10 } },
        { "output_norm.weight", PL_TYPE_F32, 1, { 64 } },
    };
    tg_write(path, kv, split ? 8 : 7, t, 2);
}

/* ---- fake stores in a temporary HOME -------------------------------------- */

static char g_home[256];

/* mkdir -p of HOME-relative rel. */
static void mkdirs(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_home, rel);
    for (char *p = path + strlen(g_home) + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(path, 0755); *p = '/'; }
    mkdir(path, 0755);
}

/* HOME-relative path into buf. */
static const char *hp(char *buf, const char *rel)
{
    snprintf(buf, 1024, "%s/%s", g_home, rel);
    return buf;
}

static void write_text(const char *rel, const char *text)
{
    char p[1024];
    FILE *f = fopen(hp(p, rel), "w");
    cr_assert_not_null(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

/* Fresh empty HOME, every tool's variable cleared so the defaults under HOME apply. */
static void home_setup(void)
{
    snprintf(g_home, sizeof g_home, "/tmp/parley-catalog-XXXXXX");
    cr_assert_not_null(mkdtemp(g_home));
    setenv("HOME", g_home, 1);
    const char *clear[] = { "PARLEY_MODELS", "XDG_DATA_HOME", "XDG_CACHE_HOME", "OLLAMA_MODELS",
                            "HF_HUB_CACHE", "HF_HOME", "LLAMA_CACHE" };
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++) unsetenv(clear[i]);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}
static void home_teardown(void)
{
    if (g_home[0]) nftw(g_home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries under our HOME only (a machine may have a real /usr/share/ollama). */
static int scan_home(const char *models_dir, const char *extra, pl_model_entry **v)
{
    pl_status st;
    pl_model_entry *all = NULL;
    char *def = models_dir ? NULL : config_default_models_dir();   /* what config_load fills */
    int n = pl_catalog_scan(models_dir ? models_dir : def, extra, &all, &st);
    free(def);
    cr_assert_geq(n, 0, "scan failed: %s", st.msg);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(all[i].path, g_home, strlen(g_home)) == 0) all[k++] = all[i];
    *v = all;
    return k;
}

static const pl_model_entry *find(const pl_model_entry *v, int n, const char *display)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].display, display) == 0) return &v[i];
    return NULL;
}

/* The entry must exist once, from source, a supported tiny llama. */
static const pl_model_entry *expect_tiny(const pl_model_entry *v, int n, const char *display,
                                         const char *source)
{
    int count = 0;
    for (int i = 0; i < n; i++) count += strcmp(v[i].display, display) == 0;
    cr_assert_eq(count, 1, "'%s' listed %d times", display, count);
    const pl_model_entry *e = find(v, n, display);
    cr_expect_str_eq(e->source, source, "%s", display);
    cr_expect_str_eq(e->arch, "llama", "%s", display);
    cr_expect_str_eq(e->name, "Tiny Test");
    cr_expect_eq(e->n_params, TINY_PARAMS, "%s: %llu params", display, (unsigned long long)e->n_params);
    cr_expect_str_eq(e->quant, "Q8_0", "%s", display);
    cr_expect_eq(e->n_ctx_train, 2048);
    cr_expect(e->supported, "%s: %s", display, e->reason);
    cr_expect_gt(e->file_size, 0);
    cr_expect_gt(e->mem_need, e->file_size, "KV cache estimate missing");
    return e;
}

TestSuite(catalog_scan, .init = home_setup, .fini = home_teardown);

/* One model per source; a symlinked duplicate; nothing listed twice. */
Test(catalog_scan, finds_every_source_once)
{
    char p[1024], q[1024];
    mkdirs(".local/share/parley/models/sub");
    tg_model(hp(p, ".local/share/parley/models/tiny.gguf"), "llama", 2048, 7, 0);
    tg_model(hp(p, ".local/share/parley/models/sub/nested.gguf"), "llama", 2048, 7, 0);
    cr_assert_eq(symlink(hp(q, ".local/share/parley/models/tiny.gguf"),
                         hp(p, ".local/share/parley/models/link.gguf")), 0);

    mkdirs(".ollama/models/blobs");
    mkdirs(".ollama/models/manifests/registry.ollama.ai/library/tiny");
    mkdirs(".ollama/models/manifests/registry.ollama.ai/someone/other");
    tg_model(hp(p, ".ollama/models/blobs/sha256-00aa11"), "llama", 2048, 7, 0);
    tg_model(hp(p, ".ollama/models/blobs/sha256-00bb22"), "llama", 2048, 7, 0);
    write_text(".ollama/models/manifests/registry.ollama.ai/library/tiny/latest",
               "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.template\","
               "\"digest\":\"sha256:ffff\"},{\"mediaType\":\"application/vnd.ollama.image.model\","
               "\"digest\":\"sha256:00aa11\",\"size\":1}]}");
    write_text(".ollama/models/manifests/registry.ollama.ai/someone/other/q8",
               "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:00bb22\"}]}");

    mkdirs(".cache/huggingface/hub/models--org--Tiny-GGUF/blobs");
    mkdirs(".cache/huggingface/hub/models--org--Tiny-GGUF/snapshots/abc123");
    tg_model(hp(p, ".cache/huggingface/hub/models--org--Tiny-GGUF/blobs/deadbeef"), "llama", 2048, 7, 0);
    cr_assert_eq(symlink("../../blobs/deadbeef",
                         hp(p, ".cache/huggingface/hub/models--org--Tiny-GGUF/snapshots/abc123/tiny-q8.gguf")), 0);

    mkdirs(".cache/llama.cpp");
    tg_model(hp(p, ".cache/llama.cpp/org_repo_tiny.gguf"), "llama", 2048, 7, 0);
    mkdirs(".lmstudio/models/pub/repo");
    tg_model(hp(p, ".lmstudio/models/pub/repo/tiny.gguf"), "llama", 2048, 7, 0);

    pl_model_entry *v;
    int n = scan_home(NULL, NULL, &v);
    cr_expect_eq(n, 7, "expected 7 models, got %d", n);
    expect_tiny(v, n, "tiny.gguf", "parley");
    expect_tiny(v, n, "sub/nested.gguf", "parley");
    cr_expect_null(find(v, n, "link.gguf"), "a symlink to a listed file is a duplicate");
    expect_tiny(v, n, "tiny:latest", "ollama");
    expect_tiny(v, n, "someone/other:q8", "ollama");
    const pl_model_entry *hf = expect_tiny(v, n, "org/Tiny-GGUF/tiny-q8.gguf", "hf");
    cr_expect(strstr(hf->path, "snapshots/abc123/tiny-q8.gguf"), "hf path %s", hf->path);
    expect_tiny(v, n, "org_repo_tiny.gguf", "llama.cpp");
    expect_tiny(v, n, "pub/repo/tiny.gguf", "lmstudio");
    /* sorted: parley, ollama, hf, llama.cpp, lmstudio */
    static const char *order[] = { "parley", "parley", "ollama", "ollama", "hf", "llama.cpp", "lmstudio" };
    for (int i = 0; i < n && i < 7; i++) cr_expect_str_eq(v[i].source, order[i], "row %d", i);
    pl_catalog_free(v);
}

/* Corrupt, foreign-architecture, unknown-weight-type and split files: listed, with reasons. */
Test(catalog_scan, broken_files_listed_with_reason)
{
    char p[1024];
    mkdirs(".local/share/parley/models");
    write_text(".local/share/parley/models/broken.gguf", "GGUF\003\000\000\000garbage");
    write_text(".local/share/parley/models/empty.gguf", "");
    tg_model(hp(p, ".local/share/parley/models/mamba.gguf"), "mamba", 2048, 7, 0);
    tg_kv kv[] = { { "general.architecture", "llama", 0 } };
    tg_tensor t[] = { { "token_embd.weight", PL_TYPE_Q8_K, 2, { 256, 2 } } };
    tg_write(hp(p, ".local/share/parley/models/q8k.gguf"), kv, 1, t, 1);
    tg_model(hp(p, ".local/share/parley/models/big-00001-of-00002.gguf"), "llama", 2048, 7, 2);
    tg_model(hp(p, ".local/share/parley/models/big-00002-of-00002.gguf"), "llama", 2048, 7, 2);

    pl_model_entry *v;
    int n = scan_home(NULL, NULL, &v);
    cr_assert_eq(n, 5, "expected 5 entries, got %d", n);
    for (int i = 0; i < n; i++) {
        cr_expect_not(v[i].supported, "%s should be unsupported", v[i].display);
        cr_expect_gt(strlen(v[i].reason), 5, "%s: no reason", v[i].display);
        cr_expect_null(strstr(v[i].reason, g_home), "%s: reason repeats the path: %s", v[i].display, v[i].reason);
    }
    const pl_model_entry *e = find(v, n, "mamba.gguf");
    cr_assert_not_null(e);
    cr_expect(strstr(e->reason, "architecture 'mamba'"), "reason: %s", e->reason);
    cr_expect_eq(e->n_params, TINY_PARAMS, "metadata still read for unsupported architectures");
    e = find(v, n, "q8k.gguf");
    cr_assert_not_null(e);
    cr_expect(strstr(e->reason, "q8_K"), "reason: %s", e->reason);
    cr_expect_str_eq(e->quant, "Q8_K", "quant from the dominant tensor type without general.file_type");
    e = find(v, n, "big-00001-of-00002.gguf");
    cr_assert_not_null(e, "a split GGUF is listed by its first part");
    cr_expect(strstr(e->reason, "split"), "reason: %s", e->reason);
    cr_expect_eq(e->n_params, 2 * TINY_PARAMS, "parameters of both parts");
    cr_expect_null(find(v, n, "big-00002-of-00002.gguf"), "later parts are not listed");
    cr_expect_not_null(find(v, n, "broken.gguf"));
    cr_expect_not_null(find(v, n, "empty.gguf"));
    pl_catalog_free(v);
}

/* Ollama manifests that are not JSON or whose blob is gone still show up. */
Test(catalog_scan, ollama_bad_manifests)
{
    mkdirs(".ollama/models/blobs");
    mkdirs(".ollama/models/manifests/registry.ollama.ai/library/gone");
    mkdirs(".ollama/models/manifests/hf.co/user/repo");
    write_text(".ollama/models/manifests/registry.ollama.ai/library/gone/7b",
               "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:0123abcd\"}]}");
    write_text(".ollama/models/manifests/hf.co/user/repo/Q4_K_M", "{not json");
    pl_model_entry *v;
    int n = scan_home(NULL, NULL, &v);
    cr_assert_eq(n, 2, "got %d", n);
    const pl_model_entry *e = find(v, n, "gone:7b");
    cr_assert_not_null(e);
    cr_expect_not(e->supported);
    cr_expect(strstr(e->reason, "missing"), "reason: %s", e->reason);
    e = find(v, n, "hf.co/user/repo:Q4_K_M");
    cr_assert_not_null(e, "other registries keep their host in the name");
    cr_expect(strstr(e->reason, "JSON"), "reason: %s", e->reason);
    pl_catalog_free(v);
}

/* Each tool's environment variable moves its root; extra paths accept ~/ and files. */
Test(catalog_scan, env_overrides_and_extra_paths)
{
    char p[1024];
    mkdirs("mine");
    mkdirs("olla/blobs");
    mkdirs("olla/manifests/registry.ollama.ai/library/t");
    mkdirs("hub/models--a--b/snapshots/r1/Q8_0");
    mkdirs("lc");
    mkdirs("extra/deep");
    mkdirs("single");
    setenv("PARLEY_MODELS", hp(p, "mine"), 1);
    setenv("OLLAMA_MODELS", hp(p, "olla"), 1);
    setenv("HF_HUB_CACHE", hp(p, "hub"), 1);
    setenv("LLAMA_CACHE", hp(p, "lc"), 1);
    tg_model(hp(p, "mine/m.gguf"), "llama", 2048, 7, 0);
    tg_model(hp(p, "olla/blobs/sha256-abc"), "llama", 2048, 7, 0);
    write_text("olla/manifests/registry.ollama.ai/library/t/latest",
               "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:abc\"}]}");
    tg_model(hp(p, "hub/models--a--b/snapshots/r1/Q8_0/split-dir.gguf"), "llama", 2048, 7, 0);
    tg_model(hp(p, "lc/x.gguf"), "llama", 2048, 7, 0);
    tg_model(hp(p, "extra/deep/e.gguf"), "llama", 2048, 7, 0);
    tg_model(hp(p, "single/only.gguf"), "llama", 2048, 7, 0);
    write_text("extra/notes.txt", "not a model");

    char extra[2048];
    snprintf(extra, sizeof extra, "~/extra::%s", hp(p, "single/only.gguf"));
    pl_model_entry *v;
    int n = scan_home(NULL, extra, &v);
    cr_expect_eq(n, 6, "got %d", n);
    expect_tiny(v, n, "m.gguf", "parley");
    expect_tiny(v, n, "t:latest", "ollama");
    expect_tiny(v, n, "a/b/Q8_0/split-dir.gguf", "hf");
    expect_tiny(v, n, "x.gguf", "llama.cpp");
    expect_tiny(v, n, "deep/e.gguf", "path");
    expect_tiny(v, n, "only.gguf", "path");
    pl_catalog_free(v);

    pl_catalog_root roots[PL_CATALOG_MAX_ROOTS];
    char *def = config_default_models_dir();
    int nr = pl_catalog_roots(def, extra, roots, PL_CATALOG_MAX_ROOTS);
    free(def);
    cr_assert_geq(nr, 6);
    cr_expect_str_eq(roots[0].source, "parley");
    cr_expect_str_eq(roots[0].dir, hp(p, "mine"));
    cr_expect_str_eq(roots[1].dir, hp(p, "extra"), "~/ expands to HOME");
}

/* Nothing anywhere: zero entries, and the roots say where we looked. */
Test(catalog_scan, empty_machine)
{
    pl_model_entry *v;
    cr_expect_eq(scan_home(NULL, NULL, &v), 0);
    pl_catalog_free(v);
    pl_catalog_root roots[PL_CATALOG_MAX_ROOTS];
    char *def = config_default_models_dir();
    int nr = pl_catalog_roots(def, NULL, roots, PL_CATALOG_MAX_ROOTS);
    free(def);
    char p[1024];
    cr_assert_geq(nr, 5);
    cr_expect_str_eq(roots[0].dir, hp(p, ".local/share/parley/models"));
    cr_expect_not(roots[0].exists);
    bool seen[4] = { 0 };
    const char *want[4] = { "ollama", "hf", "llama.cpp", "lmstudio" };
    for (int i = 0; i < nr; i++)
        for (int k = 0; k < 4; k++) seen[k] |= strcmp(roots[i].source, want[k]) == 0;
    for (int k = 0; k < 4; k++) cr_expect(seen[k], "no %s root", want[k]);
}

/* The engine does not reach into config/: config_load resolves parley's
 * models dir and hands it in; without one the catalog invents none. */
Test(catalog_scan, models_dir_comes_from_the_caller)
{
    pl_catalog_root roots[PL_CATALOG_MAX_ROOTS];
    int nr = pl_catalog_roots(NULL, NULL, roots, PL_CATALOG_MAX_ROOTS);
    cr_assert_geq(nr, 4);
    for (int i = 0; i < nr; i++) cr_expect_str_neq(roots[i].source, "parley");
    pl_config cfg;
    config_init(&cfg);
    char err[256], p[1024], *argv[] = { "models", NULL };
    int first = 0;
    cr_assert_eq(config_load(&cfg, 1, argv, &first, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(cfg.models_dir, hp(p, ".local/share/parley/models"));
    config_free(&cfg);
}

/* ---- the real default model -------------------------------------------- */

Test(catalog_real, default_model_metadata)
{
    const char *path = getenv("PARLEY_MODEL");
    cr_assert(path && *path, "PARLEY_MODEL is not set: run `make model` and the tests via `make test`");
    cr_assert_eq(access(path, R_OK), 0, "%s is missing: run `make model`", path);
    pl_model_entry e;
    cr_assert_eq(pl_catalog_inspect(path, &e), 0);
    cr_expect(e.supported, "default model unsupported: %s", e.reason);
    cr_expect_str_eq(e.arch, "llama");
    cr_expect_str_eq(e.quant, "Q4_1");
    cr_expect_eq(e.n_ctx_train, 8192);
    cr_expect_eq(e.n_params, 134515008ull, "params %llu", (unsigned long long)e.n_params);
    char buf[32];
    cr_expect_str_eq(pl_catalog_fmt_params(e.n_params, buf, sizeof buf), "135M");
    cr_expect_eq(e.file_size, 98362432ull);
    /* f16 KV cache for 4096 positions: 30 layers x 3 kv heads x 64 dims x 2 x 2 bytes */
    cr_expect_eq(e.mem_need, e.file_size + 4096ull * 30 * 3 * 64 * 2 * 2);
}

/* ---- small helpers -------------------------------------------------------- */

Test(catalog_fmt, params_sizes_ftypes_arches)
{
    char b[32];
    cr_expect_str_eq(pl_catalog_fmt_params(134515008ull, b, sizeof b), "135M");
    cr_expect_str_eq(pl_catalog_fmt_params(1100048384ull, b, sizeof b), "1.1B");
    cr_expect_str_eq(pl_catalog_fmt_params(7241732096ull, b, sizeof b), "7.2B");
    cr_expect_str_eq(pl_catalog_fmt_params(70553706496ull, b, sizeof b), "71B");
    cr_expect_str_eq(pl_catalog_fmt_params(704, b, sizeof b), "704");
    cr_expect_str_eq(pl_catalog_fmt_params(0, b, sizeof b), "?");
    cr_expect_str_eq(pl_catalog_fmt_size(98362432ull, b, sizeof b), "93.8 MiB");
    cr_expect_str_eq(pl_catalog_fmt_size(4368439296ull, b, sizeof b), "4.07 GiB");
    cr_expect_str_eq(pl_catalog_fmt_size(512, b, sizeof b), "512 B");
    cr_expect_str_eq(pl_ftype_name(3), "Q4_1");
    cr_expect_str_eq(pl_ftype_name(7), "Q8_0");
    cr_expect_str_eq(pl_ftype_name(15), "Q4_K_M");
    cr_expect_str_eq(pl_ftype_name(32), "BF16");
    cr_expect_str_eq(pl_ftype_name(1024 | 18), "Q6_K", "the 'guessed' bit is ignored");
    cr_expect_null(pl_ftype_name(4), "4 was removed from llama.cpp");
    cr_expect_null(pl_ftype_name(9999));
    cr_expect(pl_arch_supported("llama"));
    cr_expect_not(pl_arch_supported("mamba"));
    cr_expect_not(pl_arch_supported(""));
    cr_expect_not(pl_arch_supported(NULL));
    cr_expect_gt(pl_mem_available(), 0, "/proc/meminfo has MemAvailable on Linux");
}
