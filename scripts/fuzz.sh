#!/usr/bin/env bash
# Fuzzes each cargo-fuzz target briefly (20 s) from the committed seeds and the saved
# regressions. Installs cargo-fuzz (pinned) and the nightly toolchain when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# protoc for the etcd client the C binding's fuzz targets link (Debian packages, once).
source scripts/lib/deps.sh
unset RUSTFLAGS

step() { printf '\n==> %s\n' "$*"; }

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

printf '\nFuzzing passed.\n'
