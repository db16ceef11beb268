#!/usr/bin/env bash
# The JavaScript / WASM surface: installs what it needs (the wasm32 target, wasm-bindgen-cli
# at Cargo.lock's version, npm tools from wasm/package-lock.json, Debian's chromium), builds
# the npm package (`npm run build`: wasm/pkg, declarations checked fresh and type-checked),
# then `npm test`: the node --test suite (every verb and error kind, the test vectors, two
# racing writers on asynchronous storage, a synchronous store object, the module's size,
# interop with the `dkm` command and the Python binding) and the same core checks in headless Chromium with the demo
# page clicked through; then runs the benchmark once, briefly. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
# protoc for the etcd client, etcd for its tests (Debian packages, installed once).
source scripts/lib/deps.sh
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
# The Python binding, when scripts/test-python.sh has installed it (as scripts/test-all.sh
# does first): interop with it too; otherwise its test says it did not run.
py="$root/target/python/venv/bin/python"
if [[ -x $py ]] && "$py" -c 'import dkm' 2>/dev/null; then
  export DKM_PYTHON="$py"
else
  echo "the Python binding is not installed (scripts/test-python.sh): the Python interop test will not run"
fi
DKM_BIN="$root/target/debug/dkm" DKM_VECTORS="$root/testvectors/v1" npm test

step "the benchmark, briefly"
node "$root/bench/wasm/bench.mjs" --quick
