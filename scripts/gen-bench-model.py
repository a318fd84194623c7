#!/usr/bin/env python3
"""gen-bench-model.py OUT.gguf [--layers N] — a TinyLlama-1.1B-shaped llama model
with random F16 weights, for `make bench` (speed only: its text is noise).

Shape: n_embd 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632 — TinyLlama's —
with SmolLM2's tokenizer (copied from the default model) so that both parley
and llama.cpp load it. Quantize it with llama-quantize or `parley quantize`.
"""
import argparse, sys
import numpy as np
import gguf

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--vocab-from", required=True, help="GGUF whose tokenizer to copy")
ap.add_argument("--layers", type=int, default=22)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

src = gguf.GGUFReader(a.vocab_from)
def field(name):
    f = src.fields[name]
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8", "surrogateescape") for i in f.data]
        return [int(f.parts[i][0]) for i in f.data]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    return f.parts[f.data[0]][0]

E, L, H, HKV, FF = 2048, a.layers, 32, 4, 5632
tokens = field("tokenizer.ggml.tokens")
V = len(tokens)
rng = np.random.default_rng(a.seed)
w = gguf.GGUFWriter(a.out, "llama")
w.add_name("bench-llama-1.1B-random")
w.add_context_length(2048)
w.add_embedding_length(E)
w.add_block_count(L)
w.add_feed_forward_length(FF)
w.add_head_count(H)
w.add_head_count_kv(HKV)
w.add_rope_dimension_count(E // H)
w.add_rope_freq_base(10000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(1)  # mostly F16
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre(field("tokenizer.ggml.pre"))
w.add_token_list(tokens)
w.add_token_types(field("tokenizer.ggml.token_type"))
w.add_token_merges(field("tokenizer.ggml.merges"))
w.add_bos_token_id(int(field("tokenizer.ggml.bos_token_id")))
w.add_eos_token_id(int(field("tokenizer.ggml.eos_token_id")))

def t(name, *shape, scale=0.02, dtype=np.float16):
    w.add_tensor(name, (rng.standard_normal(shape, dtype=np.float32) * scale).astype(dtype))

t("token_embd.weight", V, E)
for i in range(L):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", np.ones(E, np.float32))
    t(p + "attn_q.weight", E, E); t(p + "attn_k.weight", E // H * HKV, E)
    t(p + "attn_v.weight", E // H * HKV, E); t(p + "attn_output.weight", E, E)
    w.add_tensor(p + "ffn_norm.weight", np.ones(E, np.float32))
    t(p + "ffn_gate.weight", FF, E); t(p + "ffn_up.weight", FF, E); t(p + "ffn_down.weight", E, FF)
    print(f"layer {i + 1}/{L}", file=sys.stderr, end="\r")
w.add_tensor("output_norm.weight", np.ones(E, np.float32))
t("output.weight", V, E)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print(f"\n{a.out}: {V} vocab, {L} layers", file=sys.stderr)
