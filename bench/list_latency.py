#!/usr/bin/env python3
"""List latency of every pod, paginated as kubectl and informers list (limit=500, continue
tokens), as JSON and as a Table (what `kubectl get` asks for).

Usage: list_latency.py DATA_DIR [ROUNDS]
Each round walks /api/v1/pods?limit=500 to the end once per format on one keep-alive HTTPS
connection as admin. Bodies are read whole but not parsed beyond the continue token, so the
time is the server's and the transfer's, not this interpreter's. Prints one JSON line per
format: pages, MB, the walk's median and range over the rounds, page p50/p99 in ms.
"""
import json
import re
import sys
import time

from bench_client import connector, percentile

FORMATS = {
    "json": "application/json",
    "table": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
             "g=meta.k8s.io,application/json",
}
CONTINUE = re.compile(rb'"continue":"([^"]*)"')


def walk(c, accept):
    pages, size, page_ms, token = 0, 0, [], ""
    start = time.monotonic()
    while True:
        t = time.monotonic()
        path = "/api/v1/pods?limit=500" + (f"&continue={token}" if token else "")
        c.request("GET", path, headers={"Accept": accept})
        r = c.getresponse()
        body = r.read()
        page_ms.append((time.monotonic() - t) * 1000)
        if r.status != 200:
            raise SystemExit(f"GET {path}: HTTP {r.status} {body[:200]!r}")
        pages += 1
        size += len(body)
        m = CONTINUE.search(body, 0, 4096)
        token = m.group(1).decode() if m else ""
        if not token:
            return time.monotonic() - start, pages, size, page_ms


def main():
    data_dir = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    c = connector(data_dir, timeout=600)()
    results = {f: [] for f in FORMATS}
    for _ in range(rounds):
        for f, accept in FORMATS.items():  # interleaved, so drift hits both alike
            results[f].append(walk(c, accept))
    for f, runs in results.items():
        walls = sorted(r[0] for r in runs)
        pages = sorted(ms for r in runs for ms in r[3])
        print(json.dumps({"format": f, "pages": runs[0][1], "mb": round(runs[0][2] / 1e6, 1),
                          "walk_median_s": round(walls[len(walls) // 2], 2),
                          "walk_min_s": round(walls[0], 2), "walk_max_s": round(walls[-1], 2),
                          "page_p50_ms": percentile(pages, 50, 1),
                          "page_p99_ms": percentile(pages, 99, 1)}))


if __name__ == "__main__":
    main()
