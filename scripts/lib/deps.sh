# Sourced by the scripts that build dkm: the Debian packages the build and the etcd tests
# need, installed once per machine (the package lists are fetched only when an install
# fails without them):
#   protobuf-compiler, libprotobuf-dev  `protoc` and its well-known types, for the etcd
#                                       client's generated gRPC code (crate etcd-client)
#   etcd-server                         etcd members for the tests (scripts/lib/etcd.sh)
dkm_deps() {
  local missing=()
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
  [[ -f /usr/include/google/protobuf/descriptor.proto ]] || missing+=(libprotobuf-dev)
  command -v etcd >/dev/null || missing+=(etcd-server)
  if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq
      apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi
}
dkm_deps
