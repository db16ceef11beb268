#!/usr/bin/env bash
# The C and C++ surface: the header is fresh, the C test suite passes as is, under valgrind and
# under AddressSanitizer + UndefinedBehaviorSanitizer, the C++ test and the thread test pass,
# the test vectors replay through the C API, the etcd store works through the C API against a
# real etcd member, a secret crosses between C and the `dkm` command both ways (file store and
# etcd), and the examples build from an installed prefix through pkg-config and CMake.
# Installs what it needs (cbindgen pinned; Debian's cmake, pkg-config, valgrind when missing;
# protoc, libprotobuf-dev and etcd-server through scripts/lib/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
root=$(pwd)
# protoc and libprotobuf-dev (the etcd client's build), etcd-server (the etcd tests).
source scripts/lib/deps.sh

step() { printf '\n==> %s\n' "$*"; }

CBINDGEN_VERSION=0.29.4

step "tools: cbindgen $CBINDGEN_VERSION, cmake, pkg-config, valgrind, OpenSSL headers"
if [[ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]]; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi
missing=()
for tool in cmake pkg-config valgrind; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# OpenSSL's headers and libcrypto: the peer of the C benchmark.
[[ -f /usr/include/openssl/evp.h ]] || missing+=(libssl-dev)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "dkm.h is what cbindgen generates from bindings/c"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cbindgen --quiet --config bindings/c/cbindgen.toml --crate dkm-ffi --output "$work/dkm.h" bindings/c
if ! diff -u c-header/include/dkm.h "$work/dkm.h"; then
  echo "c-header/include/dkm.h is stale: regenerate it with" >&2
  echo "  cbindgen --config bindings/c/cbindgen.toml --crate dkm-ffi --output c-header/include/dkm.h bindings/c" >&2
  exit 1
fi

step "build libdkm (debug) and the dkm command"
cargo build -p dkm-ffi -p dkm-cli --locked
lib="$root/target/debug/libdkm.a"
inc="$root/c-header/include"
tests="$root/bindings/c/tests"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I"$inc")
libs=(-lpthread -ldl -lm)

step "the header compiles alone as C11 and C++17"
printf '#include <dkm.h>\nint main(void) { return DKM_OK; }\n' >"$work/h.c"
gcc "${cflags[@]}" -c "$work/h.c" -o "$work/h.o"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I"$inc" -x c++ -c "$work/h.c" -o "$work/hpp.o"

programs=(test_api test_threads test_store test_vectors)
step "C tests: build (plain and with ASan + UBSan)"
for p in "${programs[@]}" test_etcd interop; do
  gcc "${cflags[@]}" "$tests/$p.c" "$lib" "${libs[@]}" -o "$work/$p"
  gcc "${cflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    "$tests/$p.c" "$lib" "${libs[@]}" -o "$work/$p.asan"
done
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -g -I"$inc" "$tests/test_cpp.cpp" "$lib" "${libs[@]}" -o "$work/test_cpp"
# free and realloc wrapped: every block the library frees is scanned for secrets.
gcc "${cflags[@]}" "$tests/test_zeroize.c" "$lib" -Wl,--wrap=free -Wl,--wrap=realloc "${libs[@]}" -o "$work/test_zeroize"

python3 "$tests/vectors.py" "$root/testvectors/v1" "$work/vectors.txt"
run_args() {
  case $1 in
  test_vectors) echo "$work/vectors.txt" ;;
  *) echo "" ;;
  esac
}

# One etcd member on loopback for the etcd tests (DKM_TEST_ETCD), stopped on exit (its trap
# runs the one above too).
source scripts/lib/etcd.sh
etcd_start

step "C tests: run"
for p in "${programs[@]}" test_etcd test_cpp test_zeroize; do
  echo "-- $p"
  (cd "$work" && "./$p" $(run_args "$p"))
done

step "C tests: under AddressSanitizer + UndefinedBehaviorSanitizer"
for p in "${programs[@]}" test_etcd; do
  echo "-- $p (asan, ubsan)"
  (cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "./$p.asan" $(run_args "$p"))
done

step "C tests: under valgrind (leaks are errors)"
for p in "${programs[@]}" test_etcd test_cpp; do
  echo "-- $p (valgrind)"
  (cd "$work" && valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=1 \
    "./$p" $(run_args "$p"))
done

step "interop: a secret sealed from C opens with the dkm command on the same store, and back"
dkm="$root/target/debug/dkm"
i="$work/interop-run"
mkdir -p "$i"
(
  cd "$i"
  export DKM_HOME="$i/home" DKM_STORE="$i/store"
  "$dkm" identity new admin --out admin.id >/dev/null
  "$dkm" identity new svc --out svc.id >/dev/null
  "$dkm" ring create mail --admin admin.id >/dev/null
  "$dkm" member add mail --as admin.id --role service --identity "$("$dkm" identity show svc.id | tail -1)" >/dev/null
  "$dkm" maintain mail --as svc.id >/dev/null
  printf 'sealed in C' | "$work/interop" seal "$i/store" "$i/home/pins" mail svc.id acct:7 from-c.bin
  [[ $("$dkm" unseal mail --as svc.id --context acct:7 --in from-c.bin) == "sealed in C" ]]
  printf 'sealed by the command' | "$dkm" seal mail --as svc.id --context acct:8 >from-cli.bin
  [[ $("$work/interop" unseal "$i/store" "$i/home/pins" mail svc.id acct:8 from-cli.bin) == "sealed by the command" ]]
  # A wrong context fails in C with the command's error kind (Tampered, code 5).
  set +e
  "$work/interop" unseal "$i/store" "$i/home/pins" mail svc.id acct:9 from-cli.bin >/dev/null 2>&1
  code=$?
  set -e
  [[ $code == 5 ]] || { echo "interop: a wrong context gave exit $code, not 5 (Tampered)" >&2; exit 1; }
)
echo "interop: ok"

step "interop over etcd: a ring the dkm command made in etcd, used from C, and back"
(
  cd "$i"
  # A fresh pin book: the command and the C host record the ring under the etcd store's
  # location (its cluster id and prefix), the same in both processes.
  export DKM_HOME="$i/etcd-home" DKM_STORE="etcd://$DKM_TEST_ETCD/dkm-c-interop-$$"
  "$dkm" ring create mail --admin admin.id >/dev/null
  "$dkm" member add mail --as admin.id --role service --identity "$("$dkm" identity show svc.id | tail -1)" >/dev/null
  "$dkm" maintain mail --as svc.id >/dev/null
  printf 'sealed in C over etcd' | "$work/interop" seal "$DKM_STORE" "$DKM_HOME/pins" mail svc.id acct:7 etcd-from-c.bin
  [[ $("$dkm" unseal mail --as svc.id --context acct:7 --in etcd-from-c.bin) == "sealed in C over etcd" ]]
  printf 'sealed by the command in etcd' | "$dkm" seal mail --as svc.id --context acct:8 >etcd-from-cli.bin
  [[ $("$work/interop" unseal "$DKM_STORE" "$DKM_HOME/pins" mail svc.id acct:8 etcd-from-cli.bin) == "sealed by the command in etcd" ]]
  # The file store's ring of the same name is another ring: its secret is not this one's.
  set +e
  "$work/interop" unseal "$DKM_STORE" "$DKM_HOME/pins" mail svc.id acct:8 from-cli.bin >/dev/null 2>&1
  code=$?
  set -e
  [[ $code == 6 ]] || { echo "interop over etcd: the file store's secret gave exit $code, not 6 (UnknownKey)" >&2; exit 1; }
)
echo "interop over etcd: ok"

step "install under a prefix, then build the examples from it with pkg-config and CMake"
prefix="$work/prefix"
bash scripts/install-c.sh "$prefix"
ex="$work/examples"
cp -r c-header/examples "$ex"
(
  cd "$ex"
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  [[ $(pkg-config --modversion dkm) == "$(sed -n 's/^#define DKM_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/dkm.h")" ]]
  rpath="-Wl,-rpath,$prefix/lib"
  gcc -std=c11 -Wall -Wextra -Werror -pedantic seal.c $(pkg-config --cflags dkm) $(pkg-config --libs dkm) "$rpath" -o seal-pc
  g++ -std=c++17 -Wall -Wextra -Werror -pedantic seal.cpp $(pkg-config --cflags dkm) $(pkg-config --libs dkm) "$rpath" -o seal-cpp-pc
  gcc -std=c11 -Wall -Wextra -Werror -pedantic seal.c $(pkg-config --cflags --libs dkm-static) -o seal-static-pc
  # Static: no libdkm.so needed at run time.
  ! ldd seal-static-pc | grep -q libdkm
  for p in seal-pc seal-cpp-pc seal-static-pc; do
    ./"$p" "$(mktemp -d -p "$work")" >/dev/null
  done
  # The C example with its ring in etcd, shared and static.
  ./seal-pc "$(mktemp -d -p "$work")" "etcd://$DKM_TEST_ETCD/dkm-c-example-$$-shared" >/dev/null
  ./seal-static-pc "$(mktemp -d -p "$work")" "etcd://$DKM_TEST_ETCD/dkm-c-example-$$-static" >/dev/null
  # The dynamically linked ones really use the installed libdkm.so.
  ldd seal-pc | grep -q "$prefix/lib/libdkm.so"
  cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build >/dev/null
  for p in seal seal_cpp seal_static; do
    ./build/"$p" "$(mktemp -d -p "$work")" >/dev/null
  done
)
echo "examples: ok (pkg-config and CMake, shared and static)"

step "benchmark against OpenSSL compiles and runs once (bench/c; full run: scripts/bench-c.sh)"
gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I"$prefix/include" bench/c/seal_vs_openssl.c \
  "$prefix/lib/libdkm.a" -lcrypto -lpthread -ldl -lm -o "$work/seal_vs_openssl"
"$work/seal_vs_openssl" 1 >/dev/null

printf '\nC tests passed.\n'
