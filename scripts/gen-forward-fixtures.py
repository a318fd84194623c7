#!/usr/bin/env python3
"""gen-forward-fixtures.py — record llama.cpp's forward results for parley's e2e tests.

For each synthetic model (tests/fixtures/models/) and the default model, and
for a few fixed prompts (raw, chat-formatted, and one long prompt of > 300
tokens that crosses prefill chunks and KV blocks), llama.cpp (through
llama-cpp-python, 2 threads, flash attention off, F16 KV cache, no weight
repacking) gives:
  - the prompt's token ids,
  - the logits after the last prompt token (full vector; for the 49152-token
    default model as a float16 binary file beside the JSON),
  - the greedy (argmax) 64-token continuation, EOG tokens included, and at
    each step the gap between the two best logits over max|logit| (a step
    whose gap is within the comparison tolerance is a near tie: either token
    is a correct answer there),
  - for chat prompts, the text of the greedy answer up to the end of the turn
    (at most 32 tokens), as `parley run --chat --temp 0 -n 32` must print it.
tests/e2e/test_generate.c compares parley against these files, and
tests/e2e/test_arch.c the other architectures': the synthetic qwen2 / qwen3 /
gemma3 models and Gemma 3 270M (`make model-gemma`), which also gets a prompt
longer than its 512-position sliding window (raw_swa). A GGUF without a chat
template is rendered with the template llama.cpp names after its family
(gemma3: "gemma"), as parley does.

Usage: ~/.cache/parley/lcpp-venv/bin/python scripts/gen-forward-fixtures.py [NAME...]
NAME: synth-<type> / synth-<arch>-<type> (one synthetic model), smollm2, gemma3;
default all.
"""
import ctypes
import glob
import json
import os
import sys

import numpy as np
import llama_cpp
import llama_cpp.llama_cpp as llama_lib


def _plain_buffers():
    """llama.cpp's default model params without the "extra" (repacked / AMX) weight
    buffers: with them, 0.3.36 segfaults on these tiny models' q4_0/q4_1/q8_0 and
    K-quant weights. The plain path quantizes activations to q8 the same way."""
    p = _default_model_params()
    p.use_extra_bufts = False
    return p


_default_model_params = llama_lib.llama_model_default_params
llama_lib.llama_model_default_params = _plain_buffers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests/fixtures/forward")
DEFAULT_MODEL = os.path.expanduser("~/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf")
GEMMA_MODEL = os.path.expanduser("~/.local/share/parley/models/gemma-3-270m-q4_k_m.gguf")
FALLBACK_TEMPLATE = {"gemma3": "gemma"}   # llama.cpp template names for files without one
N_GREEDY = 64
N_ANSWER = 32

LONG = (
    "The history of computing is a story of layers. At the bottom are transistors, switching "
    "on and off billions of times each second. Above them sit logic gates, adders and memory "
    "cells, and above those the instruction set that a compiler targets. Operating systems "
    "share the processor between programs, file systems give names to blocks on a disk, and "
    "networks carry packets between machines that may be on the other side of the planet. "
    "Each layer hides the details of the one below it, so that a programmer writing a chat "
    "client does not need to think about voltages or cache lines. Yet performance lives in "
    "those details: a matrix multiplication that streams its weights from memory in the "
    "right order can run ten times faster than one that does not. Inference engines for "
    "language models are a good example. They read every weight of the model once for each "
    "generated token, so their speed is bounded by memory bandwidth, and the best of them "
    "quantize the weights to four or five bits to read less. Batched prompt processing is "
    "different: there the same weights are reused for many tokens, and arithmetic becomes "
    "the limit. A careful engine handles both cases, and it keeps a cache of keys and values "
    "so that earlier tokens are never processed twice. Paged caches split that memory into "
    "fixed blocks, so that several conversations can share a common prefix. When the "
    "context fills up, the oldest turns of the conversation can be dropped and the keys "
    "that remain rotated to their new positions, which is cheaper than recomputing them. "
    "None of this is visible to the person typing a question into the terminal, who only "
    "notices whether the answer appears quickly, whether it is correct, and whether the "
    "program stays responsive while it thinks."
)

PROMPTS = [
    dict(name="raw_short", text="Hello world, this is a test of the engine.", chat=False),
    dict(name="chat_capital", text="What is the capital of France?", chat=True),
    dict(name="raw_long", text=LONG, chat=False),
]
# Longer than Gemma 3's 512-position window: the local layers must forget the start.
SWA_PROMPTS = PROMPTS + [
    dict(name="raw_swa", text=LONG + "\n\nOnce more, from the top.\n\n" + LONG, chat=False),
]


def render_chat(model_tmpl, user):
    """llama.cpp's own rendering (llama_chat_apply_template) of one user turn."""
    msgs = (llama_cpp.llama_chat_message * 1)()
    msgs[0].role = b"user"
    msgs[0].content = user.encode()
    buf = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_chat_apply_template(model_tmpl.encode(), msgs, 1, True, buf, len(buf))
    if n < 0 or n > len(buf):
        sys.exit("llama_chat_apply_template failed")
    return buf.raw[:n].decode()


def chat_template(llm):
    t = llm.metadata.get("tokenizer.chat_template")
    return t if t else FALLBACK_TEMPLATE.get(llm.metadata.get("general.architecture"), "chatml")


def run_prompt(llm, prompt, store_full):
    text = render_chat(chat_template(llm), prompt["text"]) if prompt["chat"] else prompt["text"]
    toks = llm.tokenize(text.encode(), add_bos=True, special=prompt["chat"])
    llm.reset()
    llm.eval(toks)
    logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    greedy, margins = [], []
    for _ in range(N_GREEDY):
        step = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.sort(step)[-2:]
        t = int(np.argmax(step))
        greedy.append(t)
        margins.append(float("%.4g" % ((top2[1] - top2[0]) / np.max(np.abs(step)))))
        llm.eval([t])
    rec = dict(name=prompt["name"], chat=prompt["chat"], text=text, tokens=toks,
               greedy=greedy, greedy_margin=margins, n_vocab=int(logits.shape[0]),
               logits_max_abs=float(np.max(np.abs(logits))),
               top10=[int(i) for i in np.argsort(-logits)[:10]])
    if prompt["chat"]:
        answer = b""
        for t in greedy[:N_ANSWER]:
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, t):
                break
            answer += llm.detokenize([t])
        rec["answer"] = answer.decode("utf-8", errors="replace")
    if store_full:
        rec["logits"] = [float("%.6g" % v) for v in logits]
    return rec, logits


def version_info():
    return dict(llama_cpp_python=llama_cpp.__version__,
                system_info=llama_cpp.llama_print_system_info().decode().strip(),
                settings="n_threads=2 n_batch=512 n_ctx=1024 flash_attn=False type_k=type_v=f16 "
                         "use_extra_bufts=False logits_all=True greedy=argmax")


def run_model(path, name, full_logits, prompts=PROMPTS):
    llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_batch=512, n_threads=2,
                          n_threads_batch=2, logits_all=True, flash_attn=False, verbose=False)
    out = dict(model=os.path.basename(path), llama_cpp=version_info(), prompts=[])
    for p in prompts:
        rec, logits = run_prompt(llm, p, full_logits)
        if not full_logits:
            fn = f"{name}.{p['name']}.logits.f16"
            logits.astype("<f2").tofile(os.path.join(OUT, fn))
            rec["logits_f16_file"] = fn
        out["prompts"].append(rec)
        print(f"{name} {p['name']}: {len(rec['tokens'])} tokens, greedy {rec['greedy'][:8]}..."
              + (f" answer {rec['answer']!r}" if "answer" in rec else ""))
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(out, f, indent=1)
    del llm


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    want = lambda name: not only or name in only
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/models/synth-*.gguf"))):
        if want(os.path.basename(path)[:-5]):
            run_model(path, os.path.basename(path)[:-5], True)
    for path, name, prompts, make in ((DEFAULT_MODEL, "smollm2", PROMPTS, "model"),
                                      (GEMMA_MODEL, "gemma3", SWA_PROMPTS, "model-gemma")):
        if not want(name):
            continue
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run `make {make}`")
        run_model(path, name, False, prompts)


if __name__ == "__main__":
    main()
