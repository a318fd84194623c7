#!/usr/bin/env bash
# deps.sh PKGCONFIG_NAMES... -- DEBIAN_PACKAGES...
# Installs what is missing (apt-get when root), or prints the command to run.
set -u
pc=(); deb=(); seen=0
for a in "$@"; do
  if [ "$a" = "--" ]; then seen=1; continue; fi
  if [ $seen = 0 ]; then pc+=("$a"); else deb+=("$a"); fi
done
# pkg-config name -> Debian package, for the message.
declare -A pkg_of=([ncursesw]=libncurses-dev [vterm]=libvterm-dev [libpcre2-8]=libpcre2-dev
  [sqlite3]=libsqlite3-dev [libutf8proc]=libutf8proc-dev [jansson]=libjansson-dev
  [md4c]=libmd4c-dev [criterion]=libcriterion-dev)
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
# GPU builds (compile and link only; no GPU needed): HIP from Debian, CUDA must be present.
command -v hipcc >/dev/null || missing+=(hipcc libamdhip64-dev)
# The NEON kernels' tests: cross-compiled for aarch64 and run under qemu-user (make test-neon).
if [ "$(uname -m)" != aarch64 ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  # Only a Recommends of the compiler, so --no-install-recommends leaves it out.
  [ -f /usr/aarch64-linux-gnu/include/stdio.h ] || missing+=(libc6-dev-arm64-cross)
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
fi
if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "deps: nvcc (CUDA toolkit) not found: 'make gpu-cuda' will fail; install the CUDA toolkit" >&2
fi
if command -v pkg-config >/dev/null; then
  for p in "${pc[@]}"; do
    pkg-config --exists "$p" || missing+=("${pkg_of[$p]:-$p}")
  done
else
  missing+=("${deb[@]}")
fi
[ ${#missing[@]} = 0 ] && exit 0
# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "deps: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
