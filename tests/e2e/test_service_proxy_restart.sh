#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# `skiff proxy` on its own (next to `skiff up --disable-proxy`): Services keep working while it
# is stopped (its rules stay), a restart reconciles the table instead of recreating it (chains
# keep their handles; a Service deleted meanwhile loses its elements), a kill -9 during
# traffic leaves established and new connections working and a restart converges on what
# changed meanwhile, and --cleanup removes it.
# Traffic goes only to loopback and to addresses this test created (pods, Services).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, nftables)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
# Another node test shares the skiff0 bridge and 10.42.0.0/24: wait for it to end.
# The proxy's table is one per machine too: a leftover of a killed run is reconciled.
others() { pgrep -f ' up --data-dir /tmp/skiff-e2e|skiff proxy --kubeconfig' >/dev/null; }
for _ in $(seq 1 150); do others || break; sleep 2; done
if others; then echo "another skiff node runs on this machine"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
"$SKIFF" proxy --cleanup  # a killed run's leftover: nothing else is running now
# A standalone proxy leaves route_localnet=1 with its rules (as upstream); put it back after.
route_localnet=$(cat /proc/sys/net/ipv4/conf/all/route_localnet)
start_up --disable-proxy
expect_fail "skiff up --disable-proxy installs no table" nft list table ip skiff

HZ=$(free_port)
PROXY_PID=""
start_proxy() {
  "$SKIFF" proxy --kubeconfig "$WORK/data/kubeconfig" --hostname-override "$NODE" \
    --healthz-bind-address "127.0.0.1:$HZ" --min-sync-period 200ms >>"$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  BG_PIDS="${BG_PIDS:-} $PROXY_PID"
}
stop_proxy() { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; }
start_proxy
wait_for "proxy healthz" 20 curl -sf "http://127.0.0.1:$HZ/healthz"
pass "skiff proxy serves /healthz"

web_deployment web 1 >"$WORK/web.yaml"
k apply -f "$WORK/web.yaml" >/dev/null
k expose deployment web --port 80 --target-port 8080 >/dev/null
k expose deployment web --name doomed --port 80 --target-port 8080 >/dev/null
wait_for "web rolled out" 90 k rollout status deploy/web --timeout=2s
cip=$(k get svc web -o jsonpath='{.spec.clusterIP}')
answers() { curl -s -m 5 "http://$cip/" | grep -q web-; }
wait_for "the Service answers" 20 answers
pass "the standalone proxy serves the Service"

# The Service's chain: the balance chain shared by TCP ports with one endpoint.
chain_handle() { nft -a list table ip skiff | grep "chain balance-tcp-1 {" | sed 's/.*# handle //'; }
handle=$(chain_handle)
[ -n "$handle" ] || fail "no balance chain for default/web"
dip=$(k get svc doomed -o jsonpath='{.spec.clusterIP}')
expect_contains "$(nft list map ip skiff service-ips)" "$dip . tcp . 80" "the doomed Service has its map element"
table_handle=$(nft -a list tables | grep "table ip skiff" | sed 's/.*# handle //')

stop_proxy
expect_contains "$(nft list table ip skiff)" "service-ips" "the rules stay when skiff proxy stops"
answers || fail "the Service stopped answering without the proxy process"
pass "the Service keeps answering while the proxy is down"
k delete svc doomed >/dev/null

start_proxy
doomed_gone() { ! nft list table ip skiff | grep -q "$dip "; }
wait_for "the deleted Service's rules removed after the restart" 20 doomed_gone
pass "a restart removes the rules of a Service deleted meanwhile"
expect_eq "$(chain_handle)" "$handle" "a restart keeps the Service chain (reconciled, not recreated)"
expect_eq "$(nft -a list tables | grep "table ip skiff" | sed 's/.*# handle //')" "$table_handle" "a restart keeps the table"
answers || fail "the Service does not answer after the restart"
pass "the Service answers after the restart"
one_full() { curl -s "http://127.0.0.1:$HZ/metrics" | grep -q 'kubeproxy_sync_proxy_rules_total{kind="full"} 1$'; }
wait_for "the restarted proxy's sync counted" 10 one_full
pass "the restart made one full sync"

# --- kill -9 during traffic: an established connection through the Service goes on (its
# conntrack NAT entry and the table stay), and the restarted proxy converges on what changed
# while it was dead.
conn_out="$WORK/held.out"
# A request whose headers are completed only after the kill: the connection was set up
# (DNATed) before it, the answer comes after it.
python3 - "$cip" "$WORK/held.ready" >"$conn_out" 2>&1 <<'PY' &
import socket, sys, time, os
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[2] + ".go"): time.sleep(0.05)
s.sendall(b"\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
print(data.decode(errors="replace"))
PY
held=$!
wait_for "the held connection is established" 10 test -f "$WORK/held.ready"
kill -9 "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
touch "$WORK/held.ready.go"
wait "$held" || true
expect_contains "$(cat "$conn_out")" "web-" "a connection established before kill -9 of the proxy completes after it"
answers || fail "new connections stopped working after kill -9 of the proxy"
pass "new connections to the Service keep working while the proxy is dead"
k scale deploy/web --replicas=2 >/dev/null
two_ready() { [ "$(k get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c true)" -eq 2 ]; }
wait_for "2 ready endpoints" 90 two_ready
expect_eq "$(nft list map ip skiff service-ips | grep -c "$cip . tcp . 80 : goto balance-tcp-1")" "1" "while the proxy is dead the rules stay as they were"
start_proxy
converged() { nft list map ip skiff service-ips | grep -q "$cip . tcp . 80 : goto balance-tcp-2"; }
wait_for "the restarted proxy balances over 2 endpoints" 20 converged
pass "after kill -9 and a restart the rules converge on the change made meanwhile"
expect_eq "$(nft list map ip skiff service-endpoints-tcp | grep -c "$cip . tcp . 80 . ")" "2" "two endpoint elements for the Service"
answers || fail "the Service does not answer after the restart"
pass "the Service answers after the restart that followed kill -9"

stop_proxy
run "$SKIFF" proxy --cleanup
expect_fail "skiff proxy --cleanup removes the table" nft list table ip skiff
echo "$route_localnet" >/proc/sys/net/ipv4/conf/all/route_localnet
finish
