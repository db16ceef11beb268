#!/usr/bin/env bash
# Builds everything and runs every test of every surface that exists (today: Rust).
# Installs what it needs (rustup components and targets); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# A RUSTFLAGS in the environment makes cargo ignore per-target rustflags (see TOOLCHAIN traps).
unset RUSTFLAGS

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: rustfmt, clippy, bare-metal target"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add thumbv7em-none-eabihf

step "format"
cargo fmt --all -- --check

step "clippy (default features, then no_std core)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p dkm-core --all-targets --no-default-features --locked -- -D warnings

step "dkm-core builds for bare metal (thumbv7em-none-eabihf, no std)"
cargo build -p dkm-core --no-default-features --target thumbv7em-none-eabihf --locked

step "tests (workspace, default features; includes doctests and frozen test vectors)"
cargo test --workspace --locked

step "tests (dkm-core without std)"
cargo test -p dkm-core --no-default-features --locked

step "benchmarks compile and run once (test mode)"
cargo test -p dkm-bench --benches --locked

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -p dkm-core --no-deps --locked

step "demo"
cargo run -q -p dkm-core --example demo --locked >/dev/null

step "test vectors are committed (no stray changes)"
git diff --exit-code -- testvectors

printf '\nAll tests passed.\n'
