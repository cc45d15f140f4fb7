#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# kubectl exec / attach / port-forward against real containers (`skiff up`): the API server
# tunnels the upgrade to the kubelet, which speaks WebSocket (v5.channel.k8s.io, and SPDY
# tunnelled in WebSocket for port-forward) or SPDY/3.1 (kubectl's fallback) and relays to
# containerd's streaming server. Both transports, tty with resize, exit codes, nodes/proxy.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up
KC="kubectl --kubeconfig $WORK/data/kubeconfig"
k run web --image=busybox:1.36 -- httpd -f -p 8080 >/dev/null
k run counter --image=busybox:1.36 -- sh -c 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.3; done' >/dev/null
wait_for "web Running" 60 phase_is web Running
wait_for "counter Running" 60 phase_is counter Running

# --- exec over WebSocket (kubectl's default)
expect_eq "$(k exec web -- hostname)" "web" "kubectl exec runs a command in the container (WebSocket)"
set +e; k exec web -- sh -c 'echo out; echo err >&2; exit 3' >"$WORK/out" 2>"$WORK/err"; rc=$?; set -e
expect_eq "$rc" "3" "the command's exit code propagates"
expect_eq "$(cat "$WORK/out")" "out" "stdout arrives on its channel"
expect_contains "$(cat "$WORK/err")" "err" "stderr arrives on its channel"
expect_eq "$(echo piped | k exec -i web -- cat)" "piped" "stdin reaches the command with -i"
set +e; out=$(script -qec "stty cols 132 rows 50; $KC exec -it web -- sh -c 'sleep 0.5; stty size; exit 7'" /dev/null); rc=$?; set -e
expect_contains "$out" "50 132" "exec -it has a tty with the terminal's size"
expect_eq "$rc" "7" "exec -it returns the exit code"

# --- the SPDY/3.1 fallback
expect_eq "$(KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false $KC exec web -- hostname)" "web" "kubectl exec over SPDY/3.1"
set +e; KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false $KC exec web -- sh -c 'exit 4' >/dev/null 2>&1; rc=$?; set -e
expect_eq "$rc" "4" "exit codes propagate over SPDY"
out=$(script -qec "stty cols 100 rows 30; KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false $KC exec -it web -- sh -c 'sleep 0.5; stty size'" /dev/null)
expect_contains "$out" "30 100" "exec -it over SPDY has the terminal's size"

# --- errors are upstream's
expect_fail "exec into an unknown container fails" k exec web -c nope -- true
expect_contains "$OUT" "container nope is not valid for pod web" "the error names the container"

# --- attach
out=$(timeout 3 $KC attach counter 2>/dev/null || true)
expect_contains "$out" "tick" "kubectl attach streams the running container's output"

# --- port-forward over WebSocket (SPDY frames tunnelled) and plain SPDY
pf() {  # pf LOCAL_PORT [ENV...]: starts kubectl port-forward and waits until it listens
  local port=$1; shift
  env "$@" kubectl --kubeconfig "$WORK/data/kubeconfig" port-forward pod/web "$port:8080" >"$WORK/pf-$port.log" 2>&1 &
  BG_PIDS="${BG_PIDS:-} $!"
  wait_for "port-forward on $port" 20 grep -q "Forwarding from" "$WORK/pf-$port.log"
}
P1=$(free_port)
pf "$P1"
expect_contains "$(curl -s -m 5 "http://127.0.0.1:$P1/")" "skiff busybox httpd" "kubectl port-forward reaches the pod (WebSocket)"
expect_contains "$(curl -s -m 5 "http://127.0.0.1:$P1/")" "skiff busybox httpd" "a second connection through the same forward"
P2=$(free_port)
pf "$P2" KUBECTL_PORT_FORWARD_WEBSOCKETS=false
expect_contains "$(curl -s -m 5 "http://127.0.0.1:$P2/")" "skiff busybox httpd" "kubectl port-forward over SPDY/3.1"

# --- nodes/proxy to the kubelet
expect_eq "$(k get --raw "/api/v1/nodes/$NODE/proxy/healthz")" "ok" "nodes/proxy reaches the kubelet"
expect_contains "$(k get --raw "/api/v1/nodes/$NODE/proxy/stats/summary")" "\"podRef\"" "the kubelet's stats through nodes/proxy"
finish
