#!/usr/bin/env bash
# `kubectl scale` → new endpoint reachable, on a real `skiff up` node: a Deployment of one
# busybox httpd (readiness probe every second) behind a ClusterIP Service is scaled to 2,
# and the script measures from the scale command to (a) the proxy's rules balancing over 2
# endpoints (`nft list map ip skiff service-ips`) and (b) the first answer of the new pod
# through the cluster IP (curl from the node every 10 ms); then scales back to 1. Most of
# it is pod start + readiness; the proxy's own part is in its log (rules synced ... applyMs).
#   sudo bench/proxy_scale.sh build/skiff [rounds]
set -euo pipefail
SKIFF_ARG=${1:?usage: $0 PATH_TO_SKIFF [rounds]}
ROUNDS=${2:-10}
source "$(dirname "$0")/../tests/e2e/lib.sh" "$SKIFF_ARG"
SKIFF=$(realpath "$SKIFF_ARG")
start_up --proxy-min-sync-period 100ms --proxy-healthz-bind-address "127.0.0.1:$(free_port)"
web_deployment web 1 >"$WORK/web.yaml"
k apply -f "$WORK/web.yaml" >/dev/null
k expose deployment web --port 80 --target-port 8080 >/dev/null
wait_for "web rolled out" 90 k rollout status deploy/web --timeout=2s
cip=$(k get svc web -o jsonpath='{.spec.clusterIP}')
answer() { curl -s -m 1 "http://$cip/" || true; }
wait_for "the Service answers" 30 sh -c "curl -s -m 1 http://$cip/ | grep -q web-"
now_ms() { date +%s%3N; }
rules=() reach=()
for r in $(seq "$ROUNDS"); do
  old=$(answer)
  t0=$(now_ms)
  k scale deploy/web --replicas=2 >/dev/null
  tr="" ta=""
  while [ -z "$ta" ]; do
    [ $(( $(now_ms) - t0 )) -lt 60000 ] || { echo "round $r: timeout"; break; }
    if [ -z "$tr" ] && nft list map ip skiff service-ips | grep -q "$cip . tcp . 80 : goto balance-tcp-2"; then tr=$(( $(now_ms) - t0 )); fi
    a=$(answer)
    if [ -n "$a" ] && [ "$a" != "$old" ]; then
      ta=$(( $(now_ms) - t0 ))
      [ -n "$tr" ] || tr=$ta  # the rules were in before this answer (checked at most 10 ms ago)
    fi
    sleep 0.01
  done
  rules+=("${tr:-0}"); reach+=("${ta:-0}")
  echo "round $r: scale→rules ${tr:-?} ms, scale→new pod answers ${ta:-?} ms"
  k scale deploy/web --replicas=1 >/dev/null
  one() { nft list map ip skiff service-ips | grep -q "$cip . tcp . 80 : goto balance-tcp-1"; }
  wait_for "back to 1 endpoint" 60 one
  sleep 2
done
pct() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {p50=a[int((NR+1)/2)]; p99=a[NR]; printf "p50 %d ms, max (p99 of %d) %d ms", p50, NR, p99}'; }
echo "scale→rules:            $(pct "${rules[@]}")"
echo "scale→new pod answers:  $(pct "${reach[@]}")"
grep -o 'rules synced full=false.*applyMs=[0-9.]*' "$WORK/server.log" | sed 's/.*applyMs=//' | sort -n |
  awk '{a[NR]=$1} END {printf "proxy partial syncs: %d, apply p50 %.1f ms, p99 %.1f ms\n", NR, a[int((NR+1)/2)], a[int(NR*0.99+0.5)]}'
finish
