#!/usr/bin/env bash
# Real-node kubelet benchmark (issue 4 §5): pod startup latency with the image present and
# the kubelet's memory with 30 pods. `skiff server` and `skiff kubelet` run as separate
# processes so the kubelet's RSS is its own (containerd and the shims are reported apart).
# Usage: bench/kubelet_pods.sh PATH_TO_SKIFF [PODS]      (root: containerd, netns)
# Environment (all optional):
#   KUBELET_ARGS="--default-runtime crun"  extra `skiff kubelet` flags (A/B of runtime settings)
#   PROFILE=1   the burst runs under `perf record -a`: CPU-seconds by process name (runc,
#               containerd-shim, CNI plugins, ...) = perf's share of busy samples × the busy
#               CPU time /proc/stat counted over the burst; needs perf (linux-perf)
#   TIMELINE=1  the kubelet logs at debug level; prints its per-pod sandbox/create/start
#               times (debug logging costs a little CPU: a breakdown run, not a headline)
#   CRUN_HYBRID=1  crun runs through bench/crun_hybrid_wrapper.c (needs cc), for hosts with
#               hybrid cgroups where crun refuses to start containers; see that file
#   QUICK=1     skip the RSS / steady-state CPU part (about 45 s) after the burst
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
if [ -n "${CRUN_HYBRID:-}" ]; then
  mkdir -p "$WORK/bin"
  cc -O2 -o "$WORK/bin/crun" "$HERE/crun_hybrid_wrapper.c"
  export PATH="$WORK/bin:$PATH"  # the kubelet's lookup of crun finds the wrapper first
fi
KLOG=warn
[ -n "${TIMELINE:-}" ] && KLOG=debug
"$SKIFF" --log-level "$KLOG" kubelet --kubeconfig "$WORK/data/kubeconfig" --data-dir "$WORK/data" --node-name "$NODE" \
  --node-ip 127.0.0.1 --kubelet-port "$KPORT" --images-dir "$(dirname "$SKIFF")/images" \
  ${KUBELET_ARGS:-} >"$WORK/kubelet.log" 2>&1 &
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
if [ -n "${PROFILE:-}" ] && ! command -v perf >/dev/null; then
  echo "PROFILE=1 needs perf: apt-get install linux-perf" >&2
  exit 1
fi
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }
b0=$(busy_ticks)
LOG0=$(wc -l <"$WORK/kubelet.log")
if [ -n "${PROFILE:-}" ]; then
  perf record -q -a -F 499 -o "$WORK/perf.data" -- \
    python3 "$HERE/pod_startup.py" "$WORK/data" "$NODE" "$PODS" burst 2>/dev/null
else
  python3 "$HERE/pod_startup.py" "$WORK/data" "$NODE" "$PODS" burst
fi
b1=$(busy_ticks)
echo "busy CPU over the burst (whole machine): $(awk -v d=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", d/hz}') s"
if [ -n "${PROFILE:-}" ]; then
  # Process names as the kernel knows them (15 characters): "containerd-shim", "runc:[2:INIT]".
  printf "%-20s %8s %10s\n" "process" "CPU s" "ms per pod"
  perf report -i "$WORK/perf.data" --sort comm --stdio -q 2>/dev/null |
    awk -v busy=$(((b1 - b0))) -v hz="$(getconf CLK_TCK)" -v pods="$PODS" '
      $1 ~ /%$/ { pct = $1; sub(/%/, "", pct); comm = $2; for (i = 3; i <= NF; i++) comm = comm " " $i
                  if (comm == "swapper") next; share[comm] = pct; total += pct }
      END { for (c in share) { s = share[c] / total * busy / hz
              if (s >= 0.01) printf "%-20s %8.2f %10.1f\n", c, s, s * 1000 / pods } }' | sort -k2 -nr
fi
if [ -n "${TIMELINE:-}" ]; then
  echo "kubelet's runtime calls during the burst:"
  tail -n +$((LOG0 + 1)) "$WORK/kubelet.log" | grep -o 'kubelet timing .*' | python3 "$HERE/pod_startup.py" --timeline
fi
[ -n "${QUICK:-}" ] && exit 0
sleep 15  # a few status/relist cycles with every pod running
echo "kubelet RSS with $PODS pods running: $(rss_mb "$KUBELET_PID") MB"
CTRD=$(pgrep -f -- "--config $WORK/data/containerd/config.toml")
echo "containerd RSS: $(rss_mb "$CTRD") MB; shims ($(pgrep -f -- "-address $WORK/data/containerd/containerd.sock" | wc -l)): $(sum_rss_mb $(pgrep -f -- "-address $WORK/data/containerd/containerd.sock")) MB"
t0=$(awk '{print $14+$15}' "/proc/$KUBELET_PID/stat"); sleep 30; t1=$(awk '{print $14+$15}' "/proc/$KUBELET_PID/stat")
echo "kubelet CPU over 30 s steady state: $(awk -v d=$((t1 - t0)) 'BEGIN{printf "%.1f", d/30}')% of a core"
