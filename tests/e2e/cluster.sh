# Shared by the tests that run `skiff cluster` (test_cluster.sh, test_ecommerce.sh), after
# lib.sh: the cluster's name and kubeconfig, kubectl against it, the host state a cluster may
# change (compared before create and after delete), and a cleanup that deletes the cluster.
NAME=${CLUSTER_PREFIX:-e2e}$$
NAME=${NAME:0:10}
CDIR=$WORK/clusters
KCFG=$CDIR/$NAME/kubeconfig
kc() { "$KUBECTL" --kubeconfig "$KCFG" "$@"; }

# What the host looks like, as far as a cluster can change it.
host_state() {
  echo "== netns"; ip netns list 2>/dev/null | awk '{print $1}' | sort
  echo "== links"; ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
  echo "== routes"; ip -4 route show table all 2>/dev/null | sort
  echo "== nft"; nft list tables 2>/dev/null | sort
  echo "== mounts"; grep " $WORK" /proc/self/mounts || true
  echo "== processes"; pgrep -af -- "$WORK" | grep -v pgrep || true
  echo "== cgroups"; ls /sys/fs/cgroup/memory/k8s.io /sys/fs/cgroup/unified/k8s.io 2>/dev/null | sort || true
  ls -d /sys/fs/cgroup/*/skiff-* /sys/fs/cgroup/skiff-* 2>/dev/null || true
}

cluster_cleanup() {
  local rc=$?
  set +e
  # A failed run keeps the cluster's logs for whoever reads it (SKIFF_E2E_KEEP_LOGS=DIR).
  if [ "$rc" != 0 ] && [ -n "${SKIFF_E2E_KEEP_LOGS:-}" ]; then
    mkdir -p "$SKIFF_E2E_KEEP_LOGS" && cp -r "$CDIR/$NAME"/*.log "$CDIR/$NAME"/node-* "$SKIFF_E2E_KEEP_LOGS"/ 2>/dev/null
    kc get events -A --sort-by=.lastTimestamp >"$SKIFF_E2E_KEEP_LOGS/events.txt" 2>&1
    kc get nodes,pods -A -o wide >"$SKIFF_E2E_KEEP_LOGS/state.txt" 2>&1
  fi
  [ -f "$CDIR/$NAME/cluster.conf" ] && "$SKIFF" cluster delete --name "$NAME" --data-dir "$CDIR" >/dev/null 2>&1
  cleanup
}
trap cluster_cleanup EXIT

# delete_and_compare BEFORE: deletes the cluster and checks the host is as it was.
delete_and_compare() {
  run "$SKIFF" cluster delete --name "$NAME" --data-dir "$CDIR"
  expect_contains "$OUT" "deleted" "delete reports the cluster deleted"
  local after
  after=$(host_state)
  if [ "$1" != "$after" ]; then
    diff <(echo "$1") <(echo "$after") >&2 || true
    fail "host state differs after delete"
  fi
  pass "host state after delete is identical to before"
  [ ! -e "$CDIR/$NAME" ] || fail "cluster folder left behind"
  pass "cluster folder removed"
}
