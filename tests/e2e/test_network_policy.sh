#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# NetworkPolicy enforced on the node inside `skiff up` (nftables table ip skiff-policy):
# default-deny ingress, allows by podSelector, namespaceSelector, named port and ipBlock with
# except, the same verdicts through a Service's cluster IP (checked after DNAT), egress
# default deny including cluster DNS until port 53 is allowed, and access back once the
# policies are gone. Traffic goes only to addresses this test created (pods, Services) and
# the cluster DNS address 10.43.0.10.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, nftables)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
# One node test at a time on this machine (shared bridge, pod range, nftables tables).
others() { pgrep -f ' up --data-dir /tmp/skiff-e2e|skiff proxy --kubeconfig' >/dev/null; }
for _ in $(seq 1 150); do others || break; sleep 2; done
if others; then echo "another skiff node runs on this machine"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
start_up --proxy-min-sync-period 200ms --proxy-healthz-bind-address "127.0.0.1:$(free_port)"

# --- the API side: invalid policies are refused (422), valid ones round-trip with kubectl
bad() {
  cat <<EOF2 | k apply -f - 2>&1 || true
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec: {podSelector: {}, ingress: [$1]}
EOF2
}
expect_contains "$(bad '{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]}')" \
  'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`' \
  "an ipBlock except outside its cidr is refused"
expect_contains "$(bad '{ports: [{port: 90, endPort: 80}]}')" \
  'must be greater than or equal to `port`' "endPort below port is refused"
expect_contains "$(bad '{ports: [{port: http, endPort: 90}]}')" \
  'may not be specified when `port` is non-numeric' "endPort with a named port is refused"
expect_contains "$(bad '{from: [{podSelector: {matchExpressions: [{key: a, operator: Bogus}]}}]}')" \
  'spec.ingress[0].from[0].podSelector.matchExpressions[0].operator' "a bad selector operator is refused"
cat <<'EOF2' | k apply -f - >/dev/null
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: roundtrip}
spec:
  podSelector: {matchLabels: {app: none}}
  egress: [{to: [{ipBlock: {cidr: 10.99.0.0/16, except: [10.99.1.0/24]}}], ports: [{port: 80, endPort: 90}]}]
EOF2
expect_eq "$(k get netpol roundtrip -o jsonpath='{.spec.policyTypes} {.spec.egress[0].ports[0].protocol} {.spec.egress[0].to[0].ipBlock.except[0]} {.spec.egress[0].ports[0].endPort}')" \
  '["Ingress","Egress"] TCP 10.99.1.0/24 90' "a policy round-trips with its defaults (policyTypes, TCP)"
k delete netpol roundtrip >/dev/null

cat >"$WORK/pods.yaml" <<'EOF2'
apiVersion: v1
kind: Namespace
metadata: {name: friends, labels: {team: friends}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: 8080}]
EOF2
# sleeper METADATA: a pod that only sleeps (the clients that probe the server)
sleeper() {
  printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: %s\nspec:\n  terminationGracePeriodSeconds: 1\n' "$1"
  printf '  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]\n'
}
{
  sleeper '{name: client, labels: {role: client}}'
  sleeper '{name: stranger, labels: {role: other}}'
  sleeper '{name: friend, namespace: friends}'
} >>"$WORK/pods.yaml"
k apply -f "$WORK/pods.yaml" >/dev/null
for p in server client stranger; do wait_for "$p Running" 90 phase_is "$p" Running; done
wait_for "friend Running" 90 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig -n friends get pod friend -o jsonpath='{.status.phase}')\" = Running ]"
sip=$(k get pod server -o jsonpath='{.status.podIP}')
strip=$(k get pod stranger -o jsonpath='{.status.podIP}')
cip=$(k get svc server -o jsonpath='{.spec.clusterIP}')
expect_contains "$sip" "10.42." "the server has a pod address"

# probe NS POD CMD: CMD run in the pod, bounded by 5 s; prints its output, or FAILED
probe() { kubectl --kubeconfig "$WORK/data/kubeconfig" -n "$1" exec "$2" -- sh -c "timeout 5 $3 2>/dev/null || echo FAILED"; }
# get NS POD URL: one request; prints the page or FAILED
get() { probe "$1" "$2" "wget -qO- $3"; }
server_ready() { [ "$(k get pod server -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
reaches() { [ "$(get "$@")" == hello ]; }
# allowed NS POD URL WHAT / blocked NS POD URL WHAT
allowed() { wait_for "$4" 15 reaches "$1" "$2" "$3"; pass "$4"; }
blocked() { expect_eq "$(get "$1" "$2" "$3")" FAILED "$4"; }
policy() { k apply -f - >/dev/null; sleep 1; }  # rules follow within the 200ms sync period

wait_for "server ready" 30 server_ready
allowed default stranger "http://$sip:8080/" "without policies any pod reaches the server"
allowed default client "http://$cip/" "without policies the Service answers"

# --- ingress default deny
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress}
spec: {podSelector: {}, policyTypes: [Ingress]}
EOF2
run nft list table ip skiff-policy
expect_contains "$OUT" "$sip : jump ingress-" "the server's address maps to its ingress chain"
blocked default client "http://$sip:8080/" "default-deny ingress blocks the client"
allowed default server "http://127.0.0.1:8080/" "the server reaches itself on loopback"
server_ready || fail "the readiness probe from the node must keep passing"
pass "probes from the node still pass under default deny (node addresses allowed)"

# --- allow by podSelector + port, by namespaceSelector
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-clients}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{protocol: TCP, port: 8080}]
  - from: [{namespaceSelector: {matchLabels: {team: friends}}}]
EOF2
allowed default client "http://$sip:8080/" "a podSelector rule admits the labelled client"
blocked default stranger "http://$sip:8080/" "a pod without the label stays blocked"
allowed friends friend "http://$sip:8080/" "a namespaceSelector rule admits a pod of the labelled namespace"
# --- through the Service: the verdict is taken after DNAT, against the real pod
allowed default client "http://$cip/" "through the cluster IP the admitted client gets in"
blocked default stranger "http://$cip/" "through the cluster IP the blocked pod stays out"

# --- named port: resolved against the server's container port "http"
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-clients}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
EOF2
allowed default client "http://$sip:8080/" "a named port admits the client"

# --- ipBlock with except
k delete networkpolicy allow-clients >/dev/null
policy <<EOF2
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-cidr}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{ipBlock: {cidr: 10.42.0.0/16, except: [$strip/32]}}]
EOF2
allowed default client "http://$sip:8080/" "an ipBlock admits a pod inside its cidr"
blocked default stranger "http://$sip:8080/" "an ipBlock's except keeps that pod out"
k delete networkpolicy deny-ingress allow-cidr >/dev/null
sleep 1

# --- egress default deny, DNS included, then port 53 and the server allowed
lookup() { probe default client "nslookup server.default.svc.cluster.local 10.43.0.10 >/dev/null && echo OK"; }
dns_ok() { [ "$(lookup)" == OK ]; }
wait_for "DNS answers the client" 15 dns_ok
pass "without policies the client resolves names"
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress}
spec: {podSelector: {matchLabels: {role: client}}, policyTypes: [Egress]}
EOF2
blocked default client "http://$sip:8080/" "default-deny egress blocks the client's requests"
expect_eq "$(lookup)" FAILED "default-deny egress blocks DNS to 10.43.0.10:53"
allowed default stranger "http://$sip:8080/" "pods the egress policy does not select are unaffected"
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress: [{ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]
EOF2
wait_for "DNS allowed again" 10 dns_ok
pass "an egress rule for port 53 lets DNS through"
blocked default client "http://$sip:8080/" "the server is still out of the client's egress"
policy <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-server}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: server}}}], ports: [{port: 8000, endPort: 8100}]}]
EOF2
allowed default client "http://$cip/" "an egress rule with a port range admits the Service's pod"

# --- every policy gone: access is back
k delete networkpolicy --all >/dev/null
allowed default client "http://$sip:8080/" "after deleting the policies the client reaches the server"
allowed default stranger "http://$cip/" "after deleting the policies the Service answers everyone"

stop_server
expect_fail "table ip skiff-policy removed when skiff up stops" nft list table ip skiff-policy
finish
