#!/usr/bin/env bash
# Writes are checked against the kind's schema types as upstream's typed decoding does: a value
# of the wrong JSON type is refused on create, replace, every patch type and apply, with the
# words real kubectl prints for upstream, and the stored object is left as it was.
source "$(dirname "$0")/lib.sh"
start_server

cat >"$WORK/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: web}}
spec: {containers: [{name: c, image: busybox}]}
EOF
k create -f "$WORK/pod.yaml" >/dev/null
labels() { k get pod p -o jsonpath='{.metadata.labels}'; }
before=$(labels)

# --- patches: 422 Invalid on field "patch" (kubectl: "The request is invalid: ...")
expect_fail "merge patch with a string for labels is refused" \
  k patch pod p --type=merge -p '{"metadata":{"labels":"invalid"}}'
expect_contains "$OUT" 'The request is invalid: patch: Invalid value: "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{' \
  "merge patch shows the patched object"
expect_contains "$OUT" '}": json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string' \
  "merge patch gives the JSON decoder's message"
expect_fail "strategic patch with a string for labels is refused" \
  k patch pod p --type=strategic -p '{"metadata":{"labels":"invalid"}}'
expect_eq "$OUT" 'The request is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": cannot restore map from string' \
  "strategic patch gives the unstructured converter's message"
expect_fail "JSON patch with a string for labels is refused" \
  k patch pod p --type=json -p '[{"op":"replace","path":"/metadata/labels","value":"invalid"}]'
expect_contains "$OUT" '": json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string' \
  "JSON patch gives the JSON decoder's message"
expect_fail "strategic patch with a string port is refused" \
  k patch pod p -p '{"spec":{"containers":[{"name":"c","ports":[{"containerPort":"80"}]}]}}'
expect_eq "$OUT" 'The request is invalid: patch: Invalid value: "map[spec:map[containers:[map[name:c ports:[map[containerPort:80]]]]]]": unrecognized type: int32' \
  "a string for an int32 in a strategic patch"
expect_fail "merge patch with a bool for a string is refused" \
  k patch pod p --type=merge -p '{"spec":{"schedulerName":true}}'
expect_contains "$OUT" 'json: cannot unmarshal bool into Go struct field PodSpec.spec.schedulerName of type string' \
  "a bool for a string"
expect_eq "$(labels)" "$before" "the pod is unchanged after the refused patches"
k patch pod p --type=merge -p '{"metadata":{"labels":{"tier":"front"}}}' >/dev/null
expect_eq "$(k get pod p -o jsonpath='{.metadata.labels.tier}')" "front" "a well-typed patch still applies"

# --- create and replace: 400 BadRequest "<Kind> in version "v" cannot be handled as a <Kind>"
cat >"$WORK/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: "3"
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: busybox}]}
EOF
expect_fail "create with a string for replicas is refused" k create -f "$WORK/deploy.yaml"
expect_eq "$OUT" "Error from server (BadRequest): error when creating \"$WORK/deploy.yaml\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32" \
  "create names the Go struct field and type"
expect_fail "the refused Deployment does not exist" k get deployment d
sed -i 's/replicas: "3"/replicas: 1/' "$WORK/deploy.yaml"
k create -f "$WORK/deploy.yaml" >/dev/null
k get pod p -o json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
d["spec"]["containers"][0]["ports"] = [{"containerPort": 1.5}]
print(json.dumps(d))' >"$WORK/replace.json"
expect_fail "replace with a fractional port is refused" k replace -f "$WORK/replace.json"
expect_eq "$OUT" "Error from server (BadRequest): error when replacing \"$WORK/replace.json\": Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32" \
  "replace quotes the number"
expect_eq "$(k get pod p -o jsonpath='{.spec.containers[0].ports}')" "" "the pod is unchanged after the refused replace"

# --- apply, client-side (a strategic patch) and server-side
sed -i 's/replicas: 1/replicas: "lots"/' "$WORK/deploy.yaml"
expect_fail "client-side apply with a string for replicas is refused" k apply -f "$WORK/deploy.yaml"
expect_contains "$OUT" 'The request is invalid: patch: Invalid value: "map[metadata:map[annotations:map[kubectl.kubernetes.io/last-applied-configuration:' \
  "client-side apply shows the patch map"
expect_contains "$OUT" 'spec:map[replicas:lots]]": unrecognized type: int32' "client-side apply gives the converter's message"
expect_fail "server-side apply with a string for replicas is refused" k apply --server-side -f "$WORK/deploy.yaml"
expect_eq "$OUT" 'Error from server: failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string' \
  "server-side apply gives structured-merge-diff's message"
cat >"$WORK/apply-cm.yaml" <<'EOF2'
apiVersion: v1
kind: ConfigMap
metadata: {name: applied}
data: {a: 1, b: [x]}
EOF2
expect_fail "server-side apply of a ConfigMap with numbers for strings is refused" k apply --server-side -f "$WORK/apply-cm.yaml"
expect_contains "$OUT" 'Error from server: failed to create typed patch object (default/applied; /v1, Kind=ConfigMap): errors:' \
  "several apply errors are listed"
expect_contains "$OUT" '  .data.a: expected string, got &value.valueUnstructured{Value:1}' "apply names a map value by its key"
expect_fail "the refused applied ConfigMap does not exist" k get configmap applied
expect_eq "$(k get deployment d -o jsonpath='{.spec.replicas}')" "1" "the Deployment is unchanged after the refused applies"

# --- the scale subresource decodes a Scale
expect_fail "a scale patch with a string for replicas is refused" \
  k patch deployment d --subresource=scale --type=merge -p '{"spec":{"replicas":"3"}}'
expect_contains "$OUT" '": json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32' \
  "the scale patch names ScaleSpec"
expect_eq "$(k get deployment d -o jsonpath='{.spec.replicas}')" "1" "the Deployment is unchanged after the refused scale"

# --- schema types with their own decoding
cat >"$WORK/secret.yaml" <<'EOF'
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {key: invalid}
EOF
expect_fail "a Secret with invalid base64 is refused" k create -f "$WORK/secret.yaml"
expect_eq "$OUT" "Error from server (BadRequest): error when creating \"$WORK/secret.yaml\": Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 4" \
  "base64 errors give the offset"
cat >"$WORK/quantity.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: q}
spec: {containers: [{name: c, image: busybox, resources: {limits: {cpu: lots}}}]}
EOF
expect_fail "a malformed quantity is refused" k create -f "$WORK/quantity.yaml"
expect_contains "$OUT" "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)\$'" \
  "quantities give the grammar"
cat >"$WORK/accepted.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  selector: {app: web}
  ports: [{name: a, port: 80, targetPort: http}, {name: b, port: 81, targetPort: 8081}]
---
apiVersion: v1
kind: Pod
metadata: {name: numbers}
spec: {containers: [{name: c, image: busybox, resources: {limits: {cpu: 1, memory: 64Mi}}}]}
EOF
k create -f "$WORK/accepted.yaml" >/dev/null
pass "int-or-string takes both, quantities take numbers"
k patch pod p --type=merge -p '{"metadata":{"annotations":null},"spec":{"activeDeadlineSeconds":null}}' >/dev/null
pass "null is accepted for any type"

# --- raw bodies: curl and the Python client see upstream's Status
echo '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},"spec":{"replicas":3000000000,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}' >"$WORK/big.json"
expect_eq "$(curl_status POST /apis/apps/v1/namespaces/default/deployments application/json "$WORK/big.json")" "400" "int32 overflow is 400"
expect_eq "$(json_field '["reason"]')" "BadRequest" "with reason BadRequest"
expect_eq "$(json_field '["message"]')" 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32' \
  "the overflowing literal is quoted"
echo '{"metadata":{"labels":"invalid"}}' >"$WORK/merge.json"
expect_eq "$(curl_status PATCH /api/v1/namespaces/default/pods/p application/merge-patch+json "$WORK/merge.json")" "422" "a bad merge patch is 422"
expect_eq "$(json_field '["reason"]')" "Invalid" "with reason Invalid"
expect_eq "$(json_field '["details"]["causes"][0]["field"]' 2>&1 || cat "$WORK/body")" "patch" "on field patch"
expect_eq "$(json_field '["details"].get("kind", "")')" "" "without a kind"
echo '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":5}}' >"$WORK/binding.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/pods/p/binding application/json "$WORK/binding.json")" "400" "a Binding with a number for the node is 400"
expect_eq "$(json_field '["message"]')" 'Binding in version "v1" cannot be handled as a Binding: json: cannot unmarshal number into Go struct field ObjectReference.target.name of type string' \
  "the Binding's decode error"
echo '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p"},"deleteOptions":{"gracePeriodSeconds":"soon"}}' >"$WORK/eviction.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/pods/p/eviction application/json "$WORK/eviction.json")" "400" "an Eviction with a string grace period is 400"
expect_eq "$(json_field '["message"]')" 'Eviction in version "v1" cannot be handled as a Eviction: json: cannot unmarshal string into Go struct field DeleteOptions.deleteOptions.gracePeriodSeconds of type int64' \
  "the Eviction's decode error"
expect_eq "$(k get pod p -o jsonpath='{.spec.nodeName}{.metadata.deletionTimestamp}')" "" "the pod is neither bound nor evicted"
out=$(/usr/bin/python3 - "$WORK/data/kubeconfig" <<'EOF'
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
try:
    client.CoreV1Api().create_namespaced_config_map(
        "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": 1}})
    print("created")
except client.exceptions.ApiException as e:
    import json
    print(e.status, json.loads(e.body)["message"])
EOF
)
expect_eq "$out" '400 ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string' \
  "the Python client gets the decoder's message"
expect_fail "the refused ConfigMap does not exist" k get configmap cm
finish
