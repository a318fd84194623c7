#!/usr/bin/env python3
"""check-quantize-llamacpp.py — does llama.cpp load and run what `parley quantize` wrote?

Loads each GGUF given with llama-cpp-python and prints the greedy continuation
of a prompt, so a person can compare the original model with its quantized
copies side by side. Exit status 1 if any file fails to load or generates
nothing. Not a test dependency: the unit tests never need llama.cpp.

    ~/.cache/parley/lcpp-venv/bin/python scripts/check-quantize-llamacpp.py \
        ORIGINAL.gguf OUT-Q8_0.gguf OUT-Q4_K_M.gguf [--prompt TEXT] [-n 24]
"""
import argparse
import sys

try:
    import llama_cpp
except ImportError:
    sys.exit("llama-cpp-python is missing: use ~/.cache/parley/lcpp-venv/bin/python "
             "(or pip install llama-cpp-python)")
import llama_cpp.llama_cpp as llama_lib

_stock_model_params = llama_lib.llama_model_default_params


def _no_extra_buffers():
    """Default model params with use_extra_bufts off: 0.3.36's repacked/AMX weight
    buffers segfault on this small model (see gen-forward-fixtures.py)."""
    p = _stock_model_params()
    p.use_extra_bufts = False
    return p


llama_lib.llama_model_default_params = _no_extra_buffers


def continuation(path, prompt, n):
    """Greedy continuation of prompt by the model in path (raises on load failure).
    Token by token with eval + argmax, as gen-forward-fixtures.py does."""
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2, n_threads_batch=2,
                          logits_all=True, flash_attn=False, verbose=False)
    toks = llm.tokenize(prompt.encode(), add_bos=True, special=False)
    llm.eval(toks)
    out = []
    for _ in range(n):
        scores = llm.scores[llm.n_tokens - 1]
        t = max(range(len(scores)), key=scores.__getitem__)
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, t):
            break
        out.append(t)
        llm.eval([t])
    return llm.detokenize(out).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("-n", type=int, default=24)
    args = ap.parse_args()
    print(f"llama-cpp-python {llama_cpp.__version__}; prompt {args.prompt!r}; greedy, {args.n} tokens")
    failed = False
    for path in args.models:
        try:
            text = continuation(path, args.prompt, args.n)
        except Exception as e:  # llama.cpp reports load failures as ValueError/RuntimeError
            print(f"FAIL {path}: {e}")
            failed = True
            continue
        ok = bool(text.strip())
        failed |= not ok
        print(f"{'ok  ' if ok else 'EMPTY'} {path}: {text!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
