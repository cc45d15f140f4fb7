#!/usr/bin/env bash
# Status-write cost: the API server's CPU time per pod status merge patch (what every kubelet
# and hollow node sends for each pod), 8 client threads, no watchers. `skiff apiserver` runs
# alone on the memory store so no scheduler or controller shares the measurement.
# Usage: bench/status_patch.sh PATH_TO_SKIFF [PODS=500] [PATCHES=6000]
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [PODS] [PATCHES]}"); P=${2:-500}; N=${3:-6000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/bench_lib.sh"
WORK=$(mktemp -d)
API=""
trap 'kill $API 2>/dev/null; wait 2>/dev/null; rm -rf $WORK' EXIT
start_memory_apiserver "$SKIFF" "$WORK"
python3 - "$WORK/data" "$P" "$N" "$HERE" "$API" <<'PY'
import sys, json, threading, time, os
sys.path.insert(0, sys.argv[4])
from bench_client import connector
data, pods, patches, api = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[5]
conn = connector(data, 60)
def cpu():
    f = open(f"/proc/{api}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def create(k):
    c = conn()
    for i in range(k, pods, 8):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "labels": {"app": "x"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}
        c.request("POST", "/api/v1/namespaces/default/pods", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse(); r.read(); assert r.status == 201, r.status
def patch(k):
    c = conn()
    for j in range(k, patches, 8):
        i = j % pods
        ready = "True" if (j // pods) % 2 == 0 else "False"
        status = {"status": {"phase": "Running", "podIP": f"10.0.{i // 250}.{i % 250 + 1}", "hostIP": "10.1.0.1",
                  "startTime": "2026-12-03T10:00:00Z",
                  "conditions": [{"type": t, "status": ready if t in ("Ready", "ContainersReady") else "True",
                                  "lastTransitionTime": "2026-12-03T10:00:01Z"}
                                 for t in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled")],
                  "containerStatuses": [{"name": "c", "ready": ready == "True", "restartCount": 0, "started": True,
                                         "image": "docker.io/library/busybox:1.36", "imageID": "sha256:0123",
                                         "containerID": f"containerd://{i:064x}",
                                         "state": {"running": {"startedAt": "2026-12-03T10:00:01Z"}}}]}}
        c.request("PATCH", f"/api/v1/namespaces/default/pods/p{i}/status", json.dumps(status),
                  {"Content-Type": "application/merge-patch+json"})
        r = c.getresponse(); r.read(); assert r.status == 200, (r.status, r.read())
def run(fn):
    ts = [threading.Thread(target=fn, args=(k,)) for k in range(8)]
    [t.start() for t in ts]; [t.join() for t in ts]
run(create)
time.sleep(1)
c0, t0 = cpu(), time.monotonic()
run(patch)
c1, t1 = cpu(), time.monotonic()
print(json.dumps({"pods": pods, "patches": patches, "patches_per_s": round(patches / (t1 - t0)),
                  "server_cpu_s": round(c1 - c0, 2), "server_us_per_patch": round((c1 - c0) / patches * 1e6, 1)}))
PY
