#!/usr/bin/env bash
# Time from `skiff cluster create --nodes N` to every node Ready (create returns then), median
# of RUNS, each followed by a delete (timed too). Published numbers for comparison: kind ~20 s
# and k3d ~15 s for a 3-node cluster (they start Docker containers with a full node image).
# Takes the machine's real-node lock, as the e2e node tests do.
# Usage: bench/cluster_create.sh build/skiff [NODES=3] [RUNS=5]
set -euo pipefail
if [ -z "${SKIFF_NODE_LOCK_HELD:-}" ]; then
  exec env SKIFF_NODE_LOCK_HELD=1 flock /tmp/skiff-node-test.lock bash "$0" "$@"
fi
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [NODES] [RUNS]}")
NODES=${2:-3}
RUNS=${3:-5}
WORK=$(mktemp -d /tmp/skiff-bench-cluster.XXXXXX)
NAME=bench$$
NAME=${NAME:0:12}
trap '"$SKIFF" cluster delete --name "$NAME" --data-dir "$WORK" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
: >"$WORK/resolv.conf"

now() { date +%s.%N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Memory at rest per node (after the last create): the agent (kubelet, proxy, DNS) and its
# containerd, found among the processes in the node's network namespace.
memory() {
  local i agent ctd=0 pid ns
  for i in $(seq 1 "$NODES"); do
    ns=skiff-$NAME-node-$i
    agent=$(cat "$WORK/$NAME/nodes/$NAME-node-$i/agent.pid")
    ctd=0
    for pid in $(ip netns pids "$ns"); do
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" == containerd ] && ctd=$((ctd + $(rss_kb "$pid")))
    done
    printf 'node %d: agent %d MB RSS, containerd %d MB RSS\n' "$i" $(($(rss_kb "$agent") / 1024)) $((ctd / 1024))
  done
  printf 'control plane (skiff server with the cloud controller manager): %d MB RSS\n' \
    $(($(rss_kb "$(cat "$WORK/$NAME/server.pid")") / 1024))
}
creates=() deletes=()
for r in $(seq 1 "$RUNS"); do
  t0=$(now)
  "$SKIFF" --log-level warn cluster create --name "$NAME" --nodes "$NODES" --data-dir "$WORK" \
    --dns-resolv-conf "$WORK/resolv.conf" >"$WORK/create.out" 2>&1 || { cat "$WORK/create.out"; exit 1; }
  t1=$(now)
  [ "$r" == "$RUNS" ] && memory
  "$SKIFF" cluster delete --name "$NAME" --data-dir "$WORK" >/dev/null
  t2=$(now)
  creates+=("$(echo "$t1 - $t0" | bc)")
  deletes+=("$(echo "$t2 - $t1" | bc)")
  printf 'run %d: create %.2f s, delete %.2f s\n' "$r" "${creates[-1]}" "${deletes[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf 'cluster create --nodes %d, all Ready: median %.2f s of %d (kind ~20 s, k3d ~15 s published; target <= 10 s)\n' \
  "$NODES" "$(median "${creates[@]}")" "$RUNS"
printf 'cluster delete: median %.2f s\n' "$(median "${deletes[@]}")"
