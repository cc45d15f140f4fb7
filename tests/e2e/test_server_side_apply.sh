#!/usr/bin/env bash
# managedFields on every write path and server-side apply, driven by the real kubectl:
# create/label/set image/scale record their managers, apply --server-side from two managers
# conflicts with upstream's message, --force-conflicts takes the field, dropping a field
# from a configuration removes it, status writes are subresource entries, the switch from
# client-side apply, diff --server-side, and malformed apply requests answer with a Status.
source "$(dirname "$0")/lib.sh"
STORAGE=memory start_server

# managers AND fieldsV1 of every entry, one per line: "manager operation subresource {fields}"
managers() {
  k get "$@" -o json --show-managed-fields | python3 -c '
import json, sys
for e in json.load(sys.stdin)["metadata"].get("managedFields", []):
    print(e["manager"], e["operation"], e.get("subresource", "-"), json.dumps(e["fieldsV1"], separators=(",", ":")))'
}
entry() { managers "${@:2}" | grep "^$1 " || true; }

# --- create records the creator's Update entry with upstream's fieldsV1
run k create deployment web --image=busybox:1.36
E=$(entry kubectl-create deploy web)
expect_contains "$E" 'kubectl-create Update -' "kubectl create records an Update entry"
expect_contains "$E" '"f:metadata":{"f:labels":{".":{},"f:app":{}}}' "labels it created are members with their own node"
expect_contains "$E" '"f:containers":{"k:{\"name\":\"busybox\"}":{".":{},"f:image":{},"f:imagePullPolicy":{}' "containers are keyed by name, defaults included"
expect_contains "$E" '"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}}' "value structs have no self entry"
expect_not_contains "$E" 'f:status' "status is not the creator's"
OUT=$(k get deploy web -o yaml --show-managed-fields)
expect_contains "$OUT" "    manager: kubectl-create
    operation: Update
    time: " "get -o yaml --show-managed-fields shows the entry"
OUT=$(k get deploy web -o yaml)
expect_not_contains "$OUT" "managedFields" "plain get -o yaml hides managedFields (kubectl strips them)"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.managedFields[0].fieldsType}')" "FieldsV1" "fieldsType"
T=$(k get deploy web -o jsonpath='{.metadata.managedFields[0].time}')
[[ "$T" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "time is RFC3339 seconds: $T"
pass "time is RFC3339 in seconds"

# --- label / set image / scale add their managers and take the fields they changed
run k label deploy web tier=frontend
expect_eq "$(entry kubectl-label deploy web)" 'kubectl-label Update - {"f:metadata":{"f:labels":{"f:tier":{}}}}' "kubectl label"
run k set image deploy/web busybox=busybox:1.37
expect_eq "$(entry kubectl-set deploy web)" \
  'kubectl-set Update - {"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"busybox\"}":{"f:image":{}}}}}}}' "kubectl set image"
expect_not_contains "$(entry kubectl-create deploy web)" '"f:image"' "the image moved away from kubectl-create"
run k scale deploy web --replicas=3
expect_eq "$(entry kubectl deploy web)" 'kubectl Update scale {"f:spec":{"f:replicas":{}}}' "kubectl scale is a scale subresource entry named after the user agent"
expect_not_contains "$(entry kubectl-create deploy web)" '"f:replicas"' "replicas moved away from kubectl-create"
run k annotate deploy web note=x --field-manager=my-tool
expect_contains "$(entry my-tool deploy web)" 'f:note' "--field-manager names the entry"

# --- status writes are subresource entries
# (a Service: no controller of this server writes its status and would take the field)
run k create service clusterip lb --tcp=80
c -sf -X PATCH -H 'Content-Type: application/merge-patch+json' -H 'User-Agent: status-writer/1.0' \
  "$API/api/v1/namespaces/default/services/lb/status" \
  -d '{"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"}]}}}' >/dev/null || fail "status patch"
E=$(entry status-writer svc lb)
expect_contains "$E" 'status-writer Update status {"f:status":{"f:loadBalancer":' "a status write is recorded with subresource status"
expect_contains "$E" '"f:ingress":{}' "with the status fields it wrote"
expect_not_contains "$(entry kubectl-create svc lb)" 'f:status' "and only there"
expect_not_contains "$(entry kubectl-create svc lb)" 'f:ipFamilies' "IP families are allocated, not the creator's"
run k run solo --image=busybox:1.36
E=$(entry kubectl-run pod solo)
expect_contains "$E" '"f:enableServiceLinks":{}' "defaults are the creator's"
expect_not_contains "$E" 'f:priority' "the priority admission sets is not"

# an apply to the status subresource: a status entry, conflicts name the subresource
cat >"$WORK/lb.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: lb2
status:
  loadBalancer:
    ingress:
    - ip: 10.0.0.7
YAML
run k create service clusterip lb2 --tcp=80
run k apply --server-side --subresource=status --field-manager=lb-controller -f "$WORK/lb.yaml"
expect_eq "$(entry lb-controller svc lb2)" 'lb-controller Apply status {"f:status":{"f:loadBalancer":{"f:ingress":{}}}}' "apply --subresource=status records an Apply status entry"
expect_eq "$(k get svc lb2 -o jsonpath='{.status.loadBalancer.ingress[0].ip}')" "10.0.0.7" "and writes the status"
sed -i 's/10.0.0.7/10.0.0.8/' "$WORK/lb.yaml"
expect_fail "another status applier conflicts" k apply --server-side --subresource=status --field-manager=other -f "$WORK/lb.yaml"
expect_contains "$OUT" 'error: Apply failed with 1 conflict: conflict with "lb-controller" with subresource "status": .status.loadBalancer.ingress' "the conflict names the subresource"
sed -i 's/name: lb2/name: lb/' "$WORK/lb.yaml"
expect_fail "applying over an Update status entry conflicts" k apply --server-side --subresource=status --field-manager=other -f "$WORK/lb.yaml"
expect_contains "$OUT" 'error: Apply failed with 1 conflict: conflict with "status-writer" with subresource "status" using v1: .status.loadBalancer.ingress' "an Update entry of a subresource is named with both"

# --- server-side apply from two managers
cat >"$WORK/a.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop, team: a}
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 8080
YAML
sed 's/replicas: 2/replicas: 3/' "$WORK/a.yaml" >"$WORK/b.yaml"
run k apply --server-side --field-manager=a -f "$WORK/a.yaml"
expect_eq "$OUT" "deployment.apps/shop serverside-applied" "apply --server-side creates"
E=$(entry a deploy shop)
expect_contains "$E" 'a Apply -' "an Apply entry"
expect_contains "$E" '"f:metadata":{"f:labels":{"f:app":{},"f:team":{}}}' "applied labels without a self entry"
expect_contains "$E" '"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}' "ports keyed by containerPort and protocol"
expect_not_contains "$E" 'imagePullPolicy' "defaults are not the applier's"
run k apply --server-side --field-manager=a -f "$WORK/a.yaml"
expect_eq "$OUT" "deployment.apps/shop serverside-applied" "re-apply"

expect_fail "apply of another value from another manager conflicts" k apply --server-side --field-manager=b -f "$WORK/b.yaml"
expect_contains "$OUT" 'error: Apply failed with 1 conflict: conflict with "a": .spec.replicas' "kubectl prints upstream's conflict message"
expect_contains "$OUT" "--force-conflicts" "with kubectl's advice"
CONFLICT=$(c -s -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  "$API/apis/apps/v1/namespaces/default/deployments/shop?fieldManager=b" --data-binary @"$WORK/b.yaml")
expect_eq "$(echo "$CONFLICT" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["code"], s["reason"], s["details"]["causes"])')" \
  "409 Conflict [{'reason': 'FieldManagerConflict', 'message': 'conflict with \"a\"', 'field': '.spec.replicas'}]" "the Status has FieldManagerConflict causes"
expect_eq "$(k get deploy shop -o jsonpath='{.spec.replicas}')" "2" "a refused apply changes nothing"

run k apply --server-side --field-manager=b -f "$WORK/a.yaml"
pass "applying the same value is no conflict"
expect_contains "$(entry b deploy shop)" '"f:replicas"' "both managers own an agreed field"

run k apply --server-side --field-manager=b --force-conflicts -f "$WORK/b.yaml"
expect_eq "$(k get deploy shop -o jsonpath='{.spec.replicas}')" "3" "--force-conflicts applies the value"
expect_not_contains "$(entry a deploy shop)" '"f:replicas"' "and takes the field from the other manager"
expect_contains "$(entry b deploy shop)" '"f:replicas"' "the forcing manager owns it"

# an Update manager conflicts too, named with its version
run k label deploy shop team=ops --overwrite
expect_fail "apply over a label changed by kubectl label" k apply --server-side --field-manager=a -f "$WORK/a.yaml"
expect_contains "$OUT" 'error: Apply failed with 2 conflicts: conflicts with "b":
- .spec.replicas
conflicts with "kubectl-label" using apps/v1:
- .metadata.labels.team' "several conflicts are listed per manager; an Update manager is named with its apiVersion"

# --- dropping a field from a configuration removes it (unless someone else owns it)
cat >"$WORK/c.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  keep: "1"
  drop: "2"
YAML
run k apply --server-side --field-manager=cfg -f "$WORK/c.yaml"
sed -i '/drop:/d' "$WORK/c.yaml"
run k apply --server-side --field-manager=cfg -f "$WORK/c.yaml"
expect_eq "$(k get cm settings -o jsonpath='{.data}')" '{"keep":"1"}' "a field the manager stopped applying is removed"
expect_eq "$(entry cfg cm settings)" 'cfg Apply - {"f:data":{"f:keep":{}}}' "and leaves its set"
run k patch cm settings --type=merge -p '{"data":{"other":"x"}}'
run k apply --server-side --field-manager=cfg -f "$WORK/c.yaml"
expect_eq "$(k get cm settings -o jsonpath='{.data.other}')" "x" "fields of other managers stay"

# --- diff --server-side is a dry-run apply
sed 's/"1"/"5"/' "$WORK/c.yaml" >"$WORK/c2.yaml"
OUT=$(k diff --server-side --field-manager=cfg -f "$WORK/c2.yaml" 2>&1 || true)
expect_contains "$OUT" '+  keep: "5"' "diff --server-side shows the applied change"
expect_eq "$(k get cm settings -o jsonpath='{.data.keep}')" "1" "and writes nothing"

# --- client-side apply, then kubectl apply --server-side takes over without conflicts
cat >"$WORK/csa.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: migrated
data:
  a: "1"
YAML
run k apply -f "$WORK/csa.yaml"
expect_contains "$(entry kubectl-client-side-apply cm migrated)" 'kubectl-client-side-apply Update' "client-side apply records its manager"
sed -i 's/"1"/"2"/' "$WORK/csa.yaml"
run k apply --server-side -f "$WORK/csa.yaml"
expect_eq "$(k get cm migrated -o jsonpath='{.data.a}')" "2" "server-side apply after client-side apply changes the field without a conflict"
expect_contains "$(entry kubectl cm migrated)" 'kubectl Apply - {"f:data":{"f:a":{}}}' "kubectl's Apply entry owns it"
expect_contains "$(k get cm migrated -o jsonpath='{.metadata.annotations}')" '\"a\":\"2\"' "the last-applied annotation follows the applied configuration"

# --- managedFields written by clients
run k patch cm settings --type=json -p '[{"op":"replace","path":"/metadata/managedFields","value":[{}]}]'
expect_eq "$(managers cm settings)" "" "managedFields: [{}] clears them"
run k patch cm settings --type=merge -p '{"metadata":{"managedFields":[{"manager":"x","operation":"Bogus"}]},"data":{"z":"1"}}'
expect_eq "$(managers cm settings | cut -d' ' -f1-3)" "kubectl-patch Update -" "an invalid list is ignored"

# --- malformed apply requests answer with a Status, never a crash
apply_raw() {  # BODY [QUERY]
  c -s -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
    "$API/api/v1/namespaces/default/configmaps/settings?${2:-fieldManager=x}" --data-binary "$1"
}
status_of() { python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["kind"], s["code"], s["message"])'; }
expect_eq "$(apply_raw '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"settings"}}' | status_of)" \
  "Status 400 invalid object type: /v1, Kind=Pod" "another kind is refused"
expect_eq "$(apply_raw '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","managedFields":[]}}' | status_of)" \
  "Status 400 metadata.managedFields must be nil" "managedFields in an applied configuration are refused"
expect_contains "$(apply_raw '[1, 2]' | status_of)" "Status 400" "a list body is a 400"
expect_contains "$(apply_raw '{"apiVersion":"v1","kind":"ConfigMap"}' 'force=true' | status_of)" "Status 422" "apply without a field manager is a 422"
expect_contains "$(apply_raw ': : :' | status_of)" "Status 400" "broken YAML is a 400"
expect_eq "$(apply_raw '{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}' | status_of)" \
  "Status 500 failed to create typed patch object (/; /v1, Kind=ConfigMap): .metadata: expected map, got &{x}" \
  "metadata of the wrong type: upstream's typed-conversion error (a plain error, so 500 with no reason)"
expect_eq "$(apply_raw '{"apiVersion":"v1","kind":"ConfigMap","data":["a"]}' | status_of)" \
  "Status 500 failed to create typed patch object (/; /v1, Kind=ConfigMap): .data: expected map, got &{[a]}" \
  "a list where a map belongs: the same typed-conversion error"
c -sf "$API/readyz" >/dev/null || fail "server died"
pass "the server is still up"

echo "$PASSED passed, 0 failed"
