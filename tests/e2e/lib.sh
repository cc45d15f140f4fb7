# Shared helpers for the e2e tests: each test starts its own real skiff server on a free
# loopback port with a fresh data dir, and drives it with the real kubectl.
set -euo pipefail
SKIFF=${1:?usage: $0 PATH_TO_SKIFF}
SKIFF=$(realpath "$SKIFF")
WORK=$(mktemp -d /tmp/skiff-e2e.XXXXXX)
export HOME=$WORK/home          # kubectl's discovery cache lives here: keep tests apart
mkdir -p "$HOME"
PASSED=0
SERVER_PID=""

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port)
API="https://127.0.0.1:$PORT"
# curl with the server's CA and the admin client certificate the server created.
c() {
  curl --cacert "$WORK/data/tls/ca.crt" --cert "$WORK/data/tls/admin.crt" \
    --key "$WORK/data/tls/admin.key" "$@"
}

start_server() {
  "$SKIFF" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --storage "${STORAGE:-sqlite}" \
    ${SERVER_ARGS:-} >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    [ -f "$WORK/data/kubeconfig" ] && c -sf "$API/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited during start"
    sleep 0.1
  done
  fail "server did not become ready"
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

kill9_server() {
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  set +e  # best effort: every step runs even when an earlier one finds nothing to do
  for pid in ${BG_PIDS:-}; do kill "$pid" 2>/dev/null; done
  if [ -n "${KUBELET_PID:-}" ]; then kill "$KUBELET_PID" 2>/dev/null || true; wait "$KUBELET_PID" 2>/dev/null || true; fi
  stop_server
  if [ -d "$WORK/data/containerd" ]; then cleanup_node_leftovers; fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$WORK/server.log" ]; then echo "--- server log (tail)" >&2; tail -n 20 "$WORK/server.log" >&2; fi
  echo "$PASSED passed, 1 failed"
  exit 1
}

# KUBECTL picks another kubectl (the version-skew runs of the kubectl suites set it).
KUBECTL=${KUBECTL:-kubectl}
k() { "$KUBECTL" --kubeconfig "$WORK/data/kubeconfig" "$@"; }

pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected [$2], got [$1]"; pass "$3"; }
# expect_contains HAYSTACK NEEDLE WHAT
expect_contains() { [[ "$1" == *"$2"* ]] || fail "$3: expected to contain [$2], got [$1]"; pass "$3"; }
expect_not_contains() { [[ "$1" != *"$2"* ]] || fail "$3: expected not to contain [$2], got [$1]"; pass "$3"; }
# expect_fail WHAT CMD...: the command must exit non-zero; its output goes to $OUT
expect_fail() {
  local what=$1; shift
  if OUT=$("$@" 2>&1); then fail "$what: expected failure, got success: $OUT"; fi
  pass "$what"
}
# run CMD...: must succeed; output in $OUT
run() { OUT=$("$@" 2>&1) || fail "command failed: $* -> $OUT"; }

# curl_status METHOD PATH [CONTENT_TYPE BODY_FILE]: prints the HTTP code, body in $WORK/body
curl_status() {
  local method=$1 path=$2 ctype=${3:-application/json} bodyfile=${4:-}
  if [ -n "$bodyfile" ]; then
    c -s -o "$WORK/body" -w '%{http_code}' -X "$method" -H "Content-Type: $ctype" \
      --data-binary "@$bodyfile" "$API$path"
  else
    c -s -o "$WORK/body" -w '%{http_code}' -X "$method" "$API$path"
  fi
}
json_field() { python3 -c "import json,sys;d=json.load(open('$WORK/body'));print(eval('d'+sys.argv[1]))" "$1"; }

finish() { echo "$PASSED passed, 0 failed"; }

# ---- a real node: `skiff up` (control plane + containerd + kubelet) --------------------
NODE=skiff-e2e-node
KUBELET_PORT=$(free_port)
NETNS_BEFORE=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)

# start_up [EXTRA_ARGS...]: `skiff up` on a free loopback port, waits for the node to be Ready.
# The node's DNS server forwards outside names to DNS_RESOLV_CONF's nameservers: by default
# none (an empty file), so no test's query ever leaves the machine.
start_up() {
  [ -n "${DNS_RESOLV_CONF:-}" ] || { DNS_RESOLV_CONF=$WORK/no-upstream-resolv.conf; : >"$DNS_RESOLV_CONF"; }
  "$SKIFF" up --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --node-name "$NODE" \
    --kubelet-port "$KUBELET_PORT" --images-dir "$(dirname "$SKIFF")/images" \
    --dns-resolv-conf "$DNS_RESOLV_CONF" ${UP_ARGS:-} "$@" \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if [ -f "$WORK/data/kubeconfig" ] &&
      [ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || fail "skiff up exited during start"
    sleep 0.1
  done
  fail "node $NODE did not become Ready"
}

# The shims of our containerd (their command line names our socket).
our_shims() { pgrep -f -- "-address $WORK/data/containerd/containerd.sock" || true; }

# Last resort after a failed or killed run: kill our containers, their shims and mounts,
# and the network namespaces that appeared while the test ran.
cleanup_node_leftovers() {
  local pid id
  for pid in $(our_shims); do
    id=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/.* -id \([0-9a-f]*\).*/\1/p')
    [ -n "$id" ] && runc --root /run/containerd/runc/k8s.io kill -a "$id" KILL 2>/dev/null
    [ -n "$id" ] && runc --root /run/containerd/runc/k8s.io delete -f "$id" 2>/dev/null
    kill -9 "$pid" 2>/dev/null || true
  done
  pkill -9 -f -- "--config $WORK/data/containerd/config.toml" 2>/dev/null || true
  grep -o " $WORK[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  nft delete table ip skiff-node 2>/dev/null || true
  for ns in $(comm -13 <(echo "$NETNS_BEFORE") <(ip netns list 2>/dev/null | awk '{print $1}' | sort)); do
    ip netns delete "$ns" 2>/dev/null || true
  done
}

# Counts of what a stopped node left behind: shims, mounts under the data dir, new netns.
node_leftovers() {
  local shims mounts netns
  shims=$(our_shims | wc -l)
  mounts=$(grep -c " $WORK" /proc/self/mounts || true)
  netns=$(comm -13 <(echo "$NETNS_BEFORE") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) | grep -c . || true)
  echo "shims=$shims mounts=$mounts netns=$netns"
}

# wait_for WHAT SECONDS CMD...: retries CMD (every 0.2 s) until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local tries=$((secs * 5))
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$what (waited ${secs}s)"
}
pod_phase() { k get pod "$1" -o jsonpath='{.status.phase}'; }
phase_is() { [ "$(pod_phase "$1")" == "$2" ]; }
# client_pod NAME NODE: YAML of a busybox pod that sleeps on NODE (the place requests are
# sent from).
client_pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"]}
EOF
}
# web_deployment NAME REPLICAS: YAML of a Deployment of busybox httpd servers on port 8080
# whose page is their pod name (Service tests tell the endpoints apart by it).
web_deployment() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.36
        command: [sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOF
}
