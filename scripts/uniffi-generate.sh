#!/usr/bin/env bash
# Regenerates the checked-in Kotlin, Ruby and Swift bindings from libdkm_uniffi (debug), with
# the pinned uniffi-bindgen (bindings/uniffi/bindgen). scripts/test-uniffi.sh fails when they
# are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
cargo build -q --locked --manifest-path bindings/uniffi/bindgen/Cargo.toml \
  --target-dir target/uniffi-bindgen
cargo build -q --locked -p dkm-uniffi
bindgen=target/uniffi-bindgen/debug/uniffi-bindgen
lib=target/debug/libdkm_uniffi.so
"$bindgen" generate --no-format --library "$lib" --language kotlin --out-dir bindings/uniffi/kotlin/src
"$bindgen" generate --no-format --library "$lib" --language ruby --out-dir bindings/uniffi/ruby/lib
rm -rf bindings/uniffi/swift
"$bindgen" generate --no-format --library "$lib" --language swift --out-dir bindings/uniffi/swift
echo "regenerated bindings/uniffi/{kotlin/src,ruby/lib,swift}"
