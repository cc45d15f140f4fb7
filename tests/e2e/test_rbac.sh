#!/usr/bin/env bash
# RBAC with the real kubectl: the bootstrap policy (roles, bindings, aggregation labels),
# ClusterRole aggregation, SubjectAccessReview / LocalSubjectAccessReview answers for a user
# bound to `view` in one namespace, `kubectl auth can-i` as the admin, and escalation
# prevention for a user with a client certificate of its own (CN=eve, O=devs).
source "$(dirname "$0")/lib.sh"
start_server

# ---- bootstrap policy -------------------------------------------------------------------
expect_eq "$(k get clusterrole cluster-admin -o jsonpath='{.rules[0].apiGroups[0]}{.rules[0].resources[0]}{.rules[0].verbs[0]} {.rules[1].nonResourceURLs[0]}{.rules[1].verbs[0]}')" \
  '*** **' "cluster-admin holds * on *.* and every URL"
expect_eq "$(k get clusterrolebinding cluster-admin -o jsonpath='{.roleRef.name} {.subjects[0].kind}/{.subjects[0].name}')" \
  "cluster-admin Group/system:masters" "cluster-admin is bound to system:masters"
expect_eq "$(k get clusterrole system:discovery -o jsonpath='{.metadata.labels.kubernetes\.io/bootstrapping} {.metadata.annotations.rbac\.authorization\.kubernetes\.io/autoupdate}')" \
  "rbac-defaults true" "bootstrap roles are labelled and auto-updated"
expect_eq "$(k get clusterrolebinding system:public-info-viewer -o jsonpath='{.subjects[*].name}')" \
  "system:authenticated system:unauthenticated" "public-info-viewer is bound to everyone"
expect_eq "$(k get clusterrolebinding system:kube-dns -o jsonpath='{.subjects[0].kind} {.subjects[0].namespace}/{.subjects[0].name}')" \
  "ServiceAccount kube-system/kube-dns" "kube-dns binding names the ServiceAccount"
VIEW=$(k get clusterrole view -o yaml)
expect_contains "$VIEW" "rbac.authorization.k8s.io/aggregate-to-view: \"true\"" "view aggregates aggregate-to-view roles"
expect_contains "$VIEW" "rbac.authorization.k8s.io/aggregate-to-edit: \"true\"" "view aggregates into edit"
expect_eq "$(k get clusterrole edit -o jsonpath='{.metadata.labels.rbac\.authorization\.k8s\.io/aggregate-to-admin}')" \
  "true" "edit aggregates into admin"

rules_of() { k get clusterrole "$1" -o json | python3 -c '
import json,sys
for r in json.load(sys.stdin).get("rules") or []:
    for g in r.get("apiGroups", []):
        for res in r.get("resources", []):
            for v in r["verbs"]: print(v, (g + "/" if g else "") + res)'; }
has_rule() { rules_of "$1" | grep -x "$2" >/dev/null; }
wait_for "view gathers system:aggregate-to-view's rules" 10 has_rule view "list pods"
expect_eq "$(has_rule view 'delete pods' && echo yes || echo no)" "no" "view cannot delete pods"
expect_eq "$(has_rule view 'get secrets' && echo yes || echo no)" "no" "view cannot read secrets"
wait_for "edit gathers view's and system:aggregate-to-edit's rules" 10 has_rule edit "delete pods"
wait_for "edit includes view's rules" 10 has_rule edit "watch apps/deployments"
wait_for "admin gathers roles and rolebindings" 10 has_rule admin "create rbac.authorization.k8s.io/rolebindings"
wait_for "admin includes edit's rules" 10 has_rule admin "update apps/deployments"
wait_for "and view's, through edit" 10 has_rule admin "get batch/jobs"

# ---- aggregation of a new role ----------------------------------------------------------
cat >"$WORK/widgets.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-viewer
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["example.com"]
  resources: ["widgets"]
  verbs: ["get", "list"]
YAML
run k apply -f "$WORK/widgets.yaml"
wait_for "view gathers a new aggregate-to-view role" 5 has_rule view "get example.com/widgets"
wait_for "and so do edit and admin" 5 has_rule admin "list example.com/widgets"
run k delete clusterrole widget-viewer
lacks_rule() { ! has_rule "$@"; }
wait_for "a deleted role's rules leave view" 5 lacks_rule view "get example.com/widgets"

# ---- SubjectAccessReview / LocalSubjectAccessReview --------------------------------------
run k create namespace team
run k create namespace elsewhere
run k create rolebinding alice-view --clusterrole=view --user=alice -n team
sar() { # USER VERB RESOURCE NAMESPACE -> allowed/reason
  k create -o jsonpath='{.status.allowed}|{.status.reason}' -f - <<JSON
{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
 "spec":{"user":"$1","groups":["system:authenticated"],
         "resourceAttributes":{"verb":"$2","resource":"$3","namespace":"$4"}}}
JSON
}
expect_eq "$(sar alice get pods team)" \
  'true|RBAC: allowed by RoleBinding "alice-view/team" of ClusterRole "view" to User "alice"' \
  "SAR: alice may get pods in team"
expect_eq "$(sar alice list pods team | cut -d'|' -f1)" "true" "SAR: alice may list pods in team"
expect_eq "$(sar alice delete pods team)" "false|" "SAR: alice may not delete pods in team"
expect_eq "$(sar alice get pods elsewhere)" "false|" "SAR: alice may not get pods in another namespace"
expect_eq "$(sar alice get secrets team)" "false|" "SAR: view does not read secrets"
cat >"$WORK/nonres.json" <<'JSON'
{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
 "spec":{"user":"alice","groups":["system:authenticated"],"nonResourceAttributes":{"verb":"get","path":"/version"}}}
JSON
expect_eq "$(curl_status POST /apis/authorization.k8s.io/v1/subjectaccessreviews application/json "$WORK/nonres.json")" \
  201 "SAR for a URL"
expect_eq "$(json_field '["status"]["reason"]')" \
  'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"' \
  "every authenticated user may read /version"
echo '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{}}' >"$WORK/empty.json"
expect_eq "$(curl_status POST /apis/authorization.k8s.io/v1/subjectaccessreviews application/json "$WORK/empty.json")" \
  422 "SAR without attributes or user is invalid"
expect_eq "$(json_field '["message"]')" \
  'SubjectAccessReview.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: "": at least one of user or group must be specified]' \
  "with upstream's message"
cat >"$WORK/lsar.json" <<'JSON'
{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","metadata":{"namespace":"team"},
 "spec":{"user":"alice","resourceAttributes":{"verb":"watch","resource":"pods","namespace":"team"}}}
JSON
expect_eq "$(curl_status POST /apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews application/json "$WORK/lsar.json")" \
  201 "LocalSubjectAccessReview"
expect_eq "$(json_field '["status"]["allowed"]')" "True" "LSAR: alice may watch pods in team"
expect_eq "$(curl_status POST /apis/authorization.k8s.io/v1/namespaces/elsewhere/localsubjectaccessreviews application/json "$WORK/lsar.json")" \
  400 "LSAR posted to another namespace"
expect_eq "$(json_field '["message"]')" \
  "the namespace of the provided object does not match the namespace sent on the request" "with upstream's message"
expect_eq "$(curl_status POST /apis/authorization.k8s.io/v1/localsubjectaccessreviews application/json "$WORK/lsar.json")" \
  404 "LSAR has no cluster-wide route"

# ---- kubectl auth can-i as the admin (system:masters) ------------------------------------
expect_eq "$(k auth can-i '*' '*')" "yes" "admin can do anything"
expect_eq "$(k auth can-i delete pods --namespace team --subresource=log)" "yes" "admin can-i with a subresource"
LIST=$(k auth can-i --list)
expect_contains "$(echo "$LIST" | head -1 | tr -s ' ')" "Resources Non-Resource URLs Resource Names Verbs" "can-i --list table header"
# Every authenticated user also holds system:basic-user/discovery/public-info-viewer rules.
expect_contains "$(echo "$LIST" | tr -s ' ')" "selfsubjectreviews.authentication.k8s.io [] [] [create]" "can-i --list shows basic-user's rules"
expect_contains "$(echo "$LIST" | tr -s ' ')" " [/healthz] [] [get]" "can-i --list shows public-info-viewer's URLs"
expect_contains "$(echo "$LIST" | tr -s ' ')" "*.* [] [] [*]" "can-i --list shows cluster-admin's resources"
expect_contains "$(echo "$LIST" | tr -s ' ')" " [*] [] [*]" "can-i --list shows cluster-admin's URLs"

# ---- escalation prevention for a user of our own certificate -----------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/eve.key" 2>/dev/null
openssl req -new -key "$WORK/eve.key" -subj "/O=devs/CN=eve" -out "$WORK/eve.csr" 2>/dev/null
openssl x509 -req -in "$WORK/eve.csr" -CA "$WORK/data/tls/ca.crt" -CAkey "$WORK/data/tls/ca.key" \
  -CAcreateserial -days 1 -out "$WORK/eve.crt" 2>/dev/null
eve() { # METHOD PATH BODY_FILE -> HTTP code, body in $WORK/body
  curl -s --cacert "$WORK/data/tls/ca.crt" --cert "$WORK/eve.crt" --key "$WORK/eve.key" \
    -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Content-Type: application/json" \
    --data-binary "@$3" "$API$2"
}
cat >"$WORK/role.json" <<'JSON'
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader"},
 "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]}
JSON
# eve may write Roles and RoleBindings in team, and holds nothing else there yet.
run k create role rbac-writer -n team --verb=create,patch,get --resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io
run k create rolebinding devs-rbac-writer -n team --role=rbac-writer --group=devs
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/elsewhere/roles "$WORK/role.json")" \
  403 "eve may not write Roles outside team at all"
expect_contains "$(json_field '["message"]')" 'roles.rbac.authorization.k8s.io is forbidden: User "eve" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "elsewhere"' "refused by the authorizer"
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/roles "$WORK/role.json")" \
  403 "eve, who holds no pod rights, may not grant get pods"
expect_eq "$(json_field '["message"]')" \
  "$(printf '%s\n%s' 'roles.rbac.authorization.k8s.io "pod-reader" is forbidden: user "eve" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:' '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}')" \
  "with upstream's message"
run k create rolebinding devs-edit --clusterrole=edit --group=devs -n team
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/roles "$WORK/role.json")" \
  201 "eve, an editor in team, may grant get pods there"
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/elsewhere/roles "$WORK/role.json")" \
  403 "but not in another namespace"
echo '{"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}]}' >"$WORK/patch.json"
expect_eq "$(curl -s --cacert "$WORK/data/tls/ca.crt" --cert "$WORK/eve.crt" --key "$WORK/eve.key" \
  -o "$WORK/body" -w '%{http_code}' -X PATCH -H "Content-Type: application/merge-patch+json" \
  --data-binary "@$WORK/patch.json" "$API/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles/pod-reader")" \
  403 "a patch granting what eve lacks is refused too"
expect_contains "$(json_field '["message"]')" '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}' "naming the missing rule"
cat >"$WORK/bind-admin.json" <<'JSON'
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"eve-admin"},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"eve"}]}
JSON
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings "$WORK/bind-admin.json")" \
  403 "eve may not bind cluster-admin"
expect_contains "$(json_field '["message"]')" 'rolebindings.rbac.authorization.k8s.io "eve-admin" is forbidden: user "eve" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:' "binding refusal message"
sed 's/"cluster-admin"/"view"/; s/eve-admin/eve-view/' "$WORK/bind-admin.json" >"$WORK/bind-view.json"
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings "$WORK/bind-view.json")" \
  201 "eve may bind view, which edit covers"
run k create clusterrole bind-admin --verb=bind --resource=clusterroles --resource-name=cluster-admin
run k create rolebinding eve-bind -n team --clusterrole=bind-admin --user=eve
expect_eq "$(eve POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings "$WORK/bind-admin.json")" \
  201 "with bind on cluster-admin, eve may bind it"
expect_eq "$(k auth can-i create rolebindings -n team)" "yes" "the admin (system:masters) is exempt"

# ---- NodeRestriction for a kubelet's certificate (CN=system:node:n1, O=system:nodes) ------
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/n1.key" 2>/dev/null
openssl req -new -key "$WORK/n1.key" -subj "/O=system:nodes/CN=system:node:n1" -out "$WORK/n1.csr" 2>/dev/null
openssl x509 -req -in "$WORK/n1.csr" -CA "$WORK/data/tls/ca.crt" -CAkey "$WORK/data/tls/ca.key" \
  -CAcreateserial -days 1 -out "$WORK/n1.crt" 2>/dev/null
n1() { # METHOD PATH BODY_FILE
  curl -s --cacert "$WORK/data/tls/ca.crt" --cert "$WORK/n1.crt" --key "$WORK/n1.key" \
    -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Content-Type: application/json" \
    --data-binary "@$3" "$API$2"
}
echo '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}' >"$WORK/n1.json"
echo '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}}' >"$WORK/n2.json"
expect_eq "$(n1 POST /api/v1/nodes "$WORK/n1.json")" 201 "a node registers its own Node"
expect_eq "$(n1 POST /api/v1/nodes "$WORK/n2.json")" 403 "but not another node's"
expect_eq "$(json_field '["message"]')" 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' \
  "with NodeRestriction's message"
echo '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sneaky"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}' >"$WORK/pod.json"
expect_eq "$(n1 POST /api/v1/namespaces/team/pods "$WORK/pod.json")" 403 "a node creates only mirror pods"
finish
