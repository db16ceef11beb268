#!/usr/bin/env bash
# Builds dkm's C library in release mode and installs it under a prefix:
#   PREFIX/include/dkm.h
#   PREFIX/lib/libdkm.a, libdkm.so.VERSION (+ libdkm.so.ABI and libdkm.so links)
#   PREFIX/lib/pkgconfig/dkm.pc (shared), dkm-static.pc (static); both relocatable
#   PREFIX/lib/cmake/dkm/dkmConfig.cmake, dkmConfigVersion.cmake
# Usage: bash scripts/install-c.sh PREFIX   (e.g. /usr/local, or $HOME/.local)
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS

prefix=${1:?usage: scripts/install-c.sh PREFIX}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

cargo build --release -p dkm-ffi --locked

version=$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="dkm-ffi"))')
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [[ $major == 0 ]]; then abi="0.$minor"; else abi=$major; fi
target_dir=$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/dkm"
install -m 0644 c-header/include/dkm.h "$prefix/include/dkm.h"
install -m 0644 "$target_dir/release/libdkm.a" "$prefix/lib/libdkm.a"
install -m 0755 "$target_dir/release/libdkm.so" "$prefix/lib/libdkm.so.$version"
ln -sf "libdkm.so.$version" "$prefix/lib/libdkm.so.$abi"
ln -sf "libdkm.so.$abi" "$prefix/lib/libdkm.so"

subst() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@ABI@|$abi|g" \
    -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" "$1" >"$2"
}
subst c-header/dkm.pc.in "$prefix/lib/pkgconfig/dkm.pc"
subst c-header/dkm-static.pc.in "$prefix/lib/pkgconfig/dkm-static.pc"
subst c-header/cmake/dkmConfig.cmake.in "$prefix/lib/cmake/dkm/dkmConfig.cmake"
subst c-header/cmake/dkmConfigVersion.cmake.in "$prefix/lib/cmake/dkm/dkmConfigVersion.cmake"
echo "installed dkm $version (C API) under $prefix"
