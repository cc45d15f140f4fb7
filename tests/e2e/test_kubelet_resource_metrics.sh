#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# Kubelet resource metrics on a real node (`skiff up`): a busybox pod burning CPU shows, in
# /metrics/resource through the API server's nodes/proxy, a CPU rate within ±20 % of the rate
# its cgroup's cpuacct.usage shows over the same interval, a non-zero working set, and
# upstream's metric families; /stats/summary carries the same pod with usageNanoCores. Then
# hollow nodes: `skiff agent --hollow` against the same server serves /metrics/resource per
# node, reachable the same way, with the CPU of a pod's skiff.io/synthetic-cpu annotation.
# Run under `flock /tmp/skiff-node-test.lock`.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
AGENT_PID=
trap '[ -z "$AGENT_PID" ] || { kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }; cleanup' EXIT
start_up
RAW="/api/v1/nodes/$NODE/proxy/metrics/resource"

cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: burn}
spec:
  containers:
  - name: spin
    image: busybox:1.36
    command: [sh, -c, 'while :; do :; done']
EOF
wait_for "burn Running" 60 phase_is burn Running
CID=$(k get pod burn -o jsonpath='{.status.containerStatuses[0].containerID}')
CID=${CID#containerd://}
CG=/sys/fs/cgroup/cpuacct/k8s.io/$CID/cpuacct.usage
[ -f "$CG" ] || CG=$(ls /sys/fs/cgroup/cpuacct/*/"$CID"/cpuacct.usage 2>/dev/null | head -1)
[ -f "$CG" ] || fail "no cpuacct cgroup for container $CID"

TEXT=$(k get --raw "$RAW")
for m in container_cpu_usage_seconds_total container_memory_working_set_bytes \
  container_start_time_seconds node_cpu_usage_seconds_total node_memory_working_set_bytes \
  pod_cpu_usage_seconds_total pod_memory_working_set_bytes resource_scrape_error; do
  [[ "$TEXT" == *"# TYPE $m "* ]] || fail "family $m missing from /metrics/resource"
done
pass "kubectl get --raw .../proxy/metrics/resource has upstream's eight families"
expect_contains "$TEXT" "# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds" "HELP text as upstream"
expect_contains "$TEXT" "resource_scrape_error 0" "no scrape error"

# sample: "<metric value> <metric timestamp ms> <cgroup ns> <wall ns>" at (nearly) one moment
SERIES="container_cpu_usage_seconds_total{container=\"spin\",namespace=\"default\",pod=\"burn\"}"
sample() {
  local text cg wall
  wall=$(date +%s%N); cg=$(cat "$CG")
  text=$(k get --raw "$RAW")
  echo "$(grep -F "$SERIES " <<<"$text" | awk '{print $2, $3}') $cg $wall"
}
S1=$(sample); sleep 6; S2=$(sample)
read -r V1 T1 C1 W1 <<<"$S1"; read -r V2 T2 C2 W2 <<<"$S2"
[ -n "$T2" ] || fail "no series $SERIES"
RATES=$(python3 -c "
m=($V2-$V1)/(($T2-$T1)/1e3); c=($C2-$C1)/($W2-$W1)
print(f'{m:.3f} {c:.3f} {abs(m-c)/c if c else 9:.3f}')")
read -r MRATE CRATE DIFF <<<"$RATES"
echo "# container CPU rate: metrics $MRATE cores, cgroup $CRATE cores"
python3 -c "import sys; sys.exit(0 if $CRATE > 0.2 else 1)" || fail "the busy loop barely ran ($CRATE cores)"
python3 -c "import sys; sys.exit(0 if $DIFF <= 0.2 else 1)" || fail "container CPU rate $MRATE vs cgroup $CRATE: more than 20 % apart"
pass "container CPU rate from /metrics/resource within 20 % of cpuacct.usage's ($MRATE vs $CRATE cores)"
TEXT=$(k get --raw "$RAW")
POD_WS=$(grep -F 'pod_memory_working_set_bytes{namespace="default",pod="burn"}' <<<"$TEXT" | awk '{print $2}')
python3 -c "import sys; sys.exit(0 if float('${POD_WS:-0}') > 0 else 1)" || fail "pod working set is [$POD_WS]"
pass "the pod's memory working set is above zero ($POD_WS bytes)"
POD_CPU=$(grep -F 'pod_cpu_usage_seconds_total{namespace="default",pod="burn"}' <<<"$TEXT" | awk '{print $2}')
CT_CPU=$(grep -F "$SERIES " <<<"$TEXT" | awk '{print $2}')
python3 -c "import sys; sys.exit(0 if float('$POD_CPU') >= float('$CT_CPU') else 1)" || fail "pod CPU $POD_CPU below its container's $CT_CPU"
pass "pod CPU counts its container (and sandbox)"

k get --raw "/api/v1/nodes/$NODE/proxy/stats/summary" >"$WORK/body"
expect_eq "$(json_field "['node']['nodeName']")" "$NODE" "/stats/summary names the node"
expect_eq "$(python3 -c "import json; m=json.load(open('$WORK/body'))['node']['memory']; print(m['availableBytes'] > 0 and m['workingSetBytes'] > 0)")" "True" "node memory has availableBytes and workingSetBytes"
NC=$(python3 -c "
import json; d=json.load(open('$WORK/body'))
p=[p for p in d['pods'] if p['podRef']['name']=='burn'][0]
c=p['containers'][0]
print(p['cpu'].get('usageNanoCores',0), c['memory']['workingSetBytes'], c['name'], p['startTime']!='')")
read -r PNC CWS CNAME PSTART <<<"$NC"
expect_eq "$CNAME" "spin" "the summary lists the pod's container"
python3 -c "import sys; sys.exit(0 if $PNC > 0.5*$CRATE*1e9 else 1)" || fail "summary usageNanoCores $PNC implausible for $CRATE cores"
pass "summary usageNanoCores is plausible ($PNC)"
expect_eq "$PSTART" "True" "the pod has a startTime"

# --- hollow nodes against the same server
"$SKIFF" agent --hollow --nodes 2 --node-name-prefix rm --kubeconfig "$WORK/data/kubeconfig" \
  --synthetic-pod-memory 32Mi >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
hollow_port() { k get node rm-1 -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}' 2>/dev/null; }
port_published() { local p; p=$(hollow_port); [ -n "$p" ] && [ "$p" != 10250 ]; }
wait_for "hollow node rm-1 publishes its own kubelet port" 30 port_published
HIP=$(k get node rm-1 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
expect_contains "$HIP" "127." "the hollow node's InternalIP is a loopback address of its own"
expect_eq "$(curl -sk -m 5 "https://$HIP:$(hollow_port)/healthz")" "ok" "its /healthz answers"
expect_eq "$(curl -sk -m 5 -o /dev/null -w '%{http_code}' "https://$HIP:$(hollow_port)/metrics/resource")" "401" "/metrics/resource without a cluster client certificate is refused"
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: synth
  annotations: {skiff.io/synthetic-cpu: 250m, skiff.io/synthetic-memory: 64Mi}
spec:
  nodeName: rm-1
  containers: [{name: app, image: nginx:1.27}]
EOF
wait_for "synth Running on rm-1" 30 phase_is synth Running
HRAW=/api/v1/nodes/rm-1/proxy/metrics/resource
hsample() { k get --raw "$HRAW" | grep -F 'pod_cpu_usage_seconds_total{namespace="default",pod="synth"}' | awk '{print $2, $3}'; }
synth_listed() { k get --raw "$HRAW" | grep -q 'pod="synth"'; }
wait_for "the hollow pod appears in rm-1's /metrics/resource (through nodes/proxy)" 20 synth_listed
read -r HV1 HT1 <<<"$(hsample)"; sleep 3; read -r HV2 HT2 <<<"$(hsample)"
HRATE=$(python3 -c "print(f'{($HV2-$HV1)/(($HT2-$HT1)/1e3):.4f}')")
python3 -c "import sys; sys.exit(0 if abs($HRATE-0.25) <= 0.0125 else 1)" || fail "hollow pod CPU rate $HRATE, want 0.25"
pass "a scraper computes the annotated 250m from the hollow node's counters ($HRATE cores)"
HTEXT=$(k get --raw "$HRAW")
expect_contains "$HTEXT" 'pod_memory_working_set_bytes{namespace="default",pod="synth"} 6.7108864e+07' "and its 64Mi working set"
k get --raw /api/v1/nodes/rm-1/proxy/stats/summary >"$WORK/body"
expect_eq "$(json_field "['pods'][0]['cpu']['usageNanoCores']")" "250000000" "the hollow /stats/summary reports 250m as usageNanoCores"
finish
