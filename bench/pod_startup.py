#!/usr/bin/env python3
"""Pod startup latency on one real node: creation → Running, as seen by a watch.

Usage: pod_startup.py KUBECONFIG_DIR NODE COUNT MODE
  KUBECONFIG_DIR  a skiff data dir (tls/ca.crt, tls/admin.crt, tls/admin.key, kubeconfig)
  MODE            "serial" (one pod at a time: pure latency) or "burst" (COUNT pods at once)
Prints one JSON line: per-pod latencies (seconds) with p50/p90/p99/max.

       pod_startup.py --timeline < LINES
Summarises the kubelet's debug lines "kubelet timing pod=NS/NAME phase=PHASE ms=N" (one per
runtime call) into p50/p99/max per phase, printed as one JSON line.
The image must already be on the node (skiff's busybox), as upstream's SLO excludes pulls.
"""
import json
import sys
import threading
import time

from bench_client import connector, percentile


def timeline():
    phases = {}
    for line in sys.stdin:
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "phase" in fields and "ms" in fields:
            phases.setdefault(fields["phase"], []).append(float(fields["ms"]) / 1000)
    out = {}
    for phase, values in phases.items():
        values.sort()
        out[phase] = {"n": len(values), "p50": percentile(values, 50, 3), "p99": percentile(values, 99, 3),
                      "max": round(values[-1], 3)}
    print(json.dumps({"timeline_seconds": out}))


def main():
    if sys.argv[1:] == ["--timeline"]:
        return timeline()
    data_dir, node, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    conn = connector(data_dir, timeout=120)

    created, running = {}, {}
    lock = threading.Condition()

    # One watch from now on; Running is recorded the first time a pod shows it.
    c = conn()
    c.request("GET", "/api/v1/namespaces/default/pods?limit=1")
    rv = json.loads(c.getresponse().read())["metadata"]["resourceVersion"]
    w = conn()
    w.request("GET", f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}&labelSelector=bench%3Dstartup")
    stream = w.getresponse()

    def watch():
        for line in stream:
            ev = json.loads(line)
            pod = ev["object"]
            name = pod["metadata"]["name"]
            if pod.get("status", {}).get("phase") == "Running":
                with lock:
                    if name not in running:
                        running[name] = time.monotonic()
                        lock.notify_all()

    threading.Thread(target=watch, daemon=True).start()

    def create(i, client):
        name = f"startup-{mode}-{i}"
        body = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
        }
        t = time.monotonic()
        client.request("POST", "/api/v1/namespaces/default/pods", json.dumps(body), {"Content-Type": "application/json"})
        r = client.getresponse()
        r.read()
        if r.status != 201:
            raise SystemExit(f"create {name}: HTTP {r.status}")
        with lock:
            created[name] = t
        return name

    client = conn()
    if mode == "serial":
        for i in range(count):
            name = create(i, client)
            with lock:
                if not lock.wait_for(lambda: name in running, timeout=120):
                    raise SystemExit(f"{name} not Running after 120 s")
    else:
        for i in range(count):
            create(i, client)
        with lock:
            if not lock.wait_for(lambda: len(running) >= count, timeout=300):
                raise SystemExit(f"only {len(running)} of {count} Running after 300 s")

    lat = sorted(running[n] - created[n] for n in created)

    def pct(p):
        return percentile(lat, p, 3)

    print(json.dumps({"mode": mode, "pods": count, "p50": pct(50), "p90": pct(90), "p99": pct(99),
                      "max": round(lat[-1], 3)}))


if __name__ == "__main__":
    main()
