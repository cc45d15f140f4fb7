#!/usr/bin/env python3
"""Node Lease freshness while something else loads the API server (issue 22 §4: at 5,000 hollow
nodes the heartbeats fell behind and 2,000 nodes went NotReady mid-ramp).

Usage: lease_age.py DATA_DIR [INTERVAL_S]
Lists kube-node-lease every INTERVAL_S (default 10) until SIGTERM or SIGINT, and for each list
takes every Lease's age (now - spec.renewTime). Prints one JSON line: samples, the worst age
seen, the median of the per-sample oldest ages, and the most Leases that were older than their
leaseDurationSeconds in one sample (each such node is a NodeNotReady the node lifecycle
controller may act on).
"""
import datetime
import http.client
import json
import signal
import sys
import time

from bench_client import connector, percentile

PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def age_seconds(renew_time, now):
    # MicroTime: 2026-12-07T04:40:00.123456Z
    t = datetime.datetime.strptime(renew_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    return now - t.replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    data_dir = sys.argv[1]
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    conn = connector(data_dir, timeout=120)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    oldest, expired, errors = [], [], 0
    c = conn()
    while not stop:
        try:
            c.request("GET", PATH)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise http.client.HTTPException(f"status {r.status}")
            now = time.time()
            ages, late = [], 0
            for lease in json.loads(body)["items"]:
                spec = lease.get("spec", {})
                if "renewTime" not in spec:
                    continue
                a = age_seconds(spec["renewTime"], now)
                ages.append(a)
                late += a > spec.get("leaseDurationSeconds", 40)
            if ages:
                oldest.append(max(ages))
                expired.append(late)
        except (OSError, http.client.HTTPException, ValueError) as e:
            errors += 1
            print(f"lease_age: {e!r}", file=sys.stderr)
            c.close()
            c = conn()
        deadline = time.monotonic() + interval
        while not stop and time.monotonic() < deadline:
            time.sleep(0.2)
    out = {"samples": len(oldest), "errors": errors}
    if oldest:
        out.update({"oldest_age_max_s": round(max(oldest), 1),
                    "oldest_age_p50_s": percentile(sorted(oldest), 50, 1),
                    "expired_max": max(expired)})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
