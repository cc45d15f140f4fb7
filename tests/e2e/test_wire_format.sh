#!/usr/bin/env bash
# What clients see on the wire, byte for byte where they can tell: upstream's Status field
# order and trailing newline, ?pretty, gzip for large answers, the Warning header format,
# query parameters parsed as upstream's parameter codec (booleans, integers, option
# validation), the 413 message, and Secret stringData folded into data. One server.
source "$(dirname "$0")/lib.sh"
start_server

# --- Status: upstream's field order (details before code) and a newline after the object
code=$(curl_status GET /api/v1/namespaces/default/configmaps/missing)
expect_eq "$code" "404" "a missing object is 404"
expect_eq "$(cat "$WORK/body")" '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"missing\" not found","reason":"NotFound","details":{"name":"missing","kind":"configmaps"},"code":404}' "the NotFound Status is upstream's, byte for byte"
expect_eq "$(tail -c 1 "$WORK/body" | od -An -c | tr -d ' ')" '\n' "JSON answers end with a newline like upstream's encoder"
c -s -D "$WORK/h" -o /dev/null "$API/api/v1/namespaces"
expect_contains "$(tr -d '\r' <"$WORK/h")" "Content-Type: application/json" "objects are application/json"
c -s -D "$WORK/h" -o /dev/null "$API/healthz"
expect_contains "$(tr -d '\r' <"$WORK/h")" "Content-Type: text/plain; charset=utf-8" "healthz is text/plain with charset"
c -s -D "$WORK/h" -o /dev/null "$API/metrics"
expect_contains "$(tr -d '\r' <"$WORK/h")" "Content-Type: text/plain; version=0.0.4; charset=utf-8" "metrics carry the Prometheus text content type"

# --- /version is indented, like upstream's WriteRawJSON
expect_eq "$(c -s "$API/version" | head -2 | tail -1)" '  "major": "1",' "/version is indented JSON"

# --- ?pretty=true indents API objects like Go's MarshalIndent
c -s "$API/api/v1/namespaces/default?pretty=true" >"$WORK/pretty"
expect_eq "$(head -3 "$WORK/pretty")" $'{\n  "kind": "Namespace",\n  "apiVersion": "v1",' "pretty=true indents with two spaces"
expect_eq "$(c -s "$API/api/v1/namespaces/default?pretty=false" | head -c 20)" '{"kind":"Namespace",' "pretty=false stays compact"

# --- gzip for a large answer when the client accepts it (client-go and kubectl do)
python3 - "$WORK/cm.json" <<'PY'
import json, sys
json.dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
           "data": {"k%d" % i: "v" * 100 for i in range(1500)}}, open(sys.argv[1], "w"))
PY
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/cm.json")" "201" "a 150 KB ConfigMap is created"
c -s -D "$WORK/h" -H 'Accept-Encoding: gzip' -o "$WORK/gz" "$API/api/v1/namespaces/default/configmaps/big"
expect_contains "$(tr -d '\r' <"$WORK/h")" "Content-Encoding: gzip" "a large answer is gzipped for a client that accepts gzip"
expect_eq "$(gunzip -c "$WORK/gz" | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["data"]))')" "1500" "the gzipped body is the object"
c -s -D "$WORK/h" -o /dev/null "$API/api/v1/namespaces/default/configmaps/big"
expect_not_contains "$(cat "$WORK/h")" "Content-Encoding" "no gzip without Accept-Encoding"
c -s -D "$WORK/h" -H 'Accept-Encoding: gzip' -o /dev/null "$API/api/v1/namespaces/default"
expect_not_contains "$(cat "$WORK/h")" "Content-Encoding" "small answers are not compressed"

# --- Warning header: the text quoted with inner quotes escaped
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"bogus":1}' >"$WORK/unknown.json"
c -s -D "$WORK/h" -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/unknown.json" "$API/api/v1/namespaces/default/configmaps"
expect_contains "$(tr -d '\r' <"$WORK/h")" 'Warning: 299 - "unknown field \"bogus\""' "Warning text escapes its quotes as upstream"

# --- query parameters as upstream's parameter codec reads them
expect_eq "$(c -s -m 3 "$API/api/v1/namespaces?watch=True&timeoutSeconds=1" | head -c 16)" '{"type":"ADDED",' "watch=True (Python's spelling) starts a watch"
expect_eq "$(c -s -m 3 "$API/api/v1/namespaces?watch=yes&timeoutSeconds=1" | head -c 16)" '{"type":"ADDED",' "any value but 0/false is true"
expect_eq "$(c -s "$API/api/v1/namespaces?watch=false" | head -c 24)" '{"kind":"NamespaceList",' "watch=false is a list"
expect_eq "$(curl_status GET '/api/v1/namespaces?limit=abc')" "400" "a malformed limit is 400"
expect_eq "$(json_field '["message"]')" 'strconv.ParseInt: parsing "abc": invalid syntax' "with strconv's message"
expect_eq "$(curl_status GET '/api/v1/namespaces?watch=1&timeoutSeconds=soon')" "400" "a malformed timeoutSeconds is 400"
expect_eq "$(curl_status GET '/api/v1/namespaces?resourceVersionMatch=Exact')" "422" "resourceVersionMatch without resourceVersion is 422"
expect_eq "$(json_field '["message"]')" 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' "on ListOptions, with upstream's message"
expect_eq "$(curl_status GET '/api/v1/namespaces?limit=1')" "200" "limit=1 pages"
expect_eq "$(json_field '["items"].__len__()')" "1" "one item on the page"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}' >"$WORK/dry.json"
expect_eq "$(curl_status POST '/api/v1/namespaces/default/configmaps?dryRun=Yes' application/json "$WORK/dry.json")" "422" "dryRun other than All is 422"
expect_eq "$(json_field '["message"]')" 'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All"' "with upstream's message"
expect_eq "$(curl_status POST '/api/v1/namespaces/default/configmaps?fieldValidation=Loose' application/json "$WORK/dry.json")" "422" "an unknown fieldValidation is 422"
expect_eq "$(curl_status DELETE '/api/v1/namespaces/default/configmaps/big?propagationPolicy=Later')" "422" "an unknown propagationPolicy is 422"
expect_eq "$(curl_status DELETE '/api/v1/namespaces/default/configmaps/big?gracePeriodSeconds=x')" "400" "a malformed gracePeriodSeconds is 400"
expect_eq "$(curl_status GET /api/v1/namespaces/default/configmaps/big)" "200" "and nothing was deleted by the refused requests"

# --- 413 with upstream's message
head -c 4000000 /dev/zero | tr '\0' 'a' | python3 -c "import sys,json;print(json.dumps({'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'huge'},'data':{'a':sys.stdin.read()}}))" >"$WORK/huge.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/huge.json")" "413" "an oversize body is 413"
expect_eq "$(json_field '["message"]')" "Request entity too large: limit is 3145728" "with upstream's message"

# --- Secret stringData folds into data and is not echoed or stored
cat >"$WORK/secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin, password: "s3cret"}
data: {user: b2xk}
YAML
run k apply -f "$WORK/secret.yaml"
expect_eq "$(k get secret creds -o jsonpath='{.data.user}')" "YWRtaW4=" "stringData wins over data for the same key"
expect_eq "$(k get secret creds -o jsonpath='{.data.password}' | base64 -d)" "s3cret" "stringData lands base64-encoded in data"
expect_eq "$(k get secret creds -o jsonpath='{.stringData}')" "" "stringData is not stored"
echo '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"typed"},"stringData":{"n":5}}' >"$WORK/typed.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/secrets application/json "$WORK/typed.json")" "400" "a number in stringData is 400"
expect_contains "$(json_field '["message"]')" "cannot unmarshal number into Go struct field Secret.stringData of type string" "with Go's decoding message"
expect_eq "$(curl_status GET /readyz)" "200" "the server is still up"
finish
