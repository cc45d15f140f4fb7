#!/usr/bin/env bash
# Manifests: create -f (multi-document), apply twice, edit, diff, get -w, wait.
source "$(dirname "$0")/lib.sh"
start_server

cat >"$WORK/app.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels: {app: shop}
data:
  mode: "production"
  replicas: "3"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        args: ["httpd", "-f", "-p", "8080"]
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: production
YAML
run k create -f "$WORK/app.yaml"
expect_contains "$OUT" "configmap/app-config created" "create -f creates the first document"
expect_contains "$OUT" "deployment.apps/shop created" "create -f creates the second document"
k delete -f "$WORK/app.yaml" >/dev/null

run k apply -f "$WORK/app.yaml"
expect_contains "$OUT" "deployment.apps/shop created" "first apply creates"
run k apply -f "$WORK/app.yaml"
expect_contains "$OUT" "deployment.apps/shop unchanged" "second apply is unchanged"
sed -i 's/replicas: 2/replicas: 4/; s/value: production/value: staging/' "$WORK/app.yaml"
OUT=$(k diff -f "$WORK/app.yaml" 2>&1 || true)
expect_contains "$OUT" "+  replicas: 4" "diff shows the replica change"
run k apply -f "$WORK/app.yaml"
expect_contains "$OUT" "deployment.apps/shop configured" "apply of a change configures"
expect_eq "$(k get deploy shop -o jsonpath='{.spec.replicas}')" "4" "apply patched replicas"
expect_eq "$(k get deploy shop -o jsonpath='{.spec.template.spec.containers[0].env[0].value}')" "staging" "apply merged env by name"
expect_eq "$(k get deploy shop -o jsonpath='{.spec.template.spec.containers[0].ports[0].containerPort}')" "8080" "apply kept the ports"

# edit with a scripted editor
cat >"$WORK/editor.sh" <<'SH'
#!/usr/bin/env bash
sed -i 's/mode: production/mode: maintenance/' "$1"
SH
chmod +x "$WORK/editor.sh"
run env EDITOR="$WORK/editor.sh" "$KUBECTL" --kubeconfig "$WORK/data/kubeconfig" edit cm app-config
expect_contains "$OUT" "configmap/app-config edited" "edit"
expect_eq "$(k get cm app-config -o jsonpath='{.data.mode}')" "maintenance" "edit wrote the change"

# get -w sees ADDED, MODIFIED and DELETED
k get cm -w --output-watch-events >"$WORK/watch.out" 2>&1 &
WATCH=$!
sleep 1
k create configmap watched --from-literal=a=1 >/dev/null
k patch cm watched --type=merge -p '{"data":{"a":"2"}}' >/dev/null
k delete cm watched >/dev/null
sleep 1
kill $WATCH 2>/dev/null || true; wait $WATCH 2>/dev/null || true
W=$(cat "$WORK/watch.out")
expect_eq "$(echo "$W" | grep -cE '^ADDED +watched ')" "1" "watch sees ADDED"
expect_eq "$(echo "$W" | grep -cE '^MODIFIED +watched ')" "1" "watch sees MODIFIED"
expect_eq "$(echo "$W" | grep -cE '^DELETED +watched ')" "1" "watch sees DELETED"

# wait
( sleep 1; k patch cm app-config --type=merge -p '{"data":{"ready":"yes"}}' >/dev/null ) &
run k wait --for=jsonpath='{.data.ready}'=yes cm/app-config --timeout=20s
expect_contains "$OUT" "condition met" "wait --for=jsonpath"
( sleep 1; k delete cm app-config >/dev/null ) &
run k wait --for=delete cm/app-config --timeout=20s
expect_contains "$OUT" "condition met" "wait --for=delete"
run k delete deploy shop --wait=true
expect_contains "$OUT" 'deployment.apps "shop" deleted' "delete --wait"
finish
