#!/usr/bin/env bash
# The uniffi surface (bindings/uniffi, libdkm_uniffi): the generated Kotlin, Ruby and Swift
# bindings are what uniffi-bindgen makes from the library now (checked in; stale fails), the
# Kotlin test program passes on the JVM (compiled with kotlinc against JNA), the Java example
# runs, the Ruby minitest suite passes (both also on an etcd member this script starts), and a
# secret crosses between Kotlin, Ruby and the `dkm` command each way, on one file store and on
# etcd. Swift is generated and checked only (no Swift compiler here).
# Installs what it needs: Debian ruby, ruby-ffi and libjna-java (and protoc through
# scripts/lib/deps.sh, for the dkm command); the Kotlin compiler from
# bindings/uniffi/kotlin/package-lock.json (npm kotlin-compiler, pinned); uniffi-bindgen from
# bindings/uniffi/bindgen (its own lock file, the same uniffi as the crate).
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS
root=$(pwd)
source scripts/lib/deps.sh

step() { printf '\n==> %s\n' "$*"; }

step "tools: Debian ruby, ruby-ffi, libjna-java; kotlinc (npm, locked); uniffi-bindgen (locked)"
missing=()
command -v ruby >/dev/null || missing+=(ruby)
ruby -e 'require "ffi"' 2>/dev/null || missing+=(ruby-ffi)
[[ -f /usr/share/java/jna.jar ]] || missing+=(libjna-java)
command -v javac >/dev/null || missing+=(default-jdk-headless)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
kdir="$root/target/uniffi/kotlinc"
if ! cmp -s bindings/uniffi/kotlin/package-lock.json "$kdir/package-lock.json" ||
  [[ ! -x "$kdir/node_modules/kotlin-compiler/bin/kotlinc" ]]; then
  rm -rf "$kdir"
  mkdir -p "$kdir"
  cp bindings/uniffi/kotlin/package.json bindings/uniffi/kotlin/package-lock.json "$kdir/"
  (cd "$kdir" && npm ci --no-audit --no-fund --loglevel=error)
fi
KC="$kdir/node_modules/kotlin-compiler/bin/kotlinc"
KLIB="$kdir/node_modules/kotlin-compiler/lib"
JNA=/usr/share/java/jna.jar
cargo build -q --locked --manifest-path bindings/uniffi/bindgen/Cargo.toml \
  --target-dir target/uniffi-bindgen
BINDGEN="$root/target/uniffi-bindgen/debug/uniffi-bindgen"

step "build libdkm_uniffi (debug) and the dkm command"
cargo build -p dkm-uniffi -p dkm-cli --locked
lib="$root/target/debug/libdkm_uniffi.so"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "etcd: one member on loopback (exports DKM_TEST_ETCD)"
source "$root/scripts/lib/etcd.sh"
etcd_start   # after the EXIT trap above: etcd_stop runs it too

step "the checked-in Kotlin, Ruby and Swift bindings are what uniffi-bindgen generates"
for lang in kotlin ruby swift; do
  "$BINDGEN" generate --no-format --library "$lib" --language "$lang" --out-dir "$work/gen/$lang" >/dev/null
done
stale=0
diff -u bindings/uniffi/kotlin/src/dev/dkm/dkm.kt "$work/gen/kotlin/dev/dkm/dkm.kt" || stale=1
diff -u bindings/uniffi/ruby/lib/dkm.rb "$work/gen/ruby/dkm.rb" || stale=1
diff -ru bindings/uniffi/swift "$work/gen/swift" || stale=1
if ((stale)); then
  echo "the generated bindings are stale: regenerate them with scripts/uniffi-generate.sh" >&2
  exit 1
fi

step "Kotlin: compile the bindings and the test program (kotlinc, JNA)"
out="$root/target/uniffi/kotlin"
mkdir -p "$out"
"$KC" -nowarn -cp "$JNA" bindings/uniffi/kotlin/src/dev/dkm/dkm.kt -d "$out/dkm.jar"
"$KC" -nowarn -cp "$out/dkm.jar:$JNA:$KLIB/kotlin-test.jar" bindings/uniffi/kotlin/test/*.kt \
  -d "$out/dkm-test.jar"
KCP="$out/dkm-test.jar:$out/dkm.jar:$JNA:$KLIB/kotlin-stdlib.jar:$KLIB/kotlin-test.jar"
kotlin() { java -Djna.library.path="$root/target/debug" -cp "$KCP" "$@"; }
export DKM_BIN="$root/target/debug/dkm" DKM_VECTORS="$root/testvectors/v1"

step "Kotlin: the test program"
kotlin dev.dkm.test.DkmTestKt

step "Java: the example calls the Kotlin API"
javac -Xlint:all -Werror -cp "$out/dkm.jar:$KLIB/kotlin-stdlib.jar:$JNA" -d "$out/java" \
  bindings/uniffi/kotlin/example/Example.java
java -Djna.library.path="$root/target/debug" \
  -cp "$out/java:$out/dkm.jar:$KLIB/kotlin-stdlib.jar:$JNA" Example

step "Ruby: the minitest suite"
ruby_() { LD_LIBRARY_PATH="$root/target/debug" ruby -I bindings/uniffi/ruby/lib "$@"; }
ruby_ bindings/uniffi/ruby/test/test_dkm.rb

dkm() { "$root/target/debug/dkm" "$@"; }
check() { # check NAME EXPECTED GOT
  if [[ "$2" != "$3" ]]; then
    echo "cross-language: $1: expected '$2', got '$3'" >&2
    exit 1
  fi
  echo "ok: $1"
}
# cross STORE: a ring made by the dkm command on STORE (a directory or an etcd:// URL); a
# secret sealed by each of Kotlin, Ruby and the command opens in the two others.
cross() {
  local store=$1 x="$work/cross-$2"
  mkdir -p "$x"
  export DKM_STORE="$store" DKM_HOME="$x/home"
  unset DKM_NOW
  dkm identity new admin --out "$x/admin.id" >/dev/null
  dkm identity new svc --out "$x/svc.id" >/dev/null
  dkm ring create mail --admin "$x/admin.id" >/dev/null
  local pub
  pub=$(dkm identity show "$x/svc.id" | tail -1)
  dkm member add mail --as "$x/admin.id" --role service --identity "$pub" >/dev/null
  dkm maintain mail --as "$x/svc.id" >/dev/null
  args=("$store" "$x/home/pins" mail "$x/svc.id" acct:42)
  kt_interop() { kotlin dev.dkm.test.Interop "$1" "${args[@]}" "$2"; }
  rb_interop() { ruby_ bindings/uniffi/ruby/test/interop.rb "$1" "${args[@]}" "$2"; }
  printf 'sealed in Kotlin' | kt_interop seal "$x/from-kotlin.txt"
  check "$2: Kotlin -> Ruby" "sealed in Kotlin" "$(rb_interop unseal "$x/from-kotlin.txt")"
  check "$2: Kotlin -> dkm" "sealed in Kotlin" \
    "$(dkm unseal mail --as "$x/svc.id" --context acct:42 --in "$x/from-kotlin.txt")"
  printf 'sealed in Ruby' | rb_interop seal "$x/from-ruby.txt"
  check "$2: Ruby -> Kotlin" "sealed in Ruby" "$(kt_interop unseal "$x/from-ruby.txt")"
  check "$2: Ruby -> dkm" "sealed in Ruby" \
    "$(dkm unseal mail --as "$x/svc.id" --context acct:42 --in "$x/from-ruby.txt")"
  printf 'sealed by dkm' | dkm seal mail --as "$x/svc.id" --context acct:42 >"$x/from-dkm.bin"
  check "$2: dkm -> Kotlin" "sealed by dkm" "$(kt_interop unseal "$x/from-dkm.bin")"
  check "$2: dkm -> Ruby" "sealed by dkm" "$(rb_interop unseal "$x/from-dkm.bin")"
  # A wrong context is Tampered in each language, as a typed error (exit 2), not a crash.
  args[4]=acct:43
  local side
  for side in kt_interop rb_interop; do
    if $side unseal "$x/from-dkm.bin" >"$x/out" 2>"$x/err"; then
      echo "cross-language: $2: $side opened a secret under the wrong context" >&2
      exit 1
    fi
    grep -q '^dkm: Tampered: ' "$x/err" || { cat "$x/err" >&2; exit 1; }
    echo "ok: $2: $side refuses the wrong context (Tampered)"
  done
  dkm audit verify mail >/dev/null
}

step "cross-language: Kotlin, Ruby and the dkm command on one file store"
cross "$work/cross-store" file

step "cross-language: the same on etcd"
cross "etcd://$DKM_TEST_ETCD/cross-$$" etcd

printf '\nuniffi surface: all tests passed.\n'
