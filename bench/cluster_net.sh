#!/usr/bin/env bash
# Data path of a `skiff cluster` (3 nodes): cross-node pod-to-pod and pod-to-Service latency
# and throughput, and how long a LoadBalancer address takes to answer again from the host
# when the node it is routed to is powered off (stop-node). Tools are busybox's (the pod
# image): ping for ICMP round trips, wget against busybox httpd for request latency and
# bulk throughput (a 64 MiB file in the server container's root).
# Takes the machine's real-node lock, as the e2e node tests do.
# Usage: bench/cluster_net.sh build/skiff [FAILOVER_RUNS=3]
set -euo pipefail
if [ -z "${SKIFF_NODE_LOCK_HELD:-}" ]; then
  exec env SKIFF_NODE_LOCK_HELD=1 flock /tmp/skiff-node-test.lock bash "$0" "$@"
fi
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [FAILOVER_RUNS]}")
RUNS=${2:-3}
WORK=$(mktemp -d /tmp/skiff-bench-net.XXXXXX)
NAME=bnet$$
NAME=${NAME:0:10}
trap '"$SKIFF" cluster delete --name "$NAME" --data-dir "$WORK" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
: >"$WORK/resolv.conf"
export HOME=$WORK
"$SKIFF" --log-level warn cluster create --name "$NAME" --nodes 3 --data-dir "$WORK" \
  --node-monitor-grace-period 8s --dns-resolv-conf "$WORK/resolv.conf" >/dev/null
kc() { kubectl --kubeconfig "$WORK/$NAME/kubeconfig" "$@"; }

# One server per node (required anti-affinity), a 64 MiB file to fetch; a client on node 1.
kc apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: srv}
spec:
  replicas: 3
  selector: {matchLabels: {app: srv}}
  template:
    metadata: {labels: {app: srv}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {labelSelector: {matchLabels: {app: srv}}, topologyKey: kubernetes.io/hostname}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 0}
      containers:
      - name: httpd
        image: busybox:1.36
        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count=64 2>/dev/null && exec httpd -f -p 8080 -h /www']
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: srv}
spec:
  type: LoadBalancer
  selector: {app: srv}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: $NAME-node-1
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"]}
EOF
kc rollout status deployment/srv --timeout=90s >/dev/null
kc wait --for=condition=Ready pod/client --timeout=60s >/dev/null
REMOTE=$(kc get pods -l app=srv -o jsonpath="{range .items[?(@.spec.nodeName==\"$NAME-node-2\")]}{.status.podIP}{end}")
LOCAL=$(kc get pods -l app=srv -o jsonpath="{range .items[?(@.spec.nodeName==\"$NAME-node-1\")]}{.status.podIP}{end}")
SVC=$(kc get svc srv -o jsonpath='{.spec.clusterIP}')
inpod() { kc exec client -- sh -c "$1" 2>&1; }

echo "== ICMP round trip from a pod on node 1 (ping -c 50 -i 0.05, min/avg/max)"
echo "same node:  $(inpod "ping -q -c 50 -i 0.05 $LOCAL | tail -1")"
echo "cross node: $(inpod "ping -q -c 50 -i 0.05 $REMOTE | tail -1")"

# Busybox's date has no nanoseconds: the pod's clock is /proc/uptime (10 ms steps), enough for
# runs of a second or more.
UP='cut -d" " -f1 /proc/uptime'
# 200 sequential wget (each a new process and TCP connection): mean time per request.
req_latency() {
  inpod "s=\$($UP); for i in \$(seq 200); do wget -qO- $1 >/dev/null || echo FAIL; done; e=\$($UP); awk -v s=\$s -v e=\$e 'BEGIN {printf \"%.2f ms per request\\n\", (e - s) * 1000 / 200}'"
}
echo "== HTTP request latency (200 sequential wget from node 1, process start included)"
echo "pod IP same node:   $(req_latency "http://$LOCAL:8080/")"
echo "pod IP cross node:  $(req_latency "http://$REMOTE:8080/")"
echo "ClusterIP (3 pods): $(req_latency "http://$SVC/")"

# Bulk: the 64 MiB file five times; MiB/s from the wall time inside the pod.
throughput() {
  inpod "s=\$($UP); for i in 1 2 3 4 5; do wget -qO /dev/null $1 || echo FAIL; done; e=\$($UP); awk -v s=\$s -v e=\$e 'BEGIN {printf \"%.0f MiB/s\\n\", 5 * 64 / (e - s)}'"
}
echo "== TCP throughput (5 x 64 MiB over HTTP from node 1)"
echo "pod IP same node:  $(throughput "http://$LOCAL:8080/big")"
echo "pod IP cross node: $(throughput "http://$REMOTE:8080/big")"
echo "ClusterIP:         $(throughput "http://$SVC/big")"

# ---- LoadBalancer failover ----------------------------------------------------------------
LB=$(kc get svc srv -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
for _ in $(seq 50); do timeout 1 wget -qO- "http://$LB/" >/dev/null 2>&1 && break; sleep 0.2; done
echo "== LoadBalancer $LB: failover when the node it is routed to stops (from the host)"
for r in $(seq 1 "$RUNS"); do
  VIA=$(ip -4 route get "$LB" | sed -n 's/.* via \([0-9.]*\) .*/\1/p')
  NODE=$(kc get nodes -o jsonpath="{range .items[?(@.status.addresses[0].address==\"$VIA\")]}{.metadata.name}{end}")
  [ -n "$NODE" ] || NODE=$(kc get nodes -o jsonpath="{range .items[*]}{.metadata.name} {.status.addresses[*].address}{'\n'}{end}" | awk -v ip="$VIA" '$0 ~ ip {print $1}')
  t0=$(date +%s%N)
  "$SKIFF" cluster stop-node "$NODE" --name "$NAME" --data-dir "$WORK" >/dev/null
  moved="" answered=""
  while [ -z "$answered" ]; do
    now=$(date +%s%N)
    [ -z "$moved" ] && ! ip -4 route get "$LB" | grep -q "via $VIA " && moved=$(( (now - t0) / 1000000 ))
    timeout 0.3 wget -qO- "http://$LB/" >/dev/null 2>&1 && answered=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ $(( (now - t0) / 1000000000 )) -lt 60 ] || { answered="(no answer in 60 s)"; break; }
  done
  echo "run $r: stopped $NODE; route moved after ${moved:-?} ms, first answer from the host after $answered ms"
  "$SKIFF" cluster start-node "$NODE" --name "$NAME" --data-dir "$WORK" >/dev/null
  for _ in $(seq 100); do
    [ "$(kc get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ] && break
    sleep 0.3
  done
  kc rollout status deployment/srv --timeout=60s >/dev/null
  sleep 2
done
