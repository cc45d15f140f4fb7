#!/usr/bin/env bash
# Issue 3 acceptance, nodes: scheduling constraints on hollow nodes, a pending pod that
# schedules when a fitting node appears, priority preemption, DaemonSets on late nodes,
# and a node that stops heartbeating: NotReady, unreachable taint, pods evicted and replaced.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hollow.sh"
SERVER_ARGS="--node-monitor-grace-period 4s --node-monitor-period 1s --default-unreachable-toleration-seconds 3 --default-not-ready-toleration-seconds 3" \
  STORAGE=memory start_server
# Healthy nodes must renew well within the 4 s grace period (the default Lease of 40 s is
# renewed every 10 s, so they would flap NotReady): a 4 s Lease is renewed every second.
HOLLOW_ARGS="--node-lease-duration-seconds 4"
start_hollow pool 4
start_hollow ssd 2 --node-labels disk=ssd --register-with-taints dedicated=db:NoSchedule
wait_for "6 hollow nodes Ready" 60 ready_nodes_at_least 6

# nodeSelector + toleration: lands on the tainted ssd nodes only.
cat >"$WORK/db.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 4
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      nodeSelector: {disk: ssd}
      tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]
      containers: [{name: db, image: busybox:1.36}]
YAML
run k apply -f "$WORK/db.yaml"
wait_for "db: 4 Running" 60 running_pods_eq default app=db 4
expect_eq "$(k get pods -l app=db -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -vc '^ssd-' || true)" "0" "nodeSelector+toleration pods only on ssd nodes"

# Untolerated taint: plain pods never land on ssd nodes; anti-affinity one per node.
cat >"$WORK/spread.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 4
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {labelSelector: {matchLabels: {app: spread}}, topologyKey: kubernetes.io/hostname}
      containers: [{name: c, image: busybox:1.36}]
YAML
run k apply -f "$WORK/spread.yaml"
wait_for "spread: 4 Running" 60 running_pods_eq default app=spread 4
nodes=$(k get pods -l app=spread -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')
expect_eq "$(echo "$nodes" | sort -u | wc -l)" "4" "required anti-affinity: 4 pods on 4 distinct nodes"
expect_eq "$(echo "$nodes" | grep -c '^pool-')" "4" "untolerated taint keeps them off ssd nodes"
run k scale deployment spread --replicas=5
wait_for "the 5th anti-affinity pod is Pending with FailedScheduling" 30 bash -c \
  "kubectl --kubeconfig $WORK/data/kubeconfig get events --field-selector reason=FailedScheduling -o jsonpath='{.items[*].message}' | grep -q 'anti-affinity'"
pass "FailedScheduling names the anti-affinity rule"

# Topology spread over a zone label; a new fitting node lets the pending pod schedule.
start_hollow late 1
wait_for "the pending pod schedules on the new node" 60 running_pods_eq default app=spread 5
expect_contains "$(k get pods -l app=spread -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')" "late-0" "it went to late-0"

# DaemonSet: one pod per node, including a node added later.
cat >"$WORK/ds.yaml" <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: a, image: busybox:1.36}]
YAML
run k apply -f "$WORK/ds.yaml"
wait_for "DaemonSet: one pod on each of 7 nodes" 60 running_pods_eq default app=agent 7
start_hollow later 1
wait_for "DaemonSet: the node added later gets its pod" 60 running_pods_eq default app=agent 8
run k rollout status ds/agent --timeout=60s

# Preemption: fill the single 'tiny' node, then a high-priority pod evicts a low one.
start_hollow tiny 1 --cpu 1 --node-labels pool=tiny
wait_for "tiny node Ready" 60 ready_nodes_at_least 9
cat >"$WORK/prio.yaml" <<'YAML'
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: v1
kind: Pod
metadata: {name: low, labels: {app: low}}
spec:
  nodeSelector: {pool: tiny}
  containers: [{name: c, image: busybox:1.36, resources: {requests: {cpu: 800m}}}]
YAML
run k apply -f "$WORK/prio.yaml"
wait_for "low-priority pod Running on tiny" 60 running_pods_eq default app=low 1
cat >"$WORK/high.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: high, labels: {app: high}}
spec:
  priorityClassName: high
  nodeSelector: {pool: tiny}
  containers: [{name: c, image: busybox:1.36, resources: {requests: {cpu: 800m}}}]
YAML
run k apply -f "$WORK/high.yaml"
expect_eq "$(k get pod high -o jsonpath='{.spec.priority}')" "1000" "Priority admission resolves the class value"
expect_fail "an unknown PriorityClass is refused" k run nope --image=busybox:1.36 --overrides='{"spec":{"priorityClassName":"missing"}}'
expect_contains "$OUT" "no PriorityClass with name missing was found" "refusal names the missing class"
wait_for "high-priority pod preempts and runs" 60 running_pods_eq default app=high 1
expect_fail "the low-priority pod was evicted" k get pod low

# A node stops heartbeating: NotReady, unreachable taint, pods evicted and replaced.
victim=$(k get pods -l app=spread -o jsonpath='{.items[0].spec.nodeName}')
[[ "$victim" == pool-* ]] || victim=pool-0
stop_hollow_node pool "$victim"
wait_for "$victim goes NotReady (Unknown)" 30 bash -c \
  "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get node $victim -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = Unknown ]"
wait_for "$victim gets the unreachable NoExecute taint" 20 bash -c \
  "kubectl --kubeconfig $WORK/data/kubeconfig get node $victim -o jsonpath='{.spec.taints}' | grep -q 'node.kubernetes.io/unreachable'"
not_terminating_on_victim() {
  local n
  n=$(k get pods -l app=spread --field-selector "spec.nodeName=$victim" \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"|"}{"\n"}{end}' | grep -c '^|$' || true)
  [ "$n" -eq 0 ]
}
wait_for "pods on $victim are evicted (deleted by the taint manager)" 30 not_terminating_on_victim
wait_for "replacements make 5 live spread pods again, none on $victim" 60 running_pods_eq default app=spread 5
finish
