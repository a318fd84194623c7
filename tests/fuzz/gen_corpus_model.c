/* gen_corpus_model.c — writes the model loader fuzzer's seeds (tests/fuzz/corpus_model/).
 *
 * Each seed is a whole, loadable model of every supported architecture, tiny
 * enough (a few KiB: one layer, 32-wide, q4_0 matrices) for libFuzzer to
 * mutate: a byte-level BPE vocabulary with merges and the ChatML template
 * (llama, qwen2, qwen3) or a SentencePiece one with byte tokens (llama, gemma3),
 * so the fuzzer starts inside the vocabulary and template checks. Rebuild with:
 *   make build/libparley.a && cc -std=c17 -D_GNU_SOURCE -I. tests/fuzz/gen_corpus_model.c \
 *      build/libparley.a $(pkg-config --libs libpcre2-8 libutf8proc) -lm -pthread -o /tmp/gen \
 *   && /tmp/gen tests/fuzz/corpus_model
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/vocab.h"

enum { EMBD = 32, HEADS = 2, KV_HEADS = 1, FF = 64, HEAD_DIM = EMBD / HEADS };
static uint8_t blob[1 << 16];   /* tensor bytes, filled in main */

static const char *const chatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* A q4_0 matrix of cols x rows, or an f32 vector of cols. */
static void gen_tensor(gguf_writer *w, const char *name, uint64_t cols, uint64_t rows)
{
    uint64_t ne[2] = { cols, rows };
    gguf_writer_add_tensor(w, name, rows ? PL_TYPE_Q4_0 : PL_TYPE_F32, rows ? 2 : 1, ne, blob);
}

/* The byte-level BPE vocabulary: 256 byte tokens, 4 merges, ChatML's specials. */
static int gen_bpe_vocab(gguf_writer *w, const char *pre)
{
    static char store[300][8];
    const char *toks[300];
    int n = 0;
    for (int b = 0; b < 256; b++, n++) {
        int k = bpe_byte_to_utf8((uint8_t)b, store[n]);
        store[n][k] = 0;
        toks[n] = store[n];
    }
    const char *extra[] = { "he", "ll", "llo", "hello", "<|endoftext|>", "<|im_start|>", "<|im_end|>" };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) toks[n++] = extra[i];
    const char *merges[] = { "h e", "l l", "ll o", "he llo" };
    int32_t types[300];
    for (int i = 0; i < n; i++) types[i] = i >= n - 3 ? 3 : 1;
    gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_add_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    gguf_writer_add_str_arr(w, "tokenizer.ggml.merges", merges, 4);
    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)n - 3);
    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)n - 1);
    gguf_writer_add_str(w, "tokenizer.chat_template", chatml);
    return n;
}

/* A SentencePiece vocabulary: specials, 256 <0xXX> byte tokens, a few pieces with scores. */
static int gen_spm_vocab(gguf_writer *w, bool gemma)
{
    static char store[300][8];
    const char *toks[300];
    float scores[300];
    int32_t types[300];
    int n = 0;
    const char *special[] = { "<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>" };
    for (size_t i = 0; i < 6; i++, n++) { toks[n] = special[i]; types[n] = i == 3 ? 2 : 3; scores[n] = 0; }
    for (int b = 0; b < 256; b++, n++) {
        snprintf(store[n], sizeof store[n], "<0x%02X>", b);
        toks[n] = store[n]; types[n] = 6; scores[n] = 0;
    }
    const char *pieces[] = { "\xe2\x96\x81", "\xe2\x96\x81hello", "h", "e", "l", "o", "\xe2\x96\x81w", "or", "ld" };
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++, n++) {
        toks[n] = pieces[i]; types[n] = 1; scores[n] = -(float)i;
    }
    gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, (uint64_t)n);
    gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 2);
    gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 1);
    gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 3);
    if (!gemma) gguf_writer_add_str(w, "tokenizer.chat_template", "[INST] {{ messages[0]['content'] }} [/INST]");
    return n;
}

/* One model: hyper-parameters, vocabulary, the architecture's tensors. */
static int gen_model(const char *dir, const char *file, const char *arch, bool spm)
{
    gguf_writer *w = gguf_writer_new();
    char key[128];
    gguf_writer_add_str(w, "general.architecture", arch);
    gguf_writer_add_str(w, "general.name", file);
    struct { const char *k; uint32_t v; } hp[] = {
        { "block_count", 1 }, { "embedding_length", EMBD }, { "feed_forward_length", FF },
        { "attention.head_count", HEADS }, { "attention.head_count_kv", KV_HEADS }, { "context_length", 64 },
    };
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, hp[i].k);
        gguf_writer_add_u32(w, key, hp[i].v);
    }
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    gguf_writer_add_f32(w, key, 1e-6f);
    bool gemma = strcmp(arch, "gemma3") == 0;
    int n_vocab = spm ? gen_spm_vocab(w, gemma) : gen_bpe_vocab(w, strcmp(arch, "llama") ? "qwen2" : "smollm");
    gen_tensor(w, "token_embd.weight", EMBD, (uint64_t)n_vocab);
    gen_tensor(w, "output_norm.weight", EMBD, 0);
    gen_tensor(w, "blk.0.attn_norm.weight", EMBD, 0);
    gen_tensor(w, "blk.0.attn_q.weight", EMBD, HEADS * HEAD_DIM);
    gen_tensor(w, "blk.0.attn_k.weight", EMBD, KV_HEADS * HEAD_DIM);
    gen_tensor(w, "blk.0.attn_v.weight", EMBD, KV_HEADS * HEAD_DIM);
    gen_tensor(w, "blk.0.attn_output.weight", HEADS * HEAD_DIM, EMBD);
    gen_tensor(w, "blk.0.ffn_norm.weight", EMBD, 0);
    gen_tensor(w, "blk.0.ffn_gate.weight", EMBD, FF);
    gen_tensor(w, "blk.0.ffn_up.weight", EMBD, FF);
    gen_tensor(w, "blk.0.ffn_down.weight", FF, EMBD);
    if (strcmp(arch, "qwen2") == 0) {
        gen_tensor(w, "blk.0.attn_q.bias", HEADS * HEAD_DIM, 0);
        gen_tensor(w, "blk.0.attn_k.bias", KV_HEADS * HEAD_DIM, 0);
        gen_tensor(w, "blk.0.attn_v.bias", KV_HEADS * HEAD_DIM, 0);
    }
    if (strcmp(arch, "qwen3") == 0 || gemma) {
        gen_tensor(w, "blk.0.attn_q_norm.weight", HEAD_DIM, 0);
        gen_tensor(w, "blk.0.attn_k_norm.weight", HEAD_DIM, 0);
    }
    if (gemma) {
        gen_tensor(w, "blk.0.post_attention_norm.weight", EMBD, 0);
        gen_tensor(w, "blk.0.post_ffw_norm.weight", EMBD, 0);
    }
    char path[1024];
    pl_status st;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int bad = gguf_writer_write_file(w, path, &st) != PL_OK;
    if (bad) fprintf(stderr, "%s\n", st.msg);
    gguf_writer_free(w);
    return bad;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus_model";
    for (size_t i = 0; i + 4 <= sizeof blob; i += 4) {   /* f32 0.5..1; as q4_0 finite scales too */
        float f = 0.5f + (float)(i % 64) / 128.0f;
        memcpy(blob + i, &f, 4);
    }
    int bad = gen_model(dir, "llama_bpe_chatml.gguf", "llama", false);
    bad |= gen_model(dir, "llama_spm.gguf", "llama", true);
    bad |= gen_model(dir, "qwen2_bpe.gguf", "qwen2", false);
    bad |= gen_model(dir, "qwen3_bpe.gguf", "qwen3", false);
    bad |= gen_model(dir, "gemma3_spm.gguf", "gemma3", true);
    return bad;
}
