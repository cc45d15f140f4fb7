#!/usr/bin/env bash
# Server CPU per request on the path users run: `skiff server` (all control-plane components)
# on the sqlite store, over TLS with the admin client certificate, keep-alive connections.
# The client is Python (it cannot saturate the server), so the figure that compares builds is
# the server's CPU time per request (utime+stime from /proc before and after each phase);
# client-side requests/s is printed too, as context only.
# After creates and gets, every object is patched once with a merge patch and once with a
# server-side apply (forced, field manager "bench"), each changing one data key: the CPU of
# an apply next to the merge patch it replaces in a client's workflow.
# Who asks (env AUTH):
#   AUTH=cert  (default) the admin client certificate. The admin is in system:masters, which the
#              authorizer chain allows before any mode, so this never reaches RBAC.
#   AUTH=token a ServiceAccount token (`kubectl create token`) of default/bench, bound by a
#              RoleBinding in "default" (where every request of this script goes) to ClusterRole
#              edit; no client certificate. Each request: JWT authentication (verified signatures
#              are cached per token) -> the --authorization-mode chain (default Node,RBAC).
# SERVER_ARGS: extra flags for `skiff server`, e.g. "--authorization-mode AlwaysAllow".
# Usage: [AUTH=token] [SERVER_ARGS=...] bench/tls_requests.sh PATH_TO_SKIFF [CREATES=6000] [GETS=12000] [CONNECTIONS=8]
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [CREATES] [GETS] [CONNECTIONS]}")
CREATES=${2:-6000}; GETS=${3:-12000}; CONNS=${4:-8}
AUTH=${AUTH:-cert}
[ "$AUTH" = cert ] || [ "$AUTH" = token ] || { echo "AUTH must be cert or token" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/bench_lib.sh"
WORK=$(mktemp -d)
port=$(free_port)
# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
"$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$port" ${SERVER_ARGS:-} >"$WORK/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait 2>/dev/null; rm -rf $WORK' EXIT
for _ in $(seq 100); do
  [ -f "$WORK/data/kubeconfig" ] && kubectl --kubeconfig "$WORK/data/kubeconfig" get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.1
done
TOKEN=
if [ "$AUTH" = token ]; then
  k() { kubectl --kubeconfig "$WORK/data/kubeconfig" -n default "$@" >/dev/null; }
  k create serviceaccount bench
  k create rolebinding bench-edit --clusterrole edit --serviceaccount default:bench
  TOKEN=$(kubectl --kubeconfig "$WORK/data/kubeconfig" -n default create token bench --duration 2h)
fi
sleep 3  # let start-up work (bootstrap objects, local APIServices, informers' first lists) settle
BENCH_TOKEN=$TOKEN python3 - "$WORK/data" "$SERVER" "$CREATES" "$GETS" "$CONNS" "$HERE" <<'PY'
import json, os, sys, threading, time
data_dir, pid, creates, gets, conns, here = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:6]), sys.argv[6]
sys.path.insert(0, here)
from bench_client import connector
token = os.environ.get("BENCH_TOKEN") or None
connect = connector(data_dir, 30, token)
if token:  # who the server sees, and that the authorizers are really asked: nodes are not edit's
    c = connect()
    c.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
              json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    user = json.loads(r.read())["status"]["userInfo"]["username"]
    c.request("GET", "/api/v1/nodes")
    r = c.getresponse(); r.read()
    print(f"token user {user}; GET /api/v1/nodes -> {r.status}")
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def phase(name, n, request):
    per = n // conns
    def worker(w):
        c = connect()
        for i in range(per):
            request(c, w * per + i)
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
    c0, t0 = cpu(), time.time()
    for t in threads: t.start()
    for t in threads: t.join()
    c1, t1 = cpu(), time.time()
    done = per * conns
    print(f"{name:8} n={done:6}  server CPU {1e6 * (c1 - c0) / done:7.1f} us/request   client-side {done / (t1 - t0):7.0f} req/s")

def create(c, i):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"},
                       "data": {"k": "v" * 200}})
    c.request("POST", "/api/v1/namespaces/default/configmaps", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status

def get(c, i):
    c.request("GET", f"/api/v1/namespaces/default/configmaps/cm-{i % creates}")
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status

def merge(c, i):
    body = json.dumps({"data": {"merged": str(i)}})
    c.request("PATCH", f"/api/v1/namespaces/default/configmaps/cm-{i}", body,
              {"Content-Type": "application/merge-patch+json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status

def apply(c, i):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"},
                       "data": {"applied": str(i)}})
    c.request("PATCH", f"/api/v1/namespaces/default/configmaps/cm-{i}?fieldManager=bench&force=true",
              body, {"Content-Type": "application/apply-patch+yaml"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status

phase("create", creates, create)
phase("get", gets, get)
phase("merge", creates, merge)
phase("apply", creates, apply)
PY
