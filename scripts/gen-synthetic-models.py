#!/usr/bin/env python3
"""gen-synthetic-models.py — tiny llama / qwen2 / qwen3 / gemma3 GGUFs with random weights.

Why: parley's forward pass must match llama.cpp for every weight type and for
the llama variants (GQA, tied / separate output, rope base, linear and llama3
rope scaling). Real models of every type would be gigabytes; these are a few
hundred KB each, generated deterministically from a seed, committed under
tests/fixtures/models/ and run by both engines (scripts/gen-forward-fixtures.py
records llama.cpp's results).

The tokenizer is a cut of the default model's (SmolLM2, byte-level BPE,
ChatML): its first N_VOCAB tokens and the merges among them, so both engines
accept it and chat prompts work.

The other architectures get the same treatment (synth-<arch>-<type>.gguf):
qwen2 (q/k/v biases, neox rope, base 1e6), qwen3 (per-head q/k norms, head_dim
!= n_embd/n_head) and gemma3 (q/k norms, post-norms, GELU, sqrt(n_embd)
embedding scale, a sliding window of 8 positions on every other layer with its
own rope base, final logit soft-capping), so the long prompt crosses the window.

Usage: ~/.cache/parley/lcpp-venv/bin/python scripts/gen-synthetic-models.py [OUT_DIR [NAME...]]
(NAME: only those models, e.g. qwen2-f32; default all)
(needs the python `gguf` package; K-quants need llama-cpp-python's quantizer).
"""
import ctypes
import math
import os
import sys

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.expanduser("~/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf")
N_VOCAB = 1024
T = gguf.GGMLQuantizationType

# name, weight type, dims and variants. K-quants need rows of 256.
SMALL = dict(n_embd=64, n_head=4, n_head_kv=2, n_ff=192, n_layer=2)
WIDE = dict(n_embd=256, n_head=4, n_head_kv=2, n_ff=512, n_layer=2)
MODELS = [
    dict(name="f32", wtype=T.F32, tied=True, **SMALL),
    dict(name="f16", wtype=T.F16, tied=False, rope_base=500000.0, **SMALL),
    dict(name="bf16", wtype=T.BF16, tied=True, **SMALL),
    dict(name="q8_0", wtype=T.Q8_0, tied=False, llama3_rope=True, rope_base=500000.0, **SMALL),
    dict(name="q4_0", wtype=T.Q4_0, tied=True, **SMALL),
    dict(name="q4_1", wtype=T.Q4_1, tied=False, linear_rope=2.0, **SMALL),
    dict(name="q5_0", wtype=T.Q5_0, tied=True, n_head_kv_override=4, **SMALL),
    dict(name="q5_1", wtype=T.Q5_1, tied=False, **SMALL),
    # K-quants (issue 4), quantized by llama.cpp itself from an f32 twin.
    dict(name="q2_k", ktype="Q2_K", tied=True, **WIDE),
    dict(name="q3_k", ktype="Q3_K_M", tied=True, **WIDE),
    dict(name="q4_k", ktype="Q4_K_M", tied=True, **WIDE),
    dict(name="q5_k", ktype="Q5_K_M", tied=True, **WIDE),
    dict(name="q6_k", ktype="Q6_K", tied=True, **WIDE),
    # Other architectures (the same engine/forward.c, their steps from arch.c).
    dict(name="qwen2-f32", arch="qwen2", wtype=T.F32, tied=True, rope_base=1000000.0, **SMALL),
    dict(name="qwen2-q8_0", arch="qwen2", wtype=T.Q8_0, tied=False, rope_base=1000000.0, **SMALL),
    dict(name="qwen3-f32", arch="qwen3", wtype=T.F32, tied=True, rope_base=1000000.0, head_dim=32,
         eps=1e-6, **SMALL),
    dict(name="qwen3-q4_k", arch="qwen3", ktype="Q4_K_M", tied=True, rope_base=1000000.0,
         head_dim=128, eps=1e-6, **WIDE),
    dict(name="gemma3-f32", arch="gemma3", wtype=T.F32, tied=True, rope_base=1000000.0, head_dim=32,
         eps=1e-6, swa=8, swa_pattern=2, rope_base_swa=20000.0, softcap=5.0, **SMALL),
    dict(name="gemma3-q8_0", arch="gemma3", wtype=T.Q8_0, tied=True, rope_base=1000000.0,
         head_dim=32, eps=1e-6, swa=16, swa_pattern=2, **SMALL),
]


def read_vocab():
    """First N_VOCAB tokens of the default model and the merges that stay inside them."""
    r = gguf.GGUFReader(DEFAULT_MODEL)
    f = r.fields
    def strs(key):
        fld = f[key]
        return [bytes(fld.parts[i]).decode("utf-8") for i in fld.data]
    toks = strs("tokenizer.ggml.tokens")[:N_VOCAB]
    tt = f["tokenizer.ggml.token_type"]
    types = [int(tt.parts[i][0]) for i in tt.data][:N_VOCAB]
    have = set(toks)
    merges = [m for m in strs("tokenizer.ggml.merges")
              if all(p in have for p in m.split(" ", 1)) and m.replace(" ", "", 1) in have]
    tmpl = bytes(f["tokenizer.chat_template"].parts[-1]).decode("utf-8")
    for ch in (chr(c) for c in range(0x21, 0x7f)):
        assert ch in have, f"printable ASCII {ch!r} missing from the cut vocab"
    return toks, types, merges, tmpl


def llama3_factors(base, n_rot, factor=8.0, lo=1.0, hi=4.0, orig=8192):
    """Meta's Llama 3.1 frequency divisors (what converters store as rope_freqs.weight)."""
    out = []
    lo_wl, hi_wl = orig / lo, orig / hi
    for i in range(n_rot // 2):
        freq = base ** (-2.0 * i / n_rot)
        wl = 2 * math.pi / freq
        if wl < hi_wl:
            out.append(1.0)
        elif wl > lo_wl:
            out.append(factor)
        else:
            s = (orig / wl - lo) / (hi - lo)
            out.append(1.0 / ((1 - s) / factor + s))
    return np.array(out, dtype=np.float32)


def weights(spec, rng):
    """name -> float32 array (rows, cols) with llama's tensor names."""
    d, ff, nl = spec["n_embd"], spec["n_ff"], spec["n_layer"]
    n_head = spec["n_head"]
    n_kv = spec.get("n_head_kv_override", spec["n_head_kv"])
    hd = spec.get("head_dim", d // n_head)
    arch = spec.get("arch", "llama")
    def mat(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * gain / math.sqrt(cols)).astype(np.float32)
    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    w = {"token_embd.weight": rng.standard_normal((N_VOCAB, d)).astype(np.float32)}
    for il in range(nl):
        p = f"blk.{il}."
        w[p + "attn_norm.weight"] = norm(d)
        w[p + "attn_q.weight"] = mat(n_head * hd, d, 2.0)
        w[p + "attn_k.weight"] = mat(n_kv * hd, d, 2.0)
        w[p + "attn_v.weight"] = mat(n_kv * hd, d, 2.0)
        w[p + "attn_output.weight"] = mat(d, n_head * hd, 4.0)
        w[p + "ffn_norm.weight"] = norm(d)
        w[p + "ffn_gate.weight"] = mat(ff, d)
        w[p + "ffn_up.weight"] = mat(ff, d)
        w[p + "ffn_down.weight"] = mat(d, ff, 4.0)
        if arch == "qwen2":
            for t, n in (("q", n_head * hd), ("k", n_kv * hd), ("v", n_kv * hd)):
                w[p + f"attn_{t}.bias"] = (0.5 * rng.standard_normal(n)).astype(np.float32)
        if arch in ("qwen3", "gemma3"):
            w[p + "attn_q_norm.weight"] = norm(hd)
            w[p + "attn_k_norm.weight"] = norm(hd)
        if arch == "gemma3":
            w[p + "post_attention_norm.weight"] = norm(d)
            w[p + "post_ffw_norm.weight"] = norm(d)
    w["output_norm.weight"] = norm(d)
    if arch == "gemma3":   # like the real ones: small embeddings, ~1 after the sqrt(d) scale
        w["token_embd.weight"] *= 4.0 / d
    if not spec["tied"]:
        w["output.weight"] = mat(N_VOCAB, d, 8.0)
    return w


def write(path, spec, w, wtype, vocab, rng_rope):
    toks, types, merges, tmpl = vocab
    d, n_head = spec["n_embd"], spec["n_head"]
    n_kv = spec.get("n_head_kv_override", spec["n_head_kv"])
    base = spec.get("rope_base", 10000.0)
    arch = spec.get("arch", "llama")
    hd = spec.get("head_dim", d // n_head)
    wr = gguf.GGUFWriter(path, arch)
    wr.add_name(f"parley synthetic {spec['name']}")
    wr.add_block_count(spec["n_layer"])
    wr.add_context_length(2048)
    wr.add_embedding_length(d)
    wr.add_feed_forward_length(spec["n_ff"])
    wr.add_head_count(n_head)
    wr.add_head_count_kv(n_kv)
    wr.add_rope_dimension_count(hd)
    wr.add_rope_freq_base(base)
    wr.add_layer_norm_rms_eps(spec.get("eps", 1e-5))
    if "head_dim" in spec:
        wr.add_key_length(hd)
        wr.add_value_length(hd)
    if "swa" in spec:
        wr.add_sliding_window(spec["swa"])
        wr.add_sliding_window_pattern(spec["swa_pattern"])
    if "rope_base_swa" in spec:
        wr.add_rope_freq_base_swa(spec["rope_base_swa"])
    if "softcap" in spec:
        wr.add_final_logit_softcapping(spec["softcap"])
    wr.add_vocab_size(N_VOCAB)
    if "linear_rope" in spec:
        wr.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        wr.add_rope_scaling_factor(spec["linear_rope"])
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("smollm")
    wr.add_token_list(toks)
    wr.add_token_types(types)
    wr.add_token_merges(merges)
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_unk_token_id(0)
    wr.add_pad_token_id(2)
    wr.add_add_bos_token(False)
    wr.add_chat_template(tmpl)
    for name, a in w.items():
        if a.ndim == 1 or wtype == T.F32:
            wr.add_tensor(name, a)
        elif wtype == T.F16:
            wr.add_tensor(name, a.astype(np.float16))
        else:
            q = gguf.quants.quantize(a, wtype)
            wr.add_tensor(name, q, raw_dtype=wtype)
    if spec.get("llama3_rope"):
        wr.add_tensor("rope_freqs.weight", llama3_factors(base, d // n_head))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def kquantize(src, dst, ktype):
    """llama.cpp's own quantizer (llama-cpp-python binding)."""
    import llama_cpp
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ktype}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize({ktype}) failed: {rc}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/fixtures/models")
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    vocab = read_vocab()
    for i, spec in enumerate(MODELS):
        if only and spec["name"] not in only:
            continue
        rng = np.random.default_rng(1000 + i)
        w = weights(spec, rng)
        path = os.path.join(out, f"synth-{spec['name']}.gguf")
        if "ktype" in spec:
            tmp = path + ".f32.tmp"
            write(tmp, spec, w, T.F32, vocab, rng)
            kquantize(tmp, path, spec["ktype"])
            os.remove(tmp)
        else:
            write(path, spec, w, spec["wtype"], vocab, rng)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
