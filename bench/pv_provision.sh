#!/usr/bin/env bash
# Provisioning latency of the storage control plane: `skiff server` alone (no node: the
# claims carry the scheduler's selected-node annotation from the start), the default class
# local-path. Prints the time from `kubectl create` of one claim to `kubectl wait` seeing it
# Bound (binder → provisioner → binder), ROUNDS times, then N claims at once until all are
# Bound. Usage: bench/pv_provision.sh build/skiff [ROUNDS=5] [N=100]
set -euo pipefail
SKIFF=$(realpath "${1:?usage: $0 PATH_TO_SKIFF [ROUNDS] [N]}")
ROUNDS=${2:-5} N=${3:-100}
source "$(dirname "$0")/bench_lib.sh"
WORK=$(mktemp -d /tmp/skiff-pvbench.XXXXXX)
PORT=$(free_port)
"$SKIFF" --log-level warn server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
k() { kubectl --kubeconfig "$WORK/data/kubeconfig" "$@"; }
for _ in $(seq 200); do k get storageclass local-path >/dev/null 2>&1 && break; sleep 0.1; done
claim() {
  cat <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1, annotations: {volume.kubernetes.io/selected-node: node-a}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
YAML
}
now() { date +%s.%N; }
for i in $(seq "$ROUNDS"); do
  t0=$(now)
  claim "one-$i" | k create -f - >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Bound "pvc/one-$i" --timeout=60s >/dev/null
  echo "claim $i: created → Bound in $(python3 -c "print(f'{$(now) - $t0:.2f}')") s (kubectl create + wait included)"
done
for i in $(seq "$N"); do claim "many-$i"; done >"$WORK/many.yaml"
t0=$(now)
k create -f "$WORK/many.yaml" >/dev/null
until [ "$(k get pvc -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c Bound)" -ge $((N + ROUNDS)) ]; do
  sleep 0.2
done
echo "$N claims: created → all Bound in $(python3 -c "print(f'{$(now) - $t0:.2f}')") s"
