#!/usr/bin/env bash
# Hardening: private file modes, encryption at rest (and its rotation), YAML alias limits,
# connection and in-flight limits (docs/architecture.md, Hardening).
source "$(dirname "$0")/lib.sh"
DATA=$WORK/data
start_server

# A slow-header client: half a request line, then nothing. The server must drop it after its
# header timeout (30 s) while serving everyone else; checked at the end of this server run.
python3 - "$PORT" "$DATA/tls/ca.crt" >"$WORK/slow.out" 2>&1 <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1")
s.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Slow: ")
start = time.time()
s.settimeout(45)
try:
    data = s.recv(100)
    print("closed" if not data else "answered", round(time.time() - start))
except socket.timeout:
    print("still-open", round(time.time() - start))
except OSError:
    print("closed", round(time.time() - start))
EOF
SLOW_PID=$!
BG_PIDS="$SLOW_PID"

# --- File modes
k create secret generic db --from-literal=password=Sup3rS3cretValue >/dev/null
k create configmap plain --from-literal=k=v >/dev/null
expect_eq "$(stat -c %a "$DATA")" "700" "data dir is 0700"
expect_eq "$(stat -c %a "$DATA/tls")" "700" "tls dir is 0700"
for f in tls/ca.key tls/server.key tls/admin.key kubeconfig state.db state.db-wal state.db-shm encryption-config.yaml; do
  expect_eq "$(stat -c %a "$DATA/$f")" "600" "$f is 0600"
done
expect_eq "$(stat -c %a "$DATA/tls/ca.crt")" "644" "the CA certificate is public (0644)"
days=$(( ($(date -d "$(openssl x509 -enddate -noout -in "$DATA/tls/server.crt" | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))
[ "$days" -ge 364 ] && [ "$days" -le 365 ] || fail "serving certificate should last one year, has $days days"
pass "serving certificate valid one year ($days days)"
"$SKIFF" certificate rotate --help | grep -q -- "--data-dir" || fail "certificate rotate --help"
pass "certificate rotate --help"

# --- Encryption at rest
expect_eq "$(k get secret db -o jsonpath='{.data.password}')" "$(printf Sup3rS3cretValue | base64)" "the Secret reads back"
k get secret db -o yaml | grep -q "password: U3VwM3JTM2NyZXRWYWx1ZQ==" || fail "kubectl get -o yaml shows the data"
pass "kubectl get secret -o yaml shows the data"
raw=$(cat "$DATA"/state.db "$DATA"/state.db-wal | tr -d "\000")
expect_eq "$(grep -c -a 'U3VwM3JTM2NyZXRWYWx1ZQ==' <<<"$raw" || true)" "0" "the Secret's data is not in state.db"
expect_eq "$(grep -c -a 'Sup3rS3cretValue' <<<"$raw" || true)" "0" "nor its plaintext"
[ "$(grep -c -a 'k8s:enc:aesgcm:v1:' <<<"$raw")" -ge 1 ] || fail "no aesgcm value in state.db"
pass "state.db holds k8s:enc:aesgcm:v1: values"
[ "$(grep -c -a '"k":"v"' <<<"$raw")" -ge 1 ] || fail "ConfigMaps should stay plain"
pass "ConfigMaps are stored plain"
OLD_KEY=$(grep -m1 'name:' "$DATA/encryption-config.yaml" | awk '{print $NF}')
status=$("$SKIFF" secrets-encrypt status --data-dir "$DATA")
expect_contains "$status" "Encryption Status: Enabled" "secrets-encrypt status"
expect_contains "$status" "aesgcm[$OLD_KEY]" "status names the key"
out=$("$SKIFF" secrets-encrypt rotate --data-dir "$DATA" 2>&1) && fail "rotate must refuse while the server runs"
expect_contains "$out" "stop it first" "rotate refuses while the server runs"

# --- YAML aliases: a billion laughs is a quick 400, the server keeps answering
python3 - >"$WORK/laughs.yaml" <<'EOF'
print('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
prev = 'a'
for n in "bcdefghi":
    print(f"  {n}: &{n} [" + ",".join(["*" + prev] * 9) + "]")
    prev = n
EOF
t0=$(date +%s%N)
expect_eq "$(curl_status POST /api/v1/namespaces/default/configmaps application/yaml "$WORK/laughs.yaml")" "400" "billion laughs is 400"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || fail "billion laughs took $ms ms"
pass "billion laughs answered in $ms ms"
expect_eq "$(json_field '["reason"]')" "BadRequest" "billion laughs reason is BadRequest"
expect_contains "$(json_field '["message"]')" "excessive aliasing" "message names the aliasing"
expect_eq "$(c -s "$API/readyz")" "ok" "server still answers"

# --- 2,000 idle connections and 500 watches: ordinary requests keep working, RSS bounded
rss_before=$(ps -o rss= -p "$SERVER_PID")
python3 - "$PORT" "$DATA/tls" "$WORK/conns.ready" >"$WORK/conns.out" 2>&1 <<'EOF' &
import socket, ssl, sys, time
port, tls, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
held = []
for _ in range(2000):  # idle: TCP only, never a byte (the TLS handshake timeout applies)
    held.append(socket.create_connection(("127.0.0.1", port)))
ctx = ssl.create_default_context(cafile=tls + "/ca.crt")
ctx.load_cert_chain(tls + "/admin.crt", tls + "/admin.key")
for i in range(500):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
    s.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
open(ready, "w").write("ok")
time.sleep(20)
EOF
CONNS_PID=$!
BG_PIDS="$SLOW_PID $CONNS_PID"
for _ in $(seq 1 300); do [ -f "$WORK/conns.ready" ] && break; sleep 0.1; done
[ -f "$WORK/conns.ready" ] || fail "could not open the connections: $(cat "$WORK/conns.out")"
ok=0
for i in $(seq 1 10); do
  k create configmap "busy-$i" --from-literal=i="$i" >/dev/null && k get configmap "busy-$i" >/dev/null && ok=$((ok + 1))
done
expect_eq "$ok" "10" "kubectl works beside 2,000 idle connections and 500 watches"
rss=$(ps -o rss= -p "$SERVER_PID")
echo "# server RSS: ${rss_before} KB before, ${rss} KB with 2,500 connections"
[ "$rss" -lt 163840 ] || fail "server RSS ${rss} KB exceeds 160 MB"
pass "server RSS ${rss} KB stays below 160 MB (measured ~80 MB)"
kill "$CONNS_PID" 2>/dev/null || true
wait "$CONNS_PID" 2>/dev/null || true

# The slow-header client was dropped after the header timeout.
wait "$SLOW_PID" || true
[ -f "$WORK/slow.out" ] || fail "slow-header client output missing (work dir: $(ls "$WORK" 2>&1))"
read -r slow_state slow_secs <"$WORK/slow.out" || true
expect_eq "$slow_state" "closed" "slow-header client is dropped"
[ "${slow_secs:-99}" -ge 28 ] && [ "${slow_secs:-0}" -le 40 ] || fail "slow client dropped after ${slow_secs}s, want ~30"
pass "slow-header client dropped after ${slow_secs}s"

# --- Key rotation with the server stopped, then a restart
stop_server
out=$("$SKIFF" secrets-encrypt rotate --data-dir "$DATA")
expect_contains "$out" "removed key $OLD_KEY" "rotate reports the removed key"
expect_not_contains "$(cat "$DATA/encryption-config.yaml")" "$OLD_KEY" "the old key is gone from the config"
expect_eq "$(stat -c %a "$DATA/encryption-config.yaml")" "600" "rotated config is 0600"
# Certificate rotation: new leaves and admin credentials, the same CA.
ca_before=$(sha256sum <"$DATA/tls/ca.crt"); server_before=$(sha256sum <"$DATA/tls/server.crt"); kc_before=$(sha256sum <"$DATA/kubeconfig")
run "$SKIFF" certificate rotate --data-dir "$DATA"
expect_eq "$(sha256sum <"$DATA/tls/ca.crt")" "$ca_before" "certificate rotate keeps the CA"
[ "$(sha256sum <"$DATA/tls/server.crt")" != "$server_before" ] || fail "serving certificate not rotated"
[ "$(sha256sum <"$DATA/kubeconfig")" != "$kc_before" ] || fail "kubeconfig not rewritten"
pass "certificate rotate re-issues the serving certificate and the admin kubeconfig"
expect_eq "$(stat -c %a "$DATA/kubeconfig") $(stat -c %a "$DATA/tls/server.key")" "600 600" "rotated key and kubeconfig are 0600"
start_server
expect_eq "$(k get secret db -o jsonpath='{.data.password}')" "$(printf Sup3rS3cretValue | base64)" "the Secret reads after rotation and restart"
expect_not_contains "$("$SKIFF" secrets-encrypt status --data-dir "$DATA")" "aesgcm:v1:$OLD_KEY=" "no value is left under the old key"

# --- In-flight limits: beyond them, 429 with Retry-After (admin, system:masters, exempt)
stop_server
SERVER_ARGS="--max-requests-inflight 1 --max-mutating-requests-inflight 1" start_server
# The flood's client is a ServiceAccount allowed to do what it asks (an anonymous client would
# be answered 403 in microseconds, before any work that could overlap).
run k create serviceaccount flood
run k create rolebinding flood-edit --clusterrole=edit --serviceaccount=default:flood
FLOOD_TOKEN=$(k create token flood)
python3 - "$PORT" "$DATA/tls" "$FLOOD_TOKEN" >"$WORK/flood.out" <<'EOF'
import http.client, json, ssl, sys, threading
port, tls, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ca = tls + "/ca.crt"
# 150 ConfigMaps of 4 KB make each list take a few milliseconds (created as admin:
# system:masters is never refused).
admin = ssl.create_default_context(cafile=ca)
admin.load_cert_chain(tls + "/admin.crt", tls + "/admin.key")
conn = http.client.HTTPSConnection("127.0.0.1", port, context=admin)
for i in range(150):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"f{i}"}, "data": {"d": "x" * 4096}})
    conn.request("POST", "/api/v1/namespaces/default/configmaps", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 201, r.status
codes, retry = {}, set()
lock = threading.Lock()
def worker(mutating):
    ctx = ssl.create_default_context(cafile=ca)  # no client certificate: not system:masters
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    auth = {"Authorization": "Bearer " + token}
    for i in range(25):
        if mutating:
            conn.request("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", body=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"x-"}}', headers={"Content-Type": "application/json", **auth})
        else:
            conn.request("GET", "/api/v1/namespaces/default/configmaps", headers=auth)
        r = conn.getresponse()
        body = r.read()
        with lock:
            codes[r.status] = codes.get(r.status, 0) + 1
            if r.status == 429:
                retry.add((r.getheader("Retry-After"), body.decode().strip()))
# Overlap depends on scheduling: flood again (up to 5 rounds) until the limit is hit.
for _ in range(5):
    threads = [threading.Thread(target=worker, args=(i % 2 == 1,)) for i in range(16)]
    for t in threads: t.start()
    for t in threads: t.join()
    if codes.get(429, 0): break
print(codes.get(429, 0), sum(codes.values()))
for r in retry: print(r[0] + "|" + r[1])
EOF
read -r n429 total <"$WORK/flood.out"
echo "# in-flight flood: $n429 of $total requests answered 429"
[ "$n429" -ge 1 ] || fail "no 429 among $total concurrent requests: $(cat "$WORK/flood.out")"
pass "concurrent requests beyond the limits get 429"
expect_contains "$(cat "$WORK/flood.out")" "1|Too many requests, please try again later." "429 carries Retry-After: 1 and upstream's message"
ok=0
for i in $(seq 1 5); do k get configmaps >/dev/null && ok=$((ok + 1)); done
expect_eq "$ok" "5" "admin requests are not throttled"
finish
