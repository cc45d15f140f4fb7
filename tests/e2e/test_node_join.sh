#!/usr/bin/env bash
# Node join with a bootstrap token (issue 19 §3): `skiff token create`, then a hollow node
# joins with `skiff agent --hollow --server --token --ca-cert-hash` (kubelet TLS bootstrap:
# cluster-info with the CA pin, a CSR auto-approved by csrapproving, issued by csrsigning),
# registers and gets Ready as system:node:NAME. Refused tokens and pins; a user's CSR waits
# for `kubectl certificate approve|deny`, which needs the `approve` verb on the signer; the
# node identity cannot read another node's pods. Server-only (the node is hollow): no lock.
source "$(dirname "$0")/lib.sh"
start_server

bearer() { local t=$1; shift; curl -s --cacert "$WORK/data/tls/ca.crt" -H "Authorization: Bearer $t" "$@"; }
code_of() { python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["code"],d["message"])'; }

# ---- skiff token create --------------------------------------------------------------------
run "$SKIFF" token create --data-dir "$WORK/data" --print-join-command
JOIN=$OUT
expect_contains "$JOIN" "skiff agent --server $API --token " "token create --print-join-command"
TOKEN=$(sed -E 's/.*--token ([^ ]+).*/\1/' <<<"$JOIN")
HASH=$(sed -E 's/.*--ca-cert-hash ([^ ]+).*/\1/' <<<"$JOIN")
TOKEN_ID=${TOKEN%%.*}
[[ "$TOKEN" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "token format: $TOKEN"
pass "token has the form [a-z0-9]{6}.[a-z0-9]{16}"
expect_eq "$(k -n kube-system get secret "bootstrap-token-$TOKEN_ID" -o jsonpath='{.type}')" \
  "bootstrap.kubernetes.io/token" "token Secret in kube-system"
run "$SKIFF" token list --data-dir "$WORK/data"
expect_contains "$OUT" "$TOKEN_ID.<secret>" "token list shows it"
expect_eq "$(bearer "$TOKEN" "$API/apis/authentication.k8s.io/v1/selfsubjectreviews" -X POST \
  -H 'Content-Type: application/json' \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["status"]["userInfo"]["username"])')" \
  "system:bootstrap:$TOKEN_ID" "the token authenticates as system:bootstrap:<id>"

# ---- refused tokens ------------------------------------------------------------------------
expect_eq "$(bearer "${TOKEN_ID}.0000000000000000" "$API/api/v1/nodes" | code_of)" "401 Unauthorized" \
  "forged token secret: 401"
run "$SKIFF" token create --data-dir "$WORK/data" --ttl 1s
SHORT=$OUT
sleep 2
expect_eq "$(bearer "$SHORT" "$API/api/v1/nodes" | code_of)" "401 Unauthorized" "expired token: 401"
run "$SKIFF" token delete --data-dir "$WORK/data" "$SHORT"
expect_fail "token create rejects a malformed token" "$SKIFF" token create --data-dir "$WORK/data" bad.token

# ---- cluster-info: anonymous read, pin checked -------------------------------------------
expect_contains "$(curl -s --cacert "$WORK/data/tls/ca.crt" "$API/api/v1/namespaces/kube-public/configmaps/cluster-info")" \
  "certificate-authority-data" "cluster-info readable anonymously"
expect_eq "$(curl -s --cacert "$WORK/data/tls/ca.crt" -o /dev/null -w '%{http_code}' "$API/api/v1/namespaces/kube-public/configmaps")" \
  "403" "but nothing else in kube-public"
BAD=sha256:$(printf '0%.0s' $(seq 64))
expect_fail "a wrong --ca-cert-hash is refused" "$SKIFF" agent --hollow --nodes 1 --node-name-prefix pinned \
  --server "$API" --token "$TOKEN" --ca-cert-hash "$BAD" --data-dir "$WORK/pinned"
expect_contains "$OUT" "none of the public keys" "pin mismatch message"
expect_fail "no pin and no CA file is refused" "$SKIFF" agent --hollow --nodes 1 --server "$API" \
  --token "$TOKEN" --data-dir "$WORK/nopin"
expect_contains "$OUT" "--ca-cert-hash" "the error names --ca-cert-hash"

# ---- a node joins ----------------------------------------------------------------------------
start_agent() {
  "$SKIFF" agent --hollow --nodes 1 --node-name-prefix joined --server "$API" --token "$TOKEN" \
    --ca-cert-hash "$HASH" --data-dir "$WORK/agent" >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  BG_PIDS="${BG_PIDS:-} $AGENT_PID"
}
start_agent
node_ready() { [ "$(k get node joined-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]; }
wait_for "joined node Ready" 60 node_ready
pass "node joined-0 registered and Ready"
CSR=$(k get csr -o jsonpath='{.items[?(@.spec.username=="system:bootstrap:'"$TOKEN_ID"'")].metadata.name}')
[ -n "$CSR" ] || fail "no CSR from system:bootstrap:$TOKEN_ID"
pass "CSR $CSR created by system:bootstrap:$TOKEN_ID"
run k get csr "$CSR"
expect_contains "$OUT" "Approved,Issued" "the node's CSR is Approved,Issued"
expect_contains "$OUT" "kubernetes.io/kube-apiserver-client-kubelet" "signer kube-apiserver-client-kubelet"
expect_eq "$(k get csr "$CSR" -o jsonpath='{.status.conditions[0].reason}')" "AutoApproved" "reason AutoApproved"
PKI=$WORK/agent/kubelet/pki
SUBJECT=$(openssl x509 -in "$PKI/kubelet-client.crt" -noout -subject -nameopt RFC2253)
expect_contains "$SUBJECT" "CN=system:node:joined-0" "certificate CN system:node:joined-0"
expect_contains "$SUBJECT" "O=system:nodes" "certificate O system:nodes"
expect_eq "$(stat -c %a "$PKI/kubelet-client.key") $(stat -c %a "$PKI/kubelet-client.crt") $(stat -c %a "$WORK/agent/kubelet/kubeconfig")" \
  "600 600 600" "key, certificate and kubeconfig are 0600"
openssl verify -CAfile "$WORK/data/tls/ca.crt" "$PKI/kubelet-client.crt" >/dev/null || fail "not signed by the cluster CA"
pass "signed by the cluster CA"
NK() { "$KUBECTL" --kubeconfig "$WORK/agent/kubelet/kubeconfig" "$@"; }
expect_eq "$(NK auth whoami -o jsonpath='{.status.userInfo.username}')" "system:node:joined-0" \
  "the node's kubeconfig authenticates as system:node:joined-0"

# The node identity reads its own pods only (Node authorizer).
k run other --image=busybox --restart=Never --overrides='{"spec":{"nodeName":"elsewhere"}}' >/dev/null
expect_fail "a node cannot read another node's pod" NK get pod other
expect_contains "$OUT" 'User "system:node:joined-0" cannot get resource "pods"' "Node authorizer's 403"

# Restart: the certificate is reused, no new CSR.
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
BEFORE=$(k get csr --no-headers | wc -l)
SERIAL=$(openssl x509 -in "$PKI/kubelet-client.crt" -noout -serial)
start_agent
sleep 3
kill -0 "$AGENT_PID" || fail "agent did not restart: $(tail -5 "$WORK/agent.log")"
expect_eq "$(k get csr --no-headers | wc -l)" "$BEFORE" "restart reuses the certificate: no new CSR"
expect_eq "$(openssl x509 -in "$PKI/kubelet-client.crt" -noout -serial)" "$SERIAL" "same certificate after restart"

# ---- a user's CSR: pending until approved or denied -----------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/alice.key" \
  -subj "/CN=alice/O=devs" -out "$WORK/alice.csr" 2>/dev/null
csr_yaml() {
  cat <<YAML
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: $1
spec:
  request: $(base64 -w0 "$WORK/alice.csr")
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 3600
  usages: [client auth]
  username: someone-else
YAML
}
# alice may create and read CSRs and write /approval, but holds no `approve` on signers.
k create clusterrole csr-writer --verb=create,get,list,watch --resource=certificatesigningrequests >/dev/null
k create clusterrole csr-approval-writer --verb=update --resource=certificatesigningrequests/approval >/dev/null
k create clusterrolebinding alice-csr --clusterrole=csr-writer --user=alice >/dev/null
k create clusterrolebinding alice-approval --clusterrole=csr-approval-writer --user=alice >/dev/null
csr_yaml alice-1 | k --as alice create -f - >/dev/null
csr_yaml alice-2 | k --as alice create -f - >/dev/null
expect_eq "$(k get csr alice-1 -o jsonpath='{.spec.username}')" "alice" "spec.username is the requester, not the client's value"
sleep 2
run k get csr alice-1
expect_contains "$OUT" "Pending" "a user's CSR stays Pending"
expect_contains "$OUT" "60m" "REQUESTEDDURATION column (HumanDuration: 60m)"
expect_fail "approving needs the approve verb" k --as alice certificate approve alice-1
expect_contains "$OUT" 'is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"' \
  "CertificateApproval's 403 message"
run k certificate approve alice-1
wait_for "alice-1 issued" 20 bash -c "$KUBECTL --kubeconfig $WORK/data/kubeconfig get csr alice-1 | grep -q Approved,Issued"
pass "approved CSR gets Issued"
k get csr alice-1 -o jsonpath='{.status.certificate}' | base64 -d >"$WORK/alice.crt"
expect_contains "$(openssl x509 -in "$WORK/alice.crt" -noout -subject -nameopt RFC2253)" "CN=alice" "issued certificate is alice's"
DAYS=$(( ($(date -d "$(openssl x509 -in "$WORK/alice.crt" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 60 ))
[ "$DAYS" -le 61 ] && [ "$DAYS" -ge 55 ] || fail "expirationSeconds 3600 not honoured: ${DAYS}m left"
pass "expirationSeconds honoured (~1h)"
expect_eq "$(kubectl --server "$API" --certificate-authority "$WORK/data/tls/ca.crt" --client-certificate "$WORK/alice.crt" \
  --client-key "$WORK/alice.key" auth whoami -o jsonpath='{.status.userInfo.username}')" "alice" "the issued certificate authenticates alice"
run k certificate deny alice-2
sleep 2
expect_eq "$(k get csr alice-2 --no-headers | awk '{print $NF}')" "Denied" "denied CSR shows Denied"
expect_eq "$(k get csr alice-2 -o jsonpath='{.status.certificate}')" "" "denied CSR is never signed"

# ---- validation and subject restriction ------------------------------------------------------
expect_fail "expirationSeconds below 600 refused" bash -c "$(declare -f csr_yaml); WORK=$WORK csr_yaml short | sed 's/3600/60/' | $KUBECTL --kubeconfig $WORK/data/kubeconfig create -f -"
expect_contains "$OUT" "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)" "upstream's message"
expect_fail "a bad signerName refused" bash -c "$(declare -f csr_yaml); WORK=$WORK csr_yaml badsigner | sed 's#kubernetes.io/kube-apiserver-client#nodomain#' | $KUBECTL --kubeconfig $WORK/data/kubeconfig create -f -"
expect_contains "$OUT" "must be a fully qualified domain and path of the form 'example.com/signer-name'" "signerName message"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/m.key" \
  -subj "/CN=mallory/O=system:masters" -out "$WORK/alice.csr" 2>/dev/null
expect_fail "system:masters via kube-apiserver-client refused" bash -c "$(declare -f csr_yaml); WORK=$WORK csr_yaml masters | $KUBECTL --kubeconfig $WORK/data/kubeconfig create -f -"
expect_contains "$OUT" "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed" "CertificateSubjectRestriction"

finish
