#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# `skiff cluster`: a 3-node cluster on this machine (each node a network namespace with its own
# containerd, kubelet, proxy and DNS), pod traffic across nodes by pod IP, ClusterIP and DNS
# name, the host's nft guard, stop-node/start-node, and a delete that leaves the host as it was.
# Real nodes: only one such test at a time on the machine (the lock below).
if [ -z "${SKIFF_NODE_LOCK_HELD:-}" ]; then
  exec env SKIFF_NODE_LOCK_HELD=1 flock /tmp/skiff-node-test.lock bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
node_ready() { kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
is_ready() { [ "$(node_ready "$1")" == "True" ]; }
not_ready() { [ "$(node_ready "$1")" != "True" ]; }
phase_is_c() { [ "$(kc get pod client -o jsonpath='{.status.phase}')" == "Running" ]; }

: >"$WORK/resolv.conf"  # no upstream nameserver: no query leaves the machine
BEFORE=$(host_state)

# ---- bad input --------------------------------------------------------------------------
expect_fail "invalid cluster name refused" "$SKIFF" cluster create --name "Bad_Name" --data-dir "$CDIR"
expect_contains "$OUT" "invalid --name" "invalid name error says why"
expect_fail "an unknown cloud provider refused" "$SKIFF" cluster create --name "$NAME" --cloud-provider aws --data-dir "$CDIR"
expect_fail "a zone that is no label value refused" "$SKIFF" cluster create --name "$NAME" --zones "a b" --data-dir "$CDIR"
expect_contains "$OUT" 'invalid zone "a b"' "bad zone error names it"
expect_fail "a bad load-balancer range refused" "$SKIFF" cluster create --name "$NAME" --load-balancer-ip-range 10.0.0.9-10.0.0.1 --data-dir "$CDIR"
expect_contains "$OUT" "invalid --load-balancer-ip-range" "bad range error names the flag"
expect_fail "zero nodes refused" "$SKIFF" cluster create --name "$NAME" --nodes 0 --data-dir "$CDIR"
expect_fail "deleting an unknown cluster fails" "$SKIFF" cluster delete --name nosuch --data-dir "$CDIR"
expect_contains "$OUT" 'no cluster "nosuch"' "unknown cluster error names it"

expect_fail "create past its timeout fails" "$SKIFF" cluster create --name "$NAME" --nodes 1 \
  --data-dir "$CDIR" --timeout 1ms --dns-resolv-conf "$WORK/resolv.conf"
expect_contains "$OUT" "in time" "timeout error says what did not happen in time"
expect_contains "$OUT" "removing what was created" "a failed create rolls back"
[ ! -e "$CDIR/$NAME" ] && [ ! -e "/sys/class/net/sk-$NAME" ] && [ ! -e "/run/netns/skiff-$NAME-node-1" ] ||
  fail "a failed create left its folder, bridge or namespace"
pass "a failed create leaves no folder, bridge or namespace"

# ---- create -----------------------------------------------------------------------------
run "$SKIFF" cluster create --name "$NAME" --nodes 3 --data-dir "$CDIR" --timeout 90s \
  --node-monitor-grace-period 8s --dns-resolv-conf "$WORK/resolv.conf"
expect_contains "$OUT" "kubectl --kubeconfig $KCFG get nodes" "create prints how to use the cluster"
expect_contains "$OUT" "3 node(s) Ready" "create returns with every node Ready"
PODRANGE=$(sed -n 's/.*pods in \([0-9./]*\)).*/\1/p' <<<"$OUT")
[ -n "$PODRANGE" ] || fail "create output names no pod range: $OUT"
expect_fail "a second create of the same name fails" "$SKIFF" cluster create --name "$NAME" --data-dir "$CDIR"
expect_contains "$OUT" "already exists" "duplicate create error"

READY=$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
expect_eq "$READY" "3" "three nodes Ready"
IPS=$(kc get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' | sort -u | grep -c .)
expect_eq "$IPS" "3" "three distinct InternalIPs"
CIDRS=$(kc get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR}{"\n"}{end}' | sort -u | grep -c .)
expect_eq "$CIDRS" "3" "three distinct pod CIDRs"
# Nodes joined as remote machines do: bootstrap token → CSR auto-approved → own certificate.
CSRS=$(kc get csr -o jsonpath='{range .items[*]}{.spec.username} {.status.conditions[0].type} {.status.conditions[0].reason}{"\n"}{end}')
expect_eq "$(grep -c '^system:bootstrap:[a-z0-9]\{6\} Approved AutoApproved$' <<<"$CSRS")" "3" "each node joined with the bootstrap token: CSR auto-approved"
SUBJECT=$(openssl x509 -noout -subject -in "$CDIR/$NAME/nodes/$NAME-node-2/kubelet/pki/kubelet-client.crt")
expect_contains "$SUBJECT" "CN = system:node:$NAME-node-2" "node 2 holds its own signed node certificate"
run "$SKIFF" cluster list --data-dir "$CDIR"
expect_eq "$(grep -c "$NAME-node-.*running" <<<"$OUT")" "3" "cluster list shows three running nodes"

INSTANCES=$CDIR/$NAME/server/cloud/instances
record() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$INSTANCES/$1.json" "$2"; }
expect_eq "$(record "$NAME-node-2" podCIDR)" "$(kc get node "$NAME-node-2" -o jsonpath='{.spec.podCIDR}')" \
  "the cloud inventory record carries the node's pod CIDR"
expect_eq "$(record "$NAME-node-2" state)/$(record "$NAME-node-2" netns)" "running/skiff-$NAME-node-2" \
  "the cloud inventory record says running and names the namespace"
# ---- the cloud controller manager (local provider) in the control plane -----------------
expect_eq "$(kc get node "$NAME-node-2" -o jsonpath='{.spec.providerID}')" "skiff://$NAME/$NAME-node-2" \
  "the cloud node controller gives node 2 its providerID"
expect_eq "$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.labels.topology\.kubernetes\.io/zone}{" "}{end}')" \
  "zone-a zone-b zone-c " "zones spread over the nodes"
expect_not_contains "$(kc get nodes -o jsonpath='{.items[*].spec.taints}')" "uninitialized" \
  "no node keeps the uninitialized taint"
expect_eq "$(kc get node "$NAME-node-1" -o jsonpath='{.status.conditions[?(@.type=="NetworkUnavailable")].reason}')" \
  "RouteCreated" "the route controller reports node 1's route"
CIDR2=$(kc get node "$NAME-node-2" -o jsonpath='{.spec.podCIDR}')
expect_contains "$(ip route show proto 199)" "$CIDR2 via 172.31." "host route to node 2's pods (route controller)"
expect_contains "$(ip -n "skiff-$NAME-node-1" route show proto 199)" "$CIDR2 via 172.31." \
  "node 1's namespace routes node 2's pods directly"
expect_not_contains "$(ip -n "skiff-$NAME-node-2" route show proto 199)" "$CIDR2" \
  "node 2 gets no route to its own pods"

# Pod traffic to other nodes' pods keeps its source address: only traffic leaving the
# cluster's pod range is masqueraded.
run ip netns exec "skiff-$NAME-node-1" nft list table ip skiff-node
expect_contains "$OUT" "ip daddr != $PODRANGE" "node masquerade leaves the cluster's pod range alone"

# ---- the host never forwards cluster traffic elsewhere ----------------------------------
# 198.51.100.0/24 is a documentation range: nothing answers there even if it leaked.
TABLE=skiff-cluster-$NAME
# The drop only shows while the host forwards at all: every node host does once the CNI
# bridge plugin set up a pod (it turns forwarding on), but on a fresh machine where no pod
# ran yet it is off and nothing reaches the forward hook. Turn it on as the plugin would.
sysctl -qw net.ipv4.ip_forward=1
dropped() { nft list table inet "$TABLE" | awk '$1=="iifname" && /drop/ {for (i=1;i<=NF;i++) if ($i=="packets") print $(i+1)}'; }
D0=$(dropped)
ip netns exec "skiff-$NAME-node-1" timeout 3 bash -c "echo >/dev/tcp/198.51.100.7/80" 2>/dev/null || true
D1=$(dropped)
[ "$D1" -gt "$D0" ] || fail "forwarding from the cluster bridge to the outside was not dropped ($D0 -> $D1)"
pass "host drops node traffic bound for other interfaces ($D0 -> $D1 packets)"

# ---- workloads spread over the nodes ---------------------------------------------------
web_deployment web 3 | python3 -c '
import sys
y = sys.stdin.read()
# Required anti-affinity: one replica per node.
y = y.replace("      terminationGracePeriodSeconds: 1\n", """      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname
""")
print(y)' >"$WORK/web.yaml"
run kc apply -f "$WORK/web.yaml"
run kc expose deployment web --port 80 --target-port 8080
client_pod client "$NAME-node-1" >"$WORK/client.yaml"
run kc apply -f "$WORK/client.yaml"
run kc rollout status deployment/web --timeout=90s
wait_for "client pod Running" 60 phase_is_c
NODES=$(kc get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | grep -c .)
expect_eq "$NODES" "3" "web replicas spread over three nodes"

REMOTE_POD=$(kc get pods -l app=web -o jsonpath="{range .items[?(@.spec.nodeName==\"$NAME-node-2\")]}{.metadata.name}{end}")
REMOTE_IP=$(kc get pod "$REMOTE_POD" -o jsonpath='{.status.podIP}')
run kc exec client -- wget -qO- "http://$REMOTE_IP:8080/"
expect_eq "$OUT" "$REMOTE_POD" "pod on node 1 reaches a pod on node 2 by pod IP"

SVC_IP=$(kc get svc web -o jsonpath='{.spec.clusterIP}')
ready_endpoints() { kc get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' | grep -c .; }
three_endpoints() { [ "$(ready_endpoints)" == "3" ]; }
wait_for "three ready endpoints of web" 30 three_endpoints
# Every request must succeed; the proxy spreads them, so a pod on another node answers too.
LOCAL_POD=$(kc get pods -l app=web -o jsonpath="{range .items[?(@.spec.nodeName==\"$NAME-node-1\")]}{.metadata.name}{end}")
SEEN="" REMOTE=""
for _ in $(seq 1 30); do
  R=$(kc exec client -- wget -qO- "http://$SVC_IP/" 2>/dev/null) || fail "ClusterIP request failed"
  SEEN="$SEEN $R"
  if [ "$R" != "$LOCAL_POD" ]; then REMOTE=$R; break; fi
done
[ -n "$REMOTE" ] || fail "ClusterIP answered only from the local pod:$SEEN"
pass "ClusterIP Service from node 1 answers from $REMOTE on another node"
run kc exec client -- wget -qO- "http://web.default.svc.cluster.local/"
expect_contains "$OUT" "web-" "Service DNS name resolves and answers from a node namespace"

# ---- NetworkPolicy on the nodes (their enforcement watches with its own identity) --------
expect_eq "$(kc auth can-i list networkpolicies --all-namespaces --as skiff:network-policy-agent)" "yes" \
  "the nodes' NetworkPolicy identity may list NetworkPolicies cluster-wide"
kc apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-frontend}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {role: frontend}}}]}]
EOF
refused() { ! kc exec client -- timeout 2 wget -qO- "http://$REMOTE_IP:8080/" >/dev/null 2>&1; }
wait_for "a NetworkPolicy on node 2 refuses the unlabelled client on node 1" 20 refused
run kc label pod client role=frontend
allowed() { kc exec client -- timeout 2 wget -qO- "http://$REMOTE_IP:8080/" >/dev/null 2>&1; }
wait_for "the client labelled role=frontend is let in" 20 allowed
pass "NetworkPolicy enforced on a cluster node: refused, then allowed by label"
run kc delete networkpolicy web-from-frontend
expect_eq "$(cat "$CDIR/$NAME"/nodes/*/agent.log | grep -c 'forbidden.*\(networkpolicies\|namespaces\)')" "0" \
  "no node's policy watch is forbidden"

# Each node's pods live under a cgroup parent of its own.
CG=/sys/fs/cgroup/memory
[ -e /sys/fs/cgroup/cgroup.controllers ] && CG=/sys/fs/cgroup
PODCG=$(find "$CG/skiff-$NAME-node-1" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | grep -c .)
[ "$PODCG" -ge 2 ] || fail "node 1's pods are not under its cgroup parent ($PODCG cgroups in $CG/skiff-$NAME-node-1)"
pass "node 1's pod cgroups are under skiff-$NAME-node-1 ($PODCG)"

# ---- stop-node / start-node -------------------------------------------------------------
run "$SKIFF" cluster stop-node "$NAME-node-3" --name "$NAME" --data-dir "$CDIR"
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  expect_eq "$(cat "/sys/fs/cgroup/skiff-$NAME-node-3/cgroup.freeze")" "1" "stopped node's pods are frozen"
else
  expect_eq "$(cat "/sys/fs/cgroup/freezer/skiff-$NAME-node-3/freezer.state")" "FROZEN" "stopped node's pods are frozen"
fi
wait_for "node 3 NotReady after stop-node" 60 not_ready "$NAME-node-3"
pass "stopped node goes NotReady ($(node_ready "$NAME-node-3"))"
run "$SKIFF" cluster list --data-dir "$CDIR"
expect_contains "$OUT" "powered off" "cluster list shows the stopped node"
expect_eq "$(record "$NAME-node-3" state)" "stopped" "the stopped machine's inventory record says stopped"
shutdown_taint() { [[ "$(kc get node "$NAME-node-3" -o jsonpath='{.spec.taints[*].key}')" == *node.cloudprovider.kubernetes.io/shutdown* ]]; }
wait_for "the shutdown taint on the stopped node" 30 shutdown_taint
run "$SKIFF" cluster start-node node-3 --name "$NAME" --data-dir "$CDIR"
wait_for "node 3 Ready after start-node" 60 is_ready "$NAME-node-3"
pass "started node is Ready again"
expect_eq "$(record "$NAME-node-3" state)" "running" "the started machine's record says running"
no_shutdown_taint() { ! shutdown_taint; }
wait_for "the shutdown taint goes once node 3 runs again" 30 no_shutdown_taint
expect_fail "stop-node of an unknown node fails" "$SKIFF" cluster stop-node nosuch --name "$NAME" --data-dir "$CDIR"
expect_contains "$OUT" 'has no node "nosuch"' "unknown node error names it"

# ---- delete -----------------------------------------------------------------------------
delete_and_compare "$BEFORE"
finish
