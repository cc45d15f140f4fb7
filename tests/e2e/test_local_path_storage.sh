#!/usr/bin/env bash
# skiff.io/local-path volumes on a real node (`skiff up`): the kubelet makes a sparse ext4
# image of exactly the PV's capacity, loop-mounts it under its data dir and gives it to pods;
# the size is enforced (ENOSPC in the pod), data outlives the pod, the volume grows online
# when the PV grows, and the PV's deletion removes image and mount before its finalizer goes.
# The scheduler's VolumeBinding: missing claims and volume node affinity conflicts keep pods
# Pending with upstream's messages; a WaitForFirstConsumer claim gets the selected-node
# annotation and the pod is bound only once the claim is Bound.
# Run it under `flock /tmp/skiff-node-test.lock` (it starts a real node).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, loop devices)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
[ -e /dev/loop-control ] && command -v mkfs.ext4 >/dev/null || { echo "needs /dev/loop-control and e2fsprogs"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up
LP=$WORK/data/kubelet/local-path

# A PV as skiff's provisioner makes it (storage contract), pre-bound to claim $2.
local_pv() {
  cat <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $1
  labels: {skiff.io/local-path-node: $NODE}
  annotations: {pv.kubernetes.io/provisioned-by: skiff.io/local-path}
  finalizers: [skiff.io/local-path-cleanup]  # + kubernetes.io/pv-protection from the binder
spec:
  capacity: {storage: ${3:-20Mi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: local-path
  volumeMode: Filesystem
  csi: {driver: skiff.io/local-path, volumeHandle: $1, fsType: ext4}
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: default, name: $2}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${4:-$NODE}]}]
EOF
}
claim() {
  cat <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources: {requests: {storage: 20Mi}}
  ${2:+volumeName: $2}
EOF
}
pod_with() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox:1.36, command: [sh, -c, "while true; do sleep 1; done"],
     volumeMounts: [{name: data, mountPath: /data}]}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: $2}}
EOF
}
# What a binder does once the PV exists (S's controller on main; by hand here).
bind_claim() {
  k patch pvc "$1" --type=merge -p "{\"spec\":{\"volumeName\":\"$2\"}}" >/dev/null
  k patch pvc "$1" --subresource=status --type=merge \
    -p "{\"status\":{\"phase\":\"Bound\",\"accessModes\":[\"ReadWriteOnce\"],\"capacity\":{\"storage\":\"${3:-20Mi}\"}}}" >/dev/null
}
events_of() { k get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
scheduled_msg() { k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }

# --- scheduler: claims that cannot be used keep the pod Pending with upstream's reasons
pod_with nopvc missing | k apply -f - >/dev/null
has_msg() { [[ "$(scheduled_msg "$1")" == *"$2"* ]]; }
wait_for "missing claim reported" 20 has_msg nopvc 'persistentvolumeclaim "missing" not found'
pass "a pod whose claim does not exist stays Pending: persistentvolumeclaim \"missing\" not found"
local_pv pv-far far 20Mi other-node | k apply -f - >/dev/null
claim far pv-far | k apply -f - >/dev/null
bind_claim far pv-far
pod_with farpod far | k apply -f - >/dev/null
wait_for "node affinity conflict reported" 20 has_msg farpod "1 node(s) had volume node affinity conflict"
pass "a claim bound to another node's PV: 0/1 nodes are available: 1 node(s) had volume node affinity conflict"
# The missing claim appears (bound to a PV of this node): the pod is retried and runs.
local_pv pv-late missing | k apply -f - >/dev/null
claim missing pv-late | k apply -f - >/dev/null
bind_claim missing pv-late
wait_for "pod with the late claim Running" 60 phase_is nopvc Running
pass "creating the missing claim retries the pending pod, which runs"
k delete pod nopvc farpod --wait=false >/dev/null

# --- the node side: image, mount, size enforced, data kept
local_pv pvc-dev1 data | k apply -f - >/dev/null
claim data pvc-dev1 | k apply -f - >/dev/null
bind_claim data pvc-dev1
pod_with writer data | k apply -f - >/dev/null
wait_for "writer Running" 60 phase_is writer Running
expect_eq "$(stat -c %s "$LP/pvc-dev1.img")" "20971520" "the image is exactly the PV's capacity (20Mi)"
used=$(du -k "$LP/pvc-dev1.img" | cut -f1)
[ "$used" -lt 20480 ] || fail "image is not sparse ($used KiB used)"
pass "the image is sparse ($used KiB on disk)"
grep -q " $LP/pvc-dev1 ext4 " /proc/self/mounts || fail "no ext4 mount at $LP/pvc-dev1"
pass "the image is loop-mounted at <kubelet dir>/local-path/pvc-dev1"
run k exec writer -- sh -c 'echo kept > /data/file && sync && cat /data/file'
expect_eq "$OUT" "kept" "the pod writes to its volume"
run k exec writer -- sh -c 'dd if=/dev/zero of=/data/big bs=1M count=40 2>&1; rm -f /data/big'
expect_contains "$OUT" "No space left on device" "writing past the claim's size fails with ENOSPC in the pod"
k delete pod writer >/dev/null
pod_with writer data | k apply -f - >/dev/null
wait_for "writer Running again" 60 phase_is writer Running
run k exec writer -- cat /data/file
expect_eq "$OUT" "kept" "data written by the pod survives deleting and re-creating the pod"

# --- online expansion: the PV grows (the expand controller's part), the kubelet grows the fs
before=$(k exec writer -- df -k /data | awk 'NR==2{print $2}')
k patch pvc data --subresource=status --type=merge -p '{"status":{"allocatedResources":{"storage":"40Mi"},"allocatedResourceStatuses":{"storage":"NodeResizePending"},"conditions":[{"type":"FileSystemResizePending","status":"True","message":"Waiting for user to (re-)start a pod to finish file system resize of volume on node."}]}}' >/dev/null
k patch pv pvc-dev1 --type=merge -p '{"spec":{"capacity":{"storage":"40Mi"}}}' >/dev/null
pvc_capacity() { [ "$(k get pvc data -o jsonpath='{.status.capacity.storage}')" == "40Mi" ]; }
# ext4 grows online only with CAP_SYS_RESOURCE (some sandboxes drop it): then the kubelet
# finishes the resize when the next pod using the volume starts, as upstream's offline flow.
if (( (0x$(awk '/CapEff/{print $2}' /proc/self/status) >> 24) & 1 )); then
  wait_for "PVC status.capacity 40Mi" 30 pvc_capacity
  how="online, without a restart"
else
  has_event() { [[ "$(events_of pvc-dev1)" == *"$1"* ]]; }
  wait_for "resize deferred" 30 has_event "FileSystemResizeRequired"
  pass "without CAP_SYS_RESOURCE the resize waits for the next pod start (event FileSystemResizeRequired)"
  expect_eq "$(k get pvc data -o jsonpath='{.status.capacity.storage}')" "20Mi" "status.capacity is not raised before the file system grew"
  k delete pod writer >/dev/null
  pod_with writer data | k apply -f - >/dev/null
  wait_for "writer Running after the resize" 60 phase_is writer Running
  wait_for "PVC status.capacity 40Mi" 30 pvc_capacity
  how="offline, at the pod's restart"
fi
pass "after expansion the PVC's status.capacity is the new size"
after=$(k exec writer -- df -k /data | awk 'NR==2{print $2}')
[ "$after" -gt $((before + 15000)) ] || fail "df in the pod: $before KiB before, $after KiB after"
pass "the pod's df shows the grown filesystem ($before -> $after KiB, $how)"
expect_eq "$(k get pvc data -o jsonpath='{.status.conditions}')" "" "FileSystemResizePending is removed"
expect_eq "$(k get pvc data -o jsonpath='{.status.allocatedResourceStatuses}')" "" "allocatedResourceStatuses is cleared"
expect_contains "$(events_of data)" "FileSystemResizeSuccessful: MountVolume.NodeExpandVolume succeeded for volume \"pvc-dev1\" $NODE" "event FileSystemResizeSuccessful"
expect_eq "$(stat -c %s "$LP/pvc-dev1.img")" "41943040" "the image grew to 40Mi"
run k exec writer -- cat /data/file
expect_eq "$OUT" "kept" "the data survives the expansion"

# --- deletion: the finalizer holds the PV until the node removed the data
k delete pod writer >/dev/null
k delete pvc data --wait=false >/dev/null
k delete pv pvc-dev1 --wait=false >/dev/null
pv_gone() { ! k get pv pvc-dev1 >/dev/null 2>&1; }
wait_for "PV released by the node" 30 pv_gone
[ ! -e "$LP/pvc-dev1.img" ] || fail "the image is still there"
! grep -q " $LP/pvc-dev1 " /proc/self/mounts || fail "the mount is still there"
pass "deleting the PV unmounts and deletes the image, then the finalizer is removed"

# --- WaitForFirstConsumer: the scheduler picks the node, the claim is provisioned for it
k apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path}
provisioner: skiff.io/local-path
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
EOF
claim wffc | k apply -f - >/dev/null
pod_with consumer wffc | k apply -f - >/dev/null
selected() { [ "$(k get pvc wffc -o jsonpath='{.metadata.annotations.volume\.kubernetes\.io/selected-node}')" == "$NODE" ]; }
wait_for "selected-node annotation" 20 selected
pass "the scheduler annotates the claim with volume.kubernetes.io/selected-node: $NODE"
sleep 1
expect_eq "$(k get pod consumer -o jsonpath='{.spec.nodeName}')" "" "the pod is not bound while its claim is unbound"
uid=$(k get pvc wffc -o jsonpath='{.metadata.uid}')
local_pv "pvc-$uid" wffc | k apply -f - >/dev/null
bind_claim wffc "pvc-$uid"
wait_for "consumer Running" 60 phase_is consumer Running
pass "once the claim is Bound the pod is bound and runs on the volume"
[ -e "$LP/pvc-$uid.img" ] || fail "no image for the provisioned PV"
k delete pod consumer >/dev/null
finish
