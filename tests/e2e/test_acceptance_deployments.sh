#!/usr/bin/env bash
# Issue 3 acceptance, workloads: a Deployment over 10 hollow nodes scales, rolls out within
# maxUnavailable (watched throughout), rolls back, and cascades (or orphans) on delete.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hollow.sh"
STORAGE=memory start_server
start_hollow hollow 10 --readiness-delay 300ms
wait_for "10 hollow nodes Ready" 60 ready_nodes_at_least 10

run k create deployment web --image=busybox:1.36 --replicas=100
wait_for "100 replicas Running" 120 running_pods_eq default app=web 100
per_node=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | awk '{print $1}')
expect_eq "$(echo "$per_node" | wc -l)" "10" "pods spread over all 10 nodes"
expect_eq "$(echo "$per_node" | sort -n | tail -1 | awk '$1<=15{print "ok"}')" "ok" "no node holds more than 15 of 100 pods"

run k scale deployment web --replicas=300
wait_for "scaled to 300 Running" 180 running_pods_eq default app=web 300
run k scale deployment web --replicas=50
wait_for "scaled back to 50" 120 pods_total_eq default app=web 50
run k rollout status deployment/web --timeout=60s

# Rolling update: record availableReplicas from a watch for the whole rollout.
k get deployment web -w -o jsonpath='{.status.availableReplicas}{"\n"}' >"$WORK/available.log" 2>/dev/null &
WATCH_PID=$!
run k set image deployment/web busybox=busybox:1.37
run k rollout status deployment/web --timeout=120s
expect_contains "$OUT" "successfully rolled out" "rollout status exits 0 when the update is done"
kill $WATCH_PID 2>/dev/null || true
min_avail=$(grep -E '^[0-9]+$' "$WORK/available.log" | sort -n | head -1)
# 50 replicas, maxUnavailable 25% rounds down to 12: never fewer than 38 available.
[ -n "$min_avail" ] && [ "$min_avail" -ge 38 ] || fail "availability fell to [$min_avail] during the rollout"
pass "availability stayed >= 38 of 50 during the rollout (min $min_avail)"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" "2" "revision 2 after the update"
run k rollout history deployment/web
expect_contains "$OUT" "2 " "rollout history lists revision 2"

run k rollout undo deployment/web
run k rollout status deployment/web --timeout=120s
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" "busybox:1.36" "undo restores the old template"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" "3" "undo is revision 3"
wait_for "50 pods of the old template" 60 running_pods_eq default app=web 50

# Orphan: the ReplicaSets and pods stay without an owner.
run k create deployment keep --image=busybox:1.36 --replicas=3
wait_for "keep: 3 Running" 60 running_pods_eq default app=keep 3
run k delete deployment keep --cascade=orphan
sleep 2
expect_eq "$(k get rs -l app=keep --no-headers | wc -l)" "1" "orphaned ReplicaSet stays"
expect_eq "$(k get rs -l app=keep -o jsonpath='{.items[0].metadata.ownerReferences}')" "" "orphaned ReplicaSet has no owner"
expect_eq "$(k get pods -l app=keep --no-headers | wc -l)" "3" "orphaned pods stay"

# Background: the ReplicaSets and pods go.
run k delete deployment web
wait_for "web's ReplicaSets are deleted" 60 bash -c "[ \$(kubectl --kubeconfig $WORK/data/kubeconfig get rs -l app=web --no-headers 2>/dev/null | wc -l) -eq 0 ]"
wait_for "web's pods are deleted" 90 pods_total_eq default app=web 0

# Namespace deletion removes everything in it, then the namespace.
run k create namespace doomed
run k -n doomed create deployment d --image=busybox:1.36 --replicas=5
run k -n doomed create configmap c --from-literal=a=b
wait_for "doomed: 5 Running" 60 running_pods_eq doomed app=d 5
run k delete namespace doomed --timeout=90s
expect_fail "namespace is gone" k get namespace doomed
finish
