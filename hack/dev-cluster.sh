#!/usr/bin/env bash
# `make run`: a throw-away dev Consul on 127.0.0.1 (port $APPMESH_DEV_CONSUL_PORT, default 8500) and three
# agents n1..n3 (127.0.0.1:6061..6063, different labels) in cluster mode, with their data in a temp dir.
# Applies manifests/examples/, prints the tasks and nodes, and runs until Ctrl-C; then it stops what it
# started (agents first, so they stop their apps and destroy their sessions, then Consul) and removes the dir.
# Each agent generates its API token into <its data dir>/api-token (0600); the printed UI links carry it in
# the URL fragment (#token=…, never sent to a server; the page keeps it for the tab and drops it from the URL).
set -euo pipefail
# Job control puts every background child in its own process group, so Ctrl-C reaches only this script,
# which then stops each child exactly once (a second signal makes an agent exit without stopping its apps).
set -m
cd "$(dirname "$0")/.."
port="${APPMESH_DEV_CONSUL_PORT:-8500}"
main="${APPMESH_DEV_CLI:-dist/src/cli/main.js}" # another build output can be tried without touching dist/
cli=(node "$main" --consul-addr "127.0.0.1:$port")

[ -f "$main" ] || { echo "$main is missing: run \`make run\` (it builds first)" >&2; exit 1; }
consul_bin="${CONSUL_BIN:-$(hack/install-consul.sh)}"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/appmesh-dev.XXXXXX")"
pids=()
cleanup() {
  trap - EXIT INT TERM
  echo "stopping the dev cluster..." >&2
  # Reverse order: the log tail, the agents, then Consul, so each agent can stop its apps and destroy its session.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls a URL until it answers 2xx (Node's fetch: no curl needed).
wait_for() {
  local url="$1" pid="$2" what="$3"
  for _ in $(seq 1 200); do
    if node -e "fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$url"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "$what exited during start-up; its log: $workdir/$what.log" >&2; cat "$workdir/$what.log" >&2 || true; exit 1; }
    sleep 0.1
  done
  echo "$what did not become ready at $url within 20 s" >&2
  exit 1
}

if node -e "fetch(process.argv[1]).then(() => process.exit(0), () => process.exit(1))" "http://127.0.0.1:$port/v1/status/leader"; then
  echo "something already listens on 127.0.0.1:$port (another Consul?); stop it or set APPMESH_DEV_CONSUL_PORT" >&2
  exit 1
fi

CHECKPOINT_DISABLE=1 "$consul_bin" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -log-level=warn \
  -hcl "ports { http = $port grpc = -1 grpc_tls = -1 dns = -1 }" -hcl 'disable_update_check = true' \
  >"$workdir/consul.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$port/v1/status/leader" "${pids[0]}" consul

labels=("zone=east tier=web-1" "zone=east tier=web-2" "zone=west tier=db-1")
for i in 1 2 3; do
  label_flags=()
  for label in ${labels[$((i - 1))]}; do label_flags+=(--label "$label"); done
  node "$main" --consul-addr "127.0.0.1:$port" agent --node-name "n$i" \
    --listen "127.0.0.1:$((6060 + i))" --data-dir "$workdir/n$i" --log-format text "${label_flags[@]}" \
    >"$workdir/n$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do wait_for "http://127.0.0.1:$((6060 + i))/readyz" "${pids[$i]}" "n$i"; done

token_file() { echo "$workdir/n$1/api-token"; }
ui_links=""
for i in 1 2 3; do ui_links+="http://127.0.0.1:$((6060 + i))/ui/#token=$(cat "$(token_file "$i")")  "; done

echo "applying manifests/examples/ (ClusterTasks to Consul, Applications to n1)" >&2
"${cli[@]}" --agent http://127.0.0.1:6061 --agent-token-file "$(token_file 1)" apply -f manifests/examples/ ||
  echo "some examples were not applied (see above)" >&2
sleep 3 # let the leader place the tasks and the agents start them
echo
"${cli[@]}" get tasks
echo
"${cli[@]}" get nodes
cat <<EOT

dev cluster is running (data in $workdir; Ctrl-C stops everything and removes it):
  Consul UI:      http://127.0.0.1:$port/ui
  appmesh web UI: ${ui_links%  }
  API tokens:     $(token_file 1)  $(token_file 2)  $(token_file 3)
  agent metrics:  http://127.0.0.1:6061/metrics  http://127.0.0.1:6062/metrics  http://127.0.0.1:6063/metrics
  try:            node $main --consul-addr 127.0.0.1:$port get tasks -o wide --watch
                  node $main --consul-addr 127.0.0.1:$port describe task web
                  node $main --agent http://127.0.0.1:6061 --agent-token-file $(token_file 1) get apps
EOT
# The agents' logs, as they come (tail names the file whenever it switches between them).
tail -n 0 -F "$workdir/n1.log" "$workdir/n2.log" "$workdir/n3.log" >&2 &
pids+=($!)
wait "${pids[0]}"
