#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The kubelet API's authentication and authorization against a real node (`skiff up`):
# anonymous callers get 401, ServiceAccount tokens are checked with a TokenReview and every
# request with a SubjectAccessReview on nodes/<subresource>; kubectl exec/logs (the API
# server's kubelet-client identity) keep working. Then the kubelet's mount safety: a subPath
# through a symlink out of its volume, Bidirectional propagation, fsGroup ownership.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up
NODE_IP=$(k get node "$NODE" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
KUBELET="https://$NODE_IP:$KUBELET_PORT"
# status and body of a request to the kubelet: kcurl [CURL_ARGS...] URL
kcurl() { curl -sk -m 10 -o "$WORK/body" -w '%{http_code}' "$@"; }

k run web --image=busybox:1.36 -- httpd -f -p 8080 >/dev/null
wait_for "web Running" 60 phase_is web Running

# --- authentication
expect_eq "$(kcurl "$KUBELET/healthz")" "200" "/healthz needs no credentials"
expect_eq "$(kcurl "$KUBELET/pods")" "401" "an anonymous request is refused"
expect_eq "$(cat "$WORK/body")" "Unauthorized" "with upstream's plain-text body"
expect_eq "$(kcurl -H "Authorization: Bearer not-a-token" "$KUBELET/pods")" "401" "an invalid token is refused"
if [ "$NODE_IP" != "127.0.0.1" ]; then
  set +e; curl -sk -m 5 -o /dev/null "https://127.0.0.1:$KUBELET_PORT/healthz"; rc=$?; set -e
  expect_eq "$rc" "7" "the kubelet listens on the node IP only (default --address)"
fi

# --- authorization: a token that may only read stats
k create serviceaccount stats-reader >/dev/null
k create clusterrole node-stats --verb=get --resource=nodes/stats >/dev/null
k create clusterrolebinding stats-reader --clusterrole=node-stats --serviceaccount=default:stats-reader >/dev/null
TOKEN=$(k create token stats-reader)
AUTH="Authorization: Bearer $TOKEN"
expect_eq "$(kcurl -H "$AUTH" "$KUBELET/stats/summary")" "200" "nodes/stats lets the token read /stats/summary"
expect_eq "$(json_field "['node']['nodeName']")" "$NODE" "the summary is this node's"
expect_eq "$(kcurl -H "$AUTH" "$KUBELET/pods")" "403" "/pods needs nodes/proxy"
expect_eq "$(cat "$WORK/body")" \
  "Forbidden (user=system:serviceaccount:default:stats-reader, verb=get, resource=nodes, subresource(s)=[proxy])" \
  "the 403 names user, verb and subresource as upstream"
expect_eq "$(kcurl -H "$AUTH" -X POST "$KUBELET/exec/default/web/web?command=hostname&output=1")" "403" "/exec is refused"
expect_contains "$(cat "$WORK/body")" "verb=create, resource=nodes, subresource(s)=[proxy]" "a POST is authorized as create"
expect_eq "$(kcurl -H "$AUTH" "$KUBELET/containerLogs/default/web/web")" "403" "/containerLogs is refused"

k create clusterrole node-proxy --verb=get --resource=nodes/proxy >/dev/null
k create clusterrolebinding stats-reader-proxy --clusterrole=node-proxy --serviceaccount=default:stats-reader >/dev/null
# The denial is cached for 30 seconds, as upstream's webhook authorizer caches it.
pods_allowed() { [ "$(kcurl -H "$AUTH" "$KUBELET/pods")" == "200" ]; }
wait_for "/pods allowed after binding nodes/proxy" 45 pods_allowed
expect_eq "$(json_field "['kind']")" "PodList" "/pods answers the PodList once nodes/proxy is bound"

# --- the API server's own identity still reaches the kubelet
expect_eq "$(k exec web -- hostname)" "web" "kubectl exec works through the API server"
run k logs web
pass "kubectl logs works through the API server"
run k get --raw "/api/v1/nodes/$NODE/proxy/stats/summary"
expect_contains "$OUT" "$NODE" "nodes/proxy through the API server"

# --- Bidirectional propagation only for privileged containers
cat >"$WORK/bidi.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: bidi}
spec:
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: v, mountPath: /v, mountPropagation: Bidirectional}]
EOF
expect_fail "a non-privileged Bidirectional mount is refused" k apply -f "$WORK/bidi.yaml"
expect_contains "$OUT" "spec.containers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers" "with upstream's message"

# --- a subPath that resolves out of its volume through a symlink
cat >"$WORK/escape.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  volumes: [{name: v, emptyDir: {}}]
  initContainers:
  - name: plant
    image: busybox:1.36
    command: [ln, -s, /etc, /v/escape]
    volumeMounts: [{name: v, mountPath: /v}]
  containers:
  - name: c
    image: busybox:1.36
    command: [cat, /x/shadow]
    volumeMounts: [{name: v, mountPath: /x, subPath: escape}]
EOF
run k apply -f "$WORK/escape.yaml"
waiting_reason() { k get pod escape -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}'; }
is_config_error() { [ "$(waiting_reason)" == "CreateContainerConfigError" ]; }
wait_for "escape refused" 60 is_config_error
expect_eq "$(waiting_reason)" "CreateContainerConfigError" "the container does not start"
expect_contains "$(k get pod escape -o jsonpath='{.status.containerStatuses[0].state.waiting.message}')" \
  'failed to prepare subPath for volumeMount "v" of container "c"' "its status says why"
expect_contains "$(k get events --field-selector involvedObject.name=escape -o jsonpath='{.items[*].message}')" \
  'failed to prepare subPath for volumeMount "v" of container "c"' "and an event too"

# --- fsGroup: a non-root process writes into an emptyDir; the file has the pod's group
cat >"$WORK/fsgroup.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: fsgroup}
spec:
  securityContext: {runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000]}
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'echo hi > /data/file && echo "group=\$(stat -c %g /data/file) groups=\$(id -G)"; sleep 3600']
    volumeMounts: [{name: v, mountPath: /data}]
EOF
run k apply -f "$WORK/fsgroup.yaml"
wait_for "fsgroup Running" 60 phase_is fsgroup Running
has_line() { [[ "$(k logs fsgroup 2>/dev/null)" == *group=* ]]; }
wait_for "fsgroup wrote its file" 30 has_line
out=$(k logs fsgroup)
expect_contains "$out" "group=2000" "the file the non-root user wrote has group fsGroup"
expect_contains "$out" "2000 3000" "the process has fsGroup and supplementalGroups"

finish
