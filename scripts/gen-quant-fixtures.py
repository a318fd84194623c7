#!/usr/bin/env python3
"""gen-quant-fixtures.py — golden quantization fixtures from llama.cpp's gguf package.

gguf.quants is a numpy re-implementation of ggml's (de)quantizers, kept in the
llama.cpp tree. For every type parley reads we store random blocks with their
dequantized floats, and for the types gguf can quantize, random floats with
the bytes gguf quantizes them to. gguf cannot quantize the K-quants, so for
those llama.cpp's own reference quantizers (quantize_row_q*_K_ref in the
libggml-base.so that llama-cpp-python ships) quantize random floats, and the
test checks that parley's quantizer error is no worse than theirs on the same
values. tests/unit/test_quant_golden.c checks that parley's kernels give the
same answers. Run with the venv that has gguf and llama-cpp-python:

    ~/.cache/parley/lcpp-venv/bin/python scripts/gen-quant-fixtures.py

File format (little-endian), one file per type, tests/fixtures/quant/<type>.bin:
    magic "PLQF", u32 version = 1, u32 ggml type id, u32 n_cases,
    64-byte NUL-padded provenance string ("gguf 0.19.0 numpy 2.4.6"), then per case:
    u32 kind (0: bytes -> floats, 1: floats -> bytes -> floats, 2: as 1 but the
    bytes come from llama.cpp's K-quant reference quantizer: compare the error,
    not the bytes), u32 n elements,
    u32 n_bytes, [kind 1: n f32 source values], n_bytes quantized bytes,
    n f32 dequantized values.
"""
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "quant")

# type -> (elements per case, byte offsets of f16 scales to make sane, can quantize)
TYPES = {
    "q4_0": (T.Q4_0, 256, [0], True),
    "q4_1": (T.Q4_1, 256, [0, 2], True),
    "q5_0": (T.Q5_0, 256, [0], True),
    "q5_1": (T.Q5_1, 256, [0, 2], True),
    "q8_0": (T.Q8_0, 256, [0], True),
    "bf16": (T.BF16, 256, [], True),
    "f16":  (T.F16, 256, [], True),
    "q2_K": (T.Q2_K, 512, [80, 82], False),
    "q3_K": (T.Q3_K, 512, [108], False),
    "q4_K": (T.Q4_K, 512, [0, 2], False),
    "q5_K": (T.Q5_K, 512, [0, 2], False),
    "q6_K": (T.Q6_K, 512, [208], False),
}


def random_blocks(rng, qtype, n, scale_offsets):
    """Random bytes for n elements, with the f16 scale fields set to sane values."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = n // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    if qtype in (T.F16, T.BF16):
        vals = rng.standard_normal(n).astype(np.float32)
        return quants.quantize(vals, qtype).view(np.uint8).reshape(-1)
    for off in scale_offsets:
        sc = (rng.uniform(-0.05, 0.05, size=nb)).astype(np.float16)
        raw[:, off:off + 2] = sc.view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def case_bytes(qtype, raw, n):
    deq = quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
    assert deq.size == n
    return struct.pack("<III", 0, n, raw.size) + raw.tobytes() + deq.tobytes()


def case_floats(rng, qtype, n):
    src = (rng.standard_normal(n) * 0.02).astype(np.float32)
    src[:32] = 0.0                       # one all-zero block
    src[32:64] = 0.125                   # one constant block
    q = quants.quantize(src, qtype).view(np.uint8).reshape(-1)
    deq = quants.dequantize(q, qtype).astype(np.float32).reshape(-1)
    return struct.pack("<III", 1, n, q.size) + src.tobytes() + q.tobytes() + deq.tobytes()


def ggml_quantizer(name):
    """quantize_row_<name>_ref from llama-cpp-python's libggml-base.so (ctypes)."""
    import ctypes
    import llama_cpp
    lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    fn = getattr(lib, f"quantize_row_{name}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    return fn, llama_cpp.__version__


def case_ggml(rng, qtype, name, n, dist):
    """Floats (normal or heavy-tailed, real-weight-like) quantized by ggml's K-quant reference."""
    if dist == "normal":
        src = rng.standard_normal(n) * 0.02
    else:
        src = rng.laplace(0.0, 0.02, n)
    src = src.astype(np.float32)
    fn, _ = ggml_quantizer(name)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    q = np.zeros(n // block * size, dtype=np.uint8)
    fn(src.ctypes.data, q.ctypes.data, n)
    deq = quants.dequantize(q, qtype).astype(np.float32).reshape(-1)
    return struct.pack("<III", 2, n, q.size) + src.tobytes() + q.tobytes() + deq.tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    prov = f"gguf {gguf.__version__ if hasattr(gguf, '__version__') else version()} numpy {np.__version__}"
    rng = np.random.default_rng(20240601)
    for name, (qtype, n, offs, can_quantize) in TYPES.items():
        cases = [case_bytes(qtype, random_blocks(rng, qtype, n, offs), n) for _ in range(3)]
        tprov = prov
        if can_quantize:
            cases += [case_floats(rng, qtype, n) for _ in range(3)]
        else:
            rng2 = np.random.default_rng(20250101 + int(qtype))
            cases += [case_ggml(rng2, qtype, name, 4096, d) for d in ("normal", "laplace")]
            tprov = f"{prov} llama-cpp-python {ggml_quantizer(name)[1]}"
        assert len(tprov) < 64
        head = b"PLQF" + struct.pack("<III", 1, int(qtype), len(cases)) + tprov.encode().ljust(64, b"\0")
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(head + b"".join(cases))
    with open(os.path.join(OUT, "VERSION"), "w") as f:
        f.write(prov + "\n")
    print("wrote", len(TYPES), "fixtures to", os.path.normpath(OUT), "from", prov)


def version():
    from importlib.metadata import version as v
    return v("gguf")


if __name__ == "__main__":
    sys.exit(main())
