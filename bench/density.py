#!/usr/bin/env python3
"""Density: DEPLOYMENTS Deployments of REPLICAS pods each, creation to all Running.

Usage: density.py DATA_DIR NAMESPACE DEPLOYMENTS REPLICAS
  DATA_DIR   a skiff data dir (tls/ca.crt, tls/admin.crt, tls/admin.key, kubeconfig)
Creates the Deployments (pods request cpu 10m / memory 16Mi), then follows one watch on the
namespace's pods. A pod's startup latency is from the first time the watch shows it (the
ReplicaSet controller created it) to the first time it shows phase Running, upstream's
pod-startup measurement without image pulls. Prints one JSON line.
"""
import json
import sys
import threading
import time

from bench_client import connector, percentile


def main():
    data_dir, ns, deployments, replicas = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    total = deployments * replicas
    conn = connector(data_dir, timeout=900)

    def call(c, method, path, body=None):
        c.request(method, path, json.dumps(body) if body is not None else None,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {r.status} {data[:200]!r}")
        return json.loads(data)

    c = conn()
    rv = call(c, "GET", f"/api/v1/namespaces/{ns}/pods?limit=1")["metadata"]["resourceVersion"]
    w = conn()
    w.request("GET", f"/api/v1/namespaces/{ns}/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=false")
    stream = w.getresponse()
    seen, running = {}, {}
    done = threading.Event()

    def watch():
        for line in stream:
            ev = json.loads(line)
            if ev.get("type") not in ("ADDED", "MODIFIED"):
                continue
            pod = ev["object"]
            name = pod["metadata"]["name"]
            now = time.monotonic()
            seen.setdefault(name, now)
            if pod.get("status", {}).get("phase") == "Running" and name not in running:
                running[name] = now
                if len(running) >= total:
                    done.set()
                    return
        done.set()

    threading.Thread(target=watch, daemon=True).start()

    start = time.monotonic()
    for d in range(deployments):
        name = f"density-{d}"
        call(c, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name, "bench": "density"}},
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                        "name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
                },
            },
        })
    created = time.monotonic() - start
    if not done.wait(900) or len(running) < total:
        raise SystemExit(f"only {len(running)} of {total} pods Running after 900 s")
    elapsed = time.monotonic() - start
    lat = sorted(running[n] - seen[n] for n in running)

    def pct(p):
        return percentile(lat, p, 2)

    print(json.dumps({"pods": total, "deployments_created_s": round(created, 2),
                      "all_running_s": round(elapsed, 1), "pods_per_s": round(total / elapsed, 1),
                      "startup_p50_s": pct(50), "startup_p90_s": pct(90), "startup_p99_s": pct(99),
                      "startup_max_s": round(lat[-1], 2)}))


if __name__ == "__main__":
    main()
