#!/usr/bin/env bash
# Audit logging: an audit.k8s.io/v1 Policy decides the level per request; kubectl's
# requests come out as Events (JSON lines) with upstream's fields; the log rotates by size.
source "$(dirname "$0")/lib.sh"
STORAGE=memory
mkdir -p "$WORK/audit"
cat >"$WORK/policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  users: ["silent"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
  namespaces: ["rr"]
- level: Metadata
  omitStages: ["RequestReceived"]
  resources:
  - group: ""
    resources: ["configmaps", "secrets"]
- level: Metadata
  nonResourceURLs: ["/version"]
- level: Metadata
  resources:
  - group: ""
    resources: ["pods"]
  namespaces: ["psa", "psa-enf"]
EOF
echo 'silenttoken,silent,u-silent,system:masters' >"$WORK/tokens.csv"
SERVER_ARGS="--audit-policy-file $WORK/policy.yaml --audit-log-path $WORK/audit/audit.log
  --audit-log-maxsize 1 --audit-log-maxbackup 10 --token-auth-file $WORK/tokens.csv"
start_server

# q PYTHON_EXPR: evaluated with `evs`, every event of the audit files (backups first).
q() {
  sleep 0.3  # the writer thread is behind the response by a little
  python3 - "$WORK/audit" "$1" <<'EOF'
import glob, json, sys
evs = []
files = sorted(glob.glob(sys.argv[1] + "/audit-*.log")) + [sys.argv[1] + "/audit.log"]
for f in files:
    for line in open(f):
        evs.append(json.loads(line))
def pick(**kw):
    out = []
    for e in evs:
        ok = True
        for k, v in kw.items():
            cur = e
            for part in k.split("__"):
                cur = cur.get(part, {}) if isinstance(cur, dict) else None
            if cur != v:
                ok = False
        if ok:
            out.append(e)
    return out
print(eval(sys.argv[2]))
EOF
}

# ---- kubectl create/get/delete: ResponseComplete events ---------------------------------
k create configmap plain --from-literal=a=b >/dev/null
k get configmap plain >/dev/null
k delete configmap plain >/dev/null
out=$(q '[(e["verb"], e["objectRef"].get("name"), e["user"]["username"], e["responseStatus"]["code"]) for e in pick(objectRef__resource="configmaps", objectRef__namespace="default", user__username="admin", stage="ResponseComplete")][:3]')
expect_eq "$out" "[('create', 'plain', 'admin', 201), ('get', 'plain', 'admin', 200), ('delete', 'plain', 'admin', 200)]" "create/get/delete: verb, name, user, code"
out=$(q 'sorted(pick(verb="create", objectRef__name="plain")[0].keys())')
expect_eq "$out" "['annotations', 'apiVersion', 'auditID', 'kind', 'level', 'objectRef', 'requestReceivedTimestamp', 'requestURI', 'responseStatus', 'sourceIPs', 'stage', 'stageTimestamp', 'user', 'userAgent', 'verb']" "Metadata level: no request or response bodies"
out=$(q 'list(pick(verb="create", objectRef__name="plain")[0].keys())[:5]')
expect_eq "$out" "['kind', 'apiVersion', 'level', 'auditID', 'stage']" "upstream's field order"
out=$(q 'pick(verb="create", objectRef__name="plain")[0]["objectRef"]')
expect_eq "$out" "{'resource': 'configmaps', 'namespace': 'default', 'name': 'plain', 'apiVersion': 'v1'}" "objectRef of a create"
out=$(q 'pick(verb="create", objectRef__name="plain")[0]["annotations"]["authorization.k8s.io/decision"]')
expect_eq "$out" "allow" "decision annotation: allow"
out=$(q 'len(pick(objectRef__name="plain", stage="RequestReceived"))')
expect_eq "$out" "0" "omitStages: RequestReceived left out"
out=$(q 'pick(verb="create", objectRef__name="plain")[0]["stageTimestamp"]')
[[ $out =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$ ]] || fail "stageTimestamp: $out"
pass "timestamps: RFC 3339 with microseconds"

# Audit-Id: the response header is the event's auditID.
hdr=$(c -s -D - -o /dev/null "$API/version" | tr -d '\r' | sed -n 's/^[Aa]udit-[Ii]d: //p')
out=$(q "[e['stage'] for e in evs if e['auditID'] == '$hdr']")
expect_eq "$out" "['RequestReceived', 'ResponseComplete']" "Audit-Id header names the event; non-resource rule"

# ---- RequestResponse: bodies ------------------------------------------------------------
k create namespace rr >/dev/null
k -n rr create configmap full --from-literal=k=v >/dev/null
out=$(q '[(e["level"], e["requestObject"]["data"], e["responseObject"]["metadata"]["name"]) for e in pick(verb="create", objectRef__name="full", stage="ResponseComplete")]')
expect_eq "$out" "[('RequestResponse', {'k': 'v'}, 'full')]" "RequestResponse: request and response objects"
out=$(q 'len(pick(objectRef__name="full", stage="RequestReceived"))')
expect_eq "$out" "1" "RequestReceived written when not omitted"

# ---- None for a user --------------------------------------------------------------------
kt() { "$KUBECTL" --kubeconfig /dev/null --server "$API" --certificate-authority "$WORK/data/tls/ca.crt" "$@"; }
kt --token silenttoken create configmap hush >/dev/null
out=$(q 'len(pick(objectRef__name="hush")) + len([e for e in evs if e["user"]["username"] == "silent"])')
expect_eq "$out" "0" "a None rule silences a user"

# ---- 403 from a ServiceAccount token ----------------------------------------------------
token=$(k create token default)
expect_fail "ServiceAccount may not list configmaps" kt --token "$token" get configmaps
out=$(q '[(e["responseStatus"]["code"], e["responseStatus"]["reason"], e["annotations"]["authorization.k8s.io/decision"]) for e in pick(user__username="system:serviceaccount:default:default", objectRef__resource="configmaps", stage="ResponseComplete")]')
expect_eq "$out" "[(403, 'Forbidden', 'forbid')]" "403 audited with decision forbid"
out=$(q 'pick(user__username="system:serviceaccount:default:default", objectRef__resource="configmaps")[0]["responseStatus"]["status"]')
expect_eq "$out" "Failure" "403 responseStatus: status Failure"

# ---- 401: a refused token is audited without a user, as upstream -----------------------
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/data/tls/ca.crt" -H 'Authorization: Bearer not-a-token' "$API/api/v1/namespaces/default/secrets")
expect_eq "$code" "401" "a forged bearer token is refused"
out=$(q '[(e["stage"], e["user"], e["responseStatus"]) for e in pick(verb="list", objectRef__resource="secrets") if e["responseStatus"]["code"] == 401]')
expect_eq "$out" "[('ResponseStarted', {}, {'metadata': {}, 'message': 'Authentication failed, attempted: bearer', 'code': 401})]" "401 audited: ResponseStarted, no user, the credentials tried"

# ---- Pod Security audit mode: annotations on the pod's audit event ----------------------
k create namespace psa >/dev/null
k label namespace psa pod-security.kubernetes.io/audit=restricted >/dev/null
k -n psa run loose --image=busybox:1.36 --restart=Never -- sleep 1 >/dev/null
out=$(q 'pick(verb="create", objectRef__resource="pods", objectRef__namespace="psa", stage="ResponseComplete")[0]["annotations"]["pod-security.kubernetes.io/audit-violations"]')
expect_contains "$out" 'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' "audit=restricted: the violations are in the audit event"
out=$(q 'pick(verb="create", objectRef__resource="pods", objectRef__namespace="psa", stage="ResponseComplete")[0]["annotations"]["pod-security.kubernetes.io/enforce-policy"]')
expect_eq "$out" "privileged:latest" "the enforced policy is annotated"
hdrs=$(c -si -X POST -H 'Content-Type: application/json' "$API/api/v1/namespaces/psa/pods" -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"loose3"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}' | tr -d '\r' | sed '/^$/q')
expect_contains "$hdrs" "HTTP/1.1 201" "a pod created with curl"
expect_not_contains "$hdrs" "Skiff-Audit" "admission's audit annotations never reach the client"
expect_eq "$(k -n psa run loose2 --image=busybox:1.36 --restart=Never -- sleep 1 2>&1 | grep -ci warning || true)" "0" "audit mode neither refuses nor warns"
k create namespace psa-enf >/dev/null
k label namespace psa-enf pod-security.kubernetes.io/enforce=restricted >/dev/null
expect_fail "enforce=restricted refuses a loose pod" k -n psa-enf run refused --image=busybox:1.36 --restart=Never -- sleep 1
out=$(q '[(e["responseStatus"]["code"], e["annotations"].get("pod-security.kubernetes.io/enforce-policy")) for e in pick(verb="create", objectRef__resource="pods", objectRef__namespace="psa-enf", stage="ResponseComplete")]')
expect_eq "$out" "[(403, 'restricted:latest')]" "a refused pod's audit event keeps the enforced policy"

# ---- watches: ResponseStarted, then ResponseComplete when the watch ends ----------------
c -s "$API/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1" >/dev/null
out=$(q '[e["stage"] for e in pick(verb="watch", user__username="admin", objectRef__resource="configmaps")]')
expect_eq "$out" "['ResponseStarted', 'ResponseComplete']" "watch: ResponseStarted and ResponseComplete"

# ---- rotation at --audit-log-maxsize (1 MB) ---------------------------------------------
head -c 400000 /dev/zero | tr '\0' 'x' >"$WORK/big"
for i in 1 2 3; do k -n rr create configmap "big$i" --from-file=v="$WORK/big" >/dev/null; done
sleep 0.5
backups=$(ls "$WORK/audit" | grep -cE '^audit-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}\.[0-9]{3}\.log$' || true)
[ "$backups" -ge 1 ] || fail "no rotated file: $(ls "$WORK/audit")"
pass "rotation: lumberjack-style backup names"
size=$(stat -c %s "$WORK/audit/audit.log")
[ "$size" -le 1048576 ] || fail "audit.log larger than 1 MB: $size"
pass "rotation: the live file stays under the limit"
out=$(q 'sorted(e["objectRef"]["name"] for e in pick(verb="create", objectRef__namespace="rr", stage="ResponseComplete") if e["objectRef"]["name"].startswith("big"))')
expect_eq "$out" "['big1', 'big2', 'big3']" "no event lost across rotation"

echo "$PASSED passed"
