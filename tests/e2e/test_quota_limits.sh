#!/usr/bin/env bash
# LimitRanger and ResourceQuota admission with the real kubectl, and the resource quota
# controller keeping status.used (server only: admission decides at create, no pod has to
# run). Defaults and their annotation, max/min violations and LimitRange validation with
# upstream's messages; quota object counts, compute requests, count/<resource>.<group>,
# scopes, the 403 texts, concurrent creates that must not overrun a quota, and usage given
# back after deletions (informer-driven and by the full resync, shortened here to 2s).
source "$(dirname "$0")/lib.sh"
SERVER_ARGS="--resource-quota-sync-period 2s" start_server

# pod NAME [resources-as-JSON] [extra spec fields as YAML lines]
pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  containers:
  - name: c
    image: busybox
    resources: ${2:-{\}}
${3:-}
YAML
}
# quota_used NS NAME RESOURCE: status.used[RESOURCE]
quota_used() { k -n "$1" get quota "$2" -o "jsonpath={.status.used['${3//./\\.}']}"; }
used_is() { [ "$(quota_used "$1" "$2" "$3")" == "$4" ]; }

# ---- LimitRanger: defaults --------------------------------------------------------------
run k create namespace lim
cat >"$WORK/lr.yaml" <<'YAML'
apiVersion: v1
kind: LimitRange
metadata:
  name: lr
spec:
  limits:
  - type: Container
    default: {cpu: 300m, memory: 128Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: 500m}
    min: {cpu: 50m}
  - type: Pod
    max: {memory: 1Gi}
  - type: PersistentVolumeClaim
    max: {storage: 2Gi}
YAML
run k -n lim create -f "$WORK/lr.yaml"
pod plain | k -n lim create -f - >/dev/null || fail "a pod without resources was refused"
expect_eq "$(k -n lim get pod plain -o jsonpath='{.spec.containers[0].resources}')" \
  '{"limits":{"cpu":"300m","memory":"128Mi"},"requests":{"cpu":"100m","memory":"128Mi"}}' \
  "the container gets default limits and requests (memory's request from its default)"
expect_eq "$(k -n lim get pod plain -o jsonpath='{.metadata.annotations.kubernetes\.io/limit-ranger}')" \
  "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c" \
  "the kubernetes.io/limit-ranger annotation says what was set"
expect_eq "$(k -n lim get pod plain -o jsonpath='{.status.qosClass}')" "Burstable" \
  "the QoS class is computed from the defaulted resources"
# kubectl prints an item's resources in Go map order, which changes from run to run: sorted.
expect_eq "$(k -n lim describe limits lr | grep -E '^(Container|Pod|PersistentVolumeClaim) ' | tr -s ' ' | LC_ALL=C sort)" \
  "Container cpu 50m 500m 100m 300m -
Container memory - - 128Mi 128Mi -
PersistentVolumeClaim storage - 2Gi - - -
Pod memory - 1Gi - - -" "kubectl describe limits shows min, max and the defaulted defaults"
pod own '{"limits": {"cpu": "200m"}}' | k -n lim create -f - >/dev/null || fail "own pod refused"
expect_eq "$(k -n lim get pod own -o jsonpath='{.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.memory}')" \
  "200m 128Mi" "the container's own values win; only missing ones are defaulted"

# ---- LimitRanger: violations ------------------------------------------------------------
OUT=$(pod big '{"limits": {"cpu": "1"}}' | k -n lim create -f - 2>&1) && fail "admitted: $OUT"
expect_eq "$OUT" 'Error from server (Forbidden): error when creating "STDIN": pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1' \
  "a container over max is refused with upstream's message"
OUT=$(pod tiny '{"requests": {"cpu": "10m"}}' | k -n lim create -f - 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'pods "tiny" is forbidden: minimum cpu usage per Container is 50m, but request is 10m' \
  "a container under min is refused"
OUT=$(pod two '{"limits": {"cpu": "1", "memory": "2Gi"}}' | k -n lim create -f - 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'pods "two" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, maximum memory usage per Pod is 1Gi, but limit is 2Gi]' \
  "several violations are aggregated in brackets, Pod limits on the containers' sum"
cat >"$WORK/pvc.yaml" <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: huge
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
YAML
OUT=$(k -n lim create -f "$WORK/pvc.yaml" 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi' \
  "a claim over the PersistentVolumeClaim max is refused"

# ---- LimitRange validation ----------------------------------------------------------------
cat >"$WORK/badlr.yaml" <<'YAML'
apiVersion: v1
kind: LimitRange
metadata:
  name: bad
spec:
  limits:
  - type: Container
    min: {cpu: "1"}
    max: {cpu: 500m}
    defaultRequest: {cpu: 2}
YAML
OUT=$(k -n lim create -f "$WORK/badlr.yaml" 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'spec.limits[0].min[cpu]: Invalid value: "1": min value 1 is greater than max value 500m' \
  "a LimitRange with min > max is invalid"
expect_contains "$OUT" 'spec.limits[0].defaultRequest[cpu]: Invalid value: "2": default request value 2 is greater than max value 500m' \
  "defaultRequest above max is reported too"

# ---- ResourceQuota: object counts ---------------------------------------------------------
run k create namespace qa
run k -n qa create quota q --hard=pods=2,count/deployments.apps=1
wait_for "the controller fills status.used" 10 used_is qa q pods 0
OUT=$(k -n qa get quota)
expect_contains "$(echo "$OUT" | head -1)" "NAME   AGE   REQUEST" "kubectl get quota has upstream's columns NAME AGE REQUEST LIMIT"
expect_contains "$OUT" "count/deployments.apps: 0/1, pods: 0/2" "the REQUEST column shows used/hard"
pod a1 | k -n qa create -f - >/dev/null || fail "first pod refused"
pod a2 | k -n qa create -f - >/dev/null || fail "second pod refused"
OUT=$(pod a3 | k -n qa create -f - 2>&1) && fail "third pod admitted: $OUT"
expect_eq "$OUT" 'Error from server (Forbidden): error when creating "STDIN": pods "a3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2' \
  "the third pod is refused with upstream's message"
OUT=$(k -n qa describe quota q)
expect_contains "$OUT" "pods                    2     2" "kubectl describe quota shows status.used"
run k -n qa delete pod a1 --grace-period=0 --force
wait_for "the deletion gives quota back" 10 used_is qa q pods 1
pod a3 | k -n qa create -f - >/dev/null || fail "a pod was refused after a deletion freed quota"
pass "a new pod is admitted once the controller recomputed"
run k -n qa create deployment d1 --image=busybox --replicas=0
OUT=$(k -n qa create deployment d2 --image=busybox --replicas=0 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'deployments.apps "d2" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1' \
  "count/deployments.apps limits deployments"
run k -n qa delete deployment d1
wait_for "the full resync gives the deployment's count back" 15 used_is qa q count/deployments.apps 0
pass "count/<resource>.<group> usage is recomputed by the resync"

# ---- Terminal pods do not count ------------------------------------------------------------
run k -n qa patch pod a2 --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}'
wait_for "a terminal pod stops counting" 10 used_is qa q pods 1
pass "a Succeeded pod no longer uses the pods quota"

# ---- Compute quota: requests are required ---------------------------------------------------
run k create namespace qc
run k -n qc create quota cpu --hard=requests.cpu=1,limits.memory=1Gi
wait_for "status.used" 10 used_is qc cpu requests.cpu 0
OUT=$(pod bare | k -n qc create -f - 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'pods "bare" is forbidden: failed quota: cpu: must specify limits.memory for: c; requests.cpu for: c' \
  "a pod without the constrained requests and limits is refused with upstream's message"
pod r1 '{"requests": {"cpu": "600m"}, "limits": {"memory": "256Mi"}}' | k -n qc create -f - >/dev/null ||
  fail "r1 refused"
OUT=$(pod r2 '{"requests": {"cpu": "600m"}, "limits": {"memory": "256Mi"}}' | k -n qc create -f - 2>&1) &&
  fail "admitted: $OUT"
expect_contains "$OUT" 'exceeded quota: cpu, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1' \
  "requests.cpu is summed and limited"
expect_eq "$(quota_used qc cpu limits.memory)" "256Mi" "limits.memory is charged in the request's units"
OUT=$(pod dry '{"requests": {"cpu": "100m"}, "limits": {"memory": "1Mi"}}' | k -n qc create --dry-run=server -f - 2>&1) ||
  fail "dry run refused: $OUT"
expect_eq "$(quota_used qc cpu requests.cpu)" "600m" "a server dry run is checked but not charged"

# ---- Scopes ---------------------------------------------------------------------------------
run k create namespace qs
run k -n qs create quota be --hard=pods=1 --scopes=BestEffort
wait_for "status.used" 10 used_is qs be pods 0
pod be1 | k -n qs create -f - >/dev/null || fail "be1 refused"
OUT=$(pod be2 | k -n qs create -f - 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1' \
  "a BestEffort quota counts best-effort pods"
pod burst '{"requests": {"cpu": "10m"}}' | k -n qs create -f - >/dev/null ||
  fail "a Burstable pod was charged to a BestEffort quota"
pass "a pod outside the quota's scope is not charged"
OUT=$(k -n qs create quota bad --hard=cpu=1 --scopes=BestEffort,NotBestEffort 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes' \
  "conflicting scopes are invalid"
OUT=$(k -n qs create quota bad --hard=widgets=1 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota' \
  "an unknown quota resource is invalid"

# ---- Concurrent creates never exceed hard ----------------------------------------------------
# Admission charges the quota (a compare-and-swap in the store) before the pod is stored; a full
# resync that recomputes usage from the informers in between does not see that pod yet and
# writes the lower count back for a moment (upstream's controller has the same window). With
# the 2s resync that happened under load (a CI run: 6 of 20 admitted), so these creates run on
# the server restarted with the default 5m resync; informer-driven recomputes (deletions) do
# not happen here.
stop_server
SERVER_ARGS="" start_server
run k create namespace qp
run k -n qp create quota five --hard=pods=5
wait_for "status.used" 10 used_is qp five pods 0
PIDS=()
for i in $(seq 1 20); do
  (pod "p$i" | k -n qp create -f - >"$WORK/par.$i" 2>&1 || true) &
  PIDS+=($!)
done
wait "${PIDS[@]}"  # (a bare wait would wait for the server too)
expect_eq "$(grep -l created "$WORK"/par.* | wc -l)" "5" "exactly 5 of 20 parallel creates succeed against pods=5"
expect_eq "$(k -n qp get pods --no-headers | wc -l)" "5" "exactly 5 pods exist"
expect_eq "$(cat "$WORK"/par.* | grep -c 'exceeded quota: five, requested: pods=1, used: pods=5, limited: pods=5')" "15" \
  "the 15 others are refused with the exceeded-quota message"
expect_eq "$(quota_used qp five pods)" "5" "status.used says 5"

finish
