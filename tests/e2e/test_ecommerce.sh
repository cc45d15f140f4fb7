#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The issue's e-commerce scenario, end to end on `skiff cluster create --nodes 3` with the real
# kubectl: auth, catalog and payments Deployments (3 replicas spread over the nodes, readiness
# probes) behind ClusterIP Services and a `storefront` LoadBalancer in front of catalog; every
# name answers from a client pod; each backend pod answers; the load-balancer address answers
# from the host; a rolling update and its undo under a continuous request loop lose nothing;
# losing node 2 re-creates its pods elsewhere and traffic recovers within the
# node-monitor-grace-period + 10 s; delete leaves the host as it was.
# Real nodes: only one such test at a time on the machine (the lock below).
if [ -z "${SKIFF_NODE_LOCK_HELD:-}" ]; then
  exec env SKIFF_NODE_LOCK_HELD=1 flock /tmp/skiff-node-test.lock bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
CLUSTER_PREFIX=shop source "$(dirname "$0")/cluster.sh"

GRACE=8  # --node-monitor-grace-period, shortened so that node loss is seen quickly
: >"$WORK/resolv.conf"  # no upstream nameserver: no query leaves the machine
BEFORE=$(host_state)
run "$SKIFF" cluster create --name "$NAME" --nodes 3 --data-dir "$CDIR" --timeout 90s \
  --node-monitor-grace-period ${GRACE}s --dns-resolv-conf "$WORK/resolv.conf"
expect_contains "$OUT" "3 node(s) Ready" "cluster of three nodes created"
N2=$NAME-node-2

# shop_app NAME VERSION: a busybox httpd on 8080 whose page is "NAME VERSION POD". Spread
# over the nodes (ScheduleAnyway: when a node is lost its pods must still find a place; a
# DoNotSchedule constraint would count the lost node as an empty domain and leave them
# Pending). A readiness probe on the page; the pod stays in the Service for a moment after
# it is told to stop (preStop), so that no proxy sends it a request it will not answer; it
# leaves a lost node at once (tolerationSeconds 0) instead of after the default 300 s.
shop_app() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: 3
  selector: {matchLabels: {app: $1}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
         labelSelector: {matchLabels: {app: $1}}}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 0}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 0}
      containers:
      - name: httpd
        image: busybox:1.36
        env: [{name: VERSION, value: $2}]
        command: [sh, -c, 'mkdir -p /www && echo "$1 \$VERSION \$(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www']
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
        lifecycle: {preStop: {exec: {command: [sleep, "2"]}}}
---
apiVersion: v1
kind: Service
metadata: {name: $1}
spec:
  selector: {app: $1}
  ports: [{port: 80, targetPort: 8080}]
EOF
}
{
  shop_app auth v1; echo ---; shop_app catalog v1; echo ---; shop_app payments v1; echo ---
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: storefront}
spec:
  type: LoadBalancer
  selector: {app: catalog}
  ports: [{port: 80, targetPort: 8080}]
---
EOF
  client_pod client "$NAME-node-1"
} >"$WORK/shop.yaml"
run kc apply -f "$WORK/shop.yaml"
for d in auth catalog payments; do run kc rollout status "deployment/$d" --timeout=90s; done
run kc wait --for=condition=Ready pod/client --timeout=60s
pass "auth, catalog and payments rolled out; client Running"
for d in auth catalog payments; do
  SPREAD=$(kc get pods -l "app=$d" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | grep -c .)
  expect_eq "$SPREAD" "3" "$d's replicas spread over the three nodes"
done

# ---- every Service by name, every backend pod -------------------------------------------
# Rollout status says the pods are Ready; the proxies learn it from the EndpointSlices (and
# apply it within their --min-sync-period of 1 s).
ready_endpoints() { kc get endpointslices -l "kubernetes.io/service-name=$1" -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' | grep -c .; }
three_ready() { [ "$(ready_endpoints "$1")" == "3" ]; }
for d in auth catalog payments; do wait_for "three ready endpoints of $d" 30 three_ready "$d"; done
sleep 2
# in_client N URL: N requests from the client pod, one line each ("FAIL" for a failure).
in_client() {
  kc exec client -- sh -c "for i in \$(seq $1); do timeout 3 wget -qO- '$2' 2>/dev/null || echo FAIL; done"
}
for d in auth catalog payments; do
  run in_client 1 "http://$d/"
  expect_contains "$OUT" "$d v1 " "$d answers by short name"
  run in_client 1 "http://$d.default.svc.cluster.local/"
  expect_contains "$OUT" "$d v1 " "$d answers by FQDN"
  run in_client 60 "http://$d/"
  expect_not_contains "$OUT" "FAIL" "60 requests to $d all succeed"
  for pod in $(kc get pods -l "app=$d" -o jsonpath='{.items[*].metadata.name}'); do
    [[ "$OUT" == *" $pod"* ]] || fail "$d pod $pod never answered in 60 requests"
  done
  pass "each of $d's three pods answered"
done

# ---- the LoadBalancer -----------------------------------------------------------------
lb_ip() { kc get svc storefront -o jsonpath='{.status.loadBalancer.ingress[0].ip}'; }
has_lb_ip() { [ -n "$(lb_ip)" ]; }
wait_for "storefront gets a load-balancer address" 30 has_lb_ip
LB=$(lb_ip)
expect_contains "$LB" "172.31." "the address comes from the cluster bridge's subnet"
expect_eq "$(kc get svc storefront -o jsonpath='{.spec.ports[0].nodePort}' | grep -c .)" "1" \
  "storefront has a node port (allocateLoadBalancerNodePorts defaults to true)"
EVENTS=$(kc get events --field-selector involvedObject.name=storefront -o jsonpath='{range .items[*]}{.reason} {end}')
expect_contains "$EVENTS" "EnsuringLoadBalancer" "Event EnsuringLoadBalancer"
expect_contains "$EVENTS" "EnsuredLoadBalancer" "Event EnsuredLoadBalancer"
from_host() { timeout 3 wget -qO- "http://$LB/" 2>/dev/null || echo FAIL; }
lb_answers() { [[ "$(from_host)" == "catalog "* ]]; }
wait_for "the load-balancer address answers from the host" 20 lb_answers
OUT=""; for _ in $(seq 20); do OUT+="$(from_host)"$'\n'; done
expect_not_contains "$OUT" "FAIL" "20 requests from the host to $LB all succeed"
expect_eq "$(grep -c '^catalog v1 ' <<<"$OUT")" "20" "the host's requests reach catalog"
# Upstream's opt-out of node ports for load balancers that do not need them.
run kc create service loadbalancer nonp --tcp=80:8080
run kc patch svc nonp -p '{"spec":{"allocateLoadBalancerNodePorts":false}}'
run kc create -f - <<EOF
apiVersion: v1
kind: Service
metadata: {name: nonp2}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false
  selector: {app: catalog}
  ports: [{port: 80, targetPort: 8080}]
EOF
expect_eq "$(kc get svc nonp2 -o jsonpath='{.spec.ports[0].nodePort}')" "" \
  "allocateLoadBalancerNodePorts false: no node port allocated"
expect_contains "$(kc get svc nonp -o jsonpath='{.spec.ports[0].nodePort}')" "3" \
  "turning it off later keeps the node port it had"
run kc delete svc nonp nonp2

# ---- rolling update and undo under a continuous request loop ----------------------------
# loop_start: requests to catalog from the client pod until /tmp/stop exists, one line each.
loop_start() {
  kc exec client -- rm -f /tmp/stop
  kc exec client -- sh -c 'while [ ! -f /tmp/stop ]; do timeout 3 wget -qO- http://catalog/ 2>/dev/null || echo FAIL; sleep 0.05; done' \
    >"$WORK/loop.out" 2>&1 &
  LOOP_PID=$!
  BG_PIDS="${BG_PIDS:-} $LOOP_PID"
  sleep 1
}
loop_stop() {
  sleep 1
  kc exec client -- touch /tmp/stop
  wait "$LOOP_PID" || true
  LOOP=$(cat "$WORK/loop.out")
  # On a failure, where in the run the failed requests were (numbered lines) and what the
  # Service's endpoints looked like, for whoever reads the log.
  if grep -q FAIL <<<"$LOOP"; then
    grep -n . <<<"$LOOP" | sed 's/^/loop: /' >&2
    kc get endpointslices -l kubernetes.io/service-name=catalog -o wide >&2 || true
    kc get events --sort-by=.lastTimestamp 2>&1 | tail -40 >&2 || true
  fi
}
loop_start
run kc set env deployment/catalog VERSION=v2
run kc rollout status deployment/catalog --timeout=120s
loop_stop
TOTAL=$(grep -c . <<<"$LOOP")
expect_eq "$(grep -c FAIL <<<"$LOOP")" "0" "rolling update v1 -> v2: none of $TOTAL requests failed"
expect_contains "$(head -3 <<<"$LOOP")" "catalog v1 " "responses came from v1 before"
expect_contains "$(tail -3 <<<"$LOOP")" "catalog v2 " "and from v2 after"

loop_start
run kc rollout undo deployment/catalog
run kc rollout status deployment/catalog --timeout=120s
loop_stop
TOTAL=$(grep -c . <<<"$LOOP")
expect_eq "$(grep -c FAIL <<<"$LOOP")" "0" "rollout undo: none of $TOTAL requests failed"
expect_contains "$(tail -3 <<<"$LOOP")" "catalog v1 " "responses are from v1 again after the undo"

# ---- losing node 2 ----------------------------------------------------------------------
N2IP=$(kc get node "$N2" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
LB_VIA=$(ip -4 route get "$LB" | sed -n 's/.* via \([0-9.]*\) .*/\1/p')
T0=$(date +%s.%N)
run "$SKIFF" cluster stop-node node-2 --name "$NAME" --data-dir "$CDIR"
lb_not_via_n2() { ! ip -4 route get "$LB" | grep -q "via $N2IP "; }
wait_for "the load-balancer route leaves the stopped node" 5 lb_not_via_n2
pass "load-balancer route off node 2 after $(python3 -c "import time;print(round(time.time()-$T0,1))")s (was via $LB_VIA)"
# all_answer: 10 requests to each Service from the client pod and 10 to the LB from the host.
all_answer() {
  local d out
  for d in auth catalog payments; do
    out=$(in_client 10 "http://$d/") || return 1
    [[ "$out" != *FAIL* ]] || return 1
  done
  for _ in $(seq 10); do lb_answers || return 1; done
}
DEADLINE=$((GRACE + 10))
RECOVERED=""
while :; do
  NOW=$(python3 -c "print(round($(date +%s.%N)-$T0,1))")
  if all_answer; then RECOVERED=$NOW; break; fi
  python3 -c "import sys;sys.exit(0 if $NOW < $DEADLINE else 1)" || break
done
[ -n "$RECOVERED" ] || fail "Services and the load balancer did not all answer within ${DEADLINE}s of stop-node"
pass "every Service and the load balancer answer again ${RECOVERED}s after stop-node (limit ${DEADLINE}s)"
# Its pods are replaced on the other nodes.
replaced() {
  local d
  for d in auth catalog payments; do
    [ "$(kc get deploy "$d" -o jsonpath='{.status.readyReplicas}')" == "3" ] || return 1
  done
  # Every pod that is not being deleted runs off node 2.
  [ -z "$(kc get pods -l 'app in (auth,catalog,payments)' -o jsonpath="{range .items[?(@.spec.nodeName==\"$N2\")]}{.metadata.name}{' '}{.metadata.deletionTimestamp}{'\n'}{end}" | awk 'NF==1')" ]
}
wait_for "node 2's pods re-created on the other nodes, 3 ready replicas each" 60 replaced
pass "node 2's pods re-created elsewhere"
for d in auth catalog payments; do
  run in_client 30 "http://$d/"
  expect_not_contains "$OUT" "FAIL" "after the loss: 30 requests to $d all succeed"
done
OUT=""; for _ in $(seq 20); do OUT+="$(from_host)"$'\n'; done
expect_not_contains "$OUT" "FAIL" "after the loss: 20 requests to the load balancer all succeed"

delete_and_compare "$BEFORE"
finish
