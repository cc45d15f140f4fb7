#!/usr/bin/env bash
# Bad input gets an upstream-style Status and the server stays up.
source "$(dirname "$0")/lib.sh"
start_server

printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":' >"$WORK/bad.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/bad.json")" "400" "malformed JSON is 400"
expect_eq "$(json_field '["kind"]')" "Status" "malformed JSON answer is a Status"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n' >"$WORK/bad.yaml"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/yaml "$WORK/bad.yaml")" "400" "malformed YAML is 400"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: "1"}\n' >"$WORK/good.yaml"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/yaml "$WORK/good.yaml")" "201" "YAML body is accepted"
echo '{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}' >"$WORK/wrongv.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/wrongv.json")" "400" "wrong apiVersion is 400"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}}' >"$WORK/wrongns.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/wrongns.json")" "400" "mismatched namespace is 400"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}' >"$WORK/badname.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/badname.json")" "422" "invalid name is 422"
expect_eq "$(json_field '["details"]["causes"][0]["field"]')" "metadata.name" "422 names the field"
python3 -c "import json;print(json.dumps({'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'a'*300}}))" >"$WORK/longname.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/longname.json")" "422" "over-long name is 422"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}' >"$WORK/unknown.json"
expect_eq "$(curl_status POST '/api/v1/namespaces/default/configmaps?fieldValidation=Strict' application/json "$WORK/unknown.json")" "400" "unknown field with Strict is 400"
expect_contains "$(cat "$WORK/body")" 'unknown field \"bogus\"' "Strict names the unknown field"
code=$(c -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/unknown.json" "$API/api/v1/namespaces/default/configmaps?fieldValidation=Warn")
expect_eq "$code" "201" "unknown field with Warn is accepted"
expect_contains "$(cat "$WORK/headers")" 'Warning: 299' "Warn sends a Warning header"
expect_not_contains "$(cat "$WORK/body")" "bogus" "unknown field is dropped"
head -c 4000000 /dev/zero | tr '\0' 'a' | python3 -c "import sys,json;print(json.dumps({'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'huge'},'data':{'a':sys.stdin.read()}}))" >"$WORK/huge.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/huge.json")" "413" "oversize body is 413"
expect_eq "$(curl_status GET /api/v1/namespaces/default/widgets)" "404" "unknown resource is 404"
expect_eq "$(curl_status GET /apis/nope.example.com/v1/things)" "404" "unknown group is 404"
expect_eq "$(curl_status PUT /api/v1/namespaces/default/configmaps)" "405" "PUT on a collection is 405"
expect_eq "$(curl_status POST /api/v1/namespaces/missing/configmaps application/json "$WORK/good.yaml")" "400" "YAML sent as JSON is 400"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lost}\n' >"$WORK/lost.yaml"
expect_eq "$(curl_status POST /api/v1/namespaces/missing/configmaps application/yaml "$WORK/lost.yaml")" "404" "write into a missing namespace is 404"
expect_eq "$(curl_status GET '/api/v1/configmaps?labelSelector=a%20in%20(' )" "400" "bad label selector is 400"
expect_eq "$(curl_status GET '/api/v1/pods?fieldSelector=spec.bogus%3Dx')" "400" "unsupported field selector is 400"
expect_eq "$(curl_status GET '/api/v1/configmaps?continue=garbage')" "400" "bad continue token is 400"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-yaml","resourceVersion":"1"},"data":{"a":"2"}}' >"$WORK/stale.json"
expect_eq "$(curl_status PUT /api/v1/namespaces/default/configmaps/from-yaml application/json "$WORK/stale.json")" "409" "stale update is 409"
expect_eq "$(json_field '["reason"]')" "Conflict" "stale update reason is Conflict"
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}' >"$WORK/dry.json"
expect_eq "$(curl_status POST '/api/v1/namespaces/default/configmaps?dryRun=All' application/json "$WORK/dry.json")" "201" "dryRun create answers 201"
expect_eq "$(curl_status GET /api/v1/namespaces/default/configmaps/dry)" "404" "dryRun create stored nothing"
echo '{"spec":' >"$WORK/badpatch.json"
expect_eq "$(curl_status PATCH /api/v1/namespaces/default/configmaps/from-yaml application/merge-patch+json "$WORK/badpatch.json")" "400" "malformed patch is 400"
echo '{}' >"$WORK/apply.json"
expect_eq "$(curl_status PATCH /api/v1/namespaces/default/configmaps/from-yaml text/plain "$WORK/apply.json")" "415" "unknown patch type is 415"
python3 -c "print('a: ' + '['*200000)" >"$WORK/deep.yaml"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/yaml "$WORK/deep.yaml")" "400" "deeply nested YAML is 400"
python3 -c "print('['*200000)" >"$WORK/deep.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/json "$WORK/deep.json")" "400" "deeply nested JSON is 400"
garbage=$(python3 -c "
import socket,ssl
ctx=ssl.create_default_context(cafile='$WORK/data/tls/ca.crt')
s=ctx.wrap_socket(socket.create_connection(('127.0.0.1',$PORT)),server_hostname='127.0.0.1')
s.sendall(b'GARBAGE\\r\\n\\r\\n');s.settimeout(5)
print(s.recv(100).split(b' ')[1].decode())")
plain=$(python3 -c "
import socket;s=socket.create_connection(('127.0.0.1',$PORT));s.sendall(b'GET /version HTTP/1.1\\r\\n\\r\\n');s.settimeout(5)
print(len(s.recv(100)))" 2>&1 || true)
expect_eq "$plain" "0" "plain HTTP on the TLS port gets no answer"
expect_eq "$garbage" "400" "a garbage HTTP request gets 400"
expect_eq "$(curl_status GET /readyz)" "200" "server is still up after all of it"
finish
