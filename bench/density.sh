#!/usr/bin/env bash
# Density: NODES hollow nodes, DEPLOYMENTS Deployments that together ask for PODS_PER_NODE pods
# per node, creation to all Running. The API server, scheduler, controller manager and hollow
# agent run as separate processes so each one's CPU and memory is its own.
# Usage: bench/density.sh PATH_TO_SKIFF [NODES] [PODS_PER_NODE] [DEPLOYMENTS]
# Env: SERVER=1 runs `skiff server` (all control-plane components in one process, sqlite store)
#      instead of apiserver --storage memory + scheduler + controller-manager;
#      APISERVER_ARGS, CM_ARGS, AGENT_ARGS add flags; SKIP_METRICS=1 stops before the metrics API part;
#      SKIP_LISTS=1 skips the list latencies. While the pods start, get_prober.py times a single
#      GET of the namespace every 50 ms (the control plane's responsiveness during the ramp)
#      and lease_age.py samples how stale the nodes' Leases get (heartbeats keeping up).
#      PERF=DIR: `perf record --call-graph dwarf` (299 Hz) of the API server (with SERVER=1 the
#      whole control plane) from PERF_DELAY (5) s into the ramp for PERF_SECONDS (25) s, into
#      DIR/server.data (read with `perf report --children -i F` or bench/perf_share.py).
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [NODES] [PODS_PER_NODE] [DEPLOYMENTS]}")
NODES=${2:-1000}
PODS_PER_NODE=${3:-30}
DEPLOYMENTS=${4:-100}
TOTAL=$((NODES * PODS_PER_NODE))
REPLICAS=$((TOTAL / DEPLOYMENTS))
# Node pod ranges (/24 each): 10.64.0.0/12 holds 4,096 of them, 10.64.0.0/11 8,192 (and still
# ends below the default Service range 10.96.0.0/12).
CLUSTER_CIDR=${CLUSTER_CIDR:-$([ "$NODES" -gt 4096 ] && echo 10.64.0.0/11 || echo 10.64.0.0/12)}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/skiff-density.XXXXXX)
export HOME=$WORK/home
mkdir -p "$HOME"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
mb() { awk -v f="$2" '$1 == f":" {printf "%.0f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

if [ -n "${SERVER:-}" ]; then
  # The shape users run: every control-plane component in one `skiff server` process on the
  # sqlite store (TLS as always). Its RSS is the whole control plane's.
  # shellcheck disable=SC2086 # *_ARGS are lists of flags
  "$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
    --cluster-cidr "$CLUSTER_CIDR" ${APISERVER_ARGS:-} ${CM_ARGS:-} >"$WORK/server.log" 2>&1 &
  API=$!; PIDS+=($API)
  for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
  KC=$WORK/data/kubeconfig
  COMPONENTS="server:$API"
else
  "$SKIFF" --log-level warn apiserver --storage memory --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" ${APISERVER_ARGS:-} \
    >"$WORK/apiserver.log" 2>&1 &
  API=$!; PIDS+=($API)
  for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
  KC=$WORK/data/kubeconfig
  "$SKIFF" --log-level warn scheduler --kubeconfig "$KC" >"$WORK/scheduler.log" 2>&1 &
  SCHED=$!; PIDS+=($SCHED)
  "$SKIFF" --log-level warn controller-manager --kubeconfig "$KC" --cluster-cidr "$CLUSTER_CIDR" ${CM_ARGS:-} \
    >"$WORK/controller-manager.log" 2>&1 &
  CM=$!; PIDS+=($CM)
  COMPONENTS="apiserver:$API scheduler:$SCHED controller-manager:$CM"
fi
"$SKIFF" --log-level warn agent --hollow --nodes "$NODES" --node-name-prefix density --kubeconfig "$KC" ${AGENT_ARGS:-} \
  >"$WORK/agent.log" 2>&1 &
AGENT=$!; PIDS+=($AGENT)

ready() { k get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{.spec.podCIDR}{"\n"}{end}' | grep -c '^True10\.' || true; }
while [ "$(ready)" -lt "$NODES" ]; do sleep 1; done
k create namespace density >/dev/null
sleep 5  # let registration traffic settle so the CPU numbers below are the workload's

declare -A T0
for pair in $COMPONENTS hollow-agent:$AGENT; do p=${pair##*:}; T0[$p]=$(cpu_ticks $p); done
python3 "$HERE/get_prober.py" "$WORK/data" /api/v1/namespaces/density >"$WORK/gets.json" &
PROBER=$!; PIDS+=($PROBER)
python3 "$HERE/lease_age.py" "$WORK/data" 10 >"$WORK/leases.json" &
LEASES=$!; PIDS+=($LEASES)
if [ -n "${PERF:-}" ]; then
  mkdir -p "$PERF"
  (sleep "${PERF_DELAY:-5}"; perf record -q -F 299 --call-graph dwarf -p "$API" -o "$PERF/server.data" \
    -- sleep "${PERF_SECONDS:-25}" >/dev/null 2>&1) &
  PIDS+=($!)
fi
RESULT=$(python3 "$HERE/density.py" "$WORK/data" density "$DEPLOYMENTS" "$REPLICAS")
kill -TERM $PROBER $LEASES; wait $PROBER $LEASES || true
HZ=$(getconf CLK_TCK)
SECS=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['all_running_s'])" "$RESULT")
echo "nodes $NODES, pods $TOTAL ($DEPLOYMENTS Deployments x $REPLICAS)"
echo "result: $RESULT"
echo "single GET of a namespace every 50 ms during the ramp: $(cat "$WORK/gets.json")"
echo "node Lease ages, sampled every 10 s during the ramp: $(cat "$WORK/leases.json")"
for pair in $COMPONENTS hollow-agent:$AGENT; do
  name=${pair%%:*}; p=${pair##*:}
  cpu=$(( $(cpu_ticks $p) - ${T0[$p]} ))
  echo "$name: CPU $(python3 -c "print(round($cpu/$HZ,1))") s over the run ($(python3 -c "print(round($cpu/$HZ/$SECS*100))") % of a core), RSS $(mb $p VmRSS) MB, peak $(mb $p VmHWM) MB"
done
# What the API server holds (its watch cache counts and bytes) and the control plane's RSS per pod.
k get --raw /metrics >"$WORK/metrics.txt"
awk '/^apiserver_storage_objects/ && $2 > 100 {printf "%s %s; ", $1, $2} END {print ""}' "$WORK/metrics.txt" |
  sed 's/apiserver_storage_objects{resource="\([a-z0-9.]*\)"}/\1/g; s/^/objects: /'
# Status writes the ramp cost, by resource (controllers' status churn shows here).
awk -F'[{}]' '/^apiserver_request_total/ && /subresource="status"/ && /verb="(PUT|PATCH)"/ {
    match($2, /resource="[^"]*"/); r = substr($2, RSTART + 10, RLENGTH - 11); split($3, v, " "); n[r] += v[1] }
  END {printf "status writes:"; for (r in n) printf " %s %d;", r, n[r]; print ""}' "$WORK/metrics.txt"
awk '/^skiff_packed_object_bytes/ {o=$2} /^skiff_watch_cache_history_bytes/ {h+=$2}
  END {printf "watch cache: packed objects %.0f MB, history texts %.0f MB\n", o/1e6, h/1e6}' "$WORK/metrics.txt"
# The allocator's view of the API server process (jemalloc builds): live data vs pages held.
awk '/^skiff_malloc_allocated_bytes/ {a=$2} /^skiff_malloc_resident_bytes/ {r=$2}
  END {if (r) printf "allocator: %.0f MB in allocations, %.0f MB resident\n", a/1e6, r/1e6}' "$WORK/metrics.txt"
rss=0; for pair in $COMPONENTS; do rss=$((rss + $(mb ${pair##*:} VmRSS))); done
echo "control plane RSS $rss MB = $(python3 -c "print(round($rss*1024/$TOTAL,1))") KB per pod"
# Spread: pods per node (the scheduler's LeastAllocated and default topology spread).
k get pods -n density -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c |
  awk '{n++; s+=$1; if (min==""||$1<min) min=$1; if ($1>max) max=$1} END {printf "spread: %d nodes used, pods per node min %d max %d\n", n, min, max}'

# Listing every pod as kubectl and informers do (pages of 500), JSON and Table, and
# `kubectl get pods -A` itself (Table pages, printed).
if [ -z "${SKIP_LISTS:-}" ]; then
  python3 "$HERE/list_latency.py" "$WORK/data" 3 | sed 's/^/list all pods: /'
  for i in 1 2 3; do
    s=$(date +%s.%N); n=$(k get pods -A --no-headers | wc -l); e=$(date +%s.%N)
    echo "kubectl get pods -A ($n pods): $(python3 -c "print(round($e-$s,2))") s"
  done
fi

# The resource metrics API at this size (issue 21): the API server scrapes every hollow node's
# /metrics/resource each --metric-resolution (METRIC_RESOLUTION, default 15 s, passed in
# APISERVER_ARGS as --metric-resolution if you change it). Once two scrapes have passed, time
# `kubectl top pod -A` and `kubectl top node`, and the API server's CPU over 4 resolutions of
# steady state (scrapes plus the hollow nodes' lease and status traffic: an upper bound of
# the scrape cost).
[ -n "${SKIP_METRICS:-}" ] && exit 0
RES=${METRIC_RESOLUTION:-15}
sleep $((2 * RES + 2))
for i in 1 2 3; do
  s=$(date +%s.%N); n=$(k top pod -A --no-headers | wc -l); e=$(date +%s.%N)
  echo "kubectl top pod -A ($n pods): $(python3 -c "print(round($e-$s,2))") s"
done
s=$(date +%s.%N); n=$(k top node --no-headers | wc -l); e=$(date +%s.%N)
echo "kubectl top node ($n nodes): $(python3 -c "print(round($e-$s,2))") s"
c0=$(cpu_ticks $API); sleep $((4 * RES)); c1=$(cpu_ticks $API)
echo "apiserver steady state with scrapes: $(python3 -c "print(round(($c1-$c0)/$HZ/(4*$RES)*100,1))") % of a core, $(python3 -c "print(round(($c1-$c0)/$HZ/4/$NODES*1000,3))") ms CPU per node per scrape interval (upper bound), RSS $(mb $API VmRSS) MB"
