#!/usr/bin/env python3
"""Single-object GET latency while something else loads the API server (issue 22 §4: the p99
of a single get during a density ramp).

Usage: get_prober.py DATA_DIR PATH [INTERVAL_MS]
Gets PATH every INTERVAL_MS (default 50; a slow answer delays the next request, nothing is
skipped) on one keep-alive HTTPS connection as admin until SIGTERM or SIGINT, then prints one
JSON line: requests, errors, and the latency p50/p90/p99/max in ms. A process of its own, so
the density bench's watch parsing cannot hold this one's interpreter lock and inflate it.
"""
import http.client
import json
import signal
import sys
import time

from bench_client import connector, percentile


def main():
    data_dir, path = sys.argv[1], sys.argv[2]
    interval = (int(sys.argv[3]) if len(sys.argv) > 3 else 50) / 1000
    conn = connector(data_dir, timeout=60)
    lat, errors = [], [0]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    c = conn()
    nxt = time.monotonic()
    while not stop:
        start = time.monotonic()
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors[0] += 1
            else:
                lat.append((time.monotonic() - start) * 1000)
        except (OSError, http.client.HTTPException) as e:  # reconnect on a dropped connection
            errors[0] += 1
            print(f"get_prober: {e!r}", file=sys.stderr)
            c.close()
            c = conn()
        nxt = max(nxt + interval, time.monotonic())
        time.sleep(max(0.0, nxt - time.monotonic()))
    lat.sort()
    out = {"requests": len(lat) + errors[0], "errors": errors[0]}
    if lat:
        out.update({"p50_ms": percentile(lat, 50, 1), "p90_ms": percentile(lat, 90, 1),
                    "p99_ms": percentile(lat, 99, 1), "max_ms": round(lat[-1], 1)})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
