#!/usr/bin/env bash
# `make run`: a throw-away dev Consul on 127.0.0.1 (port $APPMESH_DEV_CONSUL_PORT, default 8500) and
# $APPMESH_DEV_AGENTS agents (default 3: n1, n2, n3 on 127.0.0.1:6061..) in cluster mode, data in .appmesh/.
# Ctrl-C stops the agents (they stop their apps and destroy their sessions), then Consul.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${APPMESH_DEV_CONSUL_PORT:-8500}"
agents="${APPMESH_DEV_AGENTS:-3}"
consul_bin="${CONSUL_BIN:-$(hack/install-consul.sh)}"
mkdir -p .appmesh
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

CHECKPOINT_DISABLE=1 "$consul_bin" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -log-level=warn \
  -hcl "ports { http = $port grpc = -1 grpc_tls = -1 dns = -1 }" -hcl 'disable_update_check = true' \
  >.appmesh/consul.log 2>&1 &
consul_pid=$!
for _ in $(seq 1 100); do
  if node -e "fetch(process.argv[1]).then(r => r.text()).then(t => process.exit(t.includes(\":\") ? 0 : 1), () => process.exit(1))" "http://127.0.0.1:$port/v1/status/leader"; then break; fi
  kill -0 "$consul_pid" 2>/dev/null || { cat .appmesh/consul.log >&2; exit 1; }
  sleep 0.1
done

zones=(east east west)
for i in $(seq 1 "$agents"); do
  node dist/src/cli/main.js agent --consul-addr "127.0.0.1:$port" --node-name "n$i" \
    --listen "127.0.0.1:$((6060 + i))" --data-dir ".appmesh/n$i" --log-format text \
    --label "zone=${zones[$(( (i - 1) % 3 ))]}" 2>&1 | sed -u "s/^/[n$i] /" &
  pids+=($!)
done
pids+=("$consul_pid")

cat >&2 <<EOT
dev cluster: consul http://127.0.0.1:$port, agents n1..n$agents on http://127.0.0.1:6061.. (logs below)
  npx appmesh watch --consul-addr 127.0.0.1:$port        # every change under appmesh/
  curl -X PUT --data '{"replication":2,"condition":{"zone":"east"},"content":{"command":"sleep 600"}}' \\
       http://127.0.0.1:$port/v1/kv/appmesh/cluster/tasks/demo
  npx appmesh get apps --agent http://127.0.0.1:6061
EOT
wait "${pids[0]}"
