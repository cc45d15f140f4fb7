#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The real kubelet: `skiff up` runs the control plane, a containerd of its own and a kubelet;
# pods run as real containers (skiff's busybox image), get IPs from the node's podCIDR,
# (Debian's static busybox wget crashes with -T: tests use the timeout applet instead.)
# restart per policy, see their ConfigMaps, Secrets and emptyDirs, and stopping `skiff up`
# leaves no container, mount or network namespace behind.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up --sync-frequency 2s

expect_contains "$(k get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')" "containerd://" "the node reports containerd as its runtime"
cidr=$(k get node "$NODE" -o jsonpath='{.spec.podCIDR}')
expect_contains "$cidr" "10.42." "the node has a podCIDR from node IPAM"
expect_contains "$(k get node "$NODE" -o jsonpath='{.status.images[*].names}')" "docker.io/library/busybox:1.36" "the node lists the imported busybox image"

# --- a web server pod, reachable on its pod IP
k run web --image=busybox:1.36 -- httpd -f -p 8080 >/dev/null
wait_for "web Running" 60 phase_is web Running
ip=$(k get pod web -o jsonpath='{.status.podIP}')
expect_contains "$ip" "${cidr%.*}" "the pod IP is in the node's podCIDR"
expect_contains "$(curl -s -m 5 "http://$ip:8080/")" "skiff busybox httpd" "the page is served from the pod IP"
expect_eq "$(k get pod web -o jsonpath='{.status.containerStatuses[0].ready}')" "true" "the container is ready"
expect_contains "$(k get pod web -o jsonpath='{.status.containerStatuses[0].containerID}')" "containerd://" "containerID names the runtime"
expect_eq "$(k get pod web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" "True" "Ready=True"
expect_eq "$(k get pod web -o jsonpath='{.status.hostIP}')" "127.0.0.1" "hostIP is the node's address"

# --- the kubelet's own HTTPS port: client certificates of the cluster CA only
kcurl() { curl -sk --cert "$WORK/data/tls/admin.crt" --key "$WORK/data/tls/admin.key" "$@"; }
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$KUBELET_PORT/pods")" "401" "the kubelet refuses a client without a certificate"
expect_eq "$(curl -sk "https://127.0.0.1:$KUBELET_PORT/healthz")" "ok" "the kubelet's /healthz is open"
summary=$(kcurl "https://127.0.0.1:$KUBELET_PORT/stats/summary")
web_ws=$(python3 -c 'import json,sys;d=json.loads(sys.argv[1]);print([p["memory"]["workingSetBytes"] for p in d["pods"] if p["podRef"]["name"]=="web"][0])' "$summary")
[ "$web_ws" -gt 0 ] || fail "no working set for web in /stats/summary: $summary"
pass "/stats/summary reports the pod's memory from cgroups ($web_ws bytes)"

# --- logs, logs -f
k run logger --image=busybox:1.36 -- sh -c 'echo hello; i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.5; done' >/dev/null
wait_for "logger Running" 60 phase_is logger Running
wait_for "logger wrote" 20 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig logs logger | grep -q 'line 1'"
expect_contains "$(k logs logger)" "hello" "kubectl logs shows what the container wrote"
before=$(k logs logger | wc -l)
after=$(timeout 4 kubectl --kubeconfig "$WORK/data/kubeconfig" logs -f logger | wc -l || true)
[ "$after" -gt "$((before + 2))" ] || fail "logs -f saw no new lines: $before then $after"
pass "kubectl logs -f streams new lines ($before -> $after)"
expect_eq "$(k logs logger --tail=1 | grep -c line)" "1" "kubectl logs --tail=1 prints one line"

# --- three replicas, each with its own IP, reachable from one another
k create deployment trio --image=busybox:1.36 --replicas=3 -- httpd -f -p 8080 >/dev/null
wait_for "trio rolled out" 90 k rollout status deploy/trio --timeout=2s
ips=$(k get pods -l app=trio -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | sort -u | grep -c .)
expect_eq "$ips" "3" "three replicas, three distinct pod IPs"
target=$(k get pods -l app=trio -o jsonpath='{.items[0].status.podIP}')
cat >"$WORK/probe.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  restartPolicy: Never
  containers:
  - {name: wget, image: busybox:1.36, command: [sh, -c, "timeout 5 wget -q -O - http://$target:8080/ | grep -q skiff"]}
EOF
k create -f "$WORK/probe.yaml" >/dev/null
wait_for "probe pod finished" 60 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod probe -o jsonpath='{.status.phase}')\" != Pending ] && [ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod probe -o jsonpath='{.status.phase}')\" != Running ]"
expect_eq "$(pod_phase probe)" "Succeeded" "a pod reaches another pod by its IP"
expect_eq "$(k get pod probe -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')" "Completed" "the finished container shows Completed"

# --- hostPort through the portmap plugin: another pod reaches it on the node's bridge address
cat >"$WORK/hostport.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec:
  containers:
  - {name: web, image: busybox:1.36, command: [httpd, -f, -p, "8080"], ports: [{containerPort: 8080, hostPort: 18089}]}
EOF
k create -f "$WORK/hostport.yaml" >/dev/null
wait_for "hostport Running" 60 phase_is hostport Running
gateway="${cidr%.*}.1"
k run hpclient --restart=Never --image=busybox:1.36 -- sh -c "timeout 5 wget -q -O - http://$gateway:18089/ | grep -q skiff" >/dev/null
wait_for "hpclient finished" 60 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod hpclient -o jsonpath='{.status.phase}' | grep -Eq 'Succeeded|Failed'"
expect_eq "$(pod_phase hpclient)" "Succeeded" "a hostPort is reachable on the node (portmap)"

# --- ConfigMap and Secret as env and volumes, emptyDir shared by an init container
k create configmap settings --from-literal=color=blue >/dev/null
k create secret generic creds --from-literal=password=s3cret >/dev/null
cat >"$WORK/config.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: config}
spec:
  restartPolicy: Never
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: sec, secret: {secretName: creds}}
  - {name: shared, emptyDir: {}}
  initContainers:
  - {name: init, image: busybox:1.36, command: [sh, -c, "echo from-init > /work/marker"], volumeMounts: [{name: shared, mountPath: /work}]}
  containers:
  - name: check
    image: busybox:1.36
    command: [sh, -c]
    args:
    - test "$COLOR" = blue && test "$PASSWORD" = s3cret && test "$(cat /etc/cfg/color)" = blue &&
      test "$(cat /etc/sec/password)" = s3cret && test "$(cat /work/marker)" = from-init && test "$(hostname)" = config
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: sec, mountPath: /etc/sec}
    - {name: shared, mountPath: /work}
EOF
k create -f "$WORK/config.yaml" >/dev/null
wait_for "config pod finished" 60 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod config -o jsonpath='{.status.phase}' | grep -Eq 'Succeeded|Failed'"
expect_eq "$(pod_phase config)" "Succeeded" "env and volumes from ConfigMap/Secret, emptyDir written by the init container, hostname = pod name"
expect_eq "$(k get pod config -o jsonpath='{.status.initContainerStatuses[0].state.terminated.exitCode}')" "0" "the init container ran first and exited 0"

# --- a ConfigMap volume follows the ConfigMap (atomic ..data swap on the next sync)
cat >"$WORK/watcher.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: watcher}
spec:
  volumes: [{name: cfg, configMap: {name: settings}}]
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], volumeMounts: [{name: cfg, mountPath: /etc/cfg}]}
EOF
k create -f "$WORK/watcher.yaml" >/dev/null
wait_for "watcher Running" 60 phase_is watcher Running
wuid=$(k get pod watcher -o jsonpath='{.metadata.uid}')
cfgfile="$WORK/data/kubelet/pods/$wuid/volumes/kubernetes.io~configmap/cfg/color"
expect_eq "$(cat "$cfgfile")" "blue" "the configMap volume holds the value"
k patch configmap settings -p '{"data":{"color":"green"}}' >/dev/null
file_is_green() { [ "$(cat "$cfgfile" 2>/dev/null)" == "green" ]; }
wait_for "configMap volume updated" 30 file_is_green
pass "a changed ConfigMap reaches the running pod's volume"

# --- resources and security context reach the container
cat >"$WORK/limits.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: limits}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1234, runAsGroup: 2345}
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'test "$(id -u):$(id -g)" = 1234:2345 && test "$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" = 67108864']
    resources: {limits: {memory: 64Mi, cpu: 500m}}
EOF
k create -f "$WORK/limits.yaml" >/dev/null
finished() { pod_phase "$1" | grep -Eq 'Succeeded|Failed'; }
wait_for "limits pod finished" 60 finished limits
expect_eq "$(pod_phase limits)" "Succeeded" "runAsUser/runAsGroup and the memory limit apply inside the container"
expect_eq "$(k get pod limits -o jsonpath='{.status.qosClass}')" "Guaranteed" "limits only: Guaranteed QoS"
cat >"$WORK/oom.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo ${#x}']
    resources: {limits: {memory: 16Mi}}
EOF
k create -f "$WORK/oom.yaml" >/dev/null
wait_for "oom pod finished" 60 finished oom
expect_eq "$(k get pod oom -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')" "OOMKilled" "a container over its memory limit shows OOMKilled"

# --- a crashing container: restarts with back-off, CrashLoopBackOff
k run crash --image=busybox:1.36 -- sh -c 'echo "crash run"; exit 3' >/dev/null
wait_for "crash restarted twice" 60 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod crash -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 2 ]"
pass "a crashing container is restarted (restartCount >= 2)"
wait_for "CrashLoopBackOff shown" 30 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod crash | grep -q CrashLoopBackOff"
pass "kubectl get pods shows CrashLoopBackOff"
expect_eq "$(k get pod crash -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode}')" "3" "lastState carries the exit code"
expect_contains "$(k logs crash --previous)" "crash run" "kubectl logs --previous shows the last terminated run"

# --- images: a missing image with pull policy Never, and a failed pull from a registry on loopback
k run neverpull --image=busybox:9.99 --image-pull-policy=Never >/dev/null
wait_for "ErrImageNeverPull" 30 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod neverpull | grep -q ErrImageNeverPull"
pass "a missing image with pullPolicy Never gives ErrImageNeverPull"
k run badpull --image=127.0.0.1:1/missing:1 >/dev/null
wait_for "ErrImagePull" 30 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod badpull | grep -Eq 'ErrImagePull|ImagePullBackOff'"
pass "an image that cannot be pulled gives ErrImagePull/ImagePullBackOff"

# --- pulling from a registry on loopback (plain HTTP, as containerd allows for localhost)
REG_PORT=$(free_port)
python3 "$(dirname "$0")/oci_registry.py" "$REG_PORT" "skiff/busybox:pulled=$(dirname "$SKIFF")/images/busybox.tar" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
BG_PIDS="$REG_PID"
wait_for "registry up" 10 grep -q ready "$WORK/registry.log"
k run pulled --image="127.0.0.1:$REG_PORT/skiff/busybox:pulled" --image-pull-policy=Always -- httpd -f -p 8080 >/dev/null
wait_for "pulled Running" 60 phase_is pulled Running
expect_contains "$(k get events --field-selector involvedObject.name=pulled,reason=Pulled -o jsonpath='{.items[*].message}')" "Successfully pulled image" "an image is pulled from a registry on loopback (Pulled event)"
kill "$REG_PID" 2>/dev/null || true

# --- a container killed from outside is restarted
cid=$(k get pod web -o jsonpath='{.status.containerStatuses[0].containerID}'); cid=${cid#containerd://}
pid=$(ctr --address "$WORK/data/containerd/containerd.sock" -n k8s.io task ls | awk -v id="$cid" '$1==id {print $2}')
[ -n "$pid" ] || fail "no task for the web container"
kill -9 "$pid"
wait_for "web restarted" 30 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod web -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 1 ]"
wait_for "web Running again" 30 sh -c "kubectl --kubeconfig $WORK/data/kubeconfig get pod web -o jsonpath='{.status.containerStatuses[0].state.running}' | grep -q startedAt"
pass "a container killed from outside is restarted"

# --- graceful deletion runs preStop and finishes well before the grace period
mkdir -p "$WORK/hostdata"
cat >"$WORK/graceful.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  terminationGracePeriodSeconds: 20
  volumes: [{name: out, hostPath: {path: $WORK/hostdata, type: Directory}}]
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "trap 'echo term > /out/term; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle: {preStop: {exec: {command: [sh, -c, "echo prestop > /out/prestop"]}}}
    volumeMounts: [{name: out, mountPath: /out}]
EOF
k create -f "$WORK/graceful.yaml" >/dev/null
wait_for "graceful Running" 60 phase_is graceful Running
start=$(date +%s)
k delete pod graceful --wait=true --timeout=60s >/dev/null
took=$(( $(date +%s) - start ))
expect_eq "$(cat "$WORK/hostdata/prestop" 2>/dev/null)" "prestop" "preStop ran before the container was stopped"
expect_eq "$(cat "$WORK/hostdata/term" 2>/dev/null)" "term" "the container got SIGTERM"
[ "$took" -lt 15 ] || fail "deletion took ${took}s although the container exits on SIGTERM"
pass "the pod is gone once its container exited (${took}s)"

# --- probes: a failing liveness probe restarts, readiness gates Ready
cat >"$WORK/probes.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: probes}
spec:
  containers:
  - name: live
    image: busybox:1.36
    command: [sh, -c, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"]
    livenessProbe: {exec: {command: [test, -e, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
  - name: unready
    image: busybox:1.36
    command: [httpd, -f, -p, "8081"]
    readinessProbe: {httpGet: {path: /missing, port: 8081}, periodSeconds: 1}
  - name: ready
    image: busybox:1.36
    command: [httpd, -f, -p, "8082"]
    readinessProbe: {tcpSocket: {port: 8082}, periodSeconds: 1}
EOF
k create -f "$WORK/probes.yaml" >/dev/null
cs() { k get pod probes -o jsonpath="{.status.containerStatuses[?(@.name==\"$1\")].$2}"; }
restarts_at_least() { [ "$(cs "$1" restartCount)" -ge "$2" ]; }
is_ready() { [ "$(cs "$1" ready)" == "true" ]; }
wait_for "liveness restart" 60 restarts_at_least live 1
pass "a failing liveness probe restarts the container"
wait_for "tcp readiness" 30 is_ready ready
pass "a passing tcpSocket readiness probe makes its container ready"
expect_eq "$(cs unready ready)" "false" "a failing httpGet readiness probe keeps its container unready"
expect_eq "$(cs unready restartCount)" "0" "a failing readiness probe does not restart"
expect_eq "$(k get pod probes -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" "False" "the pod stays Ready=False"
expect_contains "$(k get events --field-selector involvedObject.name=probes,reason=Unhealthy -o jsonpath='{.items[*].message}')" "HTTP probe failed with statuscode: 404" "an Unhealthy event names the probe failure"

# --- stopping skiff up removes every pod it ran
stop_server
if [ "$(node_leftovers)" != "shims=0 mounts=0 netns=0" ]; then
  echo "--- leftovers: $(node_leftovers); new netns: $(comm -13 <(echo "$NETNS_BEFORE") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) | tr '\n' ' ')" >&2
  grep -E 'cleanup|removed every|failed' "$WORK/server.log" | tail -20 >&2
fi
expect_eq "$(node_leftovers)" "shims=0 mounts=0 netns=0" "stopping skiff up leaves no container, mount or network namespace"
finish
