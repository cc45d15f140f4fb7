#!/usr/bin/env python3
"""Density: DEPLOYMENTS Deployments of REPLICAS pods each, creation to all Running.

Usage: density.py DATA_DIR NAMESPACE DEPLOYMENTS REPLICAS
  DATA_DIR   a skiff data dir (tls/ca.crt, tls/admin.crt, tls/admin.key, kubeconfig)
Creates the Deployments (pods request cpu 10m / memory 16Mi), then follows one watch on the
namespace's pods. A pod's startup latency is from the first time the watch shows it (the
ReplicaSet controller created it) to the first time it shows phase Running, upstream's
pod-startup measurement without image pulls. The scheduler's throughput is read off the same
watch: the first time each pod shows a spec.nodeName, as a mean over the ramp and the best
5-second window. Prints one JSON line.
"""
import json
import re
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
    seen, bound, running = {}, {}, {}
    done = threading.Event()
    # At 150,000 pods the watch carries ~600,000 events of ~4 KB: find the three facts by
    # pattern (a pod's metadata starts with its name as skiff writes it) and parse only what
    # does not match, so this client stays a small share of the two cores it shares.
    name_re = re.compile(rb'^\{"type":"(ADDED|MODIFIED)","object":\{[^{]*?"metadata":\{"name":"([^"]+)"')

    def facts(line):
        m = name_re.match(line)
        if m:
            return m.group(2).decode(), b'"nodeName":"' in line, b'"phase":"Running"' in line
        ev = json.loads(line)
        if ev.get("type") not in ("ADDED", "MODIFIED"):
            return None
        pod = ev["object"]
        return (pod["metadata"]["name"], bool(pod.get("spec", {}).get("nodeName")),
                pod.get("status", {}).get("phase") == "Running")

    def watch():
        for line in stream:
            f = facts(line)
            if not f:
                continue
            name, has_node, is_running = f
            now = time.monotonic()
            seen.setdefault(name, now)
            if has_node:
                bound.setdefault(name, now)
            if is_running and name not in running:
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

    binds = sorted(bound.values())
    span = binds[-1] - binds[0] if len(binds) > 1 else 0
    best, j = 0, 0
    for i, t in enumerate(binds):  # the most binds seen within any 5 s
        while binds[j] < t - 5:
            j += 1
        best = max(best, i - j + 1)

    print(json.dumps({"pods": total, "deployments_created_s": round(created, 2),
                      "all_running_s": round(elapsed, 1), "pods_per_s": round(total / elapsed, 1),
                      "startup_p50_s": pct(50), "startup_p90_s": pct(90), "startup_p99_s": pct(99),
                      "startup_max_s": round(lat[-1], 2),
                      "scheduled_per_s_mean": round(len(binds) / span, 1) if span else None,
                      "scheduled_per_s_best_5s": round(best / 5, 1)}))


if __name__ == "__main__":
    main()
