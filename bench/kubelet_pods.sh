#!/usr/bin/env bash
# Real-node kubelet benchmark (issue 4 §5): pod startup latency with the image present and
# the kubelet's memory with 30 pods. `skiff server` and `skiff kubelet` run as separate
# processes so the kubelet's RSS is its own (containerd and the shims are reported apart).
# Usage: bench/kubelet_pods.sh PATH_TO_SKIFF [PODS]      (root: containerd, netns)
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [PODS]}")
PODS=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/skiff-kubelet-bench.XXXXXX)
export HOME=$WORK/home
mkdir -p "$HOME"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port) KPORT=$(free_port)
NODE=bench-node
SERVER_PID="" KUBELET_PID=""
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
cleanup() {
  set +e
  k delete pods -l bench=startup --grace-period=0 --wait=true --timeout=120s >/dev/null 2>&1
  [ -n "$KUBELET_PID" ] && kill "$KUBELET_PID" 2>/dev/null && wait "$KUBELET_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  for pid in $(pgrep -f -- "-address $WORK/data/containerd/containerd.sock"); do kill -9 "$pid"; done
  grep -o " $WORK[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  nft delete table ip skiff-node 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
sum_rss_mb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; awk -v t="$t" 'BEGIN{printf "%.1f", t/1024}'; }

"$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
"$SKIFF" --log-level warn kubelet --kubeconfig "$WORK/data/kubeconfig" --data-dir "$WORK/data" --node-name "$NODE" \
  --node-ip 127.0.0.1 --kubelet-port "$KPORT" --images-dir "$(dirname "$SKIFF")/images" >"$WORK/kubelet.log" 2>&1 &
KUBELET_PID=$!
for _ in $(seq 1 300); do
  [ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ] && break
  sleep 0.1
done
echo "kubelet RSS idle (node Ready, no pods): $(rss_mb "$KUBELET_PID") MB"

# Warm-up pod (first sandbox pays for CNI bridge creation), not measured.
python3 "$HERE/pod_startup.py" "$WORK/data" "$NODE" 1 serial >/dev/null
k delete pods -l bench=startup --grace-period=0 --wait=true >/dev/null

python3 "$HERE/pod_startup.py" "$WORK/data" "$NODE" "$PODS" serial
k delete pods -l bench=startup --grace-period=0 --wait=true --timeout=300s >/dev/null
python3 "$HERE/pod_startup.py" "$WORK/data" "$NODE" "$PODS" burst
sleep 15  # a few status/relist cycles with every pod running
echo "kubelet RSS with $PODS pods running: $(rss_mb "$KUBELET_PID") MB"
CTRD=$(pgrep -f -- "--config $WORK/data/containerd/config.toml")
echo "containerd RSS: $(rss_mb "$CTRD") MB; shims ($(pgrep -f -- "-address $WORK/data/containerd/containerd.sock" | wc -l)): $(sum_rss_mb $(pgrep -f -- "-address $WORK/data/containerd/containerd.sock")) MB"
t0=$(awk '{print $14+$15}' "/proc/$KUBELET_PID/stat"); sleep 30; t1=$(awk '{print $14+$15}' "/proc/$KUBELET_PID/stat")
echo "kubelet CPU over 30 s steady state: $(awk -v d=$((t1 - t0)) 'BEGIN{printf "%.1f", d/30}')% of a core"
