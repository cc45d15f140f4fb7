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
creates=() deletes=()
for r in $(seq 1 "$RUNS"); do
  t0=$(now)
  "$SKIFF" --log-level warn cluster create --name "$NAME" --nodes "$NODES" --data-dir "$WORK" \
    --dns-resolv-conf "$WORK/resolv.conf" >"$WORK/create.out" 2>&1 || { cat "$WORK/create.out"; exit 1; }
  t1=$(now)
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
