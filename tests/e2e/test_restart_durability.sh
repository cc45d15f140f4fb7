#!/usr/bin/env bash
# kill -9 in the middle of a write load: every acknowledged object is there after restart,
# resourceVersions keep growing, and a watch from before the restart gets 410 Expired.
source "$(dirname "$0")/lib.sh"
start_server

writer() {  # writer ID: creates configmaps until killed, logging each acknowledged name
  local id=$1 i=0
  while true; do
    i=$((i + 1))
    code=$(c -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"w$id-$i\"}}" \
      "$API/api/v1/namespaces/default/configmaps") || break
    [ "$code" == "201" ] && echo "w$id-$i" >>"$WORK/acked-$id"
  done
}
for id in 1 2 3 4; do writer $id & done
sleep 2
curl_status GET /api/v1/namespaces/default/configmaps >/dev/null
before_rv=$(json_field '["metadata"]["resourceVersion"]')
kill9_server
sleep 0.5
for id in 1 2 3 4; do wait 2>/dev/null || true; done
acked=$(cat "$WORK"/acked-* | sort -u)
count=$(echo "$acked" | wc -l)
[ "$count" -gt 20 ] || fail "load produced too few writes ($count)"
pass "load acknowledged $count creates before kill -9"

start_server
present=$(k get cm -o name | sed 's|configmap/||' | sort -u)
missing=$(comm -23 <(echo "$acked") <(echo "$present") | wc -l)
expect_eq "$missing" "0" "every acknowledged configmap survived kill -9"
run k create configmap after-restart
after_rv=$(k get cm after-restart -o jsonpath='{.metadata.resourceVersion}')
[ -n "$after_rv" ] && [ "$after_rv" -gt "$before_rv" ] || fail "resourceVersion went backwards: $after_rv <= $before_rv"
pass "resourceVersions continue increasing after restart ($before_rv -> $after_rv)"
code=$(c -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$API/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1")
body=$(cat "$WORK/body")
# Upstream's watch cache answers 200 and one ERROR event carrying the 410 (client
# libraries' watch helpers surface that event; an HTTP 410 would end their watch as a failure).
expect_eq "$code" "200" "watch from a pre-restart resourceVersion is answered 200"
expect_contains "$body" '{"type":"ERROR","object":{"kind":"Status"' "with an ERROR event"
expect_contains "$body" '"code":410' "carrying the 410"
expect_contains "$body" "Expired" "the 410 says Expired"
finish
