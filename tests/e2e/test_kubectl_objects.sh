#!/usr/bin/env bash
# Everyday object work with the real kubectl: discovery commands, typed creates (protobuf
# bodies), get in every output form, label/annotate/patch/replace/scale/delete, run, expose.
source "$(dirname "$0")/lib.sh"
start_server

run k version
expect_contains "$OUT" "Server Version: v1.32" "version reports the server as 1.32"
run k cluster-info
OUT=$(echo "$OUT" | sed 's/\x1b\[[0-9;]*m//g')  # kubectl before 1.32 colours it even off a terminal
expect_contains "$OUT" "Kubernetes control plane is running at $API" "cluster-info"
run k api-resources
expect_contains "$OUT" "deployments" "api-resources lists deployments"
expect_contains "$(echo "$OUT" | grep -E '^pods ')" "po" "api-resources shows the pods short name"
run k api-versions
expect_contains "$OUT" "apps/v1" "api-versions lists apps/v1"
run k explain deployment.spec.replicas
expect_contains "$OUT" "integer" "explain knows the type of deployment.spec.replicas"

run k get namespaces -o name
expect_eq "$(echo "$OUT" | sort | tr '\n' ' ')" "namespace/default namespace/kube-node-lease namespace/kube-public namespace/kube-system " "built-in namespaces exist"
run k get ns default
expect_contains "$OUT" "Active" "namespace table shows STATUS"

# Typed creates: kubectl 1.32 sends these as protobuf.
run k create namespace team-a
expect_eq "$OUT" "namespace/team-a created" "create namespace (protobuf body)"
run k -n team-a create configmap settings --from-literal=color=blue --from-literal=size=10
expect_eq "$OUT" "configmap/settings created" "create configmap (protobuf body)"
expect_eq "$(k -n team-a get cm settings -o jsonpath='{.data.color}')" "blue" "configmap data stored"
run k -n team-a create secret generic creds --from-literal=password=s3cret
expect_eq "$(k -n team-a get secret creds -o jsonpath='{.data.password}' | base64 -d)" "s3cret" "secret bytes round-trip"
run k -n team-a create deployment web --image=busybox:1.36 --replicas=2
expect_eq "$OUT" "deployment.apps/web created" "create deployment (protobuf body)"
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.spec.replicas}')" "2" "deployment replicas stored"
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.spec.strategy.type}')" "RollingUpdate" "deployment defaulted"
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.metadata.generation}')" "1" "generation starts at 1"
run k -n team-a create serviceaccount builder
expect_eq "$OUT" "serviceaccount/builder created" "create serviceaccount"
run k -n team-a create service clusterip api --tcp=80:8080
expect_eq "$OUT" "service/api created" "create service"
expect_contains "$(k -n team-a get svc api -o jsonpath='{.spec.clusterIP}')" "10.43." "service got a cluster IP"
expect_fail "duplicate create is refused" k -n team-a create deployment web --image=busybox:1.36
expect_contains "$OUT" "deployments.apps \"web\" already exists" "duplicate create says already exists"

# get in all its forms
run k -n team-a get deploy
expect_contains "$OUT" "READY" "deployment table has READY"
expect_contains "$OUT" "0/2" "deployment table shows 0/2"
run k -n team-a get deploy -o wide
expect_contains "$OUT" "busybox:1.36" "wide output shows images"
run k -n team-a get deploy web -o yaml
expect_contains "$OUT" "kind: Deployment" "get -o yaml"
run k -n team-a get deploy web -o json
expect_contains "$OUT" '"uid":' "get -o json carries the uid"
run k get cm -A
expect_contains "$OUT" "team-a" "get -A shows the NAMESPACE column"
run k -n team-a get cm --show-labels
expect_contains "$OUT" "LABELS" "--show-labels"

for i in 1 2 3 4 5; do k -n team-a create configmap "item-$i" --from-literal=n=$i >/dev/null; done
run k -n team-a label cm item-1 item-2 tier=front
expect_contains "$OUT" "configmap/item-1 labeled" "label"
run k -n team-a label cm item-3 tier=back
run k -n team-a get cm -l tier=front -o name
expect_eq "$(echo $OUT)" "configmap/item-1 configmap/item-2" "label selector ="
run k -n team-a get cm -l 'tier in (front,back)' -o name
expect_eq "$(echo $OUT)" "configmap/item-1 configmap/item-2 configmap/item-3" "label selector in"
run k -n team-a get cm -l '!tier' -o name
expect_contains "$OUT" "configmap/item-4" "label selector !key"
expect_not_contains "$OUT" "item-1" "label selector !key excludes labelled"
run k -n team-a get cm --field-selector metadata.name=item-5 -o name
expect_eq "$OUT" "configmap/item-5" "field selector metadata.name"
run k -n team-a get cm --chunk-size=2 -o name
# 6 of the test's own and kube-root-ca.crt (root-ca-cert-publisher).
expect_eq "$(echo "$OUT" | wc -l)" "7" "--chunk-size pages through all configmaps"
run k -n team-a get cm --sort-by=.metadata.name -o name
expect_eq "$(echo "$OUT" | head -1)" "configmap/item-1" "--sort-by"
run k -n team-a get cm item-1 -o jsonpath='{.metadata.labels.tier}'
expect_eq "$OUT" "front" "jsonpath"
run k -n team-a annotate cm item-1 owner=alice
expect_eq "$(k -n team-a get cm item-1 -o jsonpath='{.metadata.annotations.owner}')" "alice" "annotate"
run k -n team-a label cm item-1 tier-
expect_eq "$(k -n team-a get cm item-1 -o jsonpath='{.metadata.labels}')" "" "label removal with key-"

# patch: all three types
run k -n team-a patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","image":"busybox:1.37"}]}}}}'
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.spec.template.spec.containers[*].image}')" "busybox:1.37" "strategic merge patch merges containers by name"
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.metadata.generation}')" "2" "spec change bumps generation"
run k -n team-a patch cm item-2 --type=merge -p '{"data":{"n":"twenty"}}'
expect_eq "$(k -n team-a get cm item-2 -o jsonpath='{.data.n}')" "twenty" "merge patch"
run k -n team-a patch cm item-3 --type=json -p '[{"op":"add","path":"/data/extra","value":"x"}]'
expect_eq "$(k -n team-a get cm item-3 -o jsonpath='{.data.extra}')" "x" "json patch"
expect_fail "failing json patch is refused" k -n team-a patch cm item-3 --type=json -p '[{"op":"test","path":"/data/extra","value":"nope"}]'

# replace and scale
k -n team-a get cm item-4 -o json | python3 -c 'import json,sys;d=json.load(sys.stdin);d["data"]["n"]="replaced";print(json.dumps(d))' >"$WORK/item4.json"
run k replace -f "$WORK/item4.json"
expect_eq "$(k -n team-a get cm item-4 -o jsonpath='{.data.n}')" "replaced" "replace"
expect_fail "replace with a stale resourceVersion conflicts" k replace -f "$WORK/item4.json"
expect_contains "$OUT" "Conflict" "stale replace says Conflict"
run k -n team-a scale deploy web --replicas=5
expect_eq "$OUT" "deployment.apps/web scaled" "scale"
expect_eq "$(k -n team-a get deploy web -o jsonpath='{.spec.replicas}')" "5" "scale wrote spec.replicas"

# run and expose
run k -n team-a run shell --image=busybox:1.36 -- sleep 3600
expect_eq "$OUT" "pod/shell created" "run creates a pod"
expect_eq "$(k -n team-a get pod shell -o jsonpath='{.metadata.labels.run}')" "shell" "run labels the pod"
expect_eq "$(k -n team-a get pod shell -o jsonpath='{.status.phase}')" "Pending" "new pod is Pending"
run k -n team-a expose deploy web --port=80 --target-port=8080
expect_eq "$OUT" "service/web exposed" "expose deployment"
expect_eq "$(k -n team-a get svc web -o jsonpath='{.spec.selector.app}')" "web" "expose copies the selector"
run k -n team-a describe deploy web
expect_contains "$OUT" "Replicas:" "describe deployment"
run k -n team-a describe pod shell
expect_contains "$OUT" "Status:" "describe pod"

# one storage, two versions: an HPA written as autoscaling/v2 reads back as v1 too
cat >"$WORK/hpa.yaml" <<'YAML'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: team-a}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
YAML
run k apply -f "$WORK/hpa.yaml"
expect_eq "$(k get --raw /apis/autoscaling/v1/namespaces/team-a/horizontalpodautoscalers/web | python3 -c 'import json,sys;print(json.load(sys.stdin)["spec"]["targetCPUUtilizationPercentage"])')" "60" "autoscaling/v1 view of a v2 HPA"
echo '{"apiVersion":"v1","kind":"Event","metadata":{"name":"ev1"},"involvedObject":{"kind":"Pod","name":"shell","namespace":"team-a"},"reason":"Demo","message":"hello","type":"Normal"}' >"$WORK/ev.json"
expect_eq "$(curl_status POST /api/v1/namespaces/team-a/events application/json "$WORK/ev.json")" "201" "create a core/v1 Event"
expect_eq "$(k get --raw /apis/events.k8s.io/v1/namespaces/team-a/events/ev1 | python3 -c 'import json,sys;print(json.load(sys.stdin)["note"])')" "hello" "events.k8s.io/v1 view of a core Event"

# delete in its forms
run k -n team-a delete cm item-5
expect_eq "$OUT" 'configmap "item-5" deleted' "delete by name"
expect_fail "deleted object is gone" k -n team-a get cm item-5
expect_contains "$OUT" 'configmaps "item-5" not found' "NotFound message like upstream"
run k -n team-a delete cm -l tier=front
expect_contains "$OUT" 'configmap "item-2" deleted' "delete -l"
run k -n team-a delete pod shell --wait=true
expect_contains "$OUT" 'pod "shell" deleted' "delete pod (unscheduled: immediate)"
run k -n team-a delete cm --all
# kube-root-ca.crt is put back by the root-ca-cert-publisher (as upstream's).
expect_eq "$(k -n team-a get cm -o name | grep -vc kube-root-ca.crt)" "0" "delete --all"
# namespace deletion: content with a finalizer of its own keeps the namespace Terminating
# (the namespace controller deletes the rest); /finalize then forces it out
run k create namespace doomed
echo '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}' >"$WORK/held.json"
run k -n doomed create -f "$WORK/held.json"
run k delete namespace doomed --wait=false
expect_eq "$(k get ns doomed -o jsonpath='{.status.phase}')" "Terminating" "a deleted namespace is Terminating"
expect_fail "no new content in a terminating namespace" k -n doomed create configmap late
expect_contains "$OUT" "being terminated" "refusal says the namespace is being terminated"
expect_fail "default namespace may not be deleted" k delete namespace default --wait=false
expect_contains "$OUT" "may not be deleted" "refusal for default namespace"
k get ns doomed -o json | python3 -c 'import json,sys;d=json.load(sys.stdin);d["spec"]["finalizers"]=[];print(json.dumps(d))' >"$WORK/doomed.json"
run k replace --raw /api/v1/namespaces/doomed/finalize -f "$WORK/doomed.json"
expect_fail "finalized namespace is gone" k get ns doomed

# (after the pod deletions: once a Ready node exists, the scheduler binds pending pods, and
# bound pods wait for a kubelet to finish graceful deletion)
# auth can-i (protobuf SelfSubjectAccessReview), nodes, cordon
run k auth can-i create pods
expect_eq "$OUT" "yes" "auth can-i answers yes (no RBAC enforcement yet)"
echo '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1"}},"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ready","lastHeartbeatTime":"2026-01-01T00:00:00Z","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >"$WORK/node.json"
run k create -f "$WORK/node.json"
run k get nodes
expect_contains "$OUT" "node-1   Ready" "node table shows Ready"
run k cordon node-1
expect_contains "$OUT" "node/node-1 cordoned" "cordon"
expect_eq "$(k get node node-1 -o jsonpath='{.spec.unschedulable}')" "true" "cordon set spec.unschedulable"
expect_contains "$(k get nodes)" "Ready,SchedulingDisabled" "cordoned node shows SchedulingDisabled"
run k uncordon node-1
expect_eq "$(k get node node-1 -o jsonpath='{.spec.unschedulable}')" "" "uncordon cleared it"
expect_contains "$(k get --raw /metrics)" 'apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="nodes",scope="resource",subresource="",verb="POST",version="v1"}' "metrics count requests by code, verb and resource (upstream's labels)"

finish
