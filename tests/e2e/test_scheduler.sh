#!/usr/bin/env bash
# The scheduler inside `skiff server`: binds pending pods to fitting nodes through
# pods/binding, honours requests, nodeSelector and taints, reports FailedScheduling with
# upstream's message, and retries when the cluster changes.
source "$(dirname "$0")/lib.sh"
SERVER_ARGS=--leader-elect start_server
for _ in $(seq 1 50); do k -n kube-system get lease kube-scheduler >/dev/null 2>&1 && break; sleep 0.1; done
expect_contains "$(k -n kube-system get lease kube-scheduler -o jsonpath='{.spec.holderIdentity}')" "_" "with --leader-elect the scheduler holds the kube-scheduler Lease"

node() {  # node NAME CPU LABELS_JSON [TAINTS_JSON]
  echo "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\",\"labels\":$3},
    \"spec\":{\"taints\":${4:-[]}},
    \"status\":{\"capacity\":{\"cpu\":\"$2\",\"memory\":\"8Gi\",\"pods\":\"110\"},
    \"allocatable\":{\"cpu\":\"$2\",\"memory\":\"8Gi\",\"pods\":\"110\"},
    \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >"$WORK/$1.json"
  k create -f "$WORK/$1.json" >/dev/null
}
pod() {  # pod NAME CPU [EXTRA_SPEC_JSON]
  echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"app\":\"demo\"}},
    \"spec\":{${3:-}\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\",
    \"resources\":{\"requests\":{\"cpu\":\"$2\"}}}]}}" >"$WORK/pod-$1.json"
  k create -f "$WORK/pod-$1.json" >/dev/null
}
node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; }
wait_bound() {
  for _ in $(seq 1 50); do [ -n "$(node_of "$1")" ] && return 0; sleep 0.1; done
  fail "pod $1 was not scheduled: $(k get events --field-selector involvedObject.name=$1 2>&1)"
}

node node-a 2 '{"disk":"ssd"}'
node node-b 2 '{"disk":"hdd"}'
for i in 1 2 3 4; do pod "web-$i" 500m; done
for i in 1 2 3 4; do wait_bound "web-$i"; done
pass "four pods are bound"
spread=$(for i in 1 2 3 4; do node_of "web-$i"; echo; done | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')
expect_eq "$spread" "2 2 " "least-allocated scoring spreads them 2/2"
expect_contains "$(k get events --field-selector reason=Scheduled -o name | wc -l)" "4" "a Scheduled event per pod"
expect_eq "$(k get pod web-1 -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}')" "True" "PodScheduled=True after binding"

pod fast 100m '"nodeSelector":{"disk":"ssd"},'
wait_bound fast
expect_eq "$(node_of fast)" "node-a" "nodeSelector picks the ssd node"

pod huge 3
sleep 1
expect_eq "$(node_of huge)" "" "a pod larger than any node stays pending"
run k get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o jsonpath='{.items[0].message}'
expect_contains "$OUT" "0/2 nodes are available: 2 Insufficient cpu." "FailedScheduling has upstream's message"
expect_eq "$(k get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')" "Unschedulable" "PodScheduled=False with reason Unschedulable"
node node-big 4 '{"disk":"ssd"}'
wait_bound huge
expect_eq "$(node_of huge)" "node-big" "the pending pod schedules once a fitting node appears"

node node-gpu 8 '{"gpu":"yes"}' '[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]'
pod needs-gpu 6 '"nodeSelector":{"gpu":"yes"},'
sleep 1
expect_eq "$(node_of needs-gpu)" "" "an untolerated taint keeps the pod off the node"
run k get events --field-selector involvedObject.name=needs-gpu,reason=FailedScheduling -o jsonpath='{.items[0].message}'
expect_contains "$OUT" "untolerated taint {dedicated: gpu}" "the message names the taint"
pod tolerant 6 '"nodeSelector":{"gpu":"yes"},"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}],'
wait_bound tolerant
expect_eq "$(node_of tolerant)" "node-gpu" "a tolerating pod lands on the tainted node"

# A second scheduler with --leader-elect waits for the Lease and does not schedule.
"$SKIFF" scheduler --kubeconfig "$WORK/data/kubeconfig" --leader-elect >"$WORK/sched2.log" 2>&1 &
SECOND=$!
sleep 2
kill -0 $SECOND 2>/dev/null || fail "second scheduler exited: $(cat "$WORK/sched2.log")"
expect_contains "$(cat "$WORK/sched2.log")" "waiting to lead lease=kube-system/kube-scheduler" "a second candidate waits for the Lease"
expect_not_contains "$(cat "$WORK/sched2.log")" "scheduler started" "the standby does not schedule"
kill $SECOND; wait $SECOND 2>/dev/null || true
finish
