/* fuzz_model.c — libFuzzer target for the model loader (pl_model_load).
 *
 * The bytes are a GGUF file (written to a memfd, loaded by its /proc path,
 * as a user's file would be: mapped, then copied into private pages). Past the
 * reader this reaches the architecture table and hyper-parameter checks, the
 * tensor binding, the vocabulary (tokens, scores, merges, special ids) and the
 * chat template. A refusal must carry a message; a model that loads must be
 * usable: info, template render, tokenize and detokenize, every token's text,
 * and a two-token decode on a small context, none of which may crash or read
 * outside what the loader vouched for. Seeds: tests/fuzz/gen_corpus_model.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/engine.h"

/* Everything a caller does with a freshly loaded model. */
static void fz_use(pl_model *m)
{
    pl_model_info info;
    pl_model_get_info(m, &info);
    int n_vocab = pl_n_vocab(m);
    if (n_vocab <= 0) abort();
    pl_status st;
    pl_chat_msg msgs[2] = { { "system", "be brief" }, { "user", "hello <|im_start|> world" } };
    char text[4096];
    int need = pl_chat_render(m, NULL, msgs, 2, true, text, sizeof text, &st);
    if (need < 0) abort();   /* the model's own template always renders (ChatML fallback) */
    int32_t toks[512];
    size_t len = strlen(text);
    int n = pl_tokenize(m, text, len, toks, 512, true, true);
    if (n > 512) n = 512;
    for (int i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= n_vocab) abort();   /* every id has an embedding row */
    char out[8192];
    if (n > 0) pl_detokenize(m, toks, n, out, sizeof out, false, true);
    for (int32_t t = 0; t < n_vocab && t < 2048; t++) {
        pl_token_to_piece(m, t, out, 64, true);
        pl_token_is_eog(m, t);
    }
    pl_ctx_params cp = pl_ctx_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 1;
    cp.n_batch = 8;
    pl_ctx *c = pl_ctx_new(m, &cp, &st);
    if (!c) return;
    int seq = pl_seq_new(c, &st);
    int32_t two[2] = { n > 0 ? toks[0] : 0, n > 1 ? toks[1] : 0 };
    if (seq >= 0 && pl_decode(c, seq, two, 2, &st) == 0) {
        const float *lg = pl_logits(c, seq);
        volatile float sink = lg[0] + lg[n_vocab - 1];
        (void)sink;
    }
    pl_ctx_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.gguf", MFD_CLOEXEC);
    if (fd < 0) return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) { close(fd); return 0; }
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    pl_status st;
    pl_model_params mp = pl_model_default_params();
    pl_model *m = pl_model_load(path, &mp, &st);
    close(fd);
    if (!m) {
        if (st.code == PL_OK || !st.msg[0]) abort();   /* a refusal must say why */
        return 0;
    }
    fz_use(m);
    pl_model_free(m);
    return 0;
}
