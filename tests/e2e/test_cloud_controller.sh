#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The cloud controller manager with the `local` provider, against hollow nodes (server-only:
# no containerd). The test plays the machines' owner: it writes the inventory records
# (DATA_DIR/cloud/instances/<node>.json) that `skiff cluster create` will write. Routes are
# programmed in a network namespace the test creates (and deletes), never on the host.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hollow.sh"

NETNS=skiff-cct-$$
cleanup_netns() { ip netns del "$NETNS" 2>/dev/null || true; }
stop_ccm() {
  if [ -n "${CCM_PID:-}" ]; then kill "$CCM_PID" 2>/dev/null || true; wait "$CCM_PID" 2>/dev/null || true; fi
  CCM_PID=""
}
trap 'stop_hollow_agents; stop_ccm; cleanup_netns; cleanup' EXIT
# The "host bridge side": a namespace with an address on the nodes' network, so routes via
# the nodes' InternalIPs are valid next hops.
ip netns add "$NETNS"
ip -n "$NETNS" link add br0 type veth peer name br1
ip -n "$NETNS" addr add 10.99.0.1/24 dev br0
ip -n "$NETNS" link set br0 up
ip -n "$NETNS" link set br1 up

RANGE=10.44.255.200-10.44.255.201
SERVER_ARGS="--cloud-provider local --load-balancer-ip-range $RANGE --route-netns $NETNS \
  --route-reconciliation-period 1s --node-monitor-grace-period 4s --node-monitor-period 1s" start_server

INV=$WORK/data/cloud/instances
# instance NAME ZONE STATE IP
instance() {
  mkdir -p "$INV"
  cat >"$INV/$1.json.tmp" <<JSON
{"name":"$1","zone":"$2","region":"local","instanceType":"skiff.small","state":"$3",
 "addresses":[{"type":"InternalIP","address":"$4"}]}
JSON
  mv "$INV/$1.json.tmp" "$INV/$1.json"
}
instance cc-0 zone-a running 10.99.0.10
instance cc-1 zone-b running 10.99.0.11
TAINT=node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule
# Healthy nodes renew well within the 4 s grace period (every second).
HOLLOW_ARGS="--node-lease-duration-seconds 4"
start_hollow cc 3 --register-with-taints "$TAINT"

pid() { k get node "$1" -o jsonpath='{.spec.providerID}' 2>/dev/null; }
# is VALUE CMD...: CMD's output equals VALUE (for wait_for, which re-runs it)
is() { local want=$1; shift; [ "$("$@")" == "$want" ]; }
nonempty() { [ -n "$("$@")" ]; }
isnt() { local v=$1; shift; [ "$("$@")" != "$v" ]; }
taints() { k get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}:{.effect} {end}' 2>/dev/null; }
has_taint() { [[ "$(taints "$1")" == *"$2"* ]]; }
no_taint() { [[ "$(taints "$1")" != *"$2"* ]]; }
wait_for "cc-0 gets its providerID from the local provider" 30 is "skiff://kubernetes/cc-0" pid cc-0
wait_for "cc-1 too" 30 is "skiff://kubernetes/cc-1" pid cc-1
expect_eq "$(k get node cc-0 -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')" "zone-a" \
  "topology.kubernetes.io/zone from the inventory"
expect_eq "$(k get node cc-1 -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}/{.metadata.labels.topology\.kubernetes\.io/region}/{.metadata.labels.node\.kubernetes\.io/instance-type}')" \
  "zone-b/local/skiff.small" "region and instance-type labels too"
wait_for "the uninitialized taint is removed" 10 no_taint cc-0 uninitialized
expect_contains "$(k get events --field-selector involvedObject.name=cc-0 -o jsonpath='{range .items[*]}{.reason}={.message};{end}')" \
  "Synced=Node synced successfully" "Event Synced on the node"
sleep 2
expect_contains "$(taints cc-2)" "node.cloudprovider.kubernetes.io/uninitialized:NoSchedule" \
  "a node the provider does not know keeps the taint"
expect_eq "$(pid cc-2)" "" "and gets no providerID"
instance cc-2 zone-a running 10.99.0.12
wait_for "once its inventory record appears it is initialized" 30 is "skiff://kubernetes/cc-2" pid cc-2

# --- routes: each node's pod range via its InternalIP, in the given namespace only
cidr() { k get node "$1" -o jsonpath='{.spec.podCIDR}'; }
has_route() { ip -n "$NETNS" route show proto 199 | grep -q "^$1 via $2 "; }
net_reason() { k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="NetworkUnavailable")].reason}'; }
wait_for "cc-0 has a pod range" 20 nonempty cidr cc-0
wait_for "a route to cc-0's pod range via its InternalIP" 20 has_route "$(cidr cc-0)" 10.99.0.10
wait_for "and to cc-1's" 20 has_route "$(cidr cc-1)" 10.99.0.11
expect_not_contains "$(ip route show proto 199)" "10.99.0" "nothing is added to the host's own namespace"
reason_is() { [ "$(net_reason "$1")" == "$2" ]; }
wait_for "NetworkUnavailable reason RouteCreated on cc-0" 20 reason_is cc-0 RouteCreated
expect_eq "$(k get node cc-0 -o jsonpath='{.status.conditions[?(@.type=="NetworkUnavailable")].status}')" "False" \
  "with status False"

# --- LoadBalancer Services
lb_ip() { k get svc "$1" -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null; }
run k create service loadbalancer web --tcp=80:8080
wait_for "a LoadBalancer Service gets an ingress IP" 20 nonempty lb_ip web
WEB_IP=$(lb_ip web)
[[ "$WEB_IP" == 10.44.255.20[01] ]] || fail "ingress IP $WEB_IP is not from $RANGE"
pass "the address comes from --load-balancer-ip-range ($WEB_IP)"
expect_eq "$(k get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ipMode}')" "VIP" "ipMode VIP"
expect_eq "$(k get svc web -o jsonpath='{.metadata.finalizers}')" '["service.kubernetes.io/load-balancer-cleanup"]' \
  "the load-balancer-cleanup finalizer is added"
DESC=$(k describe svc web)
expect_contains "$DESC" "EnsuringLoadBalancer" "describe shows EnsuringLoadBalancer"
expect_contains "$DESC" "Ensured load balancer" "and EnsuredLoadBalancer"
expect_contains "$(k get svc web)" "$WEB_IP" "kubectl get svc shows the external IP"
lb_routed() { ip -n "$NETNS" route show proto 199 | grep -qE "^$1 via 10\.99\.0\.1[012] "; }
wait_for "the address is routed to one of the nodes in the namespace" 10 lb_routed "$WEB_IP"
run k create service loadbalancer web2 --tcp=80:8080
wait_for "a second one gets an address" 20 nonempty lb_ip web2
WEB2_IP=$(lb_ip web2)
[ "$WEB2_IP" != "$WEB_IP" ] || fail "both Services got $WEB_IP"
pass "a different one ($WEB2_IP)"
run k create service loadbalancer web3 --tcp=80:8080
pool_full_event() { k describe svc "$1" | grep -q "SyncLoadBalancerFailed.*no load balancer IP left in $RANGE"; }
wait_for "with the pool exhausted a third one gets Warning SyncLoadBalancerFailed" 20 pool_full_event web3
expect_eq "$(lb_ip web3)" "" "and no address"

run k delete svc web --wait=true --timeout=20s
expect_contains "$(k get events --field-selector involvedObject.name=web -o jsonpath='{range .items[*]}{.reason};{end}')" \
  "DeletingLoadBalancer;DeletedLoadBalancer" "deleting the Service releases its load balancer (Events)"
wait_for "the waiting Service gets the released address" 20 is "$WEB_IP" lb_ip web3

run k patch svc web2 -p '{"spec":{"type":"ClusterIP"}}'
wait_for "turning a Service into ClusterIP clears its ingress" 20 is "" lb_ip web2
expect_eq "$(k get svc web2 -o jsonpath='{.metadata.finalizers}')" "" "and removes the finalizer"
expect_contains "$(k describe svc web2)" "Deleted load balancer" "with Event DeletedLoadBalancer"

cat >"$WORK/web4.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: web4}
spec:
  type: LoadBalancer
  loadBalancerIP: $WEB2_IP
  allocateLoadBalancerNodePorts: false
  ports: [{port: 80}]
YAML
run k create -f "$WORK/web4.yaml"
wait_for "spec.loadBalancerIP is honoured (with allocateLoadBalancerNodePorts false)" 20 is "$WEB2_IP" lb_ip web4
cat >"$WORK/web5.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: web5}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/other
  ports: [{port: 80}]
YAML
run k create -f "$WORK/web5.yaml"
sleep 2
expect_eq "$(k get svc web5 -o jsonpath='{.status.loadBalancer.ingress}{.metadata.finalizers}')" "" \
  "a Service with another loadBalancerClass is left alone"

# --- load-balancer failover: the node the address is routed to stops -> routed elsewhere
lb_gw() { ip -n "$NETNS" route show proto 199 | awk -v d="$1" '$1 == d {print $3}'; }
WEB3_GW=$(lb_gw "$(lb_ip web3)")
[ -n "$WEB3_GW" ] || fail "web3's address is not routed"
WEB3_NODE=$(grep -l "\"$WEB3_GW\"" "$INV"/*.json | xargs -n1 basename | sed 's/\.json$//')
ZONE=$(k get node "$WEB3_NODE" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
START=$(date +%s%N)
instance "$WEB3_NODE" "$ZONE" stopped "$WEB3_GW"
wait_for "when its node's instance stops, web3's address is routed to another node" 10 isnt "$WEB3_GW" lb_gw "$(lb_ip web3)"
echo "# load-balancer failover took $(( ($(date +%s%N) - START) / 1000000 )) ms"
expect_contains "$(lb_gw "$(lb_ip web3)")" "10.99.0.1" "to a node of the cluster"
instance "$WEB3_NODE" "$ZONE" running "$WEB3_GW"

# --- node lifecycle: stopped instance -> shutdown taint; removed instance -> node deleted
ready() { k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
stop_hollow_node cc cc-1
wait_for "a stopped hollow node goes NotReady" 20 isnt "True" ready cc-1
instance cc-1 zone-b stopped 10.99.0.11
wait_for "its stopped instance gives it the shutdown taint" 20 has_taint cc-1 node.cloudprovider.kubernetes.io/shutdown
expect_contains "$(taints cc-1)" "node.cloudprovider.kubernetes.io/shutdown:NoSchedule" "with effect NoSchedule"
instance cc-1 zone-b running 10.99.0.11
curl -sf -X POST "$HOLLOW_CONTROL_cc/nodes/cc-1/start" >/dev/null || fail "could not start cc-1"
wait_for "running again and Ready, the shutdown taint is removed" 30 no_taint cc-1 shutdown

stop_hollow_node cc cc-0
rm "$INV/cc-0.json"
node_gone() { ! k get node "$1" >/dev/null 2>&1; }
wait_for "a NotReady node whose instance is gone is deleted" 30 node_gone cc-0
expect_contains "$(k get events --field-selector involvedObject.name=cc-0 -o jsonpath='{range .items[*]}{.reason}={.message};{end}')" \
  "DeletingNode=Deleting node cc-0 because it does not exist in the cloud provider" "Event DeletingNode"
no_route_via() { ! ip -n "$NETNS" route show proto 199 | grep -q "via $1 "; }
wait_for "its route is removed" 20 no_route_via 10.99.0.10

# --- the standalone process, with its own identity; allocations survive the restart
WEB3_IP=$(lb_ip web3)
stop_hollow_agents
stop_server
SERVER_ARGS="" start_server
"$SKIFF" cloud-controller-manager --kubeconfig "$WORK/data/kubeconfigs/cloud-controller-manager.kubeconfig" \
  --data-dir "$WORK/data" --cloud-provider local --load-balancer-ip-range "$RANGE" \
  --node-monitor-period 1s >>"$WORK/ccm.log" 2>&1 &
CCM_PID=$!
instance solo-0 zone-c running 10.99.0.20
start_hollow solo 1 --register-with-taints "$TAINT"
wait_for "skiff cloud-controller-manager (system:cloud-controller-manager) initializes a node" 30 \
  is "skiff://kubernetes/solo-0" pid solo-0
expect_eq "$(k auth can-i delete nodes --as system:cloud-controller-manager)" "yes" \
  "RBAC: system:cloud-controller-manager may delete nodes"
expect_eq "$(k auth can-i patch services/status --as system:cloud-controller-manager)" "yes" "and patch services/status"
expect_eq "$(k auth can-i delete pods --as system:cloud-controller-manager 2>/dev/null || true)" "no" "but not delete pods"
run k create service loadbalancer web6 --tcp=80:8080
sleep 3
expect_eq "$(lb_ip web3)" "$WEB3_IP" "after the restart a Service keeps its address"
expect_eq "$(lb_ip web6)" "" "and addresses held are never handed out twice (pool still full)"
expect_contains "$(k describe svc web6)" "SyncLoadBalancerFailed" "the new Service reports the full pool"
stop_ccm
finish
