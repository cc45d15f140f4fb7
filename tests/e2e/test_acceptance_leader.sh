#!/usr/bin/env bash
# Issue 3 acceptance, leader election: two `skiff controller-manager` processes against one
# API server; only the Lease holder reconciles; killing it hands over within the lease
# duration and nothing is reconciled twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hollow.sh"
# API server + scheduler only: the controller managers run as separate processes.
"$SKIFF" apiserver --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --storage memory >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -f "$WORK/data/kubeconfig" ] && c -sf "$API/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
KC=$WORK/data/kubeconfig
"$SKIFF" scheduler --kubeconfig "$KC" >>"$WORK/scheduler.log" 2>&1 &
AGENT_PIDS+=($!)
"$SKIFF" controller-manager --kubeconfig "$KC" --leader-elect >>"$WORK/cm1.log" 2>&1 &
CM1=$!
wait_for "the first controller manager holds the Lease" 20 bash -c \
  "kubectl --kubeconfig $KC -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}' | grep -q ."
"$SKIFF" controller-manager --kubeconfig "$KC" --leader-elect >>"$WORK/cm2.log" 2>&1 &
CM2=$!
AGENT_PIDS+=($CM2)
start_hollow n 2
wait_for "2 hollow nodes Ready" 60 ready_nodes_at_least 2
holder1=$(k -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}')

run k create deployment app --image=busybox:1.36 --replicas=5
wait_for "5 pods Running" 60 running_pods_eq default app=app 5
sleep 2
expect_eq "$(k get pods -l app=app --no-headers | wc -l)" "5" "exactly 5 pods with two controller managers"

kill -9 $CM1
wait $CM1 2>/dev/null || true
wait_for "the standby takes over within the lease duration" 25 bash -c \
  "h=\$(kubectl --kubeconfig $KC -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.holderIdentity}'); [ -n \"\$h\" ] && [ \"\$h\" != '$holder1' ]"
run k scale deployment app --replicas=8
wait_for "the new leader reconciles: 8 Running" 60 running_pods_eq default app=app 8
sleep 2
expect_eq "$(k get pods -l app=app --no-headers | wc -l)" "8" "no pod created twice after the hand-over"
creates=$(k get events --field-selector reason=SuccessfulCreate -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s+=$1} END {print s}')
expect_eq "$creates" "8" "8 SuccessfulCreate events in all: nothing reconciled twice"
finish
