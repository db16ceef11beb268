#!/usr/bin/env bash
# Runs the README's `dkm` walk-through (the first ```sh block that starts with `for who in`)
# in a temporary directory with the freshly built command, so the README stays true.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
cargo build -q -p dkm-cli --locked
bin="$(pwd)/target/debug"
script=$(awk '/^```sh$/{inblock=1; body=""; next} /^```$/{if (inblock && body ~ /^for who in/) {print body; exit} inblock=0; next} inblock{body = body $0 "\n"}' README.md)
[[ -n $script ]] || { echo "README walk-through not found" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
PATH="$bin:$PATH" DKM_HOME="$dir/home" DKM_STORE="$dir/store" bash -euo pipefail -c "$script" >/dev/null
echo "README walk-through: ok"
