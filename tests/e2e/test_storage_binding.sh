#!/usr/bin/env bash
# The storage control plane with the real kubectl on a server alone (no kubelet: the test
# plays the scheduler's selected-node annotation and the node's cleanup finalizer):
# the default StorageClass local-path, admission (default class, protection finalizers,
# resize refusals), static binding by selector with `kubectl get pv,pvc` columns, Retain
# volumes staying Released, dynamic provisioning with the contract's volume and its deletion
# on reclaim Delete, unsupported access modes, and a claim in use surviving its deletion
# until its pod is gone.
source "$(dirname "$0")/lib.sh"
SERVER_ARGS="--pvclaimbinder-sync-period 2s" start_server

pvc() {  # pvc NAME SIZE [extra spec YAML lines] [access mode]
  cat <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: $1
spec:
  accessModes: [${4:-ReadWriteOnce}]
  resources:
    requests:
      storage: $2
${3:-}
YAML
}
pv() {  # pv NAME SIZE POLICY [labels YAML]
  cat <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $1
  labels: {${4:-}}
spec:
  capacity: {storage: $2}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: $3
  storageClassName: manual
  hostPath: {path: /tmp/$1}
YAML
}
field() { k get "$1" "$2" -o "jsonpath=$3"; }
is() { [ "$(field "$1" "$2" "$3")" == "$4" ]; }
gone() { ! k get "$1" "$2" >/dev/null 2>&1; }
has_event() { k get events --field-selector "involvedObject.name=$1" | grep -q "$2"; }
terminating() { [ -n "$(field "$1" "$2" '{.metadata.deletionTimestamp}')" ]; }

# ---- the default class -----------------------------------------------------------------
wait_for "default StorageClass local-path" 20 k get storageclass local-path
run k get storageclass
expect_contains "$(echo "$OUT" | tr -s ' ')" "local-path (default) skiff.io/local-path Delete WaitForFirstConsumer true" \
  "kubectl get storageclass shows local-path as the default class"

# ---- static binding by selector, columns, Retain ------------------------------------------
pv small 1Gi Retain "tier: gold" | run k apply -f -
pv big 5Gi Retain "tier: gold" | run k apply -f -
pv other 1Gi Retain "tier: silver" | run k apply -f -
pvc gold 1Gi "  storageClassName: manual
  selector: {matchLabels: {tier: gold}}" | run k apply -f -
wait_for "claim gold bound" 20 is pvc gold '{.status.phase}' Bound
expect_eq "$(field pvc gold '{.spec.volumeName}')" "small" "the smallest volume matching the selector is bound"
expect_eq "$(field pv small '{.spec.claimRef.name}') $(field pv small '{.status.phase}')" "gold Bound" \
  "the volume names its claim and is Bound"
expect_eq "$(field pvc gold '{.metadata.annotations.pv\.kubernetes\.io/bind-completed}')" "yes" \
  "bind-completed annotation"
expect_eq "$(field pvc gold '{.metadata.finalizers}')" '["kubernetes.io/pvc-protection"]' \
  "StorageObjectInUseProtection put the claim's finalizer"
expect_eq "$(field pv small '{.metadata.finalizers}')" '["kubernetes.io/pv-protection"]' \
  "and the volume's"
run k get pv small
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" \
  "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE" \
  "kubectl get pv columns"
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "small 1Gi RWO Retain Bound default/gold manual <unset>" \
  "kubectl get pv row"
run k get pvc gold
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" \
  "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE" "kubectl get pvc columns"
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "gold Bound small 1Gi RWO manual <unset>" "kubectl get pvc row"
expect_eq "$(field pv other '{.status.phase}')" "Available" "the volume outside the selector stays Available"

run k delete pvc gold
wait_for "volume small Released" 20 is pv small '{.status.phase}' Released
sleep 3  # two resyncs: Retain keeps it
expect_eq "$(field pv small '{.status.phase}')" "Released" "a Retain volume stays Released after its claim is gone"

# ---- resize admission -------------------------------------------------------------------
pvc fixed 1Gi "  storageClassName: manual" | run k apply -f -
wait_for "claim fixed bound" 20 is pvc fixed '{.status.phase}' Bound
OUT=$(k patch pvc fixed -p '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}' 2>&1 || true)
expect_contains "$OUT" 'persistentvolumeclaims "fixed" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize' \
  "growing a claim whose class does not allow expansion is refused"
OUT=$(k patch pvc fixed -p '{"spec":{"resources":{"requests":{"storage":"500Mi"}}}}' 2>&1 || true)
expect_contains "$OUT" "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity" \
  "shrinking a claim is refused"

# ---- dynamic provisioning (the test plays the scheduler) --------------------------------
pvc dyn 64Mi | run k apply -f -
expect_eq "$(field pvc dyn '{.spec.storageClassName}')" "local-path" "DefaultStorageClass gave the claim the default class"
wait_for "WaitForFirstConsumer event" 20 has_event dyn "waiting for first consumer to be created before binding"
pass "the claim waits for its first consumer"
run k annotate pvc dyn volume.kubernetes.io/selected-node=node-a
wait_for "claim dyn bound" 20 is pvc dyn '{.status.phase}' Bound
VOL=$(field pvc dyn '{.spec.volumeName}')
expect_eq "$VOL" "pvc-$(field pvc dyn '{.metadata.uid}')" "the provisioned volume is named pvc-<claim uid>"
expect_eq "$(field pv "$VOL" '{.spec.csi.driver} {.metadata.labels.skiff\.io/local-path-node} {.spec.capacity.storage} {.spec.persistentVolumeReclaimPolicy}')" \
  "skiff.io/local-path node-a 64Mi Delete" "the volume follows the storage contract"
expect_eq "$(field pv "$VOL" '{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}')" "node-a" \
  "the volume is pinned to the chosen node"
expect_eq "$(field pvc dyn '{.metadata.annotations.volume\.kubernetes\.io/storage-provisioner}')" "skiff.io/local-path" \
  "the binder set the storage-provisioner annotation"
run k get events --field-selector involvedObject.name=dyn
expect_contains "$OUT" "Successfully provisioned volume $VOL" "ProvisioningSucceeded event"

# ---- a claim in use is kept until its pod is gone; then Delete removes the volume --------
cat <<YAML | run k apply -f -
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {kubernetes.io/hostname: node-a}
---
apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  nodeName: node-a
  containers: [{name: c, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: dyn}}]
YAML
run k delete pvc dyn --wait=false
sleep 2
expect_eq "$(field pvc dyn '{.status.phase}')" "Bound" "a claim in use is not removed while its pod exists"
[ -n "$(field pvc dyn '{.metadata.deletionTimestamp}')" ] || fail "claim dyn should be terminating"
pass "the claim is Terminating"
run k delete pod user --grace-period=0 --force
wait_for "claim dyn gone after its pod" 20 gone pvc dyn
wait_for "volume $VOL deleted (waits for the node's cleanup)" 20 terminating pv "$VOL"
pass "reclaim Delete deletes the provisioned volume"
expect_contains "$(field pv "$VOL" '{.metadata.finalizers}')" "skiff.io/local-path-cleanup" \
  "the cleanup finalizer holds the volume for the node"
run k patch pv "$VOL" --type=json -p '[{"op":"replace","path":"/metadata/finalizers","value":[]}]'
wait_for "volume gone once the node cleaned up" 20 gone pv "$VOL"
pass "the volume is gone once the node removed its finalizer"

# ---- unsupported access mode ------------------------------------------------------------
pvc shared 1Gi "" ReadWriteMany | run k apply -f -
run k annotate pvc shared volume.kubernetes.io/selected-node=node-a
wait_for "ProvisioningFailed event" 20 has_event shared ProvisioningFailed
run k get events --field-selector involvedObject.name=shared
expect_contains "$OUT" "access mode ReadWriteMany is not supported by skiff.io/local-path" \
  "an unsupported access mode is explained in a ProvisioningFailed event"
expect_eq "$(field pvc shared '{.status.phase}')" "Pending" "and the claim stays Pending"

finish
