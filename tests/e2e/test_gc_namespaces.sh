#!/usr/bin/env bash
# Cascading deletion and namespace deletion with the real kubectl: the garbage collector and
# the namespace controller of `skiff server`. No workload controller writes ownerReferences
# here, so owners and dependents are ConfigMaps and Pods linked by hand.
source "$(dirname "$0")/lib.sh"
start_server

# dependent KIND NAME OWNER_NAME OWNER_UID [FINALIZER]: a ConfigMap or Pod owned by a ConfigMap
dependent() {
  local kind=$1 name=$2 owner=$3 uid=$4 finalizer=${5:-}
  local fin=""
  [ -n "$finalizer" ] && fin=",\"finalizers\":[\"$finalizer\"]"
  local spec=""
  [ "$kind" == "Pod" ] && spec=',"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}'
  echo "{\"apiVersion\":\"v1\",\"kind\":\"$kind\",\"metadata\":{\"name\":\"$name\"$fin,
    \"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"$owner\",
    \"uid\":\"$uid\",\"blockOwnerDeletion\":true}]}$spec}" >"$WORK/dep-$name.json"
  k -n gc create -f "$WORK/dep-$name.json" >/dev/null
}
owner() { k -n gc create configmap "$1" -o jsonpath='{.metadata.uid}'; }

run k create namespace gc

# background (kubectl's default): the owner goes at once, the collector removes dependents
UID_BG=$(owner bg)
dependent ConfigMap bg-child bg "$UID_BG"
dependent Pod bg-pod bg "$UID_BG"
run k -n gc delete configmap bg
expect_eq "$OUT" 'configmap "bg" deleted' "delete (background) answers like upstream"
run k -n gc wait --for=delete configmap/bg-child pod/bg-pod --timeout=20s
pass "background deletion removed the owner's dependents"

# orphan: dependents stay, their ownerReferences go
UID_OR=$(owner keep)
dependent ConfigMap keep-child keep "$UID_OR"
run k -n gc delete configmap keep --cascade=orphan
expect_fail "owner deleted with --cascade=orphan is gone" k -n gc get configmap keep
expect_eq "$(k -n gc get configmap keep-child -o jsonpath='{.metadata.name}')" "keep-child" "orphaned dependent stays"
expect_eq "$(k -n gc get configmap keep-child -o jsonpath='{.metadata.ownerReferences}')" "" "orphaned dependent lost its ownerReference"

# foreground: the owner waits (finalizer foregroundDeletion) until blocking dependents are gone
UID_FG=$(owner fg)
dependent ConfigMap fg-held fg "$UID_FG" e2e.skiff.io/hold
dependent ConfigMap fg-free fg "$UID_FG"
run k -n gc delete configmap fg --cascade=foreground --wait=false
expect_eq "$(k -n gc get configmap fg -o jsonpath='{.metadata.finalizers}')" '["foregroundDeletion"]' "foreground: the owner carries foregroundDeletion"
run k -n gc wait --for=delete configmap/fg-free --timeout=20s
for _ in $(seq 1 50); do
  [ -n "$(k -n gc get configmap fg-held -o jsonpath='{.metadata.deletionTimestamp}')" ] && break; sleep 0.1
done
expect_contains "$(k -n gc get configmap fg-held -o jsonpath='{.metadata.deletionTimestamp}')" "T" "foreground: the blocking dependent is being deleted"
sleep 0.5
expect_eq "$(k -n gc get configmap fg -o jsonpath='{.metadata.name}')" "fg" "foreground: the owner waits for its blocking dependent"
run k -n gc patch configmap fg-held --type=merge -p '{"metadata":{"finalizers":null}}'
run k -n gc wait --for=delete configmap/fg --timeout=20s
pass "foreground: the owner goes once its dependents are gone"
expect_fail "the blocking dependent went first" k -n gc get configmap fg-held

# kubectl delete --cascade=foreground waits for the whole tree
UID_FW=$(owner tree)
dependent ConfigMap tree-child tree "$UID_FW"
run k -n gc delete configmap tree --cascade=foreground
expect_eq "$OUT" 'configmap "tree" deleted' "delete --cascade=foreground returns once done"
expect_fail "its dependent is gone too" k -n gc get configmap tree-child

# the API server validates the policy like upstream (422 on DeleteOptions)
k -n gc create configmap victim >/dev/null
expect_eq "$(curl_status DELETE "/api/v1/namespaces/gc/configmaps/victim?propagationPolicy=Sideways")" "422" "unknown propagationPolicy is 422"
expect_contains "$(cat "$WORK/body")" 'Unsupported value: \"Sideways\"' "422 names the unsupported value"

# namespace deletion: content first, then the namespace
run k create namespace doomed
k -n doomed create configmap a >/dev/null
k -n doomed create secret generic s --from-literal=k=v >/dev/null
k -n doomed run p --image=busybox:1.36 >/dev/null
run k delete namespace doomed
expect_eq "$OUT" 'namespace "doomed" deleted' "kubectl delete namespace waits until it is gone"
expect_fail "the namespace is gone" k get namespace doomed

# content with a finalizer keeps a namespace Terminating, with upstream's conditions
run k create namespace held
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pinned","finalizers":["e2e.skiff.io/hold"]}}' >"$WORK/pinned.json"
k -n held create -f "$WORK/pinned.json" >/dev/null
k -n held create configmap loose >/dev/null
run k delete namespace held --wait=false
expect_eq "$(k get namespace held -o jsonpath='{.status.phase}')" "Terminating" "namespace with held content is Terminating"
COND='{.status.conditions[?(@.type=="NamespaceFinalizersRemaining")].message}'
for _ in $(seq 1 50); do [ -n "$(k get namespace held -o jsonpath="$COND")" ] && break; sleep 0.1; done
expect_eq "$(k get namespace held -o jsonpath="$COND")" "Some content in the namespace has finalizers remaining: e2e.skiff.io/hold in 1 resource instances" "NamespaceFinalizersRemaining condition"
expect_eq "$(k get namespace held -o jsonpath='{.status.conditions[?(@.type=="NamespaceContentRemaining")].message}')" "Some resources are remaining: configmaps. has 1 resource instances" "NamespaceContentRemaining condition"
expect_fail "unheld content was deleted" k -n held get configmap loose
run k -n held patch configmap pinned --type=merge -p '{"metadata":{"finalizers":null}}'
run k wait --for=delete namespace/held --timeout=30s
pass "namespace goes once its last finalizer is removed"

finish
