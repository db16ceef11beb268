# Sourced by test scripts: `etcd_start` runs one etcd member on loopback (data on tmpfs,
# generous election timeouts for a 2-core machine, a 32 MiB request limit so rings up to
# 16 MiB fit), waits until it is healthy, exports DKM_TEST_ETCD=127.0.0.1:PORT, and stops it
# by its pid when the script exits (`etcd_stop`; it also runs any EXIT trap set before).
# It fails, never skips, when etcd cannot be started. Needs scripts/lib/deps.sh first.

etcd_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

etcd_start() {
  local client peer
  client=$(etcd_free_port)
  peer=$(etcd_free_port)
  DKM_ETCD_DIR=$(mktemp -d /dev/shm/dkm-etcd.XXXXXX)
  etcd --name t --data-dir "$DKM_ETCD_DIR/data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "t=http://127.0.0.1:$peer" --initial-cluster-state new \
    --heartbeat-interval 200 --election-timeout 2000 --max-request-bytes 33554432 \
    --logger zap --log-level warn >"$DKM_ETCD_DIR/log" 2>&1 &
  DKM_ETCD_PID=$!
  DKM_ETCD_PREV_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  trap 'etcd_stop' EXIT
  local i
  for i in $(seq 1 600); do
    if ! kill -0 "$DKM_ETCD_PID" 2>/dev/null; then
      echo "etcd exited at start:" >&2
      tail -20 "$DKM_ETCD_DIR/log" >&2
      return 1
    fi
    if python3 -c "import sys,urllib.request; sys.exit(0 if b'\"health\":\"true\"' in urllib.request.urlopen('http://127.0.0.1:$client/health', timeout=2).read() else 1)" 2>/dev/null; then
      export DKM_TEST_ETCD="127.0.0.1:$client"
      echo "etcd $(etcd --version | head -1 | awk '{print $3}') on $DKM_TEST_ETCD (pid $DKM_ETCD_PID)"
      return 0
    fi
    sleep 0.1
  done
  echo "etcd did not become healthy in 60 s:" >&2
  tail -20 "$DKM_ETCD_DIR/log" >&2
  return 1
}

etcd_stop() {
  if [[ -n "${DKM_ETCD_PID:-}" ]]; then
    kill "$DKM_ETCD_PID" 2>/dev/null || true
    wait "$DKM_ETCD_PID" 2>/dev/null || true
    DKM_ETCD_PID=
  fi
  [[ -n "${DKM_ETCD_DIR:-}" ]] && rm -rf "$DKM_ETCD_DIR"
  if [[ -n "${DKM_ETCD_PREV_TRAP:-}" ]]; then
    eval "$DKM_ETCD_PREV_TRAP"
  fi
}
