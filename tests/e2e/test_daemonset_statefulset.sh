#!/usr/bin/env bash
# DaemonSet and StatefulSet controllers inside `skiff server`, driven by the real kubectl:
# one daemon pod per eligible node (including a node added later), rollout status /
# history / undo through ControllerRevisions, and StatefulSet pods created strictly in
# ordinal order, each after the previous one is Ready. There is no kubelet: the script
# plays it with pods/status patches (and finishes graceful deletions).
source "$(dirname "$0")/lib.sh"
start_server

node() {  # node NAME LABELS_JSON
  echo "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\",\"labels\":$2},
    \"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},
    \"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},
    \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",
      \"lastHeartbeatTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}]}}" >"$WORK/$1.json"
  k create -f "$WORK/$1.json" >/dev/null
}
# ready NS POD: what a kubelet reports once the containers run.
ready() {
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k -n "$1" patch pod "$2" --subresource=status --type=merge -p \
    "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"},{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
}
# A tiny stand-in kubelet for namespace $1: pods become Running/Ready, deletions finish.
fake_kubelet() {
  while true; do
    k -n "$1" get pods -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.deletionTimestamp}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
      while IFS='|' read -r name del rdy; do
        [ -n "$name" ] || continue
        if [ -n "$del" ]; then k -n "$1" delete pod "$name" --grace-period=0 --force >/dev/null 2>&1 || true
        elif [ "$rdy" != "True" ]; then ready "$1" "$name" 2>/dev/null || true; fi
      done || true
    sleep 0.3
  done
}
KUBELET_PID=""
stop_kubelet() { [ -z "$KUBELET_PID" ] || { kill "$KUBELET_PID" 2>/dev/null; wait "$KUBELET_PID" 2>/dev/null || true; KUBELET_PID=""; }; }
trap 'stop_kubelet; cleanup' EXIT
wait_for() {  # wait_for WHAT CMD...: until CMD succeeds (20 s)
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out waiting for: $what"
}
pod_nodes() {  # the node each daemon pod is pinned to, sorted
  k -n ds get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}{"\n"}{end}' | sort | tr '\n' ' '
}
nodes_are() { [ "$(pod_nodes)" == "$1" ]; }

# --- DaemonSet
node e2e-n1 '{"pool":"e2e"}'
node e2e-n2 '{"pool":"e2e"}'
node e2e-n3 '{"pool":"other"}'
k create namespace ds >/dev/null
cat >"$WORK/ds.yaml" <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ds}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {pool: e2e}
      containers: [{name: c, image: "agent:1"}]
YAML
run k apply -f "$WORK/ds.yaml"
wait_for "a daemon pod on each pool=e2e node" nodes_are "e2e-n1 e2e-n2 "
pass "one daemon pod per eligible node (not on the pool=other node)"
node e2e-n4 '{"pool":"e2e"}'
wait_for "a daemon pod on the new node" nodes_are "e2e-n1 e2e-n2 e2e-n4 "
pass "a node added later gets a daemon pod"
expect_contains "$(k -n ds get pods -l app=agent -o jsonpath='{.items[0].spec.tolerations}')" '"key":"node.kubernetes.io/unreachable","operator":"Exists"' "daemon pods carry the automatic tolerations"

fake_kubelet ds &
KUBELET_PID=$!
run k -n ds rollout status ds/agent --timeout=30s
expect_contains "$OUT" 'daemon set "agent" successfully rolled out' "kubectl rollout status ds"
run k -n ds get ds agent -o jsonpath='{.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled} {.status.numberAvailable}'
expect_eq "$OUT" "3 3 3 3" "DaemonSet status counts"
expect_contains "$(k -n ds get events --field-selector reason=SuccessfulCreate -o jsonpath='{.items[*].message}')" "Created pod: agent-" "SuccessfulCreate events"

run k -n ds set image ds/agent c=agent:2
run k -n ds rollout status ds/agent --timeout=40s
expect_contains "$OUT" "successfully rolled out" "rolling update completes"
expect_eq "$(k -n ds get pods -l app=agent -o jsonpath='{.items[*].spec.containers[0].image}')" "agent:2 agent:2 agent:2" "every daemon pod runs the new image"
run k -n ds rollout history ds/agent
expect_contains "$OUT" "REVISION" "rollout history ds lists revisions"
expect_eq "$(k -n ds get controllerrevisions -l app=agent -o jsonpath='{.items[*].revision}' | tr ' ' '\n' | sort | tr '\n' ' ')" "1 2 " "two ControllerRevisions"
run k -n ds rollout undo ds/agent
expect_contains "$OUT" "rolled back" "rollout undo ds"
expect_eq "$(k -n ds get ds agent -o jsonpath='{.spec.template.spec.containers[0].image}')" "agent:1" "undo restores the old template"
run k -n ds rollout status ds/agent --timeout=40s
expect_eq "$(k -n ds get pods -l app=agent -o jsonpath='{.items[*].spec.containers[0].image}')" "agent:1 agent:1 agent:1" "pods roll back"
expect_eq "$(k -n ds get controllerrevisions -l app=agent -o jsonpath='{.items[*].revision}' | tr ' ' '\n' | sort | tr '\n' ' ')" "2 3 " "the restored revision becomes number 3"
stop_kubelet

# --- StatefulSet: OrderedReady, one ordinal at a time
k create namespace sts >/dev/null
k -n sts get pods -l app=web --watch-only -o name >"$WORK/watch.txt" 2>/dev/null &
WATCH_PID=$!
sleep 0.5
cat >"$WORK/sts.yaml" <<'YAML'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: sts}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: "nginx:1"}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
YAML
run k apply -f "$WORK/sts.yaml"
pods_are() { [ "$(k -n sts get pods -l app=web -o jsonpath='{.items[*].metadata.name}')" == "$1" ]; }
wait_for "web-0" pods_are "web-0"
expect_eq "$(k -n sts get pvc -o jsonpath='{.items[*].metadata.name}')" "data-web-0" "the claim is created with the pod"
sleep 1
expect_eq "$(k -n sts get pods -l app=web -o jsonpath='{.items[*].metadata.name}')" "web-0" "web-1 waits for web-0 to be Ready"
ready sts web-0
wait_for "web-1" pods_are "web-0 web-1"
sleep 1
expect_eq "$(k -n sts get pods -l app=web -o jsonpath='{.items[*].metadata.name}')" "web-0 web-1" "web-2 waits for web-1 to be Ready"
ready sts web-1
wait_for "web-2" pods_are "web-0 web-1 web-2"
ready sts web-2
run k -n sts rollout status sts/web --timeout=20s
expect_contains "$OUT" "partitioned roll out complete: 3 new pods have been updated" "kubectl rollout status sts (upstream wording for the defaulted partition 0)"
kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null || true
expect_eq "$(awk '!seen[$0]++' "$WORK/watch.txt" | tr '\n' ' ')" "pod/web-0 pod/web-1 pod/web-2 " "a watch sees web-0, web-1, web-2 created in order"
expect_eq "$(k -n sts get pod web-1 -o jsonpath='{.metadata.labels.statefulset\.kubernetes\.io/pod-name} {.metadata.labels.apps\.kubernetes\.io/pod-index} {.spec.hostname}.{.spec.subdomain}')" "web-1 1 web-1.web" "stable identity labels and hostname"
expect_contains "$(k -n sts get events --field-selector reason=SuccessfulCreate -o jsonpath='{.items[*].message}')" "create Pod web-0 in StatefulSet web successful" "upstream's SuccessfulCreate message"

fake_kubelet sts &
KUBELET_PID=$!
run k -n sts set image sts/web c=nginx:2
run k -n sts rollout status sts/web --timeout=40s
expect_contains "$OUT" "roll out complete: 3 new pods have been updated" "rolling update of the StatefulSet completes"
expect_eq "$(k -n sts get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}')" "nginx:2 nginx:2 nginx:2" "every ordinal runs the new image"
run k -n sts rollout history sts/web
expect_contains "$OUT" "REVISION" "rollout history sts"
run k -n sts rollout undo sts/web
expect_contains "$OUT" "rolled back" "rollout undo sts"
run k -n sts rollout status sts/web --timeout=40s
expect_eq "$(k -n sts get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}')" "nginx:1 nginx:1 nginx:1" "StatefulSet pods roll back"
stop_kubelet
finish
