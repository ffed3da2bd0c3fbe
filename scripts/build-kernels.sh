#!/usr/bin/env bash
# Builds the emulator's native kernels (conformance/server/src/fpgascore_emulator/native/kernels.c)
# into native/_kernels.so beside it, which the server loads (fpgascore_emulator/kernels.py; without
# it, or built from another kernels.c, the server runs the same model in numpy, the same bits,
# about twice the CPU). scripts/setup.sh runs it; the server image builds its own copy.
#
#   scripts/build-kernels.sh            # into the source tree
#   scripts/build-kernels.sh OUT.so     # elsewhere (the image's builder stage)
#
# The flags matter for the bits: no -ffast-math, and -ffp-contract=off (GNU C fuses a * b + c into
# one rounding by default, the numpy code rounds twice). The source's SHA-256 is compiled in:
# the server uses a library only when it matches the kernels.c it has.
set -euo pipefail
cd "$(dirname "$0")/.."
NATIVE_DIR=conformance/server/src/fpgascore_emulator/native
source_file="$NATIVE_DIR/kernels.c"
out="${1:-$NATIVE_DIR/_kernels.so}"
CC="${CC:-gcc}"
command -v "$CC" >/dev/null || { echo "build-kernels.sh: no C compiler ($CC): apt-get install gcc libc6-dev" >&2; exit 1; }
digest=$(sha256sum "$source_file" | cut -d' ' -f1)
partial="$out.partial.$$"
trap 'rm -f "$partial"' EXIT
"$CC" -std=gnu11 -O3 -fPIC -shared -ffp-contract=off -fno-fast-math -Wall -Wextra -Werror \
  -DKERNELS_SOURCE_DIGEST="\"$digest\"" -o "$partial" "$source_file" -lm
mv -f "$partial" "$out"  # a new file: a running server keeps the library it loaded
echo "[fpgascore] native kernels: $out (from kernels.c $digest)" >&2
