#!/usr/bin/env bash
# Builds everything and runs every test of every surface that exists (today: Rust: the core,
# the host layer and the dkm command).
# Installs what it needs (rustup components and targets); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

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

step "tests (workspace, default features; includes doctests and frozen test vectors)"
cargo test --workspace --locked

step "tests (dkm-core without std)"
cargo test -p dkm-core --no-default-features --locked

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

step "fuzz: each cargo-fuzz target for 20 s from the committed seeds, and the saved regressions"
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]]; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
(
  cd fuzz
  cargo +nightly fetch --locked
  cargo +nightly fuzz build
  rm -rf target/ci-corpus
  targets=$(cargo +nightly fuzz list)
  [[ -n $targets ]]
  for t in $targets; do
    # libFuzzer writes new inputs only to the first corpus dir (a scratch one): seeds/ and
    # regressions/ are read, never written. A crash or failed check exits non-zero.
    dirs=("target/ci-corpus/$t")
    mkdir -p "${dirs[0]}"
    for d in "seeds/$t" "regressions/$t"; do
      if [[ -d $d ]]; then dirs+=("$d"); fi
    done
    cargo +nightly fuzz run "$t" "${dirs[@]}" -- -max_total_time=20 -timeout=10 -print_final_stats=1
  done
)

printf '\nAll tests passed.\n'
