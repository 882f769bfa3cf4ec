#!/usr/bin/env bash
# `make run` for now: a throw-away dev Consul on 127.0.0.1 (port $APPMESH_DEV_CONSUL_PORT, default 8500)
# and `appmesh watch appmesh/` printing every change under the appmesh prefix. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${APPMESH_DEV_CONSUL_PORT:-8500}"
consul_bin="${CONSUL_BIN:-$(hack/install-consul.sh)}"
data="$(mktemp -d "${TMPDIR:-/tmp}/appmesh-dev-consul.XXXXXX")"

CHECKPOINT_DISABLE=1 "$consul_bin" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -log-level=warn \
  -hcl "ports { http = $port grpc = -1 grpc_tls = -1 dns = -1 }" -hcl 'disable_update_check = true' \
  >"$data/consul.log" 2>&1 &
consul_pid=$!
trap 'kill "$consul_pid" 2>/dev/null; wait "$consul_pid" 2>/dev/null; rm -rf "$data"' EXIT

for _ in $(seq 1 100); do
  if node -e "fetch(process.argv[1]).then(r => r.text()).then(t => process.exit(t.includes(\":\") ? 0 : 1), () => process.exit(1))" "http://127.0.0.1:$port/v1/status/leader"; then break; fi
  kill -0 "$consul_pid" 2>/dev/null || { cat "$data/consul.log" >&2; exit 1; }
  sleep 0.1
done
echo "dev consul on http://127.0.0.1:$port (log: $data/consul.log); try:" >&2
echo "  curl -X PUT -d '{\"replication\":1,\"content\":{\"command\":\"sleep 30\"}}' http://127.0.0.1:$port/v1/kv/appmesh/cluster/tasks/demo" >&2
node dist/src/cli/main.js watch --consul-addr "127.0.0.1:$port" appmesh/
