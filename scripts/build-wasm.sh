#!/usr/bin/env bash
# Builds the dkm npm package into wasm/pkg/ (what `npm run build` in wasm/ runs): installs the
# wasm32 target, wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen version and the npm
# tools from wasm/package-lock.json; builds the dkm-wasm crate; generates the JS glue
# (`--target web`: one module for browsers, bundlers, Deno, Workers and, through node.mjs,
# Node); optimizes the module with npm's binaryen (Debian's breaks it); lays out the package;
# and fails when the checked-in TypeScript declarations of the glue are stale
# (DKM_UPDATE_DTS=1 refreshes them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}

rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || { echo "build-wasm: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "build-wasm: installing wasm-bindgen-cli $want (have: ${have:-none})"
    # Not --locked: its lock file pins a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$want" --force
fi

cd wasm
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
cd "$root"

cargo build -p dkm-wasm --target wasm32-unknown-unknown --profile wasm
raw="$target_dir/wasm32-unknown-unknown/wasm/dkm_wasm.wasm"

out=wasm/pkg
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name dkm_wasm "$raw"
# -O3: speed first (software AES); the size budget is checked by the tests.
wasm/node_modules/.bin/wasm-opt -O3 --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "$out/dkm_wasm_bg.wasm" -o "$out/dkm_wasm_bg.opt.wasm"
mv "$out/dkm_wasm_bg.opt.wasm" "$out/dkm_wasm_bg.wasm"

# The hand-written layer (not the generated glue or its declarations).
cp wasm/js/api.js wasm/js/index.js wasm/js/node.mjs wasm/js/index.d.ts wasm/js/package.json "$out/"
cp wasm/README.md "$out/README.md"

# The glue's declarations are checked in (wasm/js/dkm_wasm.d.ts); a build that makes others
# fails until they are refreshed and reviewed.
if ! cmp -s "$out/dkm_wasm.d.ts" wasm/js/dkm_wasm.d.ts; then
    if [ "${DKM_UPDATE_DTS:-}" = 1 ]; then
        cp "$out/dkm_wasm.d.ts" wasm/js/dkm_wasm.d.ts
        echo "build-wasm: refreshed wasm/js/dkm_wasm.d.ts"
    else
        diff -u wasm/js/dkm_wasm.d.ts "$out/dkm_wasm.d.ts" | head -40 >&2 || true
        echo "build-wasm: wasm/js/dkm_wasm.d.ts is stale: rebuild with DKM_UPDATE_DTS=1 and commit it" >&2
        exit 1
    fi
fi
wasm/node_modules/.bin/tsc -p wasm/tsconfig.json

size=$(stat -c %s "$out/dkm_wasm_bg.wasm")
gz=$(gzip -9 -c "$out/dkm_wasm_bg.wasm" | wc -c)
echo "build-wasm: $out/dkm_wasm_bg.wasm is $size bytes ($gz gzipped)"
