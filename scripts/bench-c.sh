#!/usr/bin/env bash
# The C API's benchmark against OpenSSL (bench/c/seal_vs_openssl.c): libdkm built in release
# mode and installed in a temporary prefix, then one side-by-side run. Usage:
#   bash scripts/bench-c.sh [ROUNDS]   (default 31)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash scripts/install-c.sh "$work/prefix" >/dev/null
gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I"$work/prefix/include" bench/c/seal_vs_openssl.c \
  "$work/prefix/lib/libdkm.a" -lcrypto -lpthread -ldl -lm -o "$work/seal_vs_openssl"
"$work/seal_vs_openssl" "${1:-31}"
