#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# metrics.k8s.io on a real node (`skiff up`, scraping every 2 s): the APIService and discovery
# as metrics-server installs them, `kubectl top node` and `kubectl top pod` (--containers, -A,
# -l, a missing pod) with the real kubectl, a busybox pod burning CPU reported within 20 % of
# what its cgroup counts, RBAC through the aggregated view role, and the Python client's
# CustomObjectsApi. Run under flock /tmp/skiff-node-test.lock (it starts a real node).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up --metric-resolution 2s

# --- registration and discovery, as with metrics-server installed
run k get apiservice v1beta1.metrics.k8s.io
expect_contains "$(echo "$OUT" | tail -1 | tr -s ' ')" "v1beta1.metrics.k8s.io Local True" "kubectl get apiservice shows v1beta1.metrics.k8s.io Available"
run k get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.spec.groupPriorityMinimum}/{.spec.versionPriority}'
expect_eq "$OUT" "100/100" "the APIService has metrics-server's priorities"
run k api-resources --api-group=metrics.k8s.io
expect_contains "$(echo "$OUT" | grep -E '^nodes ' | tr -s ' ')" "nodes metrics.k8s.io/v1beta1 false NodeMetrics" "api-resources lists nodes.metrics.k8s.io"
expect_contains "$(echo "$OUT" | grep -E '^pods ' | tr -s ' ')" "pods metrics.k8s.io/v1beta1 true PodMetrics" "api-resources lists pods.metrics.k8s.io"
run k api-versions
expect_contains "$OUT" "metrics.k8s.io/v1beta1" "api-versions lists metrics.k8s.io/v1beta1"

# --- a pod burning a core, and an idle one in another namespace
k create namespace quiet >/dev/null
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: burner, labels: {app: burn}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: burn
    image: busybox:1.36
    command: [sh, -c, "while :; do :; done # skiff-metrics-e2e-burn-$$"]
  - name: idle
    image: busybox:1.36
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: quiet, labels: {app: sleep}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: sleep
    image: busybox:1.36
    command: [sleep, "3600"]
YAML
wait_for "burner Running" 60 phase_is burner Running
wait_for "kubectl top pod burner" 30 k top pod burner
wait_for "sleeper has metrics" 30 k top pod sleeper -n quiet

# --- kubectl top node
run k top node
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)" "kubectl top node prints its columns"
row=$(echo "$OUT" | grep -E "^$NODE " | tr -s ' ')
node_cpu=$(echo "$row" | cut -d' ' -f2)
node_mem=$(echo "$row" | cut -d' ' -f4)
[[ "$node_cpu" =~ ^[0-9]+m$ ]] && [ "${node_cpu%m}" -gt 0 ] || fail "node CPU [$node_cpu] is not a positive millicore count"
pass "kubectl top node shows the node's CPU ($node_cpu)"
[[ "$node_mem" =~ ^[0-9]+Mi$ ]] && [ "${node_mem%Mi}" -gt 0 ] || fail "node memory [$node_mem] is not positive"
pass "kubectl top node shows the node's memory ($node_mem)"

# --- the burning pod against its cgroup: CPU seconds the cgroup counted over a few seconds
# (cgroup v1 cpuacct or v2 cpu.stat), compared with what kubectl top says right after.
burn_pid=$(pgrep -f "skiff-metrics-e2e-burn-$$" | head -1)
[ -n "$burn_pid" ] || fail "no burner process"
cgroup_usage_ns() {  # PID → cumulative CPU ns of its cgroup
  local line path
  if line=$(grep -E '^[0-9]+:([^:]*,)?cpuacct(,[^:]*)?:' "/proc/$1/cgroup"); then
    path=${line#*:*:}
    cat "/sys/fs/cgroup/cpuacct${path}/cpuacct.usage" 2>/dev/null ||
      cat "/sys/fs/cgroup/cpu,cpuacct${path}/cpuacct.usage"
  else
    path=$(sed -n 's/^0:://p' "/proc/$1/cgroup")
    echo $(($(awk '/^usage_usec/ {print $2}' "/sys/fs/cgroup${path}/cpu.stat") * 1000))
  fi
}
top_millicores() { k top pod burner --containers --no-headers | awk '$2=="burn" {print $3}' | sed 's/m$//'; }
ok=""
for attempt in 1 2 3; do
  a=$(cgroup_usage_ns "$burn_pid"); t0=$(date +%s%N)
  sleep 4
  b=$(cgroup_usage_ns "$burn_pid"); t1=$(date +%s%N)
  cg=$(( (b - a) * 1000 / (t1 - t0) ))  # millicores
  top=$(top_millicores)
  echo "# attempt $attempt: cgroup ${cg}m, kubectl top ${top}m"
  if [ "$cg" -gt 100 ] && [ "$top" -ge $((cg * 8 / 10)) ] && [ "$top" -le $((cg * 12 / 10)) ]; then ok=1; break; fi
done
[ -n "$ok" ] || fail "kubectl top (${top}m) is not within 20 % of the cgroup's rate (${cg}m)"
pass "kubectl top pod matches the burning container's cgroup within 20 % (${top}m vs ${cg}m)"

# --- kubectl top pod: --containers, -A, -l, a missing pod
run k top pod
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME CPU(cores) MEMORY(bytes)" "kubectl top pod prints its columns"
expect_contains "$OUT" "burner" "kubectl top pod lists the burner"
expect_not_contains "$OUT" "sleeper" "kubectl top pod stays in its namespace"
run k top pod burner --containers
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" "POD NAME CPU(cores) MEMORY(bytes)" "--containers prints per-container columns"
expect_contains "$(echo "$OUT" | grep ' burn ' | tr -s ' ')" "burner burn " "--containers lists the burn container"
expect_contains "$(echo "$OUT" | grep ' idle ' | tr -s ' ')" "burner idle " "--containers lists the idle container"
run k top pod -A
expect_contains "$(echo "$OUT" | head -1 | tr -s ' ')" "NAMESPACE NAME CPU(cores) MEMORY(bytes)" "-A prints the namespace column"
expect_contains "$(echo "$OUT" | grep sleeper | tr -s ' ')" "quiet sleeper " "-A lists pods of every namespace"
run k top pod -A -l app=sleep
expect_contains "$OUT" "sleeper" "-l selects the sleeper"
expect_not_contains "$OUT" "burner" "-l leaves out the burner"
OUT=$(k top pod ghost 2>&1) && fail "top pod ghost succeeded"
expect_eq "$OUT" 'Error from server (NotFound): pods "ghost" not found' "a missing pod is upstream's NotFound"
run k get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner
expect_contains "$OUT" '"kind":"PodMetrics"' "the raw PodMetrics object"
window=$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["window"])')
python3 -c "import sys; w='$window'; sys.exit(0 if w.endswith('s') and 1.5 <= float(w[:-1]) <= 2.5 else 1)" ||
  fail "window [$window] is not about the 2 s resolution"
pass "its window is about the 2 s resolution ($window)"
code=$(c -s -o /dev/null -w '%{http_code}' -X DELETE "$API/apis/metrics.k8s.io/v1beta1/nodes/$NODE")
expect_eq "$code" "405" "metrics cannot be deleted"

# --- RBAC: the aggregated-metrics-reader role reaches `view` through aggregation
expect_eq "$(k auth can-i list pods.metrics.k8s.io --as=jane -n default 2>&1 || true)" "no" "jane may not read metrics without a binding"
k create rolebinding jane-view --clusterrole=view --user=jane -n default >/dev/null
wait_for "view aggregates metrics.k8s.io" 20 bash -c "[ \"\$($KUBECTL --kubeconfig $WORK/data/kubeconfig auth can-i list pods.metrics.k8s.io --as=jane -n default)\" == yes ]"
pass "view grants metrics.k8s.io through system:aggregated-metrics-reader"
run k top pod burner --as=jane
expect_contains "$OUT" "burner" "jane can kubectl top pod with view"

# --- the Python client
if /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
  run /usr/bin/python3 - "$WORK/data/kubeconfig" <<'PY'
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
api = client.CustomObjectsApi()
pods = api.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
burner = [p for p in pods["items"] if p["metadata"]["name"] == "burner"][0]
nodes = api.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
print(pods["kind"], [c["name"] for c in burner["containers"]], nodes["kind"], len(nodes["items"]))
PY
  expect_eq "$OUT" "PodMetricsList ['burn', 'idle'] NodeMetricsList 1" "the Python client lists pod and node metrics"
fi
finish
