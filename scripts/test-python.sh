#!/usr/bin/env bash
# The Python surface: builds the portable wheel (manylinux2014, through zig) and checks it
# with auditwheel, installs it into a fresh virtual environment and runs the pytest suite
# there (every verb and view, every error class, a store written in Python, the etcd store,
# threads, processes, the clock, the test vectors, interop with the `dkm` command), checks the type
# stubs against the built module (mypy.stubtest) and the examples with mypy --strict, runs
# the examples, installs from source with `pip install ./python` (PEP 517) into another
# fresh environment, and runs the benchmark once, briefly. The etcd tests (dkm.EtcdStore) run
# against an etcd member it starts on loopback (scripts/lib/etcd.sh).
# Installs what it needs (pinned, in target/python/tools; Debian's protoc, libprotobuf-dev and
# etcd-server through scripts/lib/deps.sh); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
# protoc (the etcd client's generated code, for every build below) and etcd (the tests).
source scripts/lib/deps.sh
root=$(pwd)
py=${PYTHON:-python3}
out="$root/target/python"
mkdir -p "$out"

step() { printf '\n==> %s\n' "$*"; }

step "tools: maturin, ziglang, auditwheel, pytest, mypy (pinned: python/requirements-dev.txt)"
tools="$out/tools"
stamp=$(cat python/requirements-dev.txt python/requirements-test.txt | sha256sum | cut -c1-16)
if [[ ! -x $tools/bin/python || "$(cat "$tools/stamp" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$tools"
  "$py" -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check --no-deps -r python/requirements-dev.txt
  echo "$stamp" >"$tools/stamp"
fi

step "the wheels: maturin build --release --zig --compatibility manylinux2014, abi3 for 3.9+ and 3.10+"
rm -rf "$out/wheels"
build() {
  PATH="$tools/bin:$PATH" maturin build --quiet --release --locked --zig --compatibility manylinux2014 \
    --manifest-path python/Cargo.toml --out "$out/wheels" "$@"
}
build                                               # cp39-abi3: serves CPython 3.9 and later
build --no-default-features --features abi3-py310   # cp310-abi3: vectorcall, 3.10 and later
wheel39=$(ls "$out"/wheels/dkm-*-cp39-abi3-manylinux2014_x86_64*.whl)
wheel=$(ls "$out"/wheels/dkm-*-cp310-abi3-manylinux2014_x86_64*.whl)
basename -a "$wheel39" "$wheel"

step "the wheels are portable: auditwheel show"
for w in "$wheel39" "$wheel"; do
  shown=$("$tools/bin/auditwheel" show "$w")
  echo "$shown"
  grep -q 'manylinux_2_17_x86_64' <<<"$shown" || { echo "auditwheel: $w is not manylinux_2_17 (manylinux2014)" >&2; exit 1; }
done

step "pip picks the cp310 wheel for this Python, in a fresh virtual environment (with the pinned test tools)"
venv="$out/venv"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r python/requirements-test.txt
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-index --find-links "$out/wheels" dkm
tag=$(grep '^Tag:' "$venv"/lib/python3*/site-packages/dkm-*.dist-info/WHEEL)
echo "$tag"
[[ $tag == *cp310-abi3-manylinux* ]] || { echo "pip installed $tag, not the cp310 wheel" >&2; exit 1; }

step "the cp39 wheel on CPython 3.9 (when this machine has one: pyenv or python3.9 on PATH)"
# (A pyenv shim named python3.9 may exist and fail: each candidate must run as 3.9.)
py39=""
for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9 "$(command -v python3.9 || true)"; do
  if [[ -n $cand && -x $cand ]] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
    py39=$cand
    break
  fi
done
if [[ -n $py39 ]]; then
  v39="$out/venv39"
  rm -rf "$v39"
  "$py39" -m venv "$v39"
  "$v39/bin/pip" install -q --disable-pip-version-check --no-deps "$wheel39"
  for example in python/examples/*.py; do
    (cd /tmp && "$v39/bin/python" "$root/$example" >/dev/null)
  done
  echo "$("$v39/bin/python" --version): the examples run"
else
  echo "no CPython 3.9 here: the cp39 wheel was checked with auditwheel only"
fi

step "the dkm command (for the interop tests)"
cargo build -q -p dkm-cli --locked

# Run from outside python/: a source dkm/ in the working directory would shadow the wheel.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

step "etcd: one member on loopback for the etcd tests (exports DKM_TEST_ETCD)"
source "$root/scripts/lib/etcd.sh"
etcd_start   # after the EXIT trap above: etcd_stop runs it too

step "pytest: python/tests against the installed wheel"
DKM_BIN="$root/target/debug/dkm" DKM_VECTORS="$root/testvectors/v1" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests"

step "type stubs: mypy.stubtest (the package and its submodules) against the built module; mypy --strict on the examples"
"$venv/bin/python" -m mypy.stubtest dkm \
  --allowlist "$root/python/stubtest-allowlist.txt"
"$venv/bin/python" -m mypy --strict --no-incremental "$root/python/examples"

step "the examples run"
for example in "$root"/python/examples/*.py; do
  echo "-- $(basename "$example")"
  "$venv/bin/python" "$example" >/dev/null
done

step "pip install ./python (PEP 517, from source) into another fresh virtual environment"
src="$out/venv-source"
rm -rf "$src"
"$py" -m venv "$src"
"$src/bin/pip" install -q --disable-pip-version-check "$root/python"
"$src/bin/python" "$root/python/examples/quickstart.py" >/dev/null

step "the benchmark runs once (brief; the full run: scripts/bench-python.sh)"
cd "$root"
DKM_WHEEL="$wheel" bash scripts/bench-python.sh --quick

printf '\nPython tests passed.\n'
