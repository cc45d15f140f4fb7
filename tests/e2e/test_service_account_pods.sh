#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# ServiceAccounts in pods, on a real node (skiff up; hold /tmp/skiff-node-test.lock):
#   - ServiceAccount admission gives a pod the kube-api-access projected volume; the kubelet
#     fills it with a TokenRequest token bound to the pod, the kube-root-ca.crt CA and the
#     namespace; automountServiceAccountToken: false gives none;
#   - the kubernetes Service (10.43.0.1:443) has endpoints at the API server, and from inside a
#     pod the Python client (Debian python3-kubernetes; the host's /usr is mounted read-only,
#     busybox has no python: only the pod's network and its projected token are its own)
#     lists pods in-cluster: 403 before, success after a RoleBinding to `view`;
#   - a legacy token Secret is filled by the tokens controller and its token works with curl
#     until the Secret is deleted; kube-root-ca.crt is published in a new namespace.
# The server listens on 0.0.0.0 (pods reach it at the advertise address, not loopback).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || { echo "needs python3-kubernetes (scripts/install-deps)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
trap cleanup EXIT

# start_up, but serving on every address so that pods can reach the API server.
DNS_RESOLV_CONF=$WORK/no-upstream-resolv.conf
: >"$DNS_RESOLV_CONF"
"$SKIFF" up --data-dir "$WORK/data" --listen "0.0.0.0:$PORT" --node-name "$NODE" \
  --kubelet-port "$KUBELET_PORT" --images-dir "$(dirname "$SKIFF")/images" \
  --dns-resolv-conf "$DNS_RESOLV_CONF" >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
node_ready() { [ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == "True" ]; }
wait_for "node $NODE Ready" 60 node_ready

# --- the kubernetes Service's endpoints
ADDR=$(k get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}')
expect_eq "$(k get endpoints kubernetes -o jsonpath='{.subsets[0].ports[0].name} {.subsets[0].ports[0].port}')" \
  "https $PORT" "Endpoints kubernetes: port https = the listen port"
expect_eq "$(k get endpointslice kubernetes -o jsonpath='{.metadata.labels.kubernetes\.io/service-name} {.endpoints[0].addresses[0]} {.ports[0].port}')" \
  "kubernetes $ADDR $PORT" "EndpointSlice kubernetes lists the same address and port"
expect_eq "$(k get svc kubernetes -o jsonpath='{.spec.ports[0].targetPort}')" "$PORT" "the Service targets the listen port"

# --- kube-root-ca.crt in a new namespace
run k create namespace fresh
wait_for "kube-root-ca.crt in namespace fresh" 10 k get configmap kube-root-ca.crt -n fresh
expect_eq "$(k get configmap kube-root-ca.crt -n fresh -o jsonpath='{.data.ca\.crt}')" "$(cat "$WORK/data/tls/ca.crt")" \
  "kube-root-ca.crt holds the cluster CA"
expect_contains "$(k get configmap kube-root-ca.crt -n fresh -o jsonpath='{.metadata.annotations}')" \
  "Contains a CA bundle that can be used to verify the kube-apiserver" "with upstream's description"
run k delete configmap kube-root-ca.crt -n fresh
wait_for "kube-root-ca.crt re-created" 10 k get configmap kube-root-ca.crt -n fresh

# --- a pod with the token volume; python from the host's /usr
run k create namespace sa
run k create serviceaccount lister -n sa
wait_for "kube-root-ca.crt in namespace sa" 10 k get configmap kube-root-ca.crt -n sa
cat >"$WORK/list_pods.py" <<'PY'
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
try:
    pods = client.CoreV1Api().list_namespaced_pod("sa")
    print("LISTED " + " ".join(sorted(p.metadata.name for p in pods.items)))
except ApiException as e:
    print("STATUS %d" % e.status)
PY
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: sa}
spec:
  serviceAccountName: lister
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts:
    - {name: usr, mountPath: /usr, readOnly: true}
    - {name: lib, mountPath: /lib/x86_64-linux-gnu, readOnly: true}
    - {name: lib64, mountPath: /lib64, readOnly: true}
    - {name: script, mountPath: /script, readOnly: true}
  volumes:
  - {name: usr, hostPath: {path: /usr}}
  - {name: lib, hostPath: {path: /usr/lib/x86_64-linux-gnu}}
  - {name: lib64, hostPath: {path: /usr/lib64}}
  - {name: script, hostPath: {path: $WORK}}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: sa}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox:1.36, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}
YAML
VOL=$(k get pod client -n sa -o jsonpath='{.spec.volumes[?(@.projected)].name}')
expect_contains "$VOL" "kube-api-access-" "admission added the kube-api-access volume"
expect_eq "$(k get pod client -n sa -o jsonpath='{.spec.containers[0].volumeMounts[?(@.mountPath=="/var/run/secrets/kubernetes.io/serviceaccount")].readOnly}')" \
  "true" "mounted read-only at the token path"
expect_eq "$(k get pod plain -n sa -o jsonpath='{.spec.serviceAccountName} {.spec.volumes}')" "default " \
  "automountServiceAccountToken false: the default account, no volume"
both_running() { [ "$(k get pods -n sa -o jsonpath='{.items[*].status.phase}')" == "Running Running" ]; }
for _ in $(seq 1 300); do both_running && break; sleep 0.2; done
both_running || { k describe pods -n sa | tail -40; fail "pods running (waited 60s)"; }

SA_DIR=/var/run/secrets/kubernetes.io/serviceaccount
expect_eq "$(k exec -n sa client -- cat $SA_DIR/namespace)" "sa" "the namespace file"
expect_eq "$(k exec -n sa client -- cat $SA_DIR/ca.crt)" "$(cat "$WORK/data/tls/ca.crt")" "ca.crt is the cluster CA"
TOKEN=$(k exec -n sa client -- cat $SA_DIR/token)
CLAIMS=$(python3 -c 'import sys,json,base64;p=sys.argv[1].split(".")[1];p+="="*(-len(p)%4);c=json.loads(base64.urlsafe_b64decode(p));k=c["kubernetes.io"];print(k["pod"]["name"],k["serviceaccount"]["name"],c["exp"]-c["iat"])' "$TOKEN")
expect_eq "$CLAIMS" "client lister 3607" "the token is bound to the pod, for its account, 3607 s"
expect_eq "$(k exec -n sa plain -- ls /var/run/secrets 2>&1 | grep -c kubernetes.io || true)" "0" "no token in the automount-false pod"
ENV=$(k exec -n sa client -- env)
expect_contains "$ENV" "KUBERNETES_SERVICE_HOST=10.43.0.1" "KUBERNETES_SERVICE_HOST is set"
expect_contains "$ENV" "KUBERNETES_SERVICE_PORT=443" "KUBERNETES_SERVICE_PORT is set"

py() { k exec -n sa client -- /usr/bin/python3 /script/list_pods.py 2>&1 || true; }
expect_eq "$(py)" "STATUS 403" "in-cluster Python client: 403 without RBAC"
run k create rolebinding lister-view -n sa --clusterrole=view --serviceaccount=sa:lister
listed() { [[ "$(py)" == LISTED* ]]; }
wait_for "in-cluster list allowed" 10 listed
expect_eq "$(py)" "LISTED client plain" "in-cluster Python client lists pods after a RoleBinding to view"

# --- legacy token Secrets
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: lister-token
  namespace: sa
  annotations: {kubernetes.io/service-account.name: lister}
type: kubernetes.io/service-account-token
YAML
token_filled() { [ -n "$(k get secret "$1" -n sa -o jsonpath='{.data.token}')" ]; }
wait_for "legacy token filled" 10 token_filled lister-token
LEGACY=$(k get secret lister-token -n sa -o jsonpath='{.data.token}' | base64 -d)
expect_eq "$(k get secret lister-token -n sa -o jsonpath='{.data.namespace}' | base64 -d)" "sa" "legacy Secret: namespace"
expect_eq "$(k get secret lister-token -n sa -o jsonpath='{.data.ca\.crt}' | base64 -d)" "$(cat "$WORK/data/tls/ca.crt")" "legacy Secret: ca.crt"
expect_eq "$(k get secret lister-token -n sa -o jsonpath='{.metadata.annotations.kubernetes\.io/service-account\.uid}')" \
  "$(k get sa lister -n sa -o jsonpath='{.metadata.uid}')" "legacy Secret: the account's uid"
legacy_status() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/data/tls/ca.crt" \
    -H "Authorization: Bearer $LEGACY" "https://127.0.0.1:$PORT/api/v1/namespaces/sa/pods"
}
expect_eq "$(legacy_status)" "200" "the legacy token lists pods with curl"
run k delete secret lister-token -n sa
legacy_refused() { [ "$(legacy_status)" == "401" ]; }
wait_for "legacy token refused" 10 legacy_refused
expect_eq "$(legacy_status)" "401" "the legacy token stops working once its Secret is deleted"

# A token Secret of an account that is deleted goes with it.
run k create serviceaccount temp -n sa
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: temp-token
  namespace: sa
  annotations: {kubernetes.io/service-account.name: temp}
type: kubernetes.io/service-account-token
YAML
wait_for "temp token filled" 10 token_filled temp-token
run k delete serviceaccount temp -n sa
secret_gone() { ! k get secret "$1" -n sa >/dev/null 2>&1; }
wait_for "temp-token deleted with its account" 10 secret_gone temp-token
pass "a token Secret is deleted with its ServiceAccount"

run k delete pod client plain -n sa --wait=false
finish
