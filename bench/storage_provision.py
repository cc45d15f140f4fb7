#!/usr/bin/env python3
"""Dynamic provisioning latency on one real node: a PersistentVolumeClaim of the default class
(local-path, WaitForFirstConsumer) and a pod using it are created together; a watch records
when the claim turns Bound and when the pod turns Running.

Usage: storage_provision.py DATA_DIR COUNT MODE
  DATA_DIR  a skiff data dir (kubeconfig, tls/ca.crt, tls/admin.crt, tls/admin.key)
  MODE      "serial" (one claim+pod at a time: pure latency) or "burst" (COUNT at once)
Prints one JSON line: p50/p90/p99/max of created→Bound and created→Running, in seconds.
"""
import json
import sys
import threading
import time

from bench_client import connector, percentile

NS = "default"


def main():
    data_dir, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conn = connector(data_dir, timeout=120)
    created, bound, running = {}, {}, {}
    lock = threading.Condition()

    def start_watch(path, seen, done):
        c = conn()
        c.request("GET", f"{path}?limit=1")
        rv = json.loads(c.getresponse().read())["metadata"]["resourceVersion"]
        w = conn()
        w.request("GET", f"{path}?watch=1&resourceVersion={rv}&labelSelector=bench%3Dprovision")
        stream = w.getresponse()

        def loop():
            for line in stream:
                obj = json.loads(line)["object"]
                name = obj["metadata"]["name"]
                if done(obj):
                    with lock:
                        if name not in seen:
                            seen[name] = time.monotonic()
                            lock.notify_all()

        threading.Thread(target=loop, daemon=True).start()

    start_watch(f"/api/v1/namespaces/{NS}/persistentvolumeclaims", bound,
                lambda o: o.get("status", {}).get("phase") == "Bound")
    start_watch(f"/api/v1/namespaces/{NS}/pods", running,
                lambda o: o.get("status", {}).get("phase") == "Running")

    client = conn()

    def post(path, body):
        client.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = client.getresponse()
        r.read()
        if r.status != 201:
            raise SystemExit(f"POST {path}: HTTP {r.status}")

    def create(i):
        name = f"prov-{mode}-{i}"
        labels = {"bench": "provision"}
        t = time.monotonic()
        post(f"/api/v1/namespaces/{NS}/persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}})
        post(f"/api/v1/namespaces/{NS}/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]}})
        with lock:
            created[name] = t
        return name

    def all_done(names):
        return all(n in bound and n in running for n in names)

    if mode == "serial":
        for i in range(count):
            name = create(i)
            with lock:
                if not lock.wait_for(lambda: all_done([name]), timeout=120):
                    raise SystemExit(f"{name}: not Bound and Running after 120 s")
    else:
        names = [create(i) for i in range(count)]
        with lock:
            if not lock.wait_for(lambda: all_done(names), timeout=300):
                raise SystemExit(f"{len(running)} Running, {len(bound)} Bound of {count} after 300 s")

    out = {"mode": mode, "claims": count}
    for what, seen in (("bound", bound), ("running", running)):
        lat = sorted(seen[n] - created[n] for n in created)
        out[what] = {"p50": percentile(lat, 50, 3), "p90": percentile(lat, 90, 3),
                     "p99": percentile(lat, 99, 3), "max": round(lat[-1], 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
