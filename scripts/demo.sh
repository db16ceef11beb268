#!/usr/bin/env bash
# The end-to-end demo: `dkm demo` tells the whole story in a fresh temporary store.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
exec cargo run -q -p dkm-cli --locked -- demo
