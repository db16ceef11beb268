#!/usr/bin/env bash
# The JavaScript / WASM surface: installs what it needs (the wasm32 target, wasm-bindgen-cli
# at Cargo.lock's version, npm tools from wasm/package-lock.json, Debian's chromium), builds
# the npm package (`npm run build`: wasm/pkg, declarations checked fresh and type-checked),
# then `npm test`: the node --test suite (every verb and error kind, the test vectors, two
# racing writers on asynchronous storage, a synchronous store object, the module's size,
# interop with the `dkm` command) and the same core checks in headless Chromium with the demo
# page clicked through; then runs the benchmark once, briefly. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "tools: chromium (Debian), node $(node --version)"
if [[ ! -x /usr/bin/chromium ]]; then
  # The package lists are fetched once per machine.
  if ! apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y --no-install-recommends chromium >/dev/null
  fi
fi
/usr/bin/chromium --version

step "the dkm command (interop)"
cargo build -q -p dkm-cli --locked

step "npm run build (wasm/pkg)"
cd wasm
npm ci --no-audit --no-fund --loglevel=error
npm run build

step "npm test"
DKM_BIN="$root/target/debug/dkm" DKM_VECTORS="$root/testvectors/v1" npm test

step "the benchmark, briefly"
node "$root/bench/wasm/bench.mjs" --quick
