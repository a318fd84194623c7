/* fuzz_tokenize.c — libFuzzer target for the tokenizer on arbitrary bytes.
 *
 * The vocabulary is the real default model's (SmolLM2: byte-level BPE with the
 * smollm pre-tokenizer regexes), loaded once from PARLEY_MODEL. The bytes are
 * a prompt as a user or a pasted file could give it: any bytes at all. Each
 * token id must be one the model has, and the tokens must spell the text back:
 * detokenizing gives exactly the input with ill-formed UTF-8 replaced (the
 * promise pl_tokenize makes), once with special-token text as plain text and
 * once parsed into control tokens and rendered back. Except where the
 * vocabulary cannot spell a byte at all: SmolLM2 has no token for 21 bytes
 * (controls 04 06 13 14 16 1d, and lead bytes f1 f2 and those that never occur
 * in UTF-8); such a byte is dropped, as llama.cpp drops it, so texts holding
 * one are only checked for valid ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/model.h"
#include "engine/vocab.h"

static pl_model *fz_model;
static bool fz_spellable[256];   /* the vocabulary has a token for this byte */

/* Load the default model's vocabulary once; without it there is nothing to fuzz. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    const char *path = getenv("PARLEY_MODEL");
    if (!path || !*path) {
        fprintf(stderr, "fuzz_tokenize needs PARLEY_MODEL=<the default model> (make model; "
                        "scripts/fetch-model.sh --path prints it)\n");
        abort();
    }
    pl_model_params mp = pl_model_default_params();
    mp.mmap = true;   /* the weights are never read here */
    pl_status st;
    fz_model = pl_model_load(path, &mp, &st);
    if (!fz_model) {
        fprintf(stderr, "fuzz_tokenize: %s\n", st.msg);
        abort();
    }
    const pl_vocab *v = model_vocab(fz_model);
    for (int b = 0; b < 256; b++) fz_spellable[b] = v->byte_tok[b] >= 0;
    return 0;
}

/* Tokenize, check every id, detokenize, compare with the sanitized input. */
static void fz_round_trip(const char *text, size_t len, const char *want, size_t want_len, bool special)
{
    int cap = (int)want_len + 8, n_vocab = pl_n_vocab(fz_model);
    int32_t *toks = malloc(sizeof *toks * (size_t)cap);
    if (!toks) return;
    int n = pl_tokenize(fz_model, text, len, toks, cap, false, special);
    if (n < 0 || n > cap) abort();   /* at most one token per byte of sanitized text */
    for (int i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= n_vocab) abort();
    int out_cap = (int)want_len + 64;
    char *out = malloc((size_t)out_cap);
    if (!out) { free(toks); return; }
    int got = pl_detokenize(fz_model, toks, n, out, out_cap, false, special);
    bool spellable = true;
    for (size_t i = 0; i < want_len && spellable; i++) spellable = fz_spellable[(uint8_t)want[i]];
    if (got < 0 || got > out_cap) abort();
    if (spellable && ((size_t)got != want_len || memcmp(out, want, want_len) != 0)) {
        fprintf(stderr, "round trip (special=%d): %zu bytes in, %d back\n", special, want_len, got);
        abort();
    }
    free(out);
    free(toks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_model || size > 1 << 16) return 0;
    const char *text = (const char *)data;
    size_t want_len = pl_utf8_sanitize(text, size, NULL, 0);
    char *want = malloc(want_len + 1);
    if (!want) return 0;
    pl_utf8_sanitize(text, size, want, want_len);
    fz_round_trip(text, size, want, want_len, false);
    fz_round_trip(text, size, want, want_len, true);
    free(want);
    return 0;
}
