#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# Kubelet restart safety with the components run apart, as upstream: `skiff server` and
# `skiff kubelet`. Killing the kubelet (-9, its containerd goes with it) restarts no
# container: the next kubelet adopts them. A pod deleted while the kubelet was down is
# cleaned up when it returns. The kubelet alone leaves containers running when stopped.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_server
KUBELET_PID=""
start_kubelet() {
  "$SKIFF" kubelet --kubeconfig "$WORK/data/kubeconfig" --data-dir "$WORK/data" --node-name "$NODE" \
    --node-ip 127.0.0.1 --kubelet-port "$KUBELET_PORT" --images-dir "$(dirname "$SKIFF")/images" \
    --pod-manifest-path "$WORK/manifests" --file-check-frequency 1s \
    >>"$WORK/kubelet.log" 2>&1 &
  KUBELET_PID=$!
}
mkdir -p "$WORK/manifests"
cat >"$WORK/manifests/static-web.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: static-web, labels: {tier: static}}
spec:
  containers:
  - {name: web, image: busybox:1.36, command: [httpd, -f, -p, "8080"]}
EOF
node_ready() { [ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == "True" ]; }
start_kubelet
wait_for "node Ready" 60 node_ready
pass "skiff kubelet registers a Ready node against skiff server"

k run keep --image=busybox:1.36 -- sh -c 'while true; do sleep 1; done' >/dev/null
k run gone --image=busybox:1.36 -- sh -c 'while true; do sleep 1; done' >/dev/null
wait_for "keep Running" 60 phase_is keep Running
wait_for "gone Running" 60 phase_is gone Running
cid=$(k get pod keep -o jsonpath='{.status.containerStatuses[0].containerID}')
gone_cid=$(k get pod gone -o jsonpath='{.status.containerStatuses[0].containerID}'); gone_cid=${gone_cid#containerd://}

kill -9 "$KUBELET_PID"; wait "$KUBELET_PID" 2>/dev/null || true
# With the kubelet gone, a pod deleted now is only marked (graceful deletion waits for it).
k delete pod gone --wait=false >/dev/null
sleep 1
[ -n "$(our_shims)" ] || fail "the containers died with the kubelet"
pass "containers outlive a killed kubelet"

start_kubelet
wait_for "node Ready again" 60 node_ready
not_present() { ! k get pod gone >/dev/null 2>&1; }
wait_for "deleted pod cleaned up" 60 not_present
pass "a pod deleted while the kubelet was down is finished when it returns"
sleep 3  # a few relists and resyncs
expect_eq "$(k get pod keep -o jsonpath='{.status.containerStatuses[0].containerID}')" "$cid" "the restarted kubelet adopted the running container"
expect_eq "$(k get pod keep -o jsonpath='{.status.containerStatuses[0].restartCount}')" "0" "restarting the kubelet restarted no container"
tasks=$(ctr --address "$WORK/data/containerd/containerd.sock" -n k8s.io task ls 2>/dev/null)
expect_not_contains "$tasks" "$gone_cid" "the deleted pod's container is gone from the runtime"

# --- static pods: run from the manifest folder, shown by a mirror pod
MIRROR=static-web-$NODE
wait_for "mirror pod Running" 60 phase_is "$MIRROR" Running
expect_eq "$(k get pod "$MIRROR" -o jsonpath='{.metadata.annotations.kubernetes\.io/config\.source}')" "file" "the mirror pod says its source is a file"
expect_eq "$(k get pod "$MIRROR" -o jsonpath='{.metadata.ownerReferences[0].kind}')" "Node" "the mirror pod is owned by the Node"
static_cid=$(k get pod "$MIRROR" -o jsonpath='{.status.containerStatuses[0].containerID}')
k delete pod "$MIRROR" --wait=false >/dev/null
mirror_back() { [ "$(k get pod "$MIRROR" -o jsonpath='{.status.containerStatuses[0].containerID}' 2>/dev/null)" == "$static_cid" ]; }
wait_for "mirror recreated" 30 mirror_back
pass "deleting the mirror pod recreates it; the static pod keeps running (same container)"
rm "$WORK/manifests/static-web.yaml"
mirror_gone() { ! k get pod "$MIRROR" >/dev/null 2>&1; }
wait_for "mirror gone" 30 mirror_gone
static_task_gone() { ! ctr --address "$WORK/data/containerd/containerd.sock" -n k8s.io task ls | grep -q "${static_cid#containerd://}"; }
wait_for "static container stopped" 30 static_task_gone
pass "removing the manifest stops the static pod and deletes its mirror"

# Stopping the kubelet alone (SIGTERM) leaves its pods running, as upstream.
kill "$KUBELET_PID"; wait "$KUBELET_PID" 2>/dev/null || true
[ -n "$(our_shims)" ] || fail "SIGTERM to the kubelet killed its containers"
pass "a stopped kubelet leaves its containers running"
start_kubelet
wait_for "node Ready once more" 60 node_ready
sleep 2
expect_eq "$(k get pod keep -o jsonpath='{.status.containerStatuses[0].restartCount}')" "0" "still no restart after a clean kubelet restart"
kill "$KUBELET_PID"; wait "$KUBELET_PID" 2>/dev/null || true
finish
