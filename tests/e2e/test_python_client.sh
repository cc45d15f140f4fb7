#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# The official Python client (python3-kubernetes, Debian's /usr/bin/python3) against one real
# node (`skiff up`): CRUD and every patch type for core kinds and Deployments, watches (events,
# resume, 410 Gone), selectors, paging, Status errors, pod logs, exec, attach and port-forward
# through the kubelet's WebSocket channel protocols. The checks live in python_client/*.py and
# print "ok - ..." lines, which are counted here as lib.sh's pass does.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null ||
  { echo "python3-kubernetes is not installed"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
start_up

rc=0
NODE="$NODE" /usr/bin/python3 -u "$(dirname "$0")/python_client/main.py" "$WORK/data/kubeconfig" \
  2>&1 | tee "$WORK/python.out" || rc=$?
PASSED=$(grep -c '^ok - ' "$WORK/python.out" || true)
FAILED=$(grep -c '^not ok - ' "$WORK/python.out" || true)
if [ "$rc" != "0" ] || [ "$FAILED" != "0" ]; then
  echo "FAIL: the Python checks failed (exit $rc)" >&2
  echo "$PASSED passed, $((FAILED > 0 ? FAILED : 1)) failed"
  exit 1
fi
finish
