#!/usr/bin/env bash
# Authentication: anonymous requests, foreign certificates, ServiceAccount tokens
# (TokenRequest, TokenReview, binding to a pod, tampering), static and bootstrap tokens,
# impersonation, OIDC discovery, and the Python client with a bearer token.
# Until RBAC lands only system:masters is authorized with the default modes, so the first
# part checks identities through upstream's 403 messages (which name the user); the second
# part restarts the server with --authorization-mode AlwaysAllow to ask whoami directly.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH=/usr/lib/python3/dist-packages
STORAGE=sqlite
start_server

anon() { curl -s --cacert "$WORK/data/tls/ca.crt" "$@"; }
bearer() { local t=$1; shift; curl -s --cacert "$WORK/data/tls/ca.crt" -H "Authorization: Bearer $t" "$@"; }
msg() { python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["code"],d["reason"],d["message"])'; }

# ---- anonymous ------------------------------------------------------------------------
out=$(anon "$API/api/v1/pods" | msg)
expect_eq "$out" '403 Forbidden pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope' "anonymous list pods: upstream's 403"
out=$(anon "$API/api/v1/namespaces/default/pods" | msg)
expect_eq "$out" '403 Forbidden pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"' "anonymous list in a namespace"
out=$(anon -X POST "$API/api/v1/namespaces/default/pods/x/exec" | msg)
expect_eq "$out" '403 Forbidden pods "x" is forbidden: User "system:anonymous" cannot create resource "pods/exec" in API group "" in the namespace "default"' "anonymous exec: subresource message"
anon "$API/apis/apps/v1/namespaces/default/deployments/web" >"$WORK/body"
expect_eq "$(json_field '["details"]')" "{'name': 'web', 'group': 'apps', 'kind': 'deployments'}" "403 details: name, group, kind"
# RBAC's system:public-info-viewer lets anonymous clients read health and version only.
expect_eq "$(anon "$API/healthz")" "ok" "anonymous /healthz is allowed (system:public-info-viewer)"
expect_eq "$(anon -o /dev/null -w '%{http_code}' "$API/metrics")" "403" "anonymous /metrics is forbidden"

# ---- a certificate from another CA is no identity --------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/O=system:masters/CN=admin" -keyout "$WORK/fake.key" -out "$WORK/fake.crt" 2>/dev/null
out=$(anon --cert "$WORK/fake.crt" --key "$WORK/fake.key" "$API/api/v1/pods" | msg)
expect_contains "$out" 'User "system:anonymous" cannot list' "foreign CA's admin certificate: anonymous"

# ---- ServiceAccount tokens ----------------------------------------------------------------
run k create token default
TOKEN=$OUT
expect_eq "$(echo "$TOKEN" | tr -cd . | wc -c)" "2" "kubectl create token: a JWT"
out=$(bearer "$TOKEN" "$API/api/v1/namespaces/default/pods" | msg)
expect_eq "$out" '403 Forbidden pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"' "the token authenticates as the ServiceAccount"
header=$(echo "$TOKEN" | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null || true)
expect_contains "$header" '"alg":"ES256"' "ES256 header"

cat >"$WORK/review.json" <<JSON
{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"$TOKEN"}}
JSON
expect_eq "$(curl_status POST /apis/authentication.k8s.io/v1/tokenreviews application/json "$WORK/review.json")" 201 "TokenReview: 201"
expect_eq "$(json_field '["status"]["authenticated"]')" "True" "TokenReview: authenticated"
expect_eq "$(json_field '["status"]["user"]["username"]')" "system:serviceaccount:default:default" "TokenReview: username"
expect_eq "$(json_field '["status"]["user"]["groups"]')" "['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']" "TokenReview: groups"
expect_eq "$(json_field '["status"]["user"]["uid"]')" "$(k get sa default -o jsonpath='{.metadata.uid}')" "TokenReview: uid is the ServiceAccount's"
expect_eq "$(json_field '["status"]["audiences"]')" "['https://kubernetes.default.svc.cluster.local']" "TokenReview: audiences"

# Tampered: one payload character changed.
payload=$(echo "$TOKEN" | cut -d. -f2)
flip=$( [ "${payload:10:1}" == "A" ] && echo B || echo A )
TAMPERED="$(echo "$TOKEN" | cut -d. -f1).${payload:0:10}${flip}${payload:11}.$(echo "$TOKEN" | cut -d. -f3)"
out=$(bearer "$TAMPERED" "$API/api/v1/namespaces/default/pods")
expect_eq "$out" '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}' "tampered token: 401 Status"
expect_eq "$(bearer garbage -o /dev/null -w '%{http_code}' "$API/healthz")" 401 "garbage token: 401, not anonymous"

run k create token default --audience vault --duration 20m
out=$(bearer "$OUT" "$API/api/v1/pods" -o /dev/null -w '%{http_code}')
expect_eq "$out" 401 "token for another audience: 401"

expect_fail "duration below 10 minutes" k create token default --duration 5m
expect_contains "$OUT" 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes' "422 message"
expect_fail "unknown ServiceAccount" k create token nosuch
expect_contains "$OUT" 'serviceaccounts "nosuch" not found' "404 message"

tokenreq() { printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",%s}' "$1" >"$WORK/tr.json"; curl_status POST /api/v1/namespaces/default/serviceaccounts/default/token application/json "$WORK/tr.json"; }
expect_eq "$(tokenreq '"spec":{"boundObjectRef":{"kind":"ConfigMap","apiVersion":"v1","name":"x"}}')" 400 "binding to a ConfigMap: 400"
expect_eq "$(json_field '["message"]')" "cannot bind token to object of type /v1, Kind=ConfigMap" "binding to a ConfigMap: upstream's message"
expect_eq "$(tokenreq '"metadata":{"name":"other"},"spec":{}')" 422 "metadata.name of another ServiceAccount: 422"
expect_eq "$(json_field '["message"]')" 'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: "other": must match the service account name if specified' "metadata.name mismatch message"
expect_eq "$(tokenreq '"spec":{}')" 201 "TokenRequest by curl: 201"
expect_eq "$(json_field '["spec"]["expirationSeconds"]')" 3600 "expirationSeconds defaults to 3600"
expect_eq "$(json_field '["metadata"]["name"]')" default "the answer names the ServiceAccount"
printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{}}' >"$WORK/empty-review.json"
expect_eq "$(curl_status POST /apis/authentication.k8s.io/v1/tokenreviews application/json "$WORK/empty-review.json")" 400 "TokenReview without a token: 400"
expect_eq "$(json_field '["message"]')" "token is required for TokenReview in authentication" "TokenReview without a token: message"
expect_eq "$(curl_status POST /apis/authentication.k8s.io/v1/namespaces/default/tokenreviews application/json "$WORK/empty-review.json")" 404 "TokenReview is cluster-scoped: 404 in a namespace"
expect_eq "$(curl_status GET /apis/authentication.k8s.io/v1/tokenreviews)" 405 "TokenReview cannot be listed: 405"
printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"garbage"}}' >"$WORK/garbage-review.json"
curl_status POST /apis/authentication.k8s.io/v1/tokenreviews application/json "$WORK/garbage-review.json" >/dev/null
expect_eq "$(json_field '["status"]')" "{'authenticated': False, 'user': {}, 'error': 'invalid bearer token'}" "TokenReview of garbage"

# Bound to a pod: valid while the pod exists.
k run bound --image=nginx >/dev/null
run k create token default --bound-object-kind Pod --bound-object-name bound
BOUND=$OUT
claims=$(echo "$BOUND" | cut -d. -f2 | python3 -c 'import sys,base64,json;s=sys.stdin.read().strip();print(json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))["kubernetes.io"]["pod"]["name"])')
expect_eq "$claims" "bound" "bound token names the pod"
out=$(bearer "$BOUND" "$API/api/v1/namespaces/default/pods" | msg)
expect_contains "$out" 'User "system:serviceaccount:default:default"' "bound token works while the pod exists"
expect_fail "binding to a missing pod" k create token default --bound-object-kind Pod --bound-object-name nope
expect_contains "$OUT" 'pods "nope" not found' "binding to a missing pod: 404"
expect_eq "$(tokenreq '"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"bound","uid":"not-its-uid"}}')" 409 "bound pod uid mismatch: 409"
expect_eq "$(json_field '["message"]')" 'Operation cannot be fulfilled on Pod "bound": the UID in the bound object reference (not-its-uid) does not match the UID in record. The object might have been deleted and then recreated' "uid mismatch message"
k delete pod bound --wait=false >/dev/null
for _ in $(seq 1 50); do k get pod bound >/dev/null 2>&1 || break; sleep 0.1; done
expect_eq "$(bearer "$BOUND" -o /dev/null -w '%{http_code}' "$API/api/v1/namespaces/default/pods")" 401 "bound token invalid once the pod is deleted"
sed -i "s/$TOKEN/$BOUND/" "$WORK/review.json"
curl_status POST /apis/authentication.k8s.io/v1/tokenreviews application/json "$WORK/review.json" >/dev/null
expect_eq "$(json_field '["status"]["authenticated"]')" "False" "TokenReview of the dead pod's token: not authenticated"
expect_eq "$(json_field '["status"]["error"]')" "service account token has been invalidated" "TokenReview error"

# ---- impersonation ---------------------------------------------------------------------------
run k --as=jane --as-group=system:masters auth whoami
expect_contains "$OUT" "jane" "kubectl --as: whoami shows the impersonated user"
expect_contains "$OUT" "[system:masters system:authenticated]" "kubectl --as-group: groups"
out=$(bearer "$TOKEN" -H "Impersonate-User: jane" "$API/api/v1/pods" | msg)
expect_eq "$out" '403 Forbidden users "jane" is forbidden: User "system:serviceaccount:default:default" cannot impersonate resource "users" in API group "" at the cluster scope' "impersonation refused to a non-admin"

# ---- OIDC discovery ----------------------------------------------------------------------------
expect_eq "$(curl_status GET /.well-known/openid-configuration)" 200 "openid-configuration"
expect_eq "$(json_field '["issuer"]')" "https://kubernetes.default.svc.cluster.local" "issuer"
expect_eq "$(json_field '["jwks_uri"]')" "https://127.0.0.1:$PORT/openid/v1/jwks" "jwks_uri"
expect_eq "$(json_field '["id_token_signing_alg_values_supported"]')" "['ES256']" "signing algorithms"
expect_eq "$(json_field '["response_types_supported"]')" "['id_token']" "response types"
expect_eq "$(json_field '["subject_types_supported"]')" "['public']" "subject types"
ctype=$(c -s -o "$WORK/body" -w '%{content_type}' "$API/openid/v1/jwks")
expect_eq "$ctype" "application/jwk-set+json" "JWKS content type"
kid=$(echo "$TOKEN" | cut -d. -f1 | python3 -c 'import sys,base64,json;s=sys.stdin.read().strip();print(json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))["kid"])')
expect_eq "$(json_field '["keys"][0]["kid"]')" "$kid" "JWKS kid is the tokens' kid"
expect_eq "$(json_field '["keys"][0]["crv"]')" "P-256" "JWKS curve"
expect_eq "$(stat -c %a "$WORK/data/tls/service-account.key")" "600" "signing key mode 0600"

# ---- AlwaysAllow: whoami for every kind of token ------------------------------------------------
stop_server
cat >"$WORK/tokens.csv" <<CSV
static-secret-1,alice,uid-alice,"devs,qa"
CSV
SERVER_ARGS="--authorization-mode AlwaysAllow --token-auth-file $WORK/tokens.csv" start_server
as_token() { "$KUBECTL" --kubeconfig=/dev/null --server "$API" --certificate-authority "$WORK/data/tls/ca.crt" --token "$1" "${@:2}"; }

run as_token "$TOKEN" auth whoami
expect_contains "$OUT" "system:serviceaccount:default:default" "whoami --token: a token issued before the restart (key reused)"
run as_token "$TOKEN" auth whoami -o json
echo "$OUT" >"$WORK/body"
expect_eq "$(json_field '["kind"]')" "SelfSubjectReview" "whoami -o json: kind"
expect_eq "$(json_field '["status"]["userInfo"]["groups"]')" "['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']" "whoami -o json: groups"
expect_contains "$(json_field '["status"]["userInfo"]["extra"]')" "authentication.kubernetes.io/credential-id" "whoami -o json: credential-id extra"

run as_token static-secret-1 auth whoami
expect_eq "$(echo "$OUT" | tr -s ' ')" "$(printf 'ATTRIBUTE VALUE\nUsername alice\nUID uid-alice\nGroups [devs qa system:authenticated]')" "static token file user"

k create -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-abcdef, namespace: kube-system}
type: bootstrap.kubernetes.io/token
stringData:
  token-id: abcdef
  token-secret: 0123456789abcdef
  usage-bootstrap-authentication: "true"
  auth-extra-groups: system:bootstrappers:worker
YAML
run as_token abcdef.0123456789abcdef auth whoami
expect_contains "$OUT" "system:bootstrap:abcdef" "bootstrap token: user"
expect_contains "$OUT" "[system:bootstrappers system:bootstrappers:worker system:authenticated]" "bootstrap token: groups"
expect_fail "wrong bootstrap secret" as_token abcdef.0123456789abcdee auth whoami
expect_contains "$OUT" "Unauthorized" "wrong bootstrap secret: Unauthorized"

out=$(anon -X POST -H 'Content-Type: application/json' -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' "$API/apis/authentication.k8s.io/v1/selfsubjectreviews")
expect_contains "$out" '"userInfo":{"username":"system:anonymous","groups":["system:unauthenticated"]}' "no credentials: SelfSubjectReview of system:anonymous"
run k --as=jane auth whoami
expect_contains "$OUT" "[system:authenticated]" "kubectl --as=jane: system:authenticated only"

# Component identities: a kubeconfig each, a certificate of its own for kubelets.
for pair in scheduler:system:kube-scheduler controller-manager:system:kube-controller-manager proxy:system:kube-proxy; do
  name=${pair%%:*} user=${pair#*:}
  kc=$WORK/data/kubeconfigs/$name.kubeconfig
  expect_eq "$(stat -c %a "$kc")" "600" "$name kubeconfig mode 0600"
  run "$KUBECTL" --kubeconfig "$kc" auth whoami
  expect_contains "$OUT" "Username    $user" "$name kubeconfig authenticates as $user"
done
# A separately run scheduler with its own kubeconfig works (AlwaysAllow stands in for RBAC's
# system:kube-scheduler binding here): it takes the kube-scheduler Lease.
"$SKIFF" scheduler --kubeconfig "$WORK/data/kubeconfigs/scheduler.kubeconfig" --leader-elect >>"$WORK/scheduler.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
holder=""
for _ in $(seq 1 100); do
  holder=$(k -n kube-system get lease kube-scheduler -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  [ -n "$holder" ] && break
  sleep 0.1
done
[ -n "$holder" ] || fail "standalone scheduler never took its Lease: $(tail -3 "$WORK/scheduler.log")"
pass "standalone scheduler with scheduler.kubeconfig holds the kube-scheduler Lease"

subject=$(openssl x509 -in "$WORK/data/tls/kube-apiserver-kubelet-client.crt" -noout -subject)
expect_eq "$subject" "subject=CN = kube-apiserver-kubelet-client" "kubelet client certificate: its own CN, no group"

out=$(python3 - "$API" "$WORK/data/tls/ca.crt" "$TOKEN" <<'PY'
import sys
from kubernetes import client
cfg = client.Configuration()
cfg.host, cfg.ssl_ca_cert = sys.argv[1], sys.argv[2]
cfg.api_key = {"authorization": sys.argv[3]}
cfg.api_key_prefix = {"authorization": "Bearer"}
api = client.ApiClient(cfg)
review = api.call_api("/apis/authentication.k8s.io/v1/selfsubjectreviews", "POST",
                      body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                      response_type="object", auth_settings=["BearerToken"], _return_http_data_only=True)
print(review["status"]["userInfo"]["username"])
tr = client.AuthenticationV1Api(api).create_token_review(
    client.V1TokenReview(spec=client.V1TokenReviewSpec(token=sys.argv[3])))
print(tr.status.user.username, tr.status.authenticated)
PY
)
expect_eq "$out" "$(printf 'system:serviceaccount:default:default\nsystem:serviceaccount:default:default True')" "Python client with a bearer token"

# ---- plain HTTP (--disable-tls, benchmarks): upstream's old insecure port -----------------------
stop_server
PLAIN_PORT=$(free_port)
"$SKIFF" server --data-dir "$WORK/plain" --listen "127.0.0.1:$PLAIN_PORT" --storage memory --disable-tls >>"$WORK/plain.log" 2>&1 &
PLAIN_PID=$!
BG_PIDS="${BG_PIDS:-} $PLAIN_PID"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PLAIN_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PLAIN_PORT/api/v1/pods")" 200 "plain HTTP without credentials: full access"
out=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' "http://127.0.0.1:$PLAIN_PORT/apis/authentication.k8s.io/v1/selfsubjectreviews")
expect_contains "$out" '"username":"system:unsecured","groups":["system:masters","system:authenticated"]' "plain HTTP: system:unsecured in system:masters"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer garbage' "http://127.0.0.1:$PLAIN_PORT/api/v1/pods")" 401 "plain HTTP: a bad token is still 401"
expect_contains "$(cat "$WORK/plain.log")" "serving plain HTTP (--disable-tls)" "plain HTTP: startup warning"

finish
