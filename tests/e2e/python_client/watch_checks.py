"""Watches through kubernetes.watch.Watch().stream: initial state, live events with a label
selector, resuming from a resourceVersion, and 410 Gone once a resourceVersion is older than
the server's watch history."""
import json
import threading
import time

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from check import eq, ok

# skiff's watch cache keeps the last 10,000 events of each resource (watch_cache.h); a watch
# from before them is answered 410 Expired, as upstream's cacher does past its window.
HISTORY = 10000


def cm(name, labels=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels))


def collect(w, events, until):
    got = []
    for ev in events:
        got.append((ev["type"], ev["object"].metadata.name))
        if until(ev):
            w.stop()
    return got


def run(ns):
    v1 = client.CoreV1Api()
    initial_state(v1, ns)
    live_events(v1, ns)
    resume(v1, ns)
    gone(v1, ns)


def initial_state(v1, ns):
    v1.create_namespaced_config_map(ns, cm("w-initial"))
    w = watch.Watch()
    first = None
    for ev in w.stream(v1.list_namespaced_config_map, ns,
                       field_selector="metadata.name=w-initial", timeout_seconds=10):
        first = ev
        w.stop()
    ok(first is not None, "a watch without resourceVersion starts with the current state")
    eq((first["type"], first["object"].metadata.name), ("ADDED", "w-initial"),
       "the current state arrives as ADDED")
    ok(isinstance(first["object"], client.V1ConfigMap) and isinstance(first["raw_object"], dict),
       "events carry the typed object and the raw dict")


def live_events(v1, ns):
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    def writes():
        time.sleep(0.5)
        v1.create_namespaced_config_map(ns, cm("w-no", {"w": "no"}))
        v1.create_namespaced_config_map(ns, cm("w-yes", {"w": "yes"}))
        v1.patch_namespaced_config_map("w-yes", ns, {"data": {"k": "v"}})
        v1.delete_namespaced_config_map("w-yes", ns)

    writer = threading.Thread(target=writes)
    writer.start()
    w = watch.Watch()
    got = collect(w, w.stream(v1.list_namespaced_config_map, ns, label_selector="w=yes",
                              resource_version=rv, timeout_seconds=20),
                  lambda ev: ev["type"] == "DELETED")
    writer.join()
    eq(got, [("ADDED", "w-yes"), ("MODIFIED", "w-yes"), ("DELETED", "w-yes")],
       "live ADDED, MODIFIED, DELETED events, filtered by a label selector")
    ok(int(w.resource_version) > int(rv), "the Watch tracks the resourceVersion of its events")


def resume(v1, ns):
    before = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.create_namespaced_config_map(ns, cm("r1", {"r": "yes"}))
    v1.patch_namespaced_config_map("r1", ns, {"metadata": {"annotations": {"x": "1"}}})
    v1.delete_namespaced_config_map("r1", ns)
    w = watch.Watch()
    got = collect(w, w.stream(v1.list_namespaced_config_map, ns, label_selector="r=yes",
                              resource_version=before, timeout_seconds=10),
                  lambda ev: ev["type"] == "DELETED")
    eq(got, [("ADDED", "r1"), ("MODIFIED", "r1"), ("DELETED", "r1")],
       "a watch from an older resourceVersion replays what happened since")

    # Resume where the last watch stopped: only what happened after it arrives.
    last = w.resource_version
    v1.create_namespaced_config_map(ns, cm("r2", {"r": "yes"}))
    w2 = watch.Watch()
    got = collect(w2, w2.stream(v1.list_namespaced_config_map, ns, label_selector="r=yes",
                                resource_version=last, timeout_seconds=10), lambda ev: True)
    eq(got, [("ADDED", "r2")], "resuming from the last event's resourceVersion skips the rest")

    # The server ends a watch at timeoutSeconds; the generator ends with it.
    start = time.time()
    events = list(watch.Watch().stream(v1.list_namespaced_config_map, ns, label_selector="none=x",
                                       timeout_seconds=1))
    ok(not events and time.time() - start < 5, "a watch ends after timeoutSeconds",
       time.time() - start)


def churn(v1, ns, writes):
    """`writes` configmap updates from 8 threads (answers not parsed, to be quick)."""
    def worker(i, n):
        name = "churn-%d" % i
        v1.create_namespaced_config_map(ns, cm(name))
        for j in range(n - 1):
            r = v1.patch_namespaced_config_map(name, ns, {"data": {"n": str(j)}},
                                               _preload_content=False)
            r.read()  # the connection goes back to the pool only once drained
            r.release_conn()
    threads = [threading.Thread(target=worker, args=(i, writes // 8 + 1)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def gone(v1, ns):
    old = v1.list_namespaced_config_map(ns).metadata.resource_version
    start = time.time()
    churn(v1, ns, HISTORY + 100)
    print("# %d configmap writes took %.1fs" % (HISTORY + 100, time.time() - start), flush=True)

    # On the wire (as upstream's cacher answers): the watch is accepted and its one event is an
    # ERROR carrying a 410 Expired Status.
    try:
        resp = v1.list_namespaced_config_map(ns, watch=True, resource_version=old,
                                             timeout_seconds=5, _preload_content=False)
        eq(resp.status, 200, "a watch from a resourceVersion past the history is accepted")
        ev = json.loads(next(iter_resp_lines(resp)))
        resp.release_conn()
        eq((ev["type"], ev["object"]["kind"], ev["object"]["code"], ev["object"]["reason"]),
           ("ERROR", "Status", 410, "Expired"),
           "its only event is an ERROR with a 410 Expired Status")
    except ApiException as e:
        ok(False, "a watch from a resourceVersion past the history is accepted, then ends with "
           "an ERROR event", "answered HTTP %s: %s" % (e.status, e.body))

    try:
        list(watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=old,
                                  timeout_seconds=5))
        ok(False, "Watch().stream raises ApiException(410) for an expired resourceVersion")
    except ApiException as e:
        eq(e.status, 410, "Watch().stream raises ApiException(410) for an expired resourceVersion")
    # Without timeout_seconds the client retries once from the same point, then gives up.
    try:
        list(watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=old))
        ok(False, "the retry after a 410 fails the same way")
    except ApiException as e:
        eq(e.status, 410, "the client's one retry after a 410 fails the same way")

    # Recovery as the client's docs say: list again and watch from there.
    fresh = v1.list_namespaced_config_map(ns, label_selector="after=gone").metadata.resource_version
    v1.create_namespaced_config_map(ns, cm("after-gone", {"after": "gone"}))
    w = watch.Watch()
    got = collect(w, w.stream(v1.list_namespaced_config_map, ns, label_selector="after=gone",
                              resource_version=fresh, timeout_seconds=10), lambda ev: True)
    eq(got, [("ADDED", "after-gone")], "after a 410, list and watch from the new resourceVersion")
