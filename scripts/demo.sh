#!/usr/bin/env bash
# Runs the end-to-end demo (until the `dkm` command exists: the core's ring demo program).
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
exec cargo run -q -p dkm-core --example demo --locked
