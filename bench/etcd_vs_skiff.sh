#!/usr/bin/env bash
# Durable writes over TLS against raw etcd (issue 22 §1), side by side in one run.
#
# Starts a plain etcd (Debian's etcd-server, 3.4: its own temp data dir, loopback ports, default
# settings, so every put is fsynced to its WAL before it returns) and `skiff server` (all
# control-plane components, sqlite store, TLS: the shape users run), then drives both with wrk
# (bench/etcd_vs_skiff.lua), alternating etcd and skiff phase by phase so both see the same
# machine drift:
#   write: etcd puts through its HTTP/JSON gateway (POST /v3/kv/put, base64 key and value; the
#          value is a Pod as skiff stores it, read back from skiff) vs skiff Pod creates over
#          TLS (unique names; each is committed to sqlite's WAL before the 201);
#   read:  etcd /v3/kv/range of one key vs skiff GET of one Pod over TLS (random names among
#          objects written by the 1-connection run);
#   watch: W streaming watchers of all pods (curl; TLS for skiff) while 64 connections write:
#          the server's extra CPU per event per watcher.
# For each phase: requests/s, and the server's own CPU per request (utime+stime of its
# process from /proc) — wrk shares the 2 cores, so CPU per request is the figure that says
# where the time goes.
#
# Who skiff sees: wrk cannot present a client certificate, so every request carries a bearer
# token. AUTH=masters (default): a static token (--token-auth-file) of user bench-admin in group
# system:masters, which like the admin certificate is allowed before any authorization mode;
# AUTH=sa: the token of ServiceAccount default/bench bound to ClusterRole cluster-admin by a
# ClusterRoleBinding, so each request goes JWT -> Node -> RBAC.
# The pods name schedulerName "bench-unscheduled", which no scheduler serves: what is measured is
# the API path (admission, sqlite, watch cache, every in-process informer), not scheduling
# attempts for pods that could never be placed (the server has no nodes).
#
# etcd is not given TLS: it is the raw key-value store skiff's whole create path is held
# against. Needs etcd-server and wrk (installed here from Debian with apt if missing).
#
# Durability differs: etcd fsyncs its WAL before answering a put; skiff's sqlite store
# (WAL, synchronous=NORMAL) has the commit in the OS page cache — it survives a crash of the
# process, not a power loss — and fsyncs only at checkpoints. ETCD_DIR=/dev/shm puts etcd's
# data on tmpfs, where fsync costs nothing: a labelled breakdown that takes the disk out of
# the comparison (etcd 3.4 has no flag to skip fsync).
#
# Usage: [AUTH=masters|sa] [DURATION=10] [CONNS="1 16 64 256"] [PHASES="write read watch"]
#        [WATCHERS=20] [SERVER_ARGS=...] [ETCD=0] [ETCD_DIR=/dev/shm] [PERF=DIR]
#        bench/etcd_vs_skiff.sh PATH_TO_SKIFF
# ETCD=0 skips etcd (A/B runs of two skiff builds; then run the script once per build).
# PERF=DIR: `perf record --call-graph dwarf` (499 Hz) of the server during each skiff phase but
# its first second and last two, into DIR/MODE-cCONNS.data (e.g. skiff-get-c64.data; read with
# `perf report --children -i F`). The profiler's own cost shows in that phase's CPU figures.
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF}")
AUTH=${AUTH:-masters}; DURATION=${DURATION:-10}; CONNS=${CONNS:-1 16 64 256}
PHASES=${PHASES:-write read watch}; WATCHERS=${WATCHERS:-20}; ETCD=${ETCD:-1}
[ "$AUTH" = masters ] || [ "$AUTH" = sa ] || { echo "AUTH must be masters or sa" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/bench_lib.sh"
LUA=$HERE/etcd_vs_skiff.lua

need=()
command -v wrk >/dev/null || need+=(wrk)
[ "$ETCD" = 0 ] || command -v etcd >/dev/null || need+=(etcd-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "etcd_vs_skiff: installing ${need[*]} from Debian (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d)
ETCD_DATA=$(mktemp -d "${ETCD_DIR:-$WORK}/etcd.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" "$ETCD_DATA"
}
trap cleanup EXIT

TICK=$(getconf CLK_TCK)

# --- etcd ---------------------------------------------------------------------------------
if [ "$ETCD" != 0 ]; then
  ETCD_PORT=$(free_port); PEER_PORT=$(free_port)
  ETCD_URL=http://127.0.0.1:$ETCD_PORT
  etcd --name bench --data-dir "$ETCD_DATA" --log-level error \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
    --initial-cluster "bench=http://127.0.0.1:$PEER_PORT" >"$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!; PIDS+=("$ETCD_PID")
  for _ in $(seq 100); do curl -sf "$ETCD_URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$ETCD_URL/health" >/dev/null || { cat "$WORK/etcd.log"; exit 1; }
fi

# --- skiff --------------------------------------------------------------------------------
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN,bench-admin,bench-admin-uid,\"system:masters\"" >"$WORK/tokens.csv"
port=$(free_port)
SKIFF_URL=https://127.0.0.1:$port
# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
"$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$port" \
  --token-auth-file "$WORK/tokens.csv" ${SERVER_ARGS:-} >"$WORK/skiff.log" 2>&1 &
SKIFF_PID=$!; PIDS+=("$SKIFF_PID")
KC=(kubectl --kubeconfig "$WORK/data/kubeconfig")
for _ in $(seq 150); do
  [ -f "$WORK/data/kubeconfig" ] && "${KC[@]}" get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.1
done
# Pods need the namespace's default ServiceAccount (admission), which a controller creates.
for _ in $(seq 100); do "${KC[@]}" -n default get serviceaccount default >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$AUTH" = sa ]; then
  "${KC[@]}" -n default create serviceaccount bench >/dev/null
  "${KC[@]}" create clusterrolebinding bench-admin --clusterrole cluster-admin --serviceaccount default:bench >/dev/null
  TOKEN=$("${KC[@]}" -n default create token bench --duration 2h)
fi
CURL_SKIFF=(curl -s --cacert "$WORK/data/tls/ca.crt" -H "Authorization: Bearer $TOKEN")
who=$("${CURL_SKIFF[@]}" -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
  "$SKIFF_URL/apis/authentication.k8s.io/v1/selfsubjectreviews" |
  python3 -c 'import json,sys; u=json.load(sys.stdin)["status"]["userInfo"]; print(u["username"], u.get("groups"))')
echo "skiff sees: $who"
# The etcd value: one Pod exactly as skiff stores it (defaults, uid, managedFields, token volume).
# (The Pod of bench/etcd_vs_skiff.lua's skiff-create, named "sample".)
"${CURL_SKIFF[@]}" -f -X POST -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sample","labels":{"app":"bench"}},"spec":{"schedulerName":"bench-unscheduled","containers":[{"name":"c","image":"busybox:1.36","command":["sleep","3600"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}' \
  "$SKIFF_URL/api/v1/namespaces/default/pods" >/dev/null
"${CURL_SKIFF[@]}" -f "$SKIFF_URL/api/v1/namespaces/default/pods/sample" | python3 -c \
  'import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), separators=(",", ":")))' >"$WORK/pod.json"
CIPHER=$(openssl s_client -connect "127.0.0.1:$port" -CAfile "$WORK/data/tls/ca.crt" </dev/null 2>/dev/null |
  sed -n 's/^New, \(.*\)$/\1/p; s/^Server Temp Key: \(.*\)$/key exchange \1/p' | paste -sd ';')
echo "value size $(wc -c <"$WORK/pod.json") bytes; skiff TLS: $CIPHER"
[ "$ETCD" = 0 ] || echo "etcd data on $(df --output=fstype "$ETCD_DATA" | tail -1) ($ETCD_DATA)"
sleep 3 # start-up work (bootstrap objects, informers' first lists) settles

# skiff's sqlite writer counters, "OPS TRANSACTIONS" (0 0 on builds without them).
sqlite_commits() {
  "${CURL_SKIFF[@]}" "$SKIFF_URL/metrics" | awk '
    $1 == "skiff_sqlite_write_ops_total" {o = $2}
    $1 == "skiff_sqlite_write_transactions_total" {t = $2}
    END {printf "%d %d\n", o, t}'
}

# run_wrk NAME PID URL MODE PREFIX CONNS [KEYS]: one wrk phase against the server with PID.
# Prints one result line and sets RATE, CPU_US (server CPU per request), REQS; for skiff also
# the writes per sqlite transaction during the phase (group commit).
run_wrk() {
  local name=$1 pid=$2 url=$3 mode=$4 prefix=$5 conns=$6 keys=${7:-1} threads=2 c0 c1 out
  local s0=(0 0) s1=(0 0) batch=""
  [ "$conns" -lt 2 ] && threads=1
  sleep 1
  [ "$pid" != "$SKIFF_PID" ] || read -ra s0 <<<"$(sqlite_commits)"
  c0=$(cpu_ticks "$pid")
  if [ -n "${PERF:-}" ] && [ "$pid" = "$SKIFF_PID" ]; then # profile all but the phase's ends
    (sleep 1; perf record -q -F 499 --call-graph dwarf -p "$pid" -o "$PERF/$mode-c$conns.data" \
      -- sleep $((DURATION > 4 ? DURATION - 3 : 1)) >/dev/null 2>&1) &
  fi
  out=$(BENCH_MODE=$mode BENCH_PREFIX=$prefix BENCH_VALUE=$WORK/pod.json BENCH_TOKEN=$TOKEN BENCH_KEYS=$keys \
    wrk -t "$threads" -c "$conns" -d "${DURATION}s" --timeout 10s -s "$LUA" "$url")
  c1=$(cpu_ticks "$pid")
  [ "$pid" != "$SKIFF_PID" ] || read -ra s1 <<<"$(sqlite_commits)"
  if [ $((s1[1] - s0[1])) -gt 0 ]; then
    batch=$(awk -v o=$((s1[0] - s0[0])) -v t=$((s1[1] - s0[1])) 'BEGIN{printf "%.1f", o/t}')
  fi
  RATE=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  REQS=$(awk '/requests in/ {print $1}' <<<"$out")
  CPU_US=$(( (c1 - c0) * 1000000 / TICK / (REQS > 0 ? REQS : 1) ))
  local bad mean
  bad=$(awk '/Non-2xx|Socket errors/' <<<"$out" | paste -sd ';')
  mean=$(awk '/Latency / {print $2}' <<<"$out")
  printf '%-22s c=%-4s %8s req/s  server CPU %5s us/req  mean latency %-8s load %s%s %s\n' \
    "$name" "$conns" "$RATE" "$CPU_US" "$mean" "$(cut -d' ' -f1 /proc/loadavg)" \
    "${batch:+  sqlite writes/commit $batch}" "${bad:+ERRORS: $bad}"
  [ -z "$bad" ] || { echo "$out" >&2; exit 1; }
}

declare -A R C
run_pair() { # KIND CONNS: etcd then skiff, same connections
  local kind=$1 c=$2
  case $kind in
    write)
      local written=999999999 # the gets read names both stores have: the smaller count
      if [ "$ETCD" != 0 ]; then run_wrk "etcd put" "$ETCD_PID" "$ETCD_URL" etcd-put "w$c" "$c"; R[etcd-write-$c]=$RATE; C[etcd-write-$c]=$CPU_US; written=$REQS; fi
      run_wrk "skiff create (TLS)" "$SKIFF_PID" "$SKIFF_URL" skiff-create "w$c" "$c"; R[skiff-write-$c]=$RATE; C[skiff-write-$c]=$CPU_US
      [ "$c" != 1 ] || KEYS=$(( REQS < written ? REQS : written ));;
    read)
      if [ "$ETCD" != 0 ]; then run_wrk "etcd range" "$ETCD_PID" "$ETCD_URL" etcd-get w1 "$c" "$KEYS"; R[etcd-read-$c]=$RATE; C[etcd-read-$c]=$CPU_US; fi
      run_wrk "skiff get (TLS)" "$SKIFF_PID" "$SKIFF_URL" skiff-get w1 "$c" "$KEYS"; R[skiff-read-$c]=$RATE; C[skiff-read-$c]=$CPU_US;;
  esac
}

echo "== $(date -u +%FT%TZ) $(uptime)"
KEYS=1
if [[ " $PHASES " == *" write "* ]]; then
  for c in $CONNS; do run_pair write "$c"; done
fi
if [[ " $PHASES " == *" read "* ]]; then
  if [ "$KEYS" = 1 ]; then # no 1-connection write run: seed the objects the gets read
    DURATION=3 run_pair write 1 >/dev/null
    unset 'R[etcd-write-1]' 'R[skiff-write-1]' # a seed, not a measurement
  fi
  if [ "$ETCD" != 0 ]; then # a get must find its object: check one of each
    k=$(printf '/registry/pods/default/w1-1-%s' "$KEYS" | base64 -w0)
    curl -sf -X POST "$ETCD_URL/v3/kv/range" -d "{\"key\":\"$k\"}" | grep -q '"kvs"' || { echo "etcd: seeded key missing" >&2; exit 1; }
  fi
  "${CURL_SKIFF[@]}" -f "$SKIFF_URL/api/v1/namespaces/default/pods/w1-1-$KEYS" >/dev/null
  for c in $CONNS; do run_pair read "$c"; done
fi

# Watch: W watchers (plus one counting its bytes) while 64 connections write; the CPU per
# write above that of the 64-connection write run without watchers, over W, is the cost of one
# event to one watcher.
if [[ " $PHASES " == *" watch "* ]]; then
  watchers() { # URL-kind: start W+1 watchers, the first writing to a file
    local i rv
    rv=$("${CURL_SKIFF[@]}" "$SKIFF_URL/api/v1/pods?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
    for i in $(seq 0 "$WATCHERS"); do
      local out=/dev/null; [ "$i" = 0 ] && out=$WORK/watch-$1.out
      if [ "$1" = etcd ]; then
        curl -sN -X POST "$ETCD_URL/v3/watch" -d "{\"create_request\":{\"key\":\"$(printf /registry/pods/ | base64 -w0)\",\"range_end\":\"$(printf /registry/pods0 | base64 -w0)\"}}" >"$out" &
      else
        # from the current revision: no initial ADDED burst of every pod written so far
        "${CURL_SKIFF[@]}" -N "$SKIFF_URL/api/v1/pods?watch=1&resourceVersion=$rv" >"$out" &
      fi
      WPIDS+=($!)
    done
    sleep 2
  }
  stop_watchers() { kill "${WPIDS[@]}" 2>/dev/null || true; wait "${WPIDS[@]}" 2>/dev/null || true; WPIDS=(); }
  for kind in etcd skiff; do
    [ "$kind" = skiff ] || [ "$ETCD" != 0 ] || continue
    if [ -z "${C[$kind-write-64]:-}" ]; then # no 64-connection write run: measure the base now
      if [ "$kind" = etcd ]; then run_wrk "etcd put" "$ETCD_PID" "$ETCD_URL" etcd-put wb64 64
      else run_wrk "skiff create (TLS)" "$SKIFF_PID" "$SKIFF_URL" skiff-create wb64 64; fi
      C[$kind-write-64]=$CPU_US
    fi
    WPIDS=(); watchers "$kind"
    if [ "$kind" = etcd ]; then run_wrk "etcd put +${WATCHERS}w" "$ETCD_PID" "$ETCD_URL" etcd-put ww64 64
    else run_wrk "skiff create +${WATCHERS}w" "$SKIFF_PID" "$SKIFF_URL" skiff-create ww64 64; fi
    R[$kind-watch]=$RATE
    C[$kind-watch]=$(( (CPU_US - C[$kind-write-64]) * 1000 / WATCHERS )) # ns per event per watcher
    sleep 1; stop_watchers
    echo "  one watcher received $(wc -c <"$WORK/watch-$kind.out") bytes ($kind)"
  done
fi

echo
echo "| | connections | etcd 3.4 (HTTP gateway) | skiff server (TLS, sqlite) | skiff / etcd | server CPU per request, etcd / skiff |"
echo "|---|---|---|---|---|---|"
ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$1" != 0 ] && awk -v a="$2" -v b="$1" 'BEGIN{printf "%.2f", a/b}' || echo "-"; }
for kind in write read; do
  for c in $CONNS; do
    [ -n "${R[skiff-$kind-$c]:-}" ] || continue
    label=$([ $kind = write ] && echo "puts / creates per s" || echo "range / gets per s")
    echo "| $label | $c | ${R[etcd-$kind-$c]:--} | ${R[skiff-$kind-$c]} | $(ratio "${R[etcd-$kind-$c]:-}" "${R[skiff-$kind-$c]}") | ${C[etcd-$kind-$c]:--} / ${C[skiff-$kind-$c]} µs |"
  done
done
if [ -n "${C[skiff-watch]:-}" ]; then
  echo "| writes per s with $WATCHERS watchers | 64 | ${R[etcd-watch]:--} | ${R[skiff-watch]} | $(ratio "${R[etcd-watch]:-}" "${R[skiff-watch]}") | |"
  echo "| server CPU per event per watcher | 64 | ${C[etcd-watch]:--} ns | ${C[skiff-watch]} ns | $(ratio "${C[etcd-watch]:-}" "${C[skiff-watch]}") | |"
fi
echo "== $(date -u +%FT%TZ) $(uptime)"
