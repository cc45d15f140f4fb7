#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The Service proxy inside `skiff up` (nftables table ip skiff): ClusterIP load balancing over
# ready endpoints, scaling followed, no-endpoint and unallocated service addresses refused at
# once, NodePort on the node address, hairpin, session affinity, and the table removed on stop.
# Traffic goes only to loopback and to addresses this test created (pods, node, Services).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, nftables)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
# Another node test on this machine shares the skiff0 bridge and 10.42.0.0/24 (and its Service
# addresses would meet this proxy's rules): wait for it to end rather than fight it.
# The proxy's table is one per machine too: a leftover of a killed run is reconciled.
others() { pgrep -f ' up --data-dir /tmp/skiff-e2e|skiff proxy --kubeconfig' >/dev/null; }
for _ in $(seq 1 150); do others || break; sleep 2; done
if others; then echo "another skiff node runs on this machine"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
start_up --proxy-min-sync-period 200ms --proxy-healthz-bind-address "127.0.0.1:$(free_port)"

run nft list table ip skiff
expect_contains "$OUT" "10.43.0.0/16 jump reject-chain" "the service-CIDR reject is installed"

# --- three web servers whose page is their pod name, and a client pod
web_deployment web 3 >"$WORK/web.yaml"
cat >>"$WORK/web.yaml" <<'EOF'
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"]}
EOF
k apply -f "$WORK/web.yaml" >/dev/null
k expose deployment web --port 80 --target-port 8080 >/dev/null
wait_for "web rolled out" 90 k rollout status deploy/web --timeout=2s
wait_for "client Running" 60 phase_is client Running
cip=$(k get svc web -o jsonpath='{.spec.clusterIP}')
expect_contains "$cip" "10.43." "the Service has a cluster IP"
# ready_is SERVICE N: the Service's EndpointSlices list N ready endpoints
ready_is() { [ "$(k get endpointslices -l kubernetes.io/service-name="$1" -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c true)" -eq "$2" ]; }
wait_for "3 ready endpoints" 30 ready_is web 3

# in_client N URL: N requests from the client pod, one answer (or error) per line
in_client() { k exec client -- sh -c "for i in \$(seq $1); do timeout 5 wget -qO- $2 2>&1 || echo FAILED; done"; }
distinct() { grep '^web-' | sort -u | grep -c .; }

wait_for "the cluster IP answers" 20 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig exec client -- timeout 5 wget -qO- http://$cip/ | grep -q web-"
pass "a pod reaches the Service at its cluster IP"
answers=$(in_client 60 "http://$cip/")
expect_eq "$(echo "$answers" | grep -c FAILED)" "0" "60 requests through the Service all answered"
expect_eq "$(echo "$answers" | distinct)" "3" "every one of the 3 backends answered"
expect_contains "$(curl -s -m 5 "http://$cip/")" "web-" "the node itself reaches the cluster IP"
# By name: the pod's resolver asks 10.43.0.10 (kube-dns, DNATed to the node-local DNS server)
# and follows the search path, as the README's walk-through does.
for name in web web.default web.default.svc.cluster.local; do
  expect_contains "$(k exec client -- timeout 5 wget -qO- "http://$name/" 2>&1)" "web-" "a pod reaches the Service by the name '$name'"
done

# --- scaling is followed
k scale deploy/web --replicas=1 >/dev/null
wait_for "1 endpoint left" 60 ready_is web 1
sleep 1
answers=$(in_client 20 "http://$cip/")
expect_eq "$(echo "$answers" | grep -c FAILED)" "0" "after scaling to 1, every request answered"
expect_eq "$(echo "$answers" | distinct)" "1" "after scaling to 1, one backend answers"
k scale deploy/web --replicas=3 >/dev/null
wait_for "3 endpoints again" 90 ready_is web 3
sleep 1
expect_eq "$(in_client 60 "http://$cip/" | distinct)" "3" "scaled back to 3, all 3 answer"

# --- session affinity: one client, one backend
k patch svc web -p '{"spec":{"sessionAffinity":"ClientIP"}}' >/dev/null
sleep 1
expect_eq "$(in_client 20 "http://$cip/" | distinct)" "1" "sessionAffinity ClientIP keeps a client on one backend"
k patch svc web -p '{"spec":{"sessionAffinity":"None"}}' >/dev/null

# --- no endpoints: refused at once, not a timeout
k create service clusterip empty --tcp=80:8080 >/dev/null
ecip=$(k get svc empty -o jsonpath='{.spec.clusterIP}')
sleep 1
start=$(date +%s%N)
out=$(k exec client -- sh -c "timeout 5 wget -qO- http://$ecip/ 2>&1; echo rc=\$?" || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_contains "$out" "refused" "a Service without endpoints refuses the connection"
[ "$ms" -lt 3000 ] || fail "refusal took ${ms}ms"
pass "the refusal is immediate (${ms}ms including kubectl exec)"
expect_contains "$(curl -s -m 5 "http://$ecip/" 2>&1; echo "rc=$?")" "rc=7" "the node gets connection refused too"

# --- an address of the service CIDR that no Service has: rejected on the node
unused=10.43.255.254
k get svc -A -o jsonpath='{.items[*].spec.clusterIP}' | grep -qw "$unused" && fail "$unused is allocated"
start=$(date +%s%N)
out=$(k exec client -- sh -c "timeout 5 wget -qO- http://$unused/ 2>&1; echo rc=\$?" || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_contains "$out" "refused" "an unallocated service address is refused"
[ "$ms" -lt 3000 ] || fail "unallocated address took ${ms}ms"
pass "the unallocated address fails fast (${ms}ms)"
expect_contains "$(curl -s -m 5 "http://$unused:8080/" 2>&1; echo "rc=$?")" "rc=7" "the node is refused at an unallocated address too"
expect_contains "$(curl -s -m 5 "http://$cip:81/" 2>&1; echo "rc=$?")" "rc=7" "a cluster IP on a port it does not serve is refused"

# --- NodePort on the node's address (127.0.0.1 here, via route_localnet)
k expose deployment web --name web-np --type NodePort --port 80 --target-port 8080 >/dev/null
np=$(k get svc web-np -o jsonpath='{.spec.ports[0].nodePort}')
wait_for "NodePort $np answers" 20 sh -c "curl -s -m 5 http://127.0.0.1:$np/ | grep -q web-"
pass "the NodePort answers on the node address"
gw="$(k get node "$NODE" -o jsonpath='{.spec.podCIDR}' | sed 's|\.0/.*|.1|')"
expect_contains "$(k exec client -- timeout 5 wget -qO- "http://$gw:$np/")" "web-" "a pod reaches the NodePort on the node's bridge address"

# --- externalTrafficPolicy Local: the NodePort still answers the node itself, and the
# health check node port (allocated by the API server, as upstream) reports this node's
# endpoints as upstream's kube-proxy does
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: web-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF
lnp=$(k get svc web-local -o jsonpath='{.spec.ports[0].nodePort}')
hc=$(k get svc web-local -o jsonpath='{.spec.healthCheckNodePort}')
[ -n "$hc" ] && [ "$hc" != "$lnp" ] || fail "no healthCheckNodePort allocated: [$hc]"
pass "the API server allocates a healthCheckNodePort for a Local LoadBalancer"
hc_answers() { curl -s -m 2 "http://127.0.0.1:$hc/" | grep -q '"localEndpoints":3'; }
wait_for "health check node port answers" 20 hc_answers
expect_eq "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hc/")" "200" "healthCheckNodePort answers 200 with local endpoints"
expect_contains "$(curl -s -m 2 "http://127.0.0.1:$hc/")" '{"service":{"namespace":"default","name":"web-local"},"localEndpoints":3' "healthCheckNodePort JSON as upstream"
expect_contains "$(curl -s -m 5 "http://127.0.0.1:$lnp/")" "web-" "an externalTrafficPolicy Local NodePort answers the node itself"

# --- hairpin: a pod reaching itself through its own Service
cat >"$WORK/solo.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers:
  - name: s
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOF
k apply -f "$WORK/solo.yaml" >/dev/null
k expose pod solo --port 80 --target-port 8080 >/dev/null
scip=$(k get svc solo -o jsonpath='{.spec.clusterIP}')
wait_for "solo ready" 60 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod solo -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
wait_for "solo endpoint" 20 ready_is solo 1
sleep 1
expect_eq "$(k exec solo -- timeout 5 wget -qO- "http://$scip/")" "solo" "hairpin: the pod reaches itself through its Service"

# --- UDP: a selector-less Service whose EndpointSlice names a UDP echo server on the node's
# bridge address; stale conntrack entries go when the endpoint does
bridge_ip="$(k get node "$NODE" -o jsonpath='{.spec.podCIDR}' | sed 's|\.0/.*|.1|')"
uport=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],int(sys.argv[2])))
while True:
    d,a=s.recvfrom(2048); s.sendto(b"echo:"+d,a)' "$bridge_ip" "$uport" &
BG_PIDS="${BG_PIDS:-} $!"
udp_slice() {
  cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: uecho-1, labels: {kubernetes.io/service-name: uecho}}
addressType: IPv4
ports: [{name: u, protocol: UDP, port: $uport}]
endpoints: [$1]
EOF
}
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: uecho}
spec: {ports: [{name: u, protocol: UDP, port: 5353, targetPort: $uport}]}
EOF
udp_slice "{addresses: [$bridge_ip], conditions: {ready: true}}" | k apply -f - >/dev/null
ucip=$(k get svc uecho -o jsonpath='{.spec.clusterIP}')
usrc=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("0.0.0.0",0));print(s.getsockname()[1])')
# udp_ask [SRC_PORT]: one datagram to the Service (from SRC_PORT: one conntrack flow);
# prints the answer or the error's name
udp_ask() {
  python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
if len(sys.argv) > 3: s.bind(("0.0.0.0",int(sys.argv[3])))
s.connect((sys.argv[1],int(sys.argv[2])))
try:
    s.send(b"hi"); print(s.recv(100).decode())
except Exception as e: print(type(e).__name__)' "$ucip" 5353 "$@"
}
udp_ok() { [ "$(udp_ask "$@")" == "echo:hi" ]; }
wait_for "UDP Service answers" 20 udp_ok
expect_eq "$(udp_ask "$usrc")" "echo:hi" "a UDP Service answers through its cluster IP"
flows() { conntrack -L -p udp --orig-dst "$ucip" 2>/dev/null | grep -c "sport=$usrc" || true; }
[ "$(flows)" -ge 1 ] || fail "no conntrack flow for the UDP client"
udp_slice "" | k apply -f - >/dev/null
no_flows() { [ "$(flows)" -eq 0 ]; }
wait_for "stale UDP flow deleted" 10 no_flows
pass "the UDP flow to the removed endpoint was deleted from conntrack"
sleep 1
# From the node itself the reject in the output hook fails the send (EPERM); a pod's packet
# is forwarded and answered with ICMP port unreachable (ECONNREFUSED). Either: no timeout.
out=$(udp_ask "$usrc")
[[ "$out" == PermissionError || "$out" == ConnectionRefusedError ]] || fail "UDP without endpoints: got [$out]"
pass "a UDP Service without endpoints fails at once ($out)"
udp_slice "{addresses: [$bridge_ip], conditions: {ready: true}}" | k apply -f - >/dev/null
wait_for "UDP answers again from the same source port" 10 udp_ok "$usrc"
pass "with the endpoint back, the same UDP flow reaches it (the rejected flow's entry was flushed)"

# --- metrics and health of the proxy
hp=$(grep -o 'proxy: healthz served address=http://[0-9.:]*' "$WORK/server.log" | head -1 | sed 's|.*http://||')
expect_contains "$(curl -s -m 5 "http://$hp/healthz")" "lastUpdated" "the proxy's /healthz answers"
expect_contains "$(curl -s -m 5 "http://$hp/metrics")" "kubeproxy_sync_proxy_rules_duration_seconds_bucket" "the proxy's /metrics has the sync histogram"

# --- stop: the table goes with skiff up
stop_server
expect_fail "table ip skiff removed when skiff up stops" nft list table ip skiff
finish
