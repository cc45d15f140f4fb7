#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# HorizontalPodAutoscaler on a real node (`skiff up`; run under flock /tmp/skiff-node-test.lock):
#  1. bad input and limits, which need no metrics: an HPA whose target does not exist
#     (FailedGetScale), minReplicas above the target's scale (rescale to the minimum), a
#     Deployment at 0 replicas (ScalingDisabled), `kubectl autoscale` and `kubectl get hpa`'s
#     columns with `cpu: <unknown>/50%`;
#  2. the autoscaling loop through metrics.k8s.io: a Deployment of busybox httpd pods whose
#     CGI page burns CPU, behind a Service, CPU target 50 %; a load pod drives it from 1 to
#     several replicas, and once the load is gone it goes back to 1. The controller's
#     timings are shortened by flags. Prints the reaction time (load start → new replicas
#     Ready).
source "$(dirname "$0")/lib.sh"
HPA_FLAGS="--horizontal-pod-autoscaler-sync-period 2s
  --horizontal-pod-autoscaler-downscale-stabilization 20s
  --horizontal-pod-autoscaler-cpu-initialization-period 10s
  --horizontal-pod-autoscaler-initial-readiness-delay 5s"
# The resource metrics API scrapes every 15 s by default; faster when the flag exists.
if "$SKIFF" up --help 2>&1 | grep -q -- "--metric-resolution"; then HPA_FLAGS+=" --metric-resolution 5s"; fi
# shellcheck disable=SC2086
start_up $HPA_FLAGS

events_of() {  # "Reason: message" lines of the Events about HPA $1
  k get events --field-selector "involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=$1" \
    -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
}
has_event() { events_of "$1" | grep -qF -- "$2"; }
cond() { k get hpa "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status} {.status.conditions[?(@.type==\"$2\")].reason}"; }

# --- 1. without metrics -------------------------------------------------------------------
cat <<'EOF2' | k apply -f - >/dev/null
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ghost}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ghost}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
EOF2
wait_for "FailedGetScale event" 20 has_event ghost 'FailedGetScale: deployments.apps "ghost" not found'
pass "an HPA without its target: FailedGetScale event"
expect_eq "$(cond ghost AbleToScale)" "False FailedGetScale" "AbleToScale False FailedGetScale"
expect_eq "$(k get hpa ghost -o jsonpath='{.status.conditions[?(@.type=="AbleToScale")].message}')" \
  'the HPA controller was unable to get the target'"'"'s current scale: deployments.apps "ghost" not found' \
  "the condition's message"
run k get hpa ghost
expect_eq "$(echo "$OUT" | awk 'NR==2{print $2"|"$3" "$4"|"$5"|"$6"|"$7}')" \
  "Deployment/ghost|cpu: <unknown>/50%|1|3|0" "kubectl get hpa: REFERENCE, TARGETS, MINPODS, MAXPODS, REPLICAS"

light_deployment() {  # NAME REPLICAS: pods that only sleep
  cat <<EOF2
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: busybox:1.36, command: [sleep, "3600"], resources: {requests: {cpu: 10m}}}
EOF2
}
light_deployment floor 1 | k apply -f - >/dev/null
run k autoscale deployment floor --cpu-percent=50 --min=2 --max=4
expect_eq "$OUT" "horizontalpodautoscaler.autoscaling/floor autoscaled" "kubectl autoscale"
wait_for "floor scaled to minReplicas" 20 bash -c "[ \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get deploy floor -o jsonpath='{.spec.replicas}')\" == 2 ]"
pass "a target below minReplicas is scaled up to it"
wait_for "rescale event" 10 has_event floor "SuccessfulRescale: New size: 2; reason: Current number of replicas below Spec.MinReplicas"
pass "SuccessfulRescale event with upstream's reason"
expect_eq "$(k get hpa floor -o jsonpath='{.spec.scaleTargetRef.kind}/{.spec.minReplicas}/{.spec.maxReplicas}/{.spec.metrics[0].resource.target.averageUtilization}')" \
  "Deployment/2/4/50" "kubectl autoscale's HPA (v2 view)"
expect_eq "$(k get horizontalpodautoscalers.v1.autoscaling floor -o jsonpath='{.spec.targetCPUUtilizationPercentage}')" "50" \
  "the same HPA at autoscaling/v1"

light_deployment idle 1 | k apply -f - >/dev/null
k autoscale deployment idle --cpu-percent=50 --min=1 --max=3 >/dev/null
wait_for "idle HPA status" 20 bash -c "[ -n \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get hpa idle -o jsonpath='{.status.conditions}')\" ]"
k scale deployment idle --replicas=0 >/dev/null
wait_for "ScalingDisabled" 20 bash -c "\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get hpa idle -o jsonpath='{.status.conditions[?(@.type==\"ScalingActive\")].reason}' | grep -qx ScalingDisabled"
pass "a target scaled to 0 disables autoscaling (ScalingDisabled)"
expect_eq "$(k get deploy idle -o jsonpath='{.spec.replicas}')" "0" "and it stays at 0"

# --- 2. the autoscaling loop ---------------------------------------------------------------
cat <<'EOF2' | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.36
        resources: {requests: {cpu: 100m}}
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        command:
        - sh
        - -c
        - |
          mkdir -p /www/cgi-bin
          printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\ni=0\nwhile [ $i -lt 20000 ]; do i=$((i+1)); done\necho burned\n' >/www/cgi-bin/burn
          chmod +x /www/cgi-bin/burn
          exec httpd -f -p 8080 -h /www
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF2
wait_for "web Ready" 60 bash -c "[ \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get deploy web -o jsonpath='{.status.readyReplicas}')\" == 1 ]"
# The HPA comes after web's first pod metrics: before them every 2 s sync records
# FailedGetResourceMetric and FailedComputeMetricsReplicas, and after 25 of those the
# recorder's spam filter (client-go's: 25 per object, then one per 5 minutes) would drop the
# SuccessfulRescale events this test checks. On a slow machine the first reading can take
# longer than 12 syncs.
wait_for "web's pod metrics" 90 bash -c "\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods | grep -q '\"name\":\"web-'"
run k autoscale deployment web --cpu-percent=50 --min=1 --max=5
wait_for "web HPA seen" 20 bash -c "\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get hpa web -o jsonpath='{.status.conditions}' | grep -q AbleToScale"
run k get hpa web
expect_contains "$(echo "$OUT" | head -1)" "NAME   REFERENCE        TARGETS" "kubectl get hpa columns"
expect_contains "$(echo "$OUT" | head -1)" "MINPODS   MAXPODS   REPLICAS   AGE" "kubectl get hpa columns (2)"
expect_contains "$OUT" "Deployment/web" "REFERENCE column"

k get --raw /apis/metrics.k8s.io/v1beta1 >/dev/null 2>&1 ||
  fail "metrics.k8s.io/v1beta1 is not served: the autoscaling loop needs the resource metrics API"
wait_for "a CPU reading" 90 bash -c "\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get hpa web | grep -qE 'cpu: [0-9]+%/50%'"
run k get hpa web
expect_contains "$OUT" "/50%" "TARGETS shows the current utilization"
expect_eq "$(cond web ScalingActive)" "True ValidMetricFound" "ScalingActive True ValidMetricFound"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" "1" "idle: 1 replica"

IP=$(k get svc web -o jsonpath='{.spec.clusterIP}')
cat <<EOF2 | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: load}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: load
    image: busybox:1.36
    command: [sh, -c, "for n in 1 2 3 4; do (while true; do wget -q -O- http://$IP/cgi-bin/burn >/dev/null 2>&1; done) & done; wait"]
EOF2
LOAD_START=$(date +%s.%N)
wait_for "scale-up under load" 150 bash -c "[ \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get deploy web -o jsonpath='{.spec.replicas}')\" -gt 1 ]"
pass "load scales web up to $(k get deploy web -o jsonpath='{.spec.replicas}') replicas"
wait_for "new replicas Ready" 60 bash -c "[ \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get deploy web -o jsonpath='{.status.readyReplicas}')\" -gt 1 ]"
echo "# reaction time (load start -> new replicas Ready): $(python3 -c "import time;print(round(time.time()-$LOAD_START,1))") s"
wait_for "scale-up event" 10 has_event web "above target"
expect_contains "$(events_of web)" "reason: cpu resource utilization (percentage of request) above target" \
  "SuccessfulRescale names the metric"
expect_eq "$(k get hpa web -o jsonpath='{.status.currentMetrics[0].type}/{.status.currentMetrics[0].resource.name}')" \
  "Resource/cpu" "currentMetrics"
[ -n "$(k get hpa web -o jsonpath='{.status.lastScaleTime}')" ] || fail "no lastScaleTime"
pass "lastScaleTime set"

k delete pod load --wait=false >/dev/null
wait_for "back to 1 after the load" 150 bash -c "[ \"\$(\"$KUBECTL\" --kubeconfig $WORK/data/kubeconfig get deploy web -o jsonpath='{.spec.replicas}')\" == 1 ]"
pass "without load web goes back to 1 replica"
expect_contains "$(events_of web)" "reason: All metrics below target" "scale-down event"
expect_eq "$(cond web AbleToScale | cut -d' ' -f1)" "True" "AbleToScale True"
finish
