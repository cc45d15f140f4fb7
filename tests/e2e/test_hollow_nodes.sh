#!/usr/bin/env bash
# Hollow nodes: `skiff agent --hollow` simulates 3 kubelets against a real `skiff server`
# (scheduler + nodeipam). With the real kubectl: nodes Ready with pod ranges, a pod runs
# with an address from its node's range, deletion completes, a run-to-completion pod
# succeeds, and a node stopped through the control endpoint stops renewing its Lease.
source "$(dirname "$0")/lib.sh"
start_server
CPORT=$(free_port)
CTL="http://127.0.0.1:$CPORT"
"$SKIFF" agent --hollow --nodes 3 --node-name-prefix e2e --kubeconfig "$WORK/data/kubeconfig" \
  --readiness-delay 1s --job-duration 2s --termination-delay 1s --node-labels tier=sim \
  --control-listen "127.0.0.1:$CPORT" >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
trap 'kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; cleanup' EXIT
agent_fail() { echo "--- agent log (tail)" >&2; tail -n 20 "$WORK/agent.log" >&2; fail "$@"; }

ready_nodes() {
  k get nodes -l tier=sim -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status},{.spec.podCIDR}{"\n"}{end}' 2>/dev/null |
    grep -c '=True,10\.' || true
}
for _ in $(seq 1 150); do [ "$(ready_nodes)" = 3 ] && break; sleep 0.2; done
expect_eq "$(ready_nodes)" 3 "three hollow nodes are Ready with a podCIDR"
expect_eq "$(k get node e2e-1 -o jsonpath='{.status.nodeInfo.kubeletVersion}')" "v1.32.0-skiff-hollow" "kubeletVersion names the hollow kubelet"
CIDRS=$(k get nodes -l tier=sim -o jsonpath='{.items[*].spec.podCIDR}' | tr ' ' '\n' | sort -u | wc -l)
expect_eq "$CIDRS" 3 "each node has its own pod range"
for i in 0 1 2; do
  for _ in $(seq 1 50); do k -n kube-node-lease get lease "e2e-$i" >/dev/null 2>&1 && break; sleep 0.2; done
done
expect_eq "$(k -n kube-node-lease get lease e2e-0 -o jsonpath='{.spec.holderIdentity}')" "e2e-0" "each node holds its Lease"

run k run web --image=nginx:1.27
for _ in $(seq 1 100); do
  [ "$(k get pod web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
  sleep 0.2
done
expect_eq "$(k get pod web -o jsonpath='{.status.phase}')" Running "kubectl run: the pod is Running"
expect_eq "$(k get pod web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" True "and Ready after the readiness delay"
IP=$(k get pod web -o jsonpath='{.status.podIP}')
NODE=$(k get pod web -o jsonpath='{.spec.nodeName}')
CIDR=$(k get node "$NODE" -o jsonpath='{.spec.podCIDR}')
INSIDE=$(python3 -c "import ipaddress,sys;n=ipaddress.ip_network('$CIDR');a=ipaddress.ip_address('$IP');print(a in n and a not in (n.network_address, n.network_address+1))")
expect_eq "$INSIDE" True "pod IP $IP is inside its node's podCIDR $CIDR"
expect_contains "$(k get pod web -o wide)" "$IP" "kubectl get -o wide shows the pod IP"

run timeout 30 kubectl --kubeconfig "$WORK/data/kubeconfig" delete pod web
expect_fail "the deleted pod is gone" k get pod web

run k run once --image=busybox --restart=Never -- true
for _ in $(seq 1 100); do [ "$(k get pod once -o jsonpath='{.status.phase}')" = Succeeded ] && break; sleep 0.2; done
expect_eq "$(k get pod once -o jsonpath='{.status.phase}')" Succeeded "a restartPolicy=Never pod succeeds after the job duration"

expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$CTL/nodes/e2e-0/stop")" 200 "control endpoint stops node e2e-0"
expect_contains "$(curl -s "$CTL/nodes")" '"name":"e2e-0","state":"stopped"' "GET /nodes lists it as stopped"
sleep 1  # a renewal already in flight may still land
DEAD=$(k -n kube-node-lease get lease e2e-0 -o jsonpath='{.spec.renewTime}')
ALIVE=$(k -n kube-node-lease get lease e2e-1 -o jsonpath='{.spec.renewTime}')
sleep 11  # longer than the 10 s renew interval
expect_eq "$(k -n kube-node-lease get lease e2e-0 -o jsonpath='{.spec.renewTime}')" "$DEAD" "the stopped node's Lease is no longer renewed"
[ "$(k -n kube-node-lease get lease e2e-1 -o jsonpath='{.spec.renewTime}')" != "$ALIVE" ] || agent_fail "e2e-1 stopped renewing"
pass "the other nodes keep renewing"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$CTL/nodes/e2e-0/start")" 200 "and starts it again"
for _ in $(seq 1 25); do [ "$(k -n kube-node-lease get lease e2e-0 -o jsonpath='{.spec.renewTime}')" != "$DEAD" ] && break; sleep 0.2; done
[ "$(k -n kube-node-lease get lease e2e-0 -o jsonpath='{.spec.renewTime}')" != "$DEAD" ] || agent_fail "e2e-0 did not resume"
pass "a restarted node renews its Lease at once"

kill -0 "$AGENT_PID" 2>/dev/null || agent_fail "agent exited"
finish
