# Hollow-node helpers for the acceptance tests (source after lib.sh): start simulated nodes
# with `skiff agent --hollow` against the test's server and stop single nodes through the
# agent's control endpoint, as a dead machine would stop heartbeating.
AGENT_PIDS=()

# start_hollow PREFIX COUNT [EXTRA AGENT FLAGS...]: sets HOLLOW_CONTROL_<PREFIX> to the control URL
# (HOLLOW_ARGS: flags for every agent of the test)
start_hollow() {
  local prefix=$1 count=$2; shift 2
  local port; port=$(free_port)
  "$SKIFF" agent --hollow --nodes "$count" --node-name-prefix "$prefix" \
    --kubeconfig "$WORK/data/kubeconfig" --control-listen "127.0.0.1:$port" ${HOLLOW_ARGS:-} "$@" \
    >>"$WORK/agent-$prefix.log" 2>&1 &
  AGENT_PIDS+=($!)
  eval "HOLLOW_CONTROL_${prefix//-/_}=http://127.0.0.1:$port"
}

stop_hollow_agents() {
  for pid in "${AGENT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${AGENT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  AGENT_PIDS=()
}

# stop_hollow_node PREFIX NODE: the node stops heartbeating
stop_hollow_node() {
  local var="HOLLOW_CONTROL_${1//-/_}"
  curl -sf -X POST "${!var}/nodes/$2/stop" >/dev/null || fail "could not stop hollow node $2"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: retries CMD until it succeeds
wait_for() {
  local what=$1 timeout=$2; shift 2
  local end=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timed out after ${timeout}s waiting for: $what"
    sleep 0.5
  done
  pass "$what"
}

# ready_nodes_at_least N
ready_nodes_at_least() {
  local n
  n=$(k get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
  [ "$n" -ge "$1" ]
}

# running_pods_eq NAMESPACE SELECTOR N: exactly N Running pods (not terminating) match
running_pods_eq() {
  local n
  n=$(k get pods -n "$1" -l "$2" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.deletionTimestamp}{"|"}{"\n"}{end}' | grep -c '^|$' || true)
  [ "$n" -eq "$3" ]
}

pods_total_eq() {
  local n
  n=$(k get pods -n "$1" -l "$2" --no-headers 2>/dev/null | wc -l)
  [ "$n" -eq "$3" ]
}
trap "stop_hollow_agents; cleanup" EXIT
