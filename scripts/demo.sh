#!/usr/bin/env bash
# The end-to-end demo: `dkm demo` tells the whole story in a fresh temporary store.
set -euo pipefail
cd "$(dirname "$0")/.."
# protoc for the etcd client, etcd for its tests (Debian packages, installed once).
source scripts/lib/deps.sh
unset RUSTFLAGS
exec cargo run -q -p dkm-cli --locked -- demo
