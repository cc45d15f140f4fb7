#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# Prometheus metrics of every component of one `skiff up`: the API server's /metrics (the
# scheduler's, the controller manager's work queues' and the store's metrics share it, as the
# components share the process), the kubelet's /metrics and /metrics/cadvisor. Each scrape must
# pass `promtool check metrics` (Debian's prometheus package) and hold upstream's series with
# plausible values.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
command -v promtool >/dev/null || fail "promtool not installed (scripts/install-deps: prometheus)"
start_up

KUBELET="https://127.0.0.1:$KUBELET_PORT"
KUBELET_CA=$(find "$WORK/data" -name kubelet.crt | head -1)
[ -n "$KUBELET_CA" ] || fail "no kubelet serving certificate under $WORK/data"
kc() { curl -s --cacert "$KUBELET_CA" --cert "$WORK/data/tls/admin.crt" --key "$WORK/data/tls/admin.key" "$@"; }

# value FILE SERIES: the value of the sample line that is exactly SERIES (name and labels), or "".
value() { awk -v s="$2" 'index($0, s " ") == 1 { print $NF; exit }' "$1"; }
# total FILE REGEX: the sum of the values of the sample lines matching REGEX (0 when none).
total() { awk -v r="$2" '$0 !~ /^#/ && $0 ~ r { t += $NF } END { printf "%.6f\n", t + 0 }' "$1"; }
# gt A B: A > B as numbers.
gt() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "${1:-0}" "$2"; }
expect_gt() { gt "$1" "$2" || fail "$3: expected > $2, got [$1]"; pass "$3 ($1)"; }
# promcheck FILE WHAT: promtool must accept the exposition without a single problem.
promcheck() {
  local out
  out=$(promtool check metrics <"$1" 2>&1) || fail "$2: promtool check metrics failed: $(echo "$out" | head -20)"
  pass "$2 passes promtool check metrics"
}
# one_type FILE WHAT: every family has exactly one TYPE and one HELP line.
one_type() {
  local dup
  dup=$(grep -E '^# (TYPE|HELP) ' "$1" | awk '{print $2, $3}' | sort | uniq -d | head -3)
  [ -z "$dup" ] || fail "$2: families declared twice: $dup"
  [ "$(grep -c '^# TYPE ' "$1")" == "$(grep -c '^# HELP ' "$1")" ] || fail "$2: a family without HELP"
  pass "$2: every family has one HELP and one TYPE line"
}

# --- a pod that burns a little CPU, then sleeps
k run mpod --image=busybox:1.36 -- sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 3600' >/dev/null
wait_for "mpod Running" 60 phase_is mpod Running

# --- API server
GET_SERIES='apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"}'
c -sf "$API/metrics" >"$WORK/api1.txt" || fail "GET /metrics of the API server failed"
before=$(value "$WORK/api1.txt" "$GET_SERIES")
for _ in 1 2 3; do c -sf "$API/api/v1/namespaces/default/pods/mpod" >/dev/null || fail "GET pod failed"; done
c -sf "$API/metrics" >"$WORK/api.txt" || fail "GET /metrics of the API server failed"
after=$(value "$WORK/api.txt" "$GET_SERIES")
expect_gt "$(python3 -c "print(${after:-0} - ${before:-0})")" 2.5 "apiserver_request_total for GET pods grew by the three GETs made"
promcheck "$WORK/api.txt" "the API server's /metrics"
one_type "$WORK/api.txt" "the API server's /metrics"
expect_contains "$(curl -s -o /dev/null -w '%{content_type}' --cacert "$WORK/data/tls/ca.crt" --cert "$WORK/data/tls/admin.crt" --key "$WORK/data/tls/admin.key" "$API/metrics")" "text/plain; version=0.0.4" "the API server answers in the text exposition format"

expect_gt "$(value "$WORK/api.txt" 'apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"}')" 2.5 "apiserver_request_duration_seconds counts the GETs"
expect_eq "$(value "$WORK/api.txt" 'apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1",le="+Inf"}')" \
  "$(value "$WORK/api.txt" 'apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"}')" "the +Inf bucket equals _count"
expect_contains "$(grep -c 'apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1",le=' "$WORK/api.txt")" "24" "upstream's 23 request duration buckets plus +Inf"
expect_gt "$(total "$WORK/api.txt" '^apiserver_request_total\{code="201",component="apiserver",.*resource="pods",scope="resource",subresource="",verb="POST"')" 0.5 "the pod's create is counted as POST 201"
expect_gt "$(value "$WORK/api.txt" 'apiserver_storage_objects{resource="pods"}')" 0.5 "apiserver_storage_objects counts the pod"
expect_gt "$(value "$WORK/api.txt" 'apiserver_storage_objects{resource="namespaces"}')" 3.5 "apiserver_storage_objects counts the four namespaces"
expect_gt "$(value "$WORK/api.txt" 'apiserver_storage_objects{resource="nodes"}')" 0.5 "apiserver_storage_objects counts the node"
expect_gt "$(value "$WORK/api.txt" 'etcd_request_duration_seconds_count{operation="create",type="pods"}')" 0.5 "etcd_request_duration_seconds times the pod's create"
expect_gt "$(total "$WORK/api.txt" '^etcd_request_duration_seconds_count\{operation="update",type="leases.coordination.k8s.io"\}')" 0.5 "etcd_request_duration_seconds times lease renewals"
expect_gt "$(value "$WORK/api.txt" 'apiserver_watch_events_total{group="",kind="Pod",resource="pods",version="v1"}')" 0.5 "apiserver_watch_events_total counts pod events sent to watchers"
expect_gt "$(total "$WORK/api.txt" '^apiserver_longrunning_requests\{.*verb="WATCH"')" 0.5 "apiserver_longrunning_requests holds the open watches"
[ -n "$(value "$WORK/api.txt" 'apiserver_current_inflight_requests{request_kind="mutating"}')" ] || fail "no mutating inflight gauge"
expect_gt "$(value "$WORK/api.txt" 'apiserver_current_inflight_requests{request_kind="readOnly"}')" -0.5 "apiserver_current_inflight_requests reports both request kinds"
expect_gt "$(value "$WORK/api.txt" 'apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""}')" 0.5 "scrapes of /metrics are counted as upstream counts them"
expect_gt "$(value "$WORK/api.txt" process_resident_memory_bytes)" 1000000 "process_resident_memory_bytes"
expect_gt "$(value "$WORK/api.txt" process_cpu_seconds_total)" 0 "process_cpu_seconds_total"
# The binary's allocator is jemalloc: its figures, the live bytes below the resident ones.
allocated=$(value "$WORK/api.txt" skiff_malloc_allocated_bytes)
expect_gt "$allocated" 1000000 "skiff_malloc_allocated_bytes (jemalloc linked)"
expect_gt "$(value "$WORK/api.txt" skiff_malloc_resident_bytes)" "$allocated" "skiff_malloc_resident_bytes above the allocated bytes"
start=$(value "$WORK/api.txt" process_start_time_seconds)
expect_gt "$start" "$(($(date +%s) - 600))" "process_start_time_seconds is this run's start"

# scheduler, sharing the process's /metrics
expect_gt "$(value "$WORK/api.txt" 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}')" 0.5 "scheduler_schedule_attempts_total counts the scheduled pod"
for q in active backoff unschedulable gated; do
  [ -n "$(value "$WORK/api.txt" "scheduler_pending_pods{queue=\"$q\"}")" ] || fail "no scheduler_pending_pods{queue=\"$q\"}"
done
pass "scheduler_pending_pods has the active, backoff, unschedulable and gated queues"
expect_gt "$(value "$WORK/api.txt" 'scheduler_scheduling_attempt_duration_seconds_count{profile="default-scheduler",result="scheduled"}')" 0.5 "scheduler_scheduling_attempt_duration_seconds"

# controller manager: client-go's work queue metrics per controller
expect_gt "$(value "$WORK/api.txt" 'workqueue_adds_total{name="serviceaccount"}')" 3.5 "workqueue_adds_total: the serviceaccount controller saw the namespaces"
expect_gt "$(value "$WORK/api.txt" 'workqueue_work_duration_seconds_count{name="serviceaccount"}')" 3.5 "workqueue_work_duration_seconds for each processed key"
expect_gt "$(value "$WORK/api.txt" 'workqueue_queue_duration_seconds_count{name="serviceaccount"}')" 3.5 "workqueue_queue_duration_seconds for each taken key"
[ -n "$(value "$WORK/api.txt" 'workqueue_depth{name="serviceaccount"}')" ] || fail "no workqueue_depth"
[ -n "$(value "$WORK/api.txt" 'workqueue_retries_total{name="serviceaccount"}')" ] || fail "no workqueue_retries_total"
expect_contains "$(grep -c '^workqueue_queue_duration_seconds_bucket{name="serviceaccount"' "$WORK/api.txt")" "11" "client-go's ten work queue buckets plus +Inf"
pass "workqueue_depth and workqueue_retries_total are reported"

# --- kubelet /metrics
kc -f "$KUBELET/metrics" >"$WORK/kubelet.txt" || fail "GET the kubelet's /metrics failed"
promcheck "$WORK/kubelet.txt" "the kubelet's /metrics"
one_type "$WORK/kubelet.txt" "the kubelet's /metrics"
expect_eq "$(curl -s --cacert "$KUBELET_CA" -o /dev/null -w '%{http_code}' "$KUBELET/metrics")" "401" "the kubelet's /metrics needs a client certificate"
expect_eq "$(value "$WORK/kubelet.txt" "kubelet_node_name{node=\"$NODE\"}")" "1" "kubelet_node_name names the node"
expect_gt "$(value "$WORK/kubelet.txt" kubelet_running_pods)" 0.5 "kubelet_running_pods counts the running pod"
expect_gt "$(value "$WORK/kubelet.txt" 'kubelet_running_containers{container_state="running"}')" 0.5 "kubelet_running_containers{container_state=\"running\"}"
expect_gt "$(value "$WORK/kubelet.txt" kubelet_pod_start_duration_seconds_count)" 0.5 "kubelet_pod_start_duration_seconds observed the pod's start"
expect_gt "$(value "$WORK/kubelet.txt" kubelet_pleg_relist_duration_seconds_count)" 0.5 "kubelet_pleg_relist_duration_seconds"
expect_not_contains "$(cat "$WORK/kubelet.txt")" "apiserver_request_total" "the kubelet's /metrics holds the kubelet's metrics only"

# --- kubelet /metrics/cadvisor
kc -f "$KUBELET/metrics/cadvisor" >"$WORK/cadvisor.txt" || fail "GET the kubelet's /metrics/cadvisor failed"
promcheck "$WORK/cadvisor.txt" "the kubelet's /metrics/cadvisor"
one_type "$WORK/cadvisor.txt" "the kubelet's /metrics/cadvisor"
cid=$(k get pod mpod -o jsonpath='{.status.containerStatuses[0].containerID}'); cid=${cid#containerd://}
line=$(grep "^container_memory_working_set_bytes{container=\"mpod\"" "$WORK/cadvisor.txt" | head -1 || true)
expect_contains "$line" "namespace=\"default\",pod=\"mpod\"" "container_memory_working_set_bytes is labelled with the pod and namespace"
expect_contains "$line" "name=\"$cid\"" "the series names the container ID"
expect_contains "$line" "image=\"busybox:1.36\"" "the series names the image the container was started from"
expect_gt "${line##* }" 0 "container_memory_working_set_bytes of the running busybox is > 0"
cpu=$(grep "^container_cpu_usage_seconds_total{container=\"mpod\"" "$WORK/cadvisor.txt" | head -1 || true)
expect_gt "${cpu##* }" 0 "container_cpu_usage_seconds_total of the busybox that counted to 200000 is > 0"
expect_gt "$(value "$WORK/cadvisor.txt" 'container_cpu_usage_seconds_total{container="",id="/",image="",name="",namespace="",pod=""}')" 0 "the machine's CPU as id=\"/\""
expect_gt "$(value "$WORK/cadvisor.txt" 'container_memory_working_set_bytes{container="",id="/",image="",name="",namespace="",pod=""}')" 1000000 "the machine's working set as id=\"/\""

# --- a counter only grows: the CPU of the container, scraped again
sleep 1
kc -f "$KUBELET/metrics/cadvisor" >"$WORK/cadvisor2.txt" || fail "second scrape failed"
cpu2=$(grep "^container_cpu_usage_seconds_total{container=\"mpod\"" "$WORK/cadvisor2.txt" | head -1 || true)
expect_gt "$(python3 -c "print(${cpu2##* } - ${cpu##* } + 1e-9)")" 0 "container_cpu_usage_seconds_total does not go down"

# --- a scheduler and a controller manager run on their own serve their /metrics themselves
SPORT=$(free_port)
CPORT=$(free_port)
"$SKIFF" scheduler --kubeconfig "$WORK/data/kubeconfig" --scheduler-name metrics-test-scheduler \
  --metrics-bind-address "127.0.0.1:$SPORT" >>"$WORK/scheduler.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
"$SKIFF" controller-manager --kubeconfig "$WORK/data/kubeconfig" --controllers serviceaccount \
  --metrics-bind-address "127.0.0.1:$CPORT" >>"$WORK/controller-manager.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
sched_ready() { curl -sf "http://127.0.0.1:$SPORT/metrics" | grep -q '^scheduler_pending_pods{queue="active"}'; }
wait_for "the standalone scheduler serves scheduler_pending_pods" 30 sched_ready
curl -sf "http://127.0.0.1:$SPORT/metrics" >"$WORK/scheduler.txt" || fail "scrape of the standalone scheduler failed"
promcheck "$WORK/scheduler.txt" "the standalone scheduler's /metrics"
expect_eq "$(curl -s "http://127.0.0.1:$SPORT/healthz")" "ok" "the standalone scheduler answers /healthz"
cm_synced() {
  curl -sf "http://127.0.0.1:$CPORT/metrics" >"$WORK/cm.txt" &&
    gt "$(value "$WORK/cm.txt" 'workqueue_work_duration_seconds_count{name="serviceaccount"}')" 3.5
}
wait_for "the standalone controller manager processed the namespaces" 30 cm_synced
curl -sf "http://127.0.0.1:$CPORT/metrics" >"$WORK/cm.txt" || fail "scrape of the standalone controller manager failed"
promcheck "$WORK/cm.txt" "the standalone controller manager's /metrics"
expect_gt "$(value "$WORK/cm.txt" 'workqueue_adds_total{name="serviceaccount"}')" 3.5 "the standalone controller manager reports its work queue"
expect_not_contains "$(cat "$WORK/cm.txt")" "apiserver_request_total" "a standalone controller manager's /metrics holds no API server metrics"

finish
