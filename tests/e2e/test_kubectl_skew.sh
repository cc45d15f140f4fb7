#!/usr/bin/env bash
# kubectl version skew: one server, driven by every installed kubectl from 1.27 to 1.33
# (called directly, not through the dispatcher). 1.27-1.29 ask for aggregated discovery as
# apidiscovery.k8s.io/v2beta1, 1.30+ prefer v2; both must be served as upstream negotiates them.
source "$(dirname "$0")/lib.sh"
# py EXPR: a Python expression over the last body (as d).
py() { python3 -c "import json,sys;d=json.load(open('$WORK/body'));print(eval(sys.argv[1]))" "$1"; }
BIN=/usr/lib/google-cloud-sdk/bin
start_server

# Discovery negotiation on the wire (what kubectl 1.27-1.29 and 1.30+ send).
hdr() { c -s -D - -o "$WORK/body" -H "Accept: $1" "$API$2" | tr -d '\r' | grep -i '^content-type:' | cut -d' ' -f2-; }
OLD='application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'
NEW='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'
expect_eq "$(hdr "$OLD" /apis)" "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList" "v2beta1 Accept: v2beta1 Content-Type"
expect_eq "$(json_field "['apiVersion']")" "apidiscovery.k8s.io/v2beta1" "v2beta1 Accept: v2beta1 document"
expect_contains "$(py "[g['metadata']['name'] for g in d['items']]")" "'apps'" "v2beta1 document lists apps"
expect_eq "$(hdr "$OLD" /api)" "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList" "v2beta1 for /api too"
expect_eq "$(json_field "['items'][0]['versions'][0]['resources'][0]['responseKind']['version']")" "v1" "v2beta1 /api carries core resources"
expect_eq "$(hdr "$NEW" /apis)" "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" "v2 first: v2"
expect_eq "$(json_field "['apiVersion']")" "apidiscovery.k8s.io/v2" "v2 document"
expect_eq "$(hdr 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' /apis)" \
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList" "q values order the choice"
expect_eq "$(hdr 'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json' /apis)" "application/json" "an unknown version falls back to legacy"
expect_eq "$(json_field "['kind']")" "APIGroupList" "legacy APIGroupList"
expect_eq "$(hdr 'application/json' /api)" "application/json" "plain JSON: legacy /api"
expect_eq "$(json_field "['kind']")" "APIVersions" "legacy APIVersions"

# /openapi/v2 as protobuf (gnostic Document), what kubectl 1.27 and 1.28 validate with.
PB='application/com.github.proto-openapi.spec.v2@v1.0+protobuf'
expect_eq "$(c -s -o "$WORK/v2.pb" -w '%{content_type}' -H "Accept: $PB" "$API/openapi/v2")" \
  "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" "/openapi/v2 protobuf Content-Type"
expect_eq "$(head -c 5 "$WORK/v2.pb" | od -An -c | tr -s ' ')" " \\n 003 2 . 0" "protobuf document starts with swagger 2.0 (field 1)"
expect_eq "$(c -s -o /dev/null -w '%{content_type}' -H 'Accept: application/json' "$API/openapi/v2")" "application/json" "/openapi/v2 JSON still"

cat >"$WORK/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {skew: "yes"}
data:
  k: one
YAML

for minor in 27 28 29 30 31 32 33; do
  KC="$BIN/kubectl.1.$minor"
  [ -x "$KC" ] || fail "missing $KC"
  kk() { "$KC" --kubeconfig "$WORK/data/kubeconfig" --cache-dir "$WORK/cache-1.$minor" "$@"; }
  v="1.$minor"
  run kk version --client -o json
  expect_contains "$OUT" "\"minor\": \"$minor\"" "$v: the binary is kubectl $v"
  run kk api-resources
  expect_contains "$(echo "$OUT" | grep -E '^deployments ')" "apps/v1" "$v: api-resources lists deployments in apps/v1"
  expect_contains "$(echo "$OUT" | grep -E '^pods ')" "po" "$v: api-resources shows the pods short name"
  run kk explain configmap.data
  expect_contains "$OUT" "FIELD: data <map[string]string>" "$v: explain"
  run kk create deployment "web-$minor" --image=busybox
  expect_eq "$OUT" "deployment.apps/web-$minor created" "$v: create deployment"
  run kk create configmap "cm-$minor" --from-literal=a=b
  expect_eq "$OUT" "configmap/cm-$minor created" "$v: create configmap"
  run kk get deploy "web-$minor"
  expect_contains "$(echo "$OUT" | head -1)" "READY" "$v: get deploy prints the deployment table"
  expect_contains "$OUT" "web-$minor" "$v: get deploy shows it"
  run kk get cm "cm-$minor" -o jsonpath='{.data.a}'
  expect_eq "$OUT" "b" "$v: get configmap data"
  # (kubectl 1.27 and 1.28 build their validator from /openapi/v2 as protobuf.)
  run kk apply -f "$WORK/cm.yaml"
  expect_eq "$OUT" "configmap/applied created" "$v: apply creates"
  sed -i "s/k: .*/k: v$minor/" "$WORK/cm.yaml"
  run kk apply -f "$WORK/cm.yaml"
  expect_eq "$OUT" "configmap/applied configured" "$v: apply patches"
  run kk get cm applied -o yaml
  expect_contains "$OUT" "k: v$minor" "$v: get -o yaml shows the applied data"
  expect_contains "$OUT" "kubectl.kubernetes.io/last-applied-configuration" "$v: get -o yaml shows the last applied annotation"
  run kk delete deploy "web-$minor"
  expect_eq "$OUT" "deployment.apps \"web-$minor\" deleted" "$v: delete deployment"
  run kk delete cm "cm-$minor" applied
  expect_contains "$OUT" "configmap \"applied\" deleted" "$v: delete configmaps"
  expect_fail "$v: the deleted deployment is gone" kk get deploy "web-$minor"
  expect_contains "$OUT" "NotFound" "$v: NotFound after delete"
done
finish
