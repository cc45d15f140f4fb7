#!/usr/bin/env bash
# Endpoints, EndpointSlices and PodDisruptionBudgets with the real kubectl: pods bound to a
# node and marked Running/Ready by hand (no kubelet here) back a Service; a budget refuses
# `kubectl drain` while it would be violated, and lets exactly one pod go once it allows it.
source "$(dirname "$0")/lib.sh"
start_server

cat >"$WORK/node.json" <<'EOF'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},
 "status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},
 "conditions":[{"type":"Ready","status":"True"}]}}
EOF
run k create -f "$WORK/node.json"
for i in 1 2; do
  cat >"$WORK/pod-$i.json" <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-$i","labels":{"app":"web"}},
 "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"busybox:1.36","ports":[{"name":"http","containerPort":8080}]}]}}
EOF
  run k create -f "$WORK/pod-$i.json"
  run k patch pod "web-$i" --subresource=status --type=merge \
    -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.42.0.1$i\",\"podIPs\":[{\"ip\":\"10.42.0.1$i\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"
done
run k create service clusterip web --tcp=80:http
# `kubectl create service` names the port "80-http" and targets the named container port.

wait_for() {  # wait_for EXPECTED WHAT CMD... : polls CMD's output until it equals EXPECTED
  local want=$1 what=$2; shift 2
  local got=""
  for _ in $(seq 1 100); do
    got=$("$@" 2>/dev/null || true)
    [ "$got" == "$want" ] && { pass "$what"; return 0; }
    sleep 0.1
  done
  fail "$what: expected [$want], got [$got]"
}

wait_for "10.42.0.11 10.42.0.12" "kubectl get endpoints lists both pod IPs" \
  k get endpoints web -o jsonpath='{.subsets[0].addresses[*].ip}'
expect_eq "$(k get endpoints web -o jsonpath='{.subsets[0].ports[0].port}')" "8080" "the named target port resolves to the container port"
expect_eq "$(k get endpoints web -o jsonpath='{.subsets[0].addresses[0].targetRef.name}')" "web-1" "addresses point at their pods"
run k get endpoints web
expect_contains "$OUT" "10.42.0.11:8080" "kubectl get endpoints prints ip:port pairs"
wait_for "10.42.0.11 10.42.0.12" "kubectl get endpointslices lists both pod IPs" \
  k get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[*].endpoints[*].addresses[0]}'
expect_eq "$(k get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[0].metadata.labels.endpointslice\.kubernetes\.io/managed-by}')" \
  "endpointslice-controller.k8s.io" "slices carry the managed-by label"
run k get endpointslices
expect_contains "$OUT" "IPv4" "kubectl get endpointslices shows the address type"

# A budget of 2 over 2 ready pods allows nothing.
run k create pdb web-pdb --selector=app=web --min-available=2
wait_for "0 2 1" "the budget over 2 ready pods with minAvailable=2 allows 0 disruptions" \
  k get pdb web-pdb -o jsonpath='{.status.disruptionsAllowed} {.status.currentHealthy} {.status.observedGeneration}'
run k get pdb web-pdb
expect_contains "$OUT" "ALLOWED DISRUPTIONS" "kubectl get pdb has the ALLOWED DISRUPTIONS column"

expect_fail "kubectl drain is refused by the budget" \
  k drain node-1 --ignore-daemonsets --delete-emptydir-data --force --timeout=5s
expect_contains "$OUT" "Cannot evict pod as it would violate the pod's disruption budget." "drain reports the budget"
expect_eq "$(k get node node-1 -o jsonpath='{.spec.unschedulable}')" "true" "drain cordoned the node"
expect_eq "$(k get pods -o jsonpath='{.items[*].metadata.deletionTimestamp}')" "" "no pod was evicted"

echo '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web-1","namespace":"default"}}' >"$WORK/eviction.json"
expect_eq "$(curl_status POST /api/v1/namespaces/default/pods/web-1/eviction application/json "$WORK/eviction.json")" \
  "429" "a direct eviction is answered 429"
expect_eq "$(json_field "['details']['causes'][0]['reason']")" "DisruptionBudget" "the 429 names the DisruptionBudget cause"
expect_eq "$(json_field "['details']['causes'][0]['message']")" \
  "The disruption budget web-pdb needs 2 healthy pods and has 2 currently" "the cause explains the budget"

# minAvailable=1: one disruption; the drain evicts one pod and is refused for the other.
run k patch pdb web-pdb --type=merge -p '{"spec":{"minAvailable":1}}'
wait_for "1 2" "with minAvailable=1 one disruption is allowed" \
  k get pdb web-pdb -o jsonpath='{.status.disruptionsAllowed} {.status.observedGeneration}'
expect_fail "the second eviction of the drain is refused" \
  k drain node-1 --ignore-daemonsets --delete-emptydir-data --force --timeout=5s
expect_contains "$OUT" "error when waiting for pod" "drain evicted one pod and waits for it to terminate"
terminating=$(k get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.deletionTimestamp}{"\n"}{end}' | grep -c '=.\+' || true)
expect_eq "$terminating" "1" "exactly one pod is terminating"
wait_for "0" "the spent budget allows nothing more" k get pdb web-pdb -o jsonpath='{.status.disruptionsAllowed}'
wait_for "1" "the evicted pod left the Endpoints" \
  bash -c "kubectl --kubeconfig '$WORK/data/kubeconfig' get endpoints web -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w"
wait_for "true" "its slice endpoint is marked terminating" \
  bash -c "kubectl --kubeconfig '$WORK/data/kubeconfig' get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[*].endpoints[*].conditions.terminating}' | tr ' ' '\n' | grep -m1 true"

run k delete service web
wait_for "gone" "deleting the Service deletes its Endpoints" \
  bash -c "kubectl --kubeconfig '$WORK/data/kubeconfig' get endpoints web >/dev/null 2>&1 && echo present || echo gone"
finish
