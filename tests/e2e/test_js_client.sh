#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The official JavaScript client (@kubernetes/client-node, pinned by js_client/package-lock.json,
# installed by scripts/install-deps) against a real node (`skiff up`): CRUD with the three patch
# types and Status errors, selectors, paging, Watch, Informer, logs, and exec/attach/port-forward
# over WebSocket. The checks are in js_client/client_test.mjs; each prints one "ok -" line.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
JS=$(cd "$(dirname "$0")/js_client" && pwd)
if ! command -v node >/dev/null || [ ! -d "$JS/node_modules/@kubernetes/client-node" ]; then
  echo "needs node and the client (scripts/install-deps runs npm ci in tests/e2e/js_client)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
start_up

set +e
timeout 480 node "$JS/client_test.mjs" "$WORK/data/kubeconfig" "$NODE" 2>&1 | tee "$WORK/js.out"
rc=${PIPESTATUS[0]}
set -e
PASSED=$(grep -c '^ok - ' "$WORK/js.out" || true)
FAILED=$(grep -c '^not ok - ' "$WORK/js.out" || true)
if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
  [ "$rc" -eq 124 ] && echo "FAIL: the client script timed out"
  [ "$FAILED" -eq 0 ] && FAILED=1  # the script died without reporting a failed check
  echo "--- server log (tail)"; tail -n 30 "$WORK/server.log"
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
[ "$PASSED" -gt 0 ] || fail "the client script reported no checks"
finish
