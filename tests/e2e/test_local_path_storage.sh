#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# Dynamic local storage on a real node (`skiff up`), end to end: a claim of the default class
# local-path (WaitForFirstConsumer) is provisioned on the node the scheduler picks (annotation
# volume.kubernetes.io/selected-node, PV node affinity) and bound before the pod; the kubelet
# makes a sparse ext4 image of exactly the capacity, loop-mounted under its data dir: writing
# past it fails with ENOSPC in the pod, data outlives the pod, expanding the claim grows the
# filesystem and status.capacity, deleting pod and claim removes image and mount, and a
# StatefulSet's volumeClaimTemplates keep their data across pod deletion. VolumeBinding's
# refusals (missing claim, volume node affinity conflict) use upstream's messages, with
# hand-made PVs (as the provisioner makes them) pre-bound to their claims.
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
# What the PV binder does for a pre-bound PV (done here too so the test does not wait for it).
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

# --- dynamic provisioning with the default class (WaitForFirstConsumer)
expect_eq "$(k get sc local-path -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}/{.volumeBindingMode}/{.allowVolumeExpansion}')" "true/WaitForFirstConsumer/true" "the default class local-path waits for the first consumer and allows expansion"
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 20Mi}}
EOF
sleep 1
expect_eq "$(k get pvc data -o jsonpath='{.status.phase}/{.spec.storageClassName}')" "Pending/local-path" "without a consumer the claim of the default class stays Pending"
pod_with writer data | k apply -f - >/dev/null
wait_for "writer Running" 90 phase_is writer Running
expect_eq "$(k get pvc data -o jsonpath='{.status.phase}')" "Bound" "the claim binds when its pod is scheduled"
expect_eq "$(k get pvc data -o jsonpath='{.metadata.annotations.volume\.kubernetes\.io/selected-node}')" "$NODE" "the scheduler chose the node for the claim (selected-node)"
PV=$(k get pvc data -o jsonpath='{.spec.volumeName}')
expect_eq "$PV" "pvc-$(k get pvc data -o jsonpath='{.metadata.uid}')" "the provisioned PV is pvc-<claim uid>"
expect_eq "$(k get pv "$PV" -o jsonpath='{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}')" "$NODE" "the PV has node affinity to the pod's node"
expect_eq "$(stat -c %s "$LP/$PV.img")" "20971520" "the image is exactly the claim's size (20Mi)"
used=$(du -k "$LP/$PV.img" | cut -f1)
[ "$used" -lt 20480 ] || fail "image is not sparse ($used KiB used)"
pass "the image is sparse ($used KiB on disk)"
grep -q " $LP/$PV ext4 " /proc/self/mounts || fail "no ext4 mount at $LP/$PV"
pass "the image is loop-mounted at <kubelet dir>/local-path/$PV"
run k exec writer -- sh -c 'echo kept > /data/file && sync && cat /data/file'
expect_eq "$OUT" "kept" "the pod writes to its volume"
run k exec writer -- sh -c 'dd if=/dev/zero of=/data/big bs=1M count=40 2>&1; rm -f /data/big'
expect_contains "$OUT" "No space left on device" "writing past the claim's size fails with ENOSPC in the pod"
k delete pod writer >/dev/null
pod_with writer data | k apply -f - >/dev/null
wait_for "writer Running again" 60 phase_is writer Running
run k exec writer -- cat /data/file
expect_eq "$OUT" "kept" "data written by the pod survives deleting and re-creating the pod"

# --- expansion: the claim asks for more; the expander grows the PV, the kubelet the fs
before=$(k exec writer -- df -k /data | awk 'NR==2{print $2}')
k patch pvc data --type=merge -p '{"spec":{"resources":{"requests":{"storage":"40Mi"}}}}' >/dev/null
pvc_capacity() { [ "$(k get pvc data -o jsonpath='{.status.capacity.storage}')" == "40Mi" ]; }
# ext4 grows online only with CAP_SYS_RESOURCE (some sandboxes drop it): then the kubelet
# finishes the resize when the next pod using the volume starts, as upstream's offline flow.
if (( (0x$(awk '/CapEff/{print $2}' /proc/self/status) >> 24) & 1 )); then
  wait_for "PVC status.capacity 40Mi" 30 pvc_capacity
  how="online, without a restart"
else
  has_event() { [[ "$(events_of "$PV")" == *"$1"* ]]; }
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
no_pending() { [ -z "$(k get pvc data -o jsonpath='{.status.conditions[?(@.type=="FileSystemResizePending")].type}{.status.allocatedResourceStatuses}')" ]; }
wait_for "FileSystemResizePending cleared" 10 no_pending
pass "FileSystemResizePending and allocatedResourceStatuses are cleared"
expect_contains "$(events_of data)" "FileSystemResizeSuccessful: MountVolume.NodeExpandVolume succeeded for volume \"$PV\" $NODE" "event FileSystemResizeSuccessful"
expect_eq "$(stat -c %s "$LP/$PV.img")" "41943040" "the image grew to 40Mi"
run k exec writer -- cat /data/file
expect_eq "$OUT" "kept" "the data survives the expansion"

# --- deleting pod and claim: reclaim Delete, the node removes the data, then the PV goes
k delete pod writer >/dev/null
k delete pvc data --wait=false >/dev/null
pv_gone() { ! k get pv "$PV" >/dev/null 2>&1; }
wait_for "PV deleted after the node cleaned up" 60 pv_gone
[ ! -e "$LP/$PV.img" ] || fail "the image is still there"
! grep -q " $LP/$PV " /proc/self/mounts || fail "the mount is still there"
pass "deleting pod and claim unmounts and deletes the image, then the PV is gone"

# --- a StatefulSet's claims keep their data across pod deletion
k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: c, image: busybox:1.36, command: [sh, -c, "while true; do sleep 1; done"],
         volumeMounts: [{name: www, mountPath: /www}]}
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Mi}}}
EOF
wait_for "db-0 Running" 90 phase_is db-0 Running
run k exec db-0 -- sh -c 'echo stateful > /www/f && sync'
uid0=$(k get pod db-0 -o jsonpath='{.metadata.uid}')
k delete pod db-0 >/dev/null
new_db0() { phase_is db-0 Running && [ "$(k get pod db-0 -o jsonpath='{.metadata.uid}')" != "$uid0" ]; }
wait_for "db-0 re-created and Running" 90 new_db0
run k exec db-0 -- cat /www/f
expect_eq "$OUT" "stateful" "the StatefulSet's pod finds its data after being deleted and re-created"
expect_eq "$(k get pvc www-db-0 -o jsonpath='{.status.phase}/{.status.capacity.storage}')" "Bound/10Mi" "its claim www-db-0 is Bound with 10Mi"
k delete statefulset db >/dev/null
finish
