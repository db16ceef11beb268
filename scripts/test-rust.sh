#!/usr/bin/env bash
# The Rust surface: formatting, clippy, the bare-metal, wasm32 and cross-platform builds, every
# Rust test of every crate (core, host, the dkm command, the C binding's Rust side), the
# benchmarks once, the docs, the demos and the README walk-through.
# Installs what it needs (rustup components and targets); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
# protoc for the etcd client, etcd for its tests (Debian packages, installed once).
source scripts/lib/deps.sh

# A RUSTFLAGS in the environment makes cargo ignore per-target rustflags (see TOOLCHAIN traps).
unset RUSTFLAGS

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: rustfmt, clippy, bare-metal, wasm32 and cross-check targets"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add thumbv7em-none-eabihf wasm32-unknown-unknown x86_64-apple-darwin x86_64-pc-windows-gnu

step "format"
cargo fmt --all -- --check

step "clippy (default features, then no_std core)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p dkm-core --all-targets --no-default-features --locked -- -D warnings

step "dkm-core builds for bare metal (thumbv7em-none-eabihf, no std)"
cargo build -p dkm-core --no-default-features --target thumbv7em-none-eabihf --locked

step "dkm-host is portable: without files or OS randomness for wasm32, checked for macOS and Windows"
cargo clippy -p dkm-host --no-default-features --locked -- -D warnings
cargo build -p dkm-host --no-default-features --target wasm32-unknown-unknown --locked
cargo check -p dkm-host --target x86_64-apple-darwin --locked
cargo check -p dkm-host --target x86_64-pc-windows-gnu --locked
# The uniffi library as the Swift bindings load it (without etcd) checked for macOS.
cargo check -p dkm-uniffi --no-default-features --target x86_64-apple-darwin --locked

step "tests (workspace, default features; includes doctests and frozen test vectors)"
cargo test --workspace --locked

step "tests (dkm-core without std; and with std but without the fast AES-GCM path)"
cargo test -p dkm-core --no-default-features --locked
cargo test -p dkm-core --no-default-features --features std --locked

step "benchmarks compile and run once (test mode)"
cargo test -p dkm-bench --benches --locked

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -p dkm-core --no-deps --locked

step "demos (the core's example and the dkm command's)"
cargo run -q -p dkm-core --example demo --locked >/dev/null
cargo run -q -p dkm-cli --locked -- demo >/dev/null

step "the README's dkm walk-through runs as written"
bash scripts/readme-walkthrough.sh

step "test vectors are committed (no stray changes)"
git diff --exit-code -- testvectors

printf '\nRust tests passed.\n'
