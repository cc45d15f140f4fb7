#!/usr/bin/env bash
# Dynamic provisioning latency (issue 21): on `skiff up` (TLS, sqlite store, one real node),
# claims of the default local-path class with a pod each: created → claim Bound → pod
# Running, one at a time and as a burst. Each volume is a loop-mounted ext4 image made by the
# kubelet, so the figure includes mkfs and mount.
# Usage: bench/storage_provision.sh PATH_TO_SKIFF [COUNT]      (root: containerd, loop devices)
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [COUNT]}")
COUNT=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/bench_lib.sh"
WORK=$(mktemp -d /tmp/skiff-storage-bench.XXXXXX)
export HOME=$WORK/home
mkdir -p "$HOME"
PORT=$(free_port) KPORT=$(free_port)
NODE=bench-node
SKIFF_PID=""
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
cleanup() {
  set +e
  k delete pods -l bench=provision --grace-period=0 --wait=true --timeout=120s >/dev/null 2>&1
  k delete pvc -l bench=provision --wait=true --timeout=120s >/dev/null 2>&1
  [ -n "$SKIFF_PID" ] && kill "$SKIFF_PID" 2>/dev/null && wait "$SKIFF_PID" 2>/dev/null
  for pid in $(pgrep -f -- "-address $WORK/data/containerd/containerd.sock"); do kill -9 "$pid"; done
  grep -o " $WORK[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  nft delete table ip skiff-node 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

: >"$WORK/resolv.conf"
"$SKIFF" --log-level warn up --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --node-name "$NODE" \
  --kubelet-port "$KPORT" --images-dir "$(dirname "$SKIFF")/images" --dns-resolv-conf "$WORK/resolv.conf" \
  >"$WORK/skiff.log" 2>&1 &
SKIFF_PID=$!
for _ in $(seq 1 300); do
  [ -f "$WORK/data/kubeconfig" ] &&
    [ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ] && break
  sleep 0.1
done
for _ in $(seq 1 100); do k get storageclass local-path >/dev/null 2>&1 && break; sleep 0.1; done

cleanup_round() {
  k delete pods -l bench=provision --grace-period=0 --wait=true --timeout=120s >/dev/null
  k delete pvc -l bench=provision --wait=true --timeout=120s >/dev/null
  for _ in $(seq 1 300); do [ -z "$(k get pv -o name 2>/dev/null)" ] && return; sleep 0.1; done
  echo "warning: provisioned volumes not removed after 30 s" >&2
}
# Warm-up (the first sandbox creates the CNI bridge), not measured.
python3 "$HERE/storage_provision.py" "$WORK/data" 1 serial >/dev/null
cleanup_round
python3 "$HERE/storage_provision.py" "$WORK/data" "$COUNT" serial
cleanup_round
python3 "$HERE/storage_provision.py" "$WORK/data" "$COUNT" burst
cleanup_round
