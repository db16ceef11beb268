#!/usr/bin/env bash
# Builds everything and runs every test of every surface that exists: Rust (core, host, the
# dkm command), C and C++ (libdkm), Python (the dkm wheel), Kotlin/JVM, Ruby and Swift (uniffi),
# JavaScript (the npm package: Node and headless Chromium), then brief fuzzing. Each surface
# has its own script, which a developer can run alone. Installs what it needs; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-rust.sh
bash scripts/test-c.sh
bash scripts/test-python.sh
bash scripts/test-uniffi.sh
bash scripts/test-wasm.sh
bash scripts/fuzz.sh

printf '\nAll tests passed.\n'
