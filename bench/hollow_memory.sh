#!/usr/bin/env bash
# Memory of hollow nodes: one `skiff agent --hollow` process with NODES nodes and
# PODS_PER_NODE running pods each, against `skiff server --storage memory`.
# Usage: bench/hollow_memory.sh PATH_TO_SKIFF [NODES] [PODS_PER_NODE]
# Prints the agent's RSS after registration, after all pods run, and its CPU use over 30 s
# of steady state (lease renewals + status posts only).
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [NODES] [PODS_PER_NODE]}")
NODES=${2:-1000}
PODS_PER_NODE=${3:-5}
WORK=$(mktemp -d /tmp/skiff-hollow-bench.XXXXXX)
export HOME=$WORK/home
mkdir -p "$HOME"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
SERVER_PID="" AGENT_PID=""
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# 10.64.0.0/12 holds 4096 /24 node ranges (the default 10.42.0.0/16 only 256).
"$SKIFF" server --storage memory --cluster-cidr 10.64.0.0/12 --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done

START=$(date +%s.%N)
"$SKIFF" --log-level warn agent --hollow --nodes "$NODES" --node-name-prefix bench \
  --kubeconfig "$WORK/data/kubeconfig" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
ready() { k get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{.spec.podCIDR}{"\n"}{end}' | grep -c '^True10\.' || true; }
while [ "$(ready)" -lt "$NODES" ]; do sleep 1; done
echo "nodes: $NODES Ready with podCIDRs after $(python3 -c "print(round($(date +%s.%N)-$START,1))") s; agent RSS $(rss_mb $AGENT_PID) MB"

# Pods bound directly (spec.nodeName) so the number measures the agent, not the scheduler.
python3 - "$NODES" "$PODS_PER_NODE" >"$WORK/pods.json" <<'PY'
import json, sys
nodes, per = int(sys.argv[1]), int(sys.argv[2])
items = [{"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": f"p-{n}-{i}", "namespace": "default", "labels": {"app": "bench"}},
          "spec": {"nodeName": f"bench-{n}",
                   "containers": [{"name": "app", "image": "nginx:1.27",
                                   "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}
         for n in range(nodes) for i in range(per)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
START=$(date +%s.%N)
k create --validate=false -f "$WORK/pods.json" >/dev/null
TOTAL=$((NODES * PODS_PER_NODE))
running() { k get pods -n default --field-selector status.phase=Running --no-headers 2>/dev/null | wc -l; }
while [ "$(running)" -lt "$TOTAL" ]; do sleep 2; done
echo "pods: $TOTAL Running after $(python3 -c "print(round($(date +%s.%N)-$START,1))") s; agent RSS $(rss_mb $AGENT_PID) MB; server RSS $(rss_mb $SERVER_PID) MB"

T0=$(cpu_ticks $AGENT_PID)
sleep 30
T1=$(cpu_ticks $AGENT_PID)
HZ=$(getconf CLK_TCK)
echo "steady state: agent CPU $(python3 -c "print(round(($T1-$T0)/$HZ/30*100,1))") % of one core; agent RSS $(rss_mb $AGENT_PID) MB; threads $(ls /proc/$AGENT_PID/task | wc -l)"
