#!/usr/bin/env bash
# Node lifecycle with kubectl playing the kubelet: a Node and its Lease renewed by
# `kubectl patch`; when renewals stop the node goes Unknown/NotReady, gets the unreachable
# taints, its pods are evicted after the default toleration (3 s here) unless they tolerate
# the taint forever; heartbeats resuming lift the taints; deleting the node lets PodGC
# force-delete what was left on it.
source "$(dirname "$0")/lib.sh"
SERVER_ARGS="--node-monitor-grace-period 4s --node-monitor-period 1s --default-unreachable-toleration-seconds 3" start_server

now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
cat >"$WORK/node.json" <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},
 "status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}]}}
JSON
cat >"$WORK/lease.json" <<JSON
{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},
 "spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":"$(now)"}}
JSON
run k create -f "$WORK/node.json"
run k create -f "$WORK/lease.json"
renew_loop() {
  while true; do
    k -n kube-node-lease patch lease n1 --type merge -p "{\"spec\":{\"renewTime\":\"$(now)\"}}" >/dev/null 2>&1 || true
    sleep 0.5
  done
}
renew_loop &
RENEWER=$!
stop_renewer() { kill "$RENEWER" 2>/dev/null || true; wait "$RENEWER" 2>/dev/null || true; }
trap 'stop_renewer; cleanup' EXIT

pod() {  # pod NAME [TOLERATIONS_JSON]
  echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\"},
    \"spec\":{\"nodeName\":\"n1\",${2:+\"tolerations\":$2,}\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\"}]}}" >"$WORK/pod-$1.json"
  run k create -f "$WORK/pod-$1.json"
}
pod web
pod stay '[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}]'
expect_eq "$(k get pod web -o jsonpath='{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')" "3" \
  "DefaultTolerationSeconds adds the unreachable toleration with --default-unreachable-toleration-seconds"
expect_eq "$(k get pod web -o jsonpath='{.spec.tolerations[?(@.key=="node.kubernetes.io/not-ready")].tolerationSeconds}')" "300" \
  "and the not-ready one with the default 300 s"
expect_eq "$(k get pod stay -o jsonpath='{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')" "" \
  "a pod's own unreachable toleration is kept as it is"

ready() { k get node n1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
sleep 6
expect_eq "$(ready)" "True" "a node renewing its Lease stays Ready past the grace period"

stop_renewer
for _ in $(seq 1 80); do [ "$(ready)" == "Unknown" ] && break; sleep 0.25; done
expect_eq "$(ready)" "Unknown" "without renewals the node goes Unknown after the grace period"
expect_contains "$(k get node n1)" "NotReady" "kubectl get node shows NotReady"
expect_contains "$(k describe node n1)" "Kubelet stopped posting node status." "describe shows the reason"
for _ in $(seq 1 40); do [[ "$(k get node n1 -o jsonpath='{.spec.taints[*].key}')" == *unreachable* ]] && break; sleep 0.25; done
expect_contains "$(k get node n1 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect} {end}')" \
  "node.kubernetes.io/unreachable:NoExecute" "the unreachable NoExecute taint is added"
expect_contains "$(k get node n1 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect} {end}')" \
  "node.kubernetes.io/unreachable:NoSchedule" "and the unreachable NoSchedule taint"
expect_contains "$(k get events --field-selector reason=NodeNotReady -o jsonpath='{.items[*].message}')" \
  "Node n1 status is now: NodeNotReady" "a NodeNotReady event is recorded"

deleting() { k get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null; }
for _ in $(seq 1 60); do [ -n "$(deleting web)" ] && break; sleep 0.25; done
[ -n "$(deleting web)" ] || fail "web was not evicted"
pass "a pod tolerating unreachable for 3 s is evicted"
expect_eq "$(k get pod web -o jsonpath='{.status.conditions[?(@.type=="DisruptionTarget")].reason}')" \
  "DeletionByTaintManager" "the evicted pod carries DisruptionTarget"
expect_contains "$(k get events --field-selector reason=TaintManagerEviction -o jsonpath='{.items[*].message}')" \
  "Marking for deletion Pod default/web" "a TaintManagerEviction event is recorded"
expect_eq "$(deleting stay)" "" "a pod tolerating unreachable forever stays"

# The kubelet comes back.
run k patch node n1 --subresource=status --type merge \
  -p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"lastHeartbeatTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}]}}"
renew_loop &
RENEWER=$!
for _ in $(seq 1 40); do [ -z "$(k get node n1 -o jsonpath='{.spec.taints}')" ] && break; sleep 0.25; done
expect_eq "$(k get node n1 -o jsonpath='{.spec.taints}')" "" "heartbeats resuming lift the taints"
stop_renewer

# The node is deleted: PodGC force-deletes its pods after the quarantine.
run k delete node n1
for _ in $(seq 1 80); do [ -z "$(k get pods -o name)" ] && break; sleep 0.25; done
expect_eq "$(k get pods -o name)" "" "PodGC force-deletes the pods of a deleted node"
finish
