#!/usr/bin/env bash
# The Python binding's benchmark against `cryptography` and tink (bench/python/bench.py): a
# venv at target/python/bench-venv with the pinned peers (bench/python/requirements.txt), the
# wheel built in release mode with maturin (pinned; the cp310-abi3 build, as pip picks on
# 3.10+), then one side-by-side run. Usage:
#   bash scripts/bench-python.sh [--quick] [--check] [--json PATH] [--rounds N]
# DKM_WHEEL=path/to/dkm-*.whl uses a wheel already built instead of building one;
# PYTHON picks the interpreter the venv is made from (default python3).
set -euo pipefail
caller=$PWD
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$caller/$1" ;; esac; }
# Paths given relative to the caller's directory (the run itself happens elsewhere).
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) [ $# -ge 2 ] || { echo "--json needs a path" >&2; exit 2; }; args+=(--json "$(abs "$2")"); shift 2 ;;
    --json=*) args+=(--json "$(abs "${1#--json=}")"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
cd "$(dirname "$0")/.."
root=$PWD
unset RUSTFLAGS

venv=$root/target/python/bench-venv
wheels=$root/target/python/bench-wheels
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
py=$venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check --no-deps -r bench/python/requirements.txt

if [ -n "${DKM_WHEEL:-}" ]; then
  wheel=$(abs "$DKM_WHEEL")
  [ -f "$wheel" ] || { echo "DKM_WHEEL: no such file: $DKM_WHEEL" >&2; exit 2; }
else
  "$py" -m pip install --quiet --disable-pip-version-check maturin==1.16.0
  rm -rf "$wheels"
  mkdir -p "$wheels"
  # A target directory of its own: maturin stages the library in <target>/maturin/ outside
  # cargo's lock, so a build of the binding running beside this one (tests, a debug wheel)
  # must not share it.
  "$venv/bin/maturin" build --release --manifest-path python/Cargo.toml --out "$wheels" \
    --locked --interpreter "$py" --target-dir "$root/target/python/bench-target" \
    --no-default-features --features abi3-py310
  wheel=$(ls "$wheels"/dkm-*.whl)
  [ "$(printf '%s\n' "$wheel" | wc -l)" -eq 1 ] || { echo "more than one wheel: $wheel" >&2; exit 1; }
fi
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

# Run from outside python/: a source dkm/
# directory in the working directory would shadow the installed package.
cd "$root/target/python"
exec "$py" "$root/bench/python/bench.py" ${args[@]+"${args[@]}"}
