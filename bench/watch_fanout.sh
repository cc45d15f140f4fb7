#!/usr/bin/env bash
# Watch fan-out cost: the API server's CPU time for N pod creates (8 client threads) while W
# watchers (curl, TLS, output discarded) follow all pods. Run with W=0 and W>0: the
# difference over N*W is the server's cost of sending one event to one watcher.
# Usage: bench/watch_fanout.sh PATH_TO_SKIFF [WATCHERS=20] [PODS=3000]
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [WATCHERS] [PODS]}"); W=${2:-20}; N=${3:-3000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/bench_lib.sh"
WORK=$(mktemp -d)
API=""
trap 'kill $API $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf $WORK' EXIT
start_memory_apiserver "$SKIFF" "$WORK"
D=$WORK/data/tls
PORT=$(sed -n 's|.*server: https://127.0.0.1:\([0-9]*\).*|\1|p' $WORK/data/kubeconfig)
for i in $(seq $W); do curl -sN --cacert $D/ca.crt --cert $D/admin.crt --key $D/admin.key "https://127.0.0.1:$PORT/api/v1/pods?watch=1" >/dev/null & done
sleep 1
t0=$(awk '{print $14+$15}' /proc/$API/stat)
python3 - "$WORK/data" "$N" "$HERE" <<'PY'
import sys, json, threading
sys.path.insert(0, sys.argv[3])
from bench_client import connector
conn = connector(sys.argv[1], 60); n = int(sys.argv[2])
def work(k):
    c = conn()
    for i in range(k, n, 8):
        body = {"apiVersion":"v1","kind":"Pod","metadata":{"name":f"p{i}","labels":{"app":"x"}},
                "spec":{"containers":[{"name":"c","image":"busybox:1.36","command":["sleep","3600"],
                "resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}
        c.request("POST","/api/v1/namespaces/default/pods",json.dumps(body),{"Content-Type":"application/json"})
        r=c.getresponse(); r.read(); assert r.status==201, r.status
ts=[threading.Thread(target=work,args=(k,)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
sleep 2
t1=$(awk '{print $14+$15}' /proc/$API/stat)
echo "server CPU: $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) )) ms for $N creates, $W watchers"
