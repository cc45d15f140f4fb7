#!/usr/bin/env bash
# Issue 3 acceptance, StatefulSet/Job/CronJob on hollow nodes: web-0..2 created in order, a
# Job with completions=5 parallelism=2 completes, a CronJob every minute creates Jobs and
# keeps its history limit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hollow.sh"
STORAGE=memory start_server
start_hollow node 3 --readiness-delay 500ms --job-duration 2s
wait_for "3 hollow nodes Ready" 60 ready_nodes_at_least 3

cat >"$WORK/sts.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox:1.36}]}
YAML
run k apply -f "$WORK/sts.yaml"
run k rollout status statefulset/web --timeout=60s
order=$(k get pods -l app=web --sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[*]}{.metadata.name} {end}')
expect_eq "$order" "web-0 web-1 web-2 " "StatefulSet pods created in ordinal order"
# OrderedReady: each pod was created only after the previous one was Ready.
t1=$(k get pod web-1 -o jsonpath='{.metadata.creationTimestamp}')
r0=$(k get pod web-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
[[ "$t1" > "$r0" || "$t1" == "$r0" ]] || fail "web-1 ($t1) created before web-0 was Ready ($r0)"
pass "web-1 created after web-0 became Ready"

run k create job batch --image=busybox:1.36 -- true
run k delete job batch
cat >"$WORK/job.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36, command: ["true"]}]
YAML
run k apply -f "$WORK/job.yaml"
run k wait --for=condition=complete job/five --timeout=60s
expect_eq "$(k get job five -o jsonpath='{.status.succeeded}')" "5" "Job completed 5 pods"

cat >"$WORK/cron.yaml" <<'YAML'
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox:1.36, command: ["true"]}]
YAML
run k apply -f "$WORK/cron.yaml"
owned_jobs() { k get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="tick")]}{.metadata.name}{"\n"}{end}'; }
wait_for "the CronJob creates a Job within a minute" 75 bash -c "kubectl --kubeconfig $WORK/data/kubeconfig get jobs -o name | grep -q 'job.batch/tick-'"
first=$(owned_jobs | head -1)
wait_for "a second run replaces the first under successfulJobsHistoryLimit=1" 150 bash -c \
  "names=\$(kubectl --kubeconfig $WORK/data/kubeconfig get jobs -o name | grep 'job.batch/tick-'); [ \"\$(echo \"\$names\" | wc -l)\" -eq 1 ] && ! echo \"\$names\" | grep -q '$first'"
expect_contains "$(k get cronjob tick -o jsonpath='{.status.lastScheduleTime}')" "T" "lastScheduleTime set"
finish
