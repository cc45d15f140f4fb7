#!/usr/bin/env bash
# Deployments through the real kubectl: rollout status/history/undo/pause/resume/restart,
# scale, with the ReplicaSet and Deployment controllers inside `skiff server`. No kubelet
# runs here: a background loop plays it, marking every pod Running and Ready through
# pods/status (no node exists, so pods stay unscheduled and are deleted at once).
source "$(dirname "$0")/lib.sh"
start_server

fake_kubelet() {
  local now
  while true; do
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for p in $(k get pods -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.name}{" "}{end}' 2>/dev/null); do
      k patch pod "$p" --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",
        \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"},
        {\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null 2>&1 || true
    done
    sleep 0.2
  done
}
fake_kubelet &
KUBELET_PID=$!
trap 'kill $KUBELET_PID 2>/dev/null || true; cleanup' EXIT

cat >"$WORK/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    kubernetes.io/change-cause: "initial nginx:1.25"
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
EOF
k apply -f "$WORK/web.yaml" >/dev/null
run k rollout status deployment/web --timeout=60s
expect_contains "$OUT" 'deployment "web" successfully rolled out' "rollout status waits for the first rollout"
expect_eq "$(k get deploy web -o jsonpath='{.status.availableReplicas}/{.status.updatedReplicas}')" "3/3" "status counts"
expect_eq "$(k get rs -l app=web -o name | wc -l | tr -d ' ')" "1" "one ReplicaSet"
hash=$(k get rs -l app=web -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
expect_eq "$(k get rs -l app=web -o jsonpath='{.items[0].metadata.name}')" "web-$hash" "ReplicaSet named deploy-hash"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" "1" "revision 1"

k set image deployment/web web=nginx:1.26 >/dev/null
k annotate deployment/web kubernetes.io/change-cause="update to 1.26" --overwrite >/dev/null
run k rollout status deployment/web --timeout=60s
expect_contains "$OUT" "successfully rolled out" "rollout status follows the rolling update"
run k rollout history deployment/web
expect_contains "$OUT" "update to 1.26" "history shows the change-cause"
expect_contains "$OUT" "initial nginx:1.25" "history keeps the first revision"
expect_eq "$(k get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}' | tr ' ' '\n' | sort -u)" "nginx:1.26" "all pods run the new image"
expect_contains "$(k get events --field-selector reason=ScalingReplicaSet -o jsonpath='{.items[*].message}')" "Scaled down replica set web-$hash from 3 to" "ScalingReplicaSet events"

run k rollout undo deployment/web
expect_contains "$OUT" "rolled back" "rollout undo"
run k rollout status deployment/web --timeout=60s
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" "nginx:1.25" "undo restores the template"
expect_eq "$(k get rs web-$hash -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" "3" "the old ReplicaSet is reused with revision 3"
expect_eq "$(k get rs -l app=web -o name | wc -l | tr -d ' ')" "2" "no third ReplicaSet"

k rollout pause deployment/web >/dev/null
k set image deployment/web web=nginx:1.27 >/dev/null
for _ in $(seq 1 50); do
  [ "$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" == "DeploymentPaused" ] && break
  sleep 0.1
done
expect_eq "$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" "DeploymentPaused" "pause sets DeploymentPaused"
expect_eq "$(k get rs -l app=web -o name | wc -l | tr -d ' ')" "2" "no rollout while paused"
k rollout resume deployment/web >/dev/null
run k rollout status deployment/web --timeout=60s
expect_eq "$(k get rs -l app=web -o name | wc -l | tr -d ' ')" "3" "resume rolls out"

k rollout restart deployment/web >/dev/null
expect_contains "$(k get deploy web -o jsonpath='{.spec.template.metadata.annotations}')" "kubectl.kubernetes.io/restartedAt" "restart annotates the template"
run k rollout status deployment/web --timeout=60s
expect_contains "$OUT" "successfully rolled out" "restart rolls out"
expect_eq "$(k get rs -l app=web -o name | wc -l | tr -d ' ')" "4" "restart made a new ReplicaSet"

k scale deployment/web --replicas=5 >/dev/null
run k rollout status deployment/web --timeout=60s
expect_eq "$(k get pods -l app=web --no-headers | wc -l | tr -d ' ')" "5" "scale to 5"
run k rollout history deployment/web
expect_contains "$OUT" "REVISION" "history table"

k delete deployment web >/dev/null
finish
