#!/usr/bin/env bash
# First-packet latency through the proxy's rules with few and with many Services: a TCP
# connect from a client netns to a ClusterIP, DNATed by a "node" netns that holds the
# proxy's table (proxy_bench --emit: N Services x 10 endpoints), to a listener in a server
# netns. Every connect is a new flow, so every SYN takes the nat hook's path (service-ips
# lookup, balance chain, endpoint map). Only addresses this script creates are used
# (10.99.0.0/24, 10.99.1.0/24 and the bench's Service addresses inside its own netns).
#   sudo bench/proxy_latency.sh [build/proxy_bench] [connects per run]
set -euo pipefail
BENCH=${1:-build/proxy_bench}
CONNECTS=${2:-2000}
ns=skl$$
cleanup() { for n in c s r; do ip netns del "$ns-$n" 2>/dev/null || true; done; rm -f "/tmp/$ns.nft"; }
trap cleanup EXIT
for n in c s r; do ip netns add "$ns-$n"; ip -n "$ns-$n" link set lo up; done
ip link add "${ns}c" netns "$ns-c" type veth peer name to-c netns "$ns-r"
ip link add "${ns}s" netns "$ns-s" type veth peer name to-s netns "$ns-r"
ip -n "$ns-c" addr add 10.99.0.2/24 dev "${ns}c"; ip -n "$ns-c" link set "${ns}c" up
ip -n "$ns-s" addr add 10.99.1.2/24 dev "${ns}s"; ip -n "$ns-s" link set "${ns}s" up
ip -n "$ns-r" addr add 10.99.0.1/24 dev to-c; ip -n "$ns-r" link set to-c up
ip -n "$ns-r" addr add 10.99.1.1/24 dev to-s; ip -n "$ns-r" link set to-s up
ip -n "$ns-c" route add default via 10.99.0.1
ip -n "$ns-s" route add default via 10.99.1.1
ip netns exec "$ns-r" sysctl -qw net.ipv4.ip_forward=1
# The listener: accepts and closes.
ip netns exec "$ns-s" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.1.2", 8080)); s.listen(512)
while True:
    c, _ = s.accept(); c.close()' &
server=$!
trap 'kill $server 2>/dev/null; cleanup' EXIT

measure() {  # $1: number of Services in the table
  ip netns exec "$ns-r" nft delete table ip skiff 2>/dev/null || true
  "$BENCH" --services "$1" --endpoints 10 --emit "/tmp/$ns.nft" >/dev/null
  ip netns exec "$ns-r" nft -f "/tmp/$ns.nft"
  # Service 0 (10.43.0.16:80): all 10 endpoints point at the listener.
  local keys="" els=""
  for i in $(seq 0 9); do
    keys+="${keys:+, }10.43.0.16 . tcp . 80 . $i"
    els+="${els:+, }10.43.0.16 . tcp . 80 . $i : 10.99.1.2 . 8080"
  done
  ip netns exec "$ns-r" nft "delete element ip skiff service-endpoints-tcp { $keys }"
  ip netns exec "$ns-r" nft "add element ip skiff service-endpoints-tcp { $els }"
  ip netns exec "$ns-c" python3 -c '
import socket, sys, time
n = int(sys.argv[1]); lat = []
for i in range(n + 100):
    s = socket.socket(); t0 = time.perf_counter_ns()
    s.connect(("10.43.0.16", 80)); t1 = time.perf_counter_ns(); s.close()
    if i >= 100: lat.append((t1 - t0) / 1000)
lat.sort()
print("services=%s connects=%d connect latency p50 %.1f us p90 %.1f us p99 %.1f us" % (
    sys.argv[2], n, lat[n // 2], lat[n * 9 // 10], lat[n * 99 // 100]))' "$CONNECTS" "$1"
}
sleep 0.5
measure 10
measure 10000
measure 10
measure 10000
