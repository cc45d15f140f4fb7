#!/usr/bin/env bash
# What the metrics API's scraping costs: `skiff server` (sqlite, TLS) with NODES idle hollow
# nodes; after WARMUP seconds (registration done, every node scraped once) the server's and
# the hollow agent's CPU over SECONDS of steady state (lease renewals, node status and one
# scrape of every node per resolution), with the scraper's counters before and after.
# SERVER_ARGS=--disable-metrics-api gives the same run without scraping: the difference is
# the scrapes' cost.
# Usage: [SERVER_ARGS=...] bench/scrape_cost.sh PATH_TO_SKIFF [NODES] [SECONDS] [WARMUP]
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [NODES] [SECONDS] [WARMUP]}")
NODES=${2:-1000}
SECONDS_MEASURED=${3:-60}
WARMUP=${4:-45}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/bench_lib.sh
. "$HERE/bench_lib.sh"
WORK=$(mktemp -d /tmp/skiff-scrape-bench.XXXXXX)
SERVER_PID="" AGENT_PID=""
cleanup() {
  for p in $AGENT_PID $SERVER_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
scraper() {
  k get --raw /metrics | grep -E '^skiff_kubelet_client_tls_handshakes_total|^skiff_metrics_scrape_(duration_seconds|nodes)' |
    tr '\n' ' '
}

# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
"$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$(free_port)" \
  --cluster-cidr 10.64.0.0/12 ${SERVER_ARGS:-} >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break; sleep 0.2; done
"$SKIFF" --log-level warn agent --hollow --nodes "$NODES" --node-name-prefix scrape \
  --kubeconfig "$WORK/data/kubeconfig" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
sleep "$WARMUP"
s0=$(cpu_ticks $SERVER_PID) a0=$(cpu_ticks $AGENT_PID)
echo "before: $(scraper)"
sleep "$SECONDS_MEASURED"
s1=$(cpu_ticks $SERVER_PID) a1=$(cpu_ticks $AGENT_PID)
echo "after:  $(scraper)"
HZ=$(getconf CLK_TCK)
echo "nodes $NODES, ${SECONDS_MEASURED} s of steady state: server CPU $(python3 -c "print(round(($s1-$s0)/$HZ,2))") s" \
  "(RSS $(rss_mb $SERVER_PID) MB), hollow agent CPU $(python3 -c "print(round(($a1-$a0)/$HZ,2))") s (RSS $(rss_mb $AGENT_PID) MB)"
