#!/usr/bin/env bash
# The aggregation layer: APIServices (local ones for every built-in group-version, validation,
# the table kubectl prints) and an extension API server (tests/e2e/wardle_server.py, HTTPS
# with a self-signed certificate, wardle.example.com/v1alpha1 flunders) registered with a
# Service + Endpoints + APIService: availability, discovery, proxying, going away.
source "$(dirname "$0")/lib.sh"
# py EXPR: a Python expression over the last body (as d).
py() { python3 -c "import json,sys;d=json.load(open('$WORK/body'));print(eval(sys.argv[1]))" "$1"; }
start_server
APIS=/apis/apiregistration.k8s.io/v1/apiservices
AGG_V2='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
AGG_V2B1='application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'

# ---- local APIServices ----
available() { k get apiservice "$1" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}/{.status.conditions[?(@.type=="Available")].reason}'; }
is_available() { [ "$(available "$1")" == "$2" ]; }
wait_for "v1.apps Available" 10 is_available v1.apps True/Local
run k get apiservices
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME SERVICE AVAILABLE AGE" "apiservices table columns"
expect_contains "$(echo "$OUT" | grep -E '^v1\.apps ' | tr -s ' ')" "v1.apps Local True" "v1.apps row"
expect_contains "$(echo "$OUT" | grep -E '^v1\. ' | tr -s ' ')" "v1. Local True" "core v1. row"
expect_contains "$OUT" "v1.apiregistration.k8s.io" "the APIService group's own APIService"
expect_contains "$OUT" "v2.autoscaling" "autoscaling v2"
run k get apiservice v1.apps -o jsonpath='{.spec.groupPriorityMinimum}/{.spec.versionPriority}/{.spec.service}/{.metadata.labels.kube-aggregator\.kubernetes\.io/automanaged}'
expect_eq "$OUT" "17800/15//onstart" "v1.apps spec and label as upstream"
run k get apiservice v2.autoscaling -o jsonpath='{.spec.groupPriorityMinimum}/{.spec.versionPriority}'
expect_eq "$OUT" "17500/30" "v2.autoscaling priorities"
run k get apiservice v1.apps -o jsonpath='{.status.conditions[0].message}'
expect_eq "$OUT" "Local APIServices are always available" "local condition message"
run k api-resources --api-group=apiregistration.k8s.io
expect_contains "$OUT" "apiservices" "api-resources lists apiservices"
# Groups in upstream's order (priority, then name): apiregistration first, then apps.
c -s "$API/apis" >"$WORK/body"
expect_eq "$(py "[g['name'] for g in d['groups']][:3]")" "['apiregistration.k8s.io', 'apps', 'events.k8s.io']" "legacy /apis in priority order"
expect_eq "$(py "[g['preferredVersion']['version'] for g in d['groups'] if g['name']=='autoscaling'][0]")" "v2" "autoscaling prefers v2"

# ---- validation ----
cat >"$WORK/bad.json" <<'JSON'
{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.wrong.example.com"},
 "spec":{"group":"wardle.example.com","version":"v1alpha1","groupPriorityMinimum":1000,"versionPriority":15,
         "service":{"namespace":"wardle","name":"api"},"caBundle":"Zm9v","insecureSkipTLSVerify":true}}
JSON
expect_eq "$(curl_status POST $APIS application/json "$WORK/bad.json")" "422" "invalid APIService: 422"
expect_eq "$(json_field "['reason']")" "Invalid" "reason Invalid"
expect_contains "$(json_field "['message']")" 'metadata.name: Invalid value: "v1.wrong.example.com": must be `spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"' "name must be version.group"
expect_contains "$(json_field "['message']")" 'spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present' "caBundle and insecureSkipTLSVerify exclude each other"
cat >"$WORK/bad2.json" <<'JSON'
{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.local.example.com"},
 "spec":{"group":"local.example.com","version":"v1","groupPriorityMinimum":30000,"versionPriority":0,"caBundle":"Zm9v"}}
JSON
expect_eq "$(curl_status POST $APIS application/json "$WORK/bad2.json")" "422" "invalid local APIService: 422"
expect_contains "$(json_field "['message']")" 'spec.groupPriorityMinimum: Invalid value: 30000: must be positive and less than 20000' "group priority range"
expect_contains "$(json_field "['message']")" 'spec.versionPriority: Invalid value: 0: must be positive and less than 1000' "version priority range"
expect_contains "$(json_field "['message']")" 'spec.caBundle: Invalid value: "3 bytes": local APIServices may not have a caBundle' "local may not have a caBundle"
cat >"$WORK/bad3.json" <<'JSON'
{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.svc.example.com"},
 "spec":{"group":"svc.example.com","version":"v1","groupPriorityMinimum":100,"versionPriority":10,"service":{"port":70000}}}
JSON
expect_eq "$(curl_status POST $APIS application/json "$WORK/bad3.json")" "422" "invalid service reference: 422"
expect_contains "$(json_field "['message']")" 'spec.service.namespace: Required value' "service namespace required"
expect_contains "$(json_field "['message']")" 'spec.service.port: Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive' "service port range"

# ---- the extension API server ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$WORK/wardle.key" -out "$WORK/wardle.crt" -subj "/CN=api.wardle.svc" \
  -addext "subjectAltName=DNS:api.wardle.svc" >/dev/null 2>&1 || fail "openssl could not make a certificate"
BACKEND_PORT=""
start_backend() {
  rm -f "$WORK/wardle.port"
  python3 "$(dirname "$0")/wardle_server.py" "$WORK/wardle.crt" "$WORK/wardle.key" "$WORK/wardle.port" $BACKEND_PORT \
    2>>"$WORK/wardle.log" &
  WARDLE_PID=$!
  BG_PIDS="${BG_PIDS:-} $WARDLE_PID"
  for _ in $(seq 1 50); do [ -f "$WORK/wardle.port" ] && break; sleep 0.1; done
  BACKEND_PORT=$(cat "$WORK/wardle.port") || fail "the extension server did not start"
}
start_backend
CA_B64=$(base64 -w0 "$WORK/wardle.crt")
run k create namespace wardle
cat >"$WORK/register.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: api, namespace: wardle}
spec:
  ports: [{name: https, port: 443, targetPort: $BACKEND_PORT}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: api, namespace: wardle}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: https, port: $BACKEND_PORT}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.wardle.example.com}
spec:
  group: wardle.example.com
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {namespace: wardle, name: api}
  caBundle: $CA_B64
YAML
# First with the wrong CA (skiff's own): the backend's certificate does not verify.
sed "s|caBundle: .*|caBundle: $(base64 -w0 "$WORK/data/tls/ca.crt")|" "$WORK/register.yaml" >"$WORK/wrong-ca.yaml"
run k apply -f "$WORK/wrong-ca.yaml"
expect_contains "$OUT" "apiservice.apiregistration.k8s.io/v1alpha1.wardle.example.com created" "APIService created"
is_failed() { [[ "$(available "$1")" == False/* ]]; }
wait_for "a wrong caBundle fails the check" 15 is_failed v1alpha1.wardle.example.com
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}'
expect_contains "$OUT" "FailedDiscoveryCheck: failing or missing response from https://127.0.0.1:$BACKEND_PORT/apis/wardle.example.com/v1alpha1" "wrong CA: FailedDiscoveryCheck"
expect_contains "$OUT" "certificate verify failed" "wrong CA: TLS verification error"
run k apply -f "$WORK/register.yaml"
expect_contains "$OUT" "apiservice.apiregistration.k8s.io/v1alpha1.wardle.example.com configured" "APIService updated with the right CA"
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.spec.service.port}'
expect_eq "$OUT" "443" "service port defaults to 443"
wait_for "the wardle APIService becomes Available" 15 is_available v1alpha1.wardle.example.com True/Passed
run k get apiservices v1alpha1.wardle.example.com
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "v1alpha1.wardle.example.com wardle/api True" "apiservices table: service and availability"

# Discovery follows the new APIService without a restart.
run k api-resources --api-group=wardle.example.com
expect_contains "$(echo "$OUT" | grep -E '^flunders ' | tr -s ' ')" "flunders fl wardle.example.com/v1alpha1 true Flunder" "api-resources lists flunders"
c -s "$API/apis" >"$WORK/body"
expect_contains "$(py "[g['name'] for g in d['groups']]")" "'wardle.example.com'" "legacy /apis lists the group"
c -s -H "Accept: $AGG_V2" "$API/apis" >"$WORK/body"
expect_eq "$(py "[[r['resource'] for r in v['resources']] for g in d['items'] if g['metadata']['name']=='wardle.example.com' for v in g['versions']]")" "[['flunders']]" "aggregated v2 lists flunders"
expect_eq "$(py "[v['freshness'] for g in d['items'] if g['metadata']['name']=='wardle.example.com' for v in g['versions']][0]")" "Current" "aggregated v2: Current"
c -s -H "Accept: $AGG_V2B1" "$API/apis" >"$WORK/body"
expect_eq "$(py "[(d['apiVersion'], [r['resource'] for r in v['resources']]) for g in d['items'] if g['metadata']['name']=='wardle.example.com' for v in g['versions']]")" "[('apidiscovery.k8s.io/v2beta1', ['flunders'])]" "aggregated v2beta1 lists flunders"
expect_eq "$(curl_status GET /apis/wardle.example.com)" "200" "/apis/wardle.example.com"
expect_eq "$(json_field "['preferredVersion']['groupVersion']")" "wardle.example.com/v1alpha1" "APIGroup document of the aggregated group"
expect_eq "$(curl_status GET /apis/wardle.example.com/v1alpha1)" "200" "/apis/wardle.example.com/v1alpha1 is proxied"
expect_eq "$(json_field "['resources'][0]['kind']")" "Flunder" "the backend's APIResourceList"

# Requests go through skiff to the extension server.
cat >"$WORK/flunder.yaml" <<'YAML'
apiVersion: wardle.example.com/v1alpha1
kind: Flunder
metadata: {name: alpha, namespace: default}
spec: {reference: beta}
YAML
run k create -f "$WORK/flunder.yaml"
expect_eq "$OUT" "flunder.wardle.example.com/alpha created" "kubectl create -f a flunder"
run k get flunders
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME REFERENCE" "get flunders prints the backend's table"
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "alpha beta" "get flunders lists alpha"
run k get flunder alpha -o yaml
expect_contains "$OUT" "kind: Flunder" "get -o yaml: the object"
expect_contains "$OUT" "reference: beta" "get -o yaml: its spec"
expect_contains "$OUT" "wardle.example.com/created-by: admin" "the caller's identity reached the backend (X-Remote-User)"
expect_contains "$OUT" "system:masters" "the caller's groups reached the backend (X-Remote-Group)"
expect_fail "a duplicate create fails" k create -f "$WORK/flunder.yaml"
expect_contains "$OUT" "AlreadyExists" "the backend's Status comes back"
expect_fail "get a missing flunder" k get flunder nope
expect_contains "$OUT" 'flunders.wardle.example.com "nope" not found' "backend NotFound"
run k get flunders -A -o name
expect_eq "$OUT" "flunder.wardle.example.com/alpha" "all-namespaces list with query"
# (system:masters: alice must be authorized here before her request is relayed.)
run k get flunders --as=alice --as-group=devs --as-group=system:masters -o name
grep -q "user=alice groups=devs,system:masters,system:authenticated" "$WORK/wardle.log" || fail "impersonated identity not forwarded: $(tail -3 "$WORK/wardle.log")"
pass "impersonation forwarded as X-Remote-User/X-Remote-Group"
c -s -o /dev/null -H "Impersonate-User: bob" -H "Impersonate-Group: system:masters" \
  -H "Impersonate-Extra-example.com%2Fteam: blue" "$API/apis/wardle.example.com/v1alpha1/namespaces/default/flunders"
grep -q "user=bob groups=system:masters,system:authenticated extra=example.com%2fteam=blue" "$WORK/wardle.log" ||
  fail "impersonated extra not forwarded: $(tail -3 "$WORK/wardle.log")"
pass "impersonated extra forwarded as X-Remote-Extra-<escaped key>"

# Watches are relayed as the backend streams them (not buffered until it ends).
c -sN "$API/apis/wardle.example.com/v1alpha1/namespaces/default/flunders?watch=true&timeoutSeconds=20" >"$WORK/watch.out" &
WATCH_PID=$!
k get flunders -w --output-watch-events >"$WORK/kwatch.out" 2>&1 &
KWATCH_PID=$!
BG_PIDS="${BG_PIDS:-} $WATCH_PID $KWATCH_PID"
sleep 1
sed 's/{name: alpha/{name: gamma/' "$WORK/flunder.yaml" >"$WORK/gamma.yaml"
run k create -f "$WORK/gamma.yaml"
wait_for "the ADDED event arrives while the watch is open" 5 grep -q '"type": "ADDED", "object": {.*"name": "gamma"' "$WORK/watch.out"
kill -0 "$WATCH_PID" 2>/dev/null || fail "the watch ended early: $(cat "$WORK/watch.out")"
pass "watch event streamed through the aggregator"
wait_for "kubectl get -w shows the event" 5 grep -q "ADDED.*gamma" "$WORK/kwatch.out"
pass "kubectl get flunders -w through skiff"
run k delete flunder gamma
wait_for "the DELETED event arrives" 5 grep -q '"type": "DELETED"' "$WORK/watch.out"
pass "DELETED event streamed"
kill "$WATCH_PID" "$KWATCH_PID" 2>/dev/null; wait "$WATCH_PID" "$KWATCH_PID" 2>/dev/null || true

# A version the backend does not serve (TLS not verified): the discovery check fails.
cat >"$WORK/insecure.yaml" <<YAML
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.wardle.example.com}
spec: {group: wardle.example.com, version: v1beta1, groupPriorityMinimum: 1000, versionPriority: 10,
       service: {namespace: wardle, name: api}, insecureSkipTLSVerify: true}
YAML
run k apply -f "$WORK/insecure.yaml"
wait_for "v1beta1 (not served by the backend) fails its check" 15 is_failed v1beta1.wardle.example.com
run k get apiservice v1beta1.wardle.example.com -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}'
expect_contains "$OUT" "FailedDiscoveryCheck: failing or missing response from https://127.0.0.1:$BACKEND_PORT/apis/wardle.example.com/v1beta1: bad status from" "404 from the backend: FailedDiscoveryCheck"
run k get apiservices v1beta1.wardle.example.com
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "wardle/api False (FailedDiscoveryCheck)" "table shows False (reason)"
expect_eq "$(curl_status GET /apis/wardle.example.com/v1beta1/namespaces/default/flunders)" "503" "unavailable APIService: 503"
expect_eq "$(cat "$WORK/body")" "service unavailable" "upstream's body"
run k delete apiservice v1beta1.wardle.example.com

# ---- the backend goes away ----
kill "$WARDLE_PID"; wait "$WARDLE_PID" 2>/dev/null || true
wait_for "the APIService turns unavailable" 15 is_failed v1alpha1.wardle.example.com
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}'
expect_contains "$OUT" "FailedDiscoveryCheck: failing or missing response from https://127.0.0.1:$BACKEND_PORT/apis/wardle.example.com/v1alpha1:" "FailedDiscoveryCheck with the URL"
# A check that raced the backend's exit may report the half-closed connection ("broken
# pipe"); the next one (every 5 s) dials a closed port.
refused() { k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].message}' | grep -q "connection refused"; }
wait_for "the condition names the dial error (connection refused)" 15 refused
pass "and the dial error"
expect_fail "get flunders fails while the backend is down" k get flunders
expect_contains "$OUT" "ServiceUnavailable" "kubectl reports ServiceUnavailable"
expect_eq "$(curl_status GET /apis/wardle.example.com/v1alpha1/namespaces/default/flunders)" "503" "503 while unavailable"
c -s -H "Accept: $AGG_V2" "$API/apis" >"$WORK/body"
expect_eq "$(py "[(v['freshness'], 'resources' in v) for g in d['items'] if g['metadata']['name']=='wardle.example.com' for v in g['versions']]")" "[('Stale', False)]" "aggregated discovery: Stale, no resources"
OUT=$(k api-resources 2>&1 || true)
expect_not_contains "$OUT" "flunders" "api-resources no longer lists flunders"

# It comes back on the same port.
start_backend
wait_for "the APIService recovers" 15 is_available v1alpha1.wardle.example.com True/Passed
run k get flunders
expect_contains "$OUT" "No resources found in default namespace." "a restarted backend answers (its store is empty)"

# Endpoints gone: EndpointsNotFound.
run k delete endpoints api -n wardle
wait_for "EndpointsNotFound" 15 is_available v1alpha1.wardle.example.com False/EndpointsNotFound
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].message}'
expect_eq "$OUT" 'cannot find endpoints for service/api in "wardle"' "EndpointsNotFound message"
# An EndpointSlice of the Service instead of Endpoints.
cat >"$WORK/slice.yaml" <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: wardle, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: https, port: $BACKEND_PORT, protocol: TCP}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
YAML
run k apply -f "$WORK/slice.yaml"
wait_for "Available through the EndpointSlice" 15 is_available v1alpha1.wardle.example.com True/Passed
run k get flunders
expect_contains "$OUT" "No resources found in default namespace." "proxied to the EndpointSlice's address"
run k patch endpointslice api-1 -n wardle --type=json -p '[{"op":"replace","path":"/endpoints/0/conditions/ready","value":false}]'
wait_for "MissingEndpoints when the slice's endpoint is not ready" 15 is_available v1alpha1.wardle.example.com False/MissingEndpoints
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].message}'
expect_eq "$OUT" 'endpoints for service/api in "wardle" have no addresses with port name "https"' "MissingEndpoints message"
run k delete service api -n wardle
wait_for "ServiceNotFound" 15 is_available v1alpha1.wardle.example.com False/ServiceNotFound
run k get apiservice v1alpha1.wardle.example.com -o jsonpath='{.status.conditions[0].message}'
expect_eq "$OUT" 'service/api in "wardle" is not present' "ServiceNotFound message"

# ---- deleting the APIService removes the group ----
run k delete apiservice v1alpha1.wardle.example.com
expect_contains "$OUT" "deleted" "APIService deleted"
c -s "$API/apis" >"$WORK/body"
expect_not_contains "$(py "[g['name'] for g in d['groups']]")" "wardle" "legacy /apis without the group"
c -s -H "Accept: $AGG_V2" "$API/apis" >"$WORK/body"
expect_not_contains "$(py "[g['metadata']['name'] for g in d['items']]")" "wardle" "aggregated discovery without the group"
expect_eq "$(curl_status GET /apis/wardle.example.com/v1alpha1/namespaces/default/flunders)" "404" "its paths are 404 again"
expect_eq "$(curl_status GET /apis/wardle.example.com)" "404" "and so is its group"
finish
