#!/usr/bin/env bash
# Scheduler throughput, SchedulingBasic-shaped: a fresh `skiff server --storage memory`, one
# hollow agent with NODES nodes, then bench/scheduler_bench (INITIAL pods, then PODS measured).
# Usage: bench/scheduler_perf.sh [BUILD_DIR] [NODES] [INITIAL] [PODS]
set -euo pipefail
build=${1:-build}; nodes=${2:-5000}; initial=${3:-1000}; pods=${4:-10000}
ninja -C "$build" skiff scheduler_bench >/dev/null
dir=$(mktemp -d /tmp/skiff-schedperf.XXXXXX)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$build/skiff" server --data-dir "$dir" --listen "127.0.0.1:$port" --storage memory \
  --cluster-cidr 10.0.0.0/8 >"$dir/server.log" 2>&1 &
spid=$!
trap 'kill $spid $apid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -f "$dir/kubeconfig" ] && break; sleep 0.1; done
sleep 1
"$build/skiff" agent --hollow --nodes "$nodes" --kubeconfig "$dir/kubeconfig" --node-name-prefix perf \
  --max-pods 110 >"$dir/agent.log" 2>&1 &
apid=$!
# Steady state first: every hollow node registered and holding its Lease (a node's first
# renewal creates it; they are spread over the 10 s renew interval). Otherwise the measured
# phase also carries thousands of Lease creations, which a running cluster does not have.
for _ in $(seq 1 600); do
  leases=$(kubectl --kubeconfig "$dir/kubeconfig" get leases -n kube-node-lease --no-headers 2>/dev/null | wc -l)
  [ "$leases" -ge "$nodes" ] && break
  sleep 0.5
done
"$build/scheduler_bench" --kubeconfig "$dir/kubeconfig" --nodes "$nodes" --initial "$initial" --pods "$pods"
echo "server RSS: $(awk '/VmRSS/{print $2/1024 " MB"}' /proc/$spid/status)  agent RSS: $(awk '/VmRSS/{print $2/1024 " MB"}' /proc/$apid/status)"
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f s", ($14+$15)/hz}' "/proc/$1/stat"; }
echo "CPU over the whole run (registration included): server $(cpu $spid)  agent $(cpu $apid)"
