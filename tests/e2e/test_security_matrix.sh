#!/usr/bin/env bash
# The security issue's matrix with the real kubectl and bearer tokens: anonymous clients, a
# ServiceAccount bound to `view` and one bound to `edit`, escalation by a ServiceAccount
# that may write RBAC objects, `kubectl auth can-i --list --as`, impersonation without the
# verb, a node identity reading only what its pods reference, forged and foreign tokens.
source "$(dirname "$0")/lib.sh"
start_server
CA=$WORK/data/tls/ca.crt
# kt TOKEN ARGS...: the real kubectl as the bearer of TOKEN (no client certificate)
printf 'apiVersion: v1\nkind: Config\n' >"$WORK/empty.kubeconfig"
kt() { local t=$1; shift; "$KUBECTL" --kubeconfig "$WORK/empty.kubeconfig" --server "$API" --certificate-authority "$CA" --token "$t" "$@"; }
anon_status() { curl -s --cacert "$CA" -o "$WORK/body" -w '%{http_code}' "$API$1"; }

# ---- anonymous: health and version only ---------------------------------------------------
expect_eq "$(anon_status /api/v1/namespaces/default/pods)" 403 "anonymous list pods is 403"
expect_eq "$(json_field '["message"]')" 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"' "anonymous 403 names the user, verb, resource and namespace"
expect_eq "$(anon_status /apis/apps/v1/deployments)" 403 "anonymous list deployments is 403"
expect_eq "$(anon_status /openapi/v2)" 403 "anonymous OpenAPI is 403"
for p in /healthz /livez /readyz /version; do
  expect_eq "$(anon_status $p)" 200 "anonymous GET $p is allowed (system:public-info-viewer)"
done

# ---- ServiceAccounts bound to view and edit in one namespace -------------------------------
run k create namespace team
run k create namespace other
for sa in viewer editor granter; do run k create serviceaccount $sa -n team; done
run k create rolebinding viewer-view -n team --clusterrole=view --serviceaccount=team:viewer
run k create rolebinding editor-edit -n team --clusterrole=edit --serviceaccount=team:editor
run k create configmap settings -n team --from-literal=a=1
VIEW=$(k create token viewer -n team)
EDIT=$(k create token editor -n team)

run kt "$VIEW" get configmaps -n team
expect_contains "$OUT" "settings" "view lists configmaps in its namespace"
expect_fail "view may not delete" kt "$VIEW" delete configmap settings -n team
expect_contains "$OUT" 'configmaps "settings" is forbidden: User "system:serviceaccount:team:viewer" cannot delete resource "configmaps" in API group "" in the namespace "team"' "delete refused with upstream's message"
expect_fail "view does not reach another namespace" kt "$VIEW" get configmaps -n other
expect_fail "view may not read Secrets" kt "$VIEW" get secrets -n team
run kt "$EDIT" create deployment web -n team --image=busybox
expect_contains "$OUT" "deployment.apps/web created" "edit creates Deployments"
expect_fail "edit may not create Roles" kt "$EDIT" create role r -n team --verb=get --resource=pods
expect_contains "$OUT" 'roles.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:team:editor" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "team"' "Role creation refused with upstream's message"

# ---- escalation: a ServiceAccount that may write RBAC objects, but holds little else -------
run k create role rbac-writer -n team --verb=create,get,list --resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io
run k create rolebinding granter-rbac -n team --role=rbac-writer --serviceaccount=team:granter
GRANT=$(k create token granter -n team)
expect_fail "binding cluster-admin is an escalation" kt "$GRANT" create rolebinding grab -n team --clusterrole=cluster-admin --serviceaccount=team:granter
expect_contains "$OUT" 'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "system:serviceaccount:team:granter"' "escalation names the writer"
expect_contains "$OUT" "is attempting to grant RBAC permissions not currently held" "escalation refusal as upstream"
expect_fail "a Role with rules the writer lacks is an escalation" kt "$GRANT" create role secret-reader -n team --verb=get --resource=secrets
run kt "$GRANT" create role role-reader -n team --verb=get --resource=roles.rbac.authorization.k8s.io
expect_contains "$OUT" "role.rbac.authorization.k8s.io/role-reader created" "a Role within the writer's own rules is allowed"

# ---- kubectl auth can-i as a ServiceAccount (impersonated by the admin) --------------------
expect_eq "$(k auth can-i list configmaps -n team --as=system:serviceaccount:team:viewer)" "yes" "can-i list as viewer"
expect_eq "$(k auth can-i delete configmaps -n team --as=system:serviceaccount:team:viewer 2>/dev/null)" "no" "can-i delete as viewer"
expect_eq "$(k auth can-i list configmaps -n other --as=system:serviceaccount:team:viewer 2>/dev/null)" "no" "can-i in another namespace as viewer"
LIST=$(k auth can-i --list -n team --as=system:serviceaccount:team:viewer | tr -s ' ')
expect_contains "$LIST" "configmaps [] [] [get list watch]" "can-i --list shows view's configmaps rule"
expect_contains "$LIST" "deployments.apps [] [] [get list watch]" "can-i --list shows view's deployments rule"
expect_not_contains "$LIST" "secrets [] [] [get" "can-i --list shows no Secret rights"
expect_contains "$LIST" "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]" "can-i --list shows basic-user's rules"
run kt "$VIEW" auth whoami
expect_contains "$OUT" "system:serviceaccount:team:viewer" "whoami with the viewer's token"

# ---- impersonation needs the verb ----------------------------------------------------------
expect_fail "a viewer may not impersonate" kt "$VIEW" get configmaps -n team --as=system:admin
expect_contains "$OUT" 'users "system:admin" is forbidden: User "system:serviceaccount:team:viewer" cannot impersonate resource "users" in API group "" at the cluster scope' "impersonation refusal as upstream"
run k create clusterrole impersonate-jane --verb=impersonate --resource=users --resource-name=jane
run k create clusterrolebinding viewer-impersonates-jane --clusterrole=impersonate-jane --serviceaccount=team:viewer
run kt "$VIEW" auth whoami --as=jane
expect_contains "$OUT" "jane" "with the impersonate verb on jane, the viewer acts as jane"
expect_fail "but not as anyone else" kt "$VIEW" auth whoami --as=joe

# ---- a node reads only what its own pods reference -----------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/n1.key" 2>/dev/null
openssl req -new -key "$WORK/n1.key" -subj "/O=system:nodes/CN=system:node:n1" -out "$WORK/n1.csr" 2>/dev/null
openssl x509 -req -in "$WORK/n1.csr" -CA "$CA" -CAkey "$WORK/data/tls/ca.key" -CAcreateserial -days 1 \
  -out "$WORK/n1.crt" 2>/dev/null
n1_status() { curl -s --cacert "$CA" --cert "$WORK/n1.crt" --key "$WORK/n1.key" -o "$WORK/body" -w '%{http_code}' "$API$1"; }
run k create secret generic used -n team --from-literal=k=v
run k create secret generic unused -n team --from-literal=k=v
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: on-n1, namespace: team}
spec:
  nodeName: n1
  containers: [{name: c, image: busybox, envFrom: [{secretRef: {name: used}}]}]
YAML
expect_eq "$(n1_status /api/v1/namespaces/team/secrets/used)" 200 "node n1 reads a Secret its pod references"
expect_eq "$(n1_status /api/v1/namespaces/team/secrets/unused)" 403 "node n1 may not read an unreferenced Secret"
expect_eq "$(json_field '["message"]')" 'secrets "unused" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "team": no relationship found between node '"'n1'"' and this object' "node refusal with the node authorizer's reason"
expect_eq "$(n1_status /api/v1/namespaces/team/secrets)" 403 "node n1 may not list Secrets"
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: on-n2, namespace: team}
spec:
  nodeName: n2
  containers: [{name: c, image: busybox}]
YAML
expect_eq "$(n1_status /api/v1/namespaces/team/pods/on-n1)" 200 "node n1 gets its own pod"
expect_eq "$(n1_status /api/v1/namespaces/team/pods/on-n2)" 403 "node n1 may not get another node's pod"
expect_eq "$(n1_status '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1')" 200 "node n1 lists the pods bound to it"
expect_contains "$(cat "$WORK/body")" '"name":"on-n1"' "its own pod is listed"
expect_not_contains "$(cat "$WORK/body")" '"name":"on-n2"' "the other node's pod is not"
expect_eq "$(n1_status /apis/discovery.k8s.io/v1/endpointslices)" 200 "a node may list EndpointSlices (its embedded proxy and DNS)"
expect_eq "$(n1_status /api/v1/pods)" 403 "node n1 may not list every pod"
expect_eq "$(json_field '["message"]')" 'pods is forbidden: User "system:node:n1" cannot list resource "pods" in API group "" at the cluster scope: can only list/watch pods with spec.nodeName field selector' "with the node authorizer's reason"

# ---- forged, foreign and tampered tokens ----------------------------------------------------
# One character in the middle of the signature (the last one may only carry padding bits).
sig=${VIEW##*.}; mid=$(( ${#sig} / 2 ))
flip=$( [ "${sig:$mid:1}" == "A" ] && echo B || echo A )
TAMPERED="${VIEW%.*}.${sig:0:$mid}${flip}${sig:$((mid + 1))}"
expect_fail "a tampered token is refused" kt "$TAMPERED" get configmaps -n team
expect_contains "$OUT" "Unauthorized" "tampered token: 401 Unauthorized"
expect_fail "a made-up token is refused" kt "not-a-token" get configmaps -n team
expect_contains "$OUT" "Unauthorized" "made-up token: 401 Unauthorized"
run k delete serviceaccount viewer -n team
expect_fail "a token outlives no ServiceAccount" kt "$VIEW" get configmaps -n team
expect_contains "$OUT" "Unauthorized" "deleted ServiceAccount: 401"
finish
