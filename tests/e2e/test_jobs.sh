#!/usr/bin/env bash
# Jobs and CronJobs with the real kubectl against `skiff server` (controllers inside). No
# kubelet runs here: a small bash loop plays it, moving the job's pods to Succeeded through
# pods/status. CronJobs are checked without waiting for minutes to pass.
source "$(dirname "$0")/lib.sh"
start_server

# play_kubelet SELECTOR SECONDS: every pending pod matching SELECTOR succeeds; the largest
# number of unfinished pods seen at once goes to $WORK/max-active.
play_kubelet() {
  local end=$((SECONDS + $2)) max=0
  while [ $SECONDS -lt $end ]; do
    local pending
    pending=$(k get pods -l "$1" -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.name}{"\n"}{end}' 2>/dev/null || true)
    local n
    n=$(printf '%s' "$pending" | grep -c . || true)
    [ "$n" -gt "$max" ] && max=$n
    echo "$max" >"$WORK/max-active"
    for p in $pending; do
      k patch pod "$p" --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null 2>&1 || true
    done
    [ "$(k get job "${1#job-name=}" -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}' 2>/dev/null)" == "True" ] && return 0
    sleep 0.3
  done
}

cat >"$WORK/job.yaml" <<'EOF'
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: busybox:1.36
        command: ["true"]
EOF
run k apply -f "$WORK/job.yaml"
uid=$(k get job pi -o jsonpath='{.metadata.uid}')
expect_eq "$(k get job pi -o jsonpath='{.spec.selector.matchLabels.batch\.kubernetes\.io/controller-uid}')" "$uid" "the server generates the job's selector from its uid"
expect_eq "$(k get job pi -o jsonpath='{.spec.template.metadata.labels.job-name}')" "pi" "the pod template gets the job-name label"
play_kubelet job-name=pi 40 &
KUBELET=$!
run k wait --for=condition=complete job/pi --timeout=45s
wait $KUBELET || true
pass "kubectl wait --for=condition=complete job/pi"
expect_eq "$(k get job pi -o jsonpath='{.status.succeeded}')" "5" "five pods succeeded"
expect_eq "$(k get pods -l job-name=pi -o name | wc -l | tr -d ' ')" "5" "exactly five pods were created"
max=$(cat "$WORK/max-active")
[ "$max" -le 2 ] || fail "parallelism 2 exceeded: $max pods pending at once"
pass "never more than 2 pods running at once (saw $max)"
expect_eq "$(k get job pi -o jsonpath='{.status.conditions[?(@.type=="SuccessCriteriaMet")].status}')" "True" "SuccessCriteriaMet precedes Complete"
expect_eq "$(k get pods -l job-name=pi -o jsonpath='{.items[*].metadata.finalizers}')" "" "counted pods lose the job-tracking finalizer"
run k get events --field-selector involvedObject.name=pi,reason=Completed -o name
expect_contains "$OUT" "event" "a Completed event"
run k get job pi
expect_contains "$OUT" "Complete" "kubectl get job shows the status"

# kubectl create job: the imperative form with the generated selector.
run k create job once --image=busybox:1.36 -- true
for _ in $(seq 1 50); do [ -n "$(k get pods -l job-name=once -o name)" ] && break; sleep 0.1; done
expect_eq "$(k get pods -l job-name=once -o jsonpath='{.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}')" "Job/once" "kubectl create job gets a pod owned by the Job"

# CronJobs: accepted, a sane next schedule, and --from=cronjob.
run k create cronjob tick --image=busybox:1.36 --schedule="*/1 * * * *" -- true
expect_eq "$(k get cronjob tick -o jsonpath='{.spec.schedule}')" "*/1 * * * *" "a */1 CronJob is accepted"
expect_eq "$(k get cronjob tick -o jsonpath='{.spec.concurrencyPolicy}/{.spec.successfulJobsHistoryLimit}/{.spec.failedJobsHistoryLimit}')" "Allow/3/1" "CronJob defaults"
run k get cronjob tick
expect_contains "$OUT" "*/1 * * * *" "kubectl get cronjob lists it"
expect_contains "$OUT" "False" "not suspended"
# The controller has looked at it: no schedule warnings, and any schedule time so far is a
# whole minute within the last two (a minute boundary may pass during the test).
sleep 1
run k get events --field-selector involvedObject.name=tick -o jsonpath='{.items[*].reason}'
expect_not_contains "$OUT" "Unparseable" "the controller parses the schedule"
last=$(k get cronjob tick -o jsonpath='{.status.lastScheduleTime}')
if [ -n "$last" ]; then
  python3 -c 'import sys,datetime as d; t=d.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc); n=d.datetime.now(d.timezone.utc); sys.exit(0 if t.second==0 and 0<=(n-t).total_seconds()<=120 else 1)' "$last" || fail "odd lastScheduleTime $last"
fi
pass "lastScheduleTime is sane ([${last:-none}])"
run k create job manual --from=cronjob/tick
expect_eq "$(k get job manual -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" "CronJob/tick" "create job --from=cronjob sets the CronJob as owner"
expect_eq "$(k get job manual -o jsonpath='{.metadata.annotations.cronjob\.kubernetes\.io/instantiate}')" "manual" "and marks it manual"
for _ in $(seq 1 50); do [ -n "$(k get pods -l job-name=manual -o name)" ] && break; sleep 0.1; done
expect_contains "$(k get pods -l job-name=manual -o name)" "pod/manual-" "the Job controller runs the manual job"
expect_fail "a bad schedule is rejected" k create cronjob bad --image=busybox:1.36 --schedule="* * *" -- true

# Suspend: a suspended Job runs nothing and says so.
run k create job paused --image=busybox:1.36 --dry-run=client -o json -- true
echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["spec"]["suspend"]=True; print(json.dumps(d))' >"$WORK/paused.json"
run k create -f "$WORK/paused.json"
run k wait --for=condition=suspended job/paused --timeout=10s
pass "a suspended job gets the Suspended condition"
expect_eq "$(k get pods -l job-name=paused -o name)" "" "and no pods"

# ttlSecondsAfterFinished: the finished job is deleted.
cat >"$WORK/ttl.yaml" <<'EOF'
apiVersion: batch/v1
kind: Job
metadata:
  name: short
spec:
  ttlSecondsAfterFinished: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox:1.36
EOF
run k apply -f "$WORK/ttl.yaml"
play_kubelet job-name=short 15
run k wait --for=delete job/short --timeout=15s
pass "a finished job with ttlSecondsAfterFinished is deleted"
finish
