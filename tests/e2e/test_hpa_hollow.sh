#!/usr/bin/env bash
# HorizontalPodAutoscaler at scale on hollow nodes (issue 21 §2): `skiff server` with 10
# hollow nodes whose pods report synthetic CPU (the skiff.io/synthetic-cpu annotation). A
# Deployment of 10 pods requesting 100m and using 200m (200 % of request, target 50 %) is
# scaled by its HPA to maxReplicas 100 — every pod scheduled and Running on the hollow nodes
# — and, once the pods' usage is lowered to 10m, back down to minReplicas. The metrics come
# the real way: the API server scrapes each hollow node's /metrics/resource over HTTPS.
source "$(dirname "$0")/lib.sh"
SERVER_ARGS="--metric-resolution 2s --horizontal-pod-autoscaler-sync-period 2s
  --horizontal-pod-autoscaler-downscale-stabilization 4s
  --horizontal-pod-autoscaler-cpu-initialization-period 1s
  --horizontal-pod-autoscaler-initial-readiness-delay 1s"
start_server
"$SKIFF" agent --hollow --nodes 10 --node-name-prefix hpa --kubeconfig "$WORK/data/kubeconfig" \
  --node-labels tier=sim >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
trap 'kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; cleanup' EXIT

ready_nodes() {
  k get nodes -l tier=sim -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True || true
}
nodes_ready_is() { [ "$(ready_nodes)" = "$1" ]; }
wait_for "10 hollow nodes Ready" 60 nodes_ready_is 10
pass "10 hollow nodes Ready"

cat <<'EOF2' | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: burn}
spec:
  replicas: 10
  selector: {matchLabels: {app: burn}}
  template:
    metadata:
      labels: {app: burn}
      annotations: {skiff.io/synthetic-cpu: 200m}
    spec:
      containers:
      - name: c
        image: busybox:1.36
        resources: {requests: {cpu: 100m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: burn}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: 2
  maxReplicas: 100
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Percent, value: 1000, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 2
      policies: [{type: Percent, value: 100, periodSeconds: 1}]
EOF2
running() { k get pods -l app=burn --field-selector status.phase=Running -o name 2>/dev/null | wc -l; }
running_is() { [ "$(running)" = "$1" ]; }
replicas_is() { [ "$(k get deploy burn -o jsonpath='{.spec.replicas}')" = "$1" ]; }
pods_are() { [ "$(k get pods -l app=burn -o name | wc -l)" = "$1" ]; }
wait_for "10 pods Running" 60 running_is 10
t0=$(date +%s.%N)
wait_for "the HPA to ask for 100 replicas" 90 replicas_is 100
wait_for "100 pods Running" 120 running_is 100
t1=$(date +%s.%N)
pass "scaled 10 → 100 and all 100 pods Running in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
NODES=$(k get pods -l app=burn -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | wc -l)
expect_eq "$NODES" 10 "the 100 pods are spread over the 10 hollow nodes"
expect_eq "$(k get hpa burn -o jsonpath='{.status.conditions[?(@.type=="ScalingLimited")].reason}')" \
  TooManyReplicas "ScalingLimited: TooManyReplicas at maxReplicas"
UTIL=$(k get hpa burn -o jsonpath='{.status.currentMetrics[0].resource.current.averageUtilization}')
[ "$UTIL" -ge 180 ] && [ "$UTIL" -le 220 ] || fail "averageUtilization $UTIL, want about 200"
pass "currentMetrics: average utilization $UTIL % (200m of a 100m request)"
run k get events --field-selector involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=burn \
  -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
expect_contains "$OUT" "SuccessfulRescale: New size: 100; reason: cpu resource utilization (percentage of request) above target" \
  "SuccessfulRescale event with upstream's reason"

# Usage falls to 10m (10 % of request): the HPA scales down to its minimum.
k annotate pods -l app=burn skiff.io/synthetic-cpu=10m --overwrite >/dev/null
wait_for "the HPA to scale down to minReplicas 2" 90 replicas_is 2
pass "usage at 10 % of request: scaled down to minReplicas 2"
expect_eq "$(k get hpa burn -o jsonpath='{.status.conditions[?(@.type=="ScalingLimited")].reason}')" \
  TooFewReplicas "ScalingLimited: TooFewReplicas at minReplicas"
run k get events --field-selector involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=burn \
  -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
expect_contains "$OUT" "below target" "SuccessfulRescale event for the scale-down"
wait_for "98 pods gone" 90 pods_are 2
pass "the surplus pods are deleted"
finish
