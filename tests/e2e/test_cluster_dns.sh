#!/usr/bin/env bash
# ctest-lock: node (a real node: the machine's containerd, pod bridge and nftables, one test at a time)
# Cluster DNS: the node-local DNS server `skiff up` runs on 169.254.20.10:53 (dummy interface
# skiff-dns) answers Services, headless endpoints, ExternalNames and pod names from its
# informers, and forwards other names to the nameservers of --dns-resolv-conf: here a fake
# resolver this test runs on 127.0.0.153 (loopback; nothing leaves the machine).
#
# Pods use skiff up's default nameserver, 10.43.0.10 (the kube-dns Service), which the node
# proxy DNATs to 169.254.20.10: the path every pod's lookups take. dig from the host asks the
# server directly, and once through the Service IP.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "needs root (containerd, network namespaces)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
command -v dig >/dev/null || { echo "needs dig (bind9-dnsutils, scripts/install-deps)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
DNS=169.254.20.10
UPSTREAM=127.0.0.153
trap 'cleanup; ip link delete skiff-dns 2>/dev/null || true' EXIT

python3 "$(dirname "$0")/fake_dns_upstream.py" "$UPSTREAM" "$WORK/upstream.log" &
BG_PIDS="$!"
echo "nameserver $UPSTREAM" >"$WORK/resolv.conf"
DNS_RESOLV_CONF=$WORK/resolv.conf start_up
SERVICE_DNS=10.43.0.10

# dig from the host, bounded: one try, 2 s; tabs squeezed to single spaces.
d() { timeout 5 dig +time=2 +tries=1 @"$DNS" "$@" | tr -s ' \t' ' '; }
# nslookup from the client pod, bounded.
pod_lookup() { k exec client -- timeout 10 nslookup "$@" 2>&1 || true; }

expect_eq "$(k -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP} {.spec.ports[*].name} {.spec.ports[*].protocol}')" \
  "10.43.0.10 dns dns-tcp metrics UDP TCP TCP" "skiff up created the kube-dns Service (10.43.0.10, dns/dns-tcp/metrics)"
expect_eq "$(k -n kube-system get svc kube-dns -o jsonpath='{.spec.selector}')" "" "kube-dns has no selector"
expect_contains "$(ip -br addr show skiff-dns)" "$DNS/32" "the DNS address is on the dummy interface skiff-dns"

k create service clusterip web --tcp=80:8080 >/dev/null
k create service externalname ext --external-name external.test >/dev/null
k create service externalname alias --external-name web.default.svc.cluster.local >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec:
  hostname: db-1
  subdomain: db
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
YAML
web_ip=$(k get svc web -o jsonpath='{.spec.clusterIP}')

# --- from the host, with dig
wait_for "web answers" 10 sh -c "timeout 5 dig +short +time=2 +tries=1 @$DNS web.default.svc.cluster.local | grep -qx $web_ip"
pass "A record of a ClusterIP Service ($web_ip)"
out=$(d web.default.svc.cluster.local A)
expect_contains "$out" "flags: qr aa rd ra" "cluster answers are authoritative"
expect_contains "$out" "web.default.svc.cluster.local. 5 IN A" "cluster records have TTL 5"
expect_eq "$(d +short _80-8080._tcp.web.default.svc.cluster.local SRV)" "0 100 80 web.default.svc.cluster.local." "SRV of a named port"
expect_eq "$(d +short -x "$web_ip")" "web.default.svc.cluster.local." "PTR of the Service IP"
expect_eq "$(timeout 5 dig +short +time=2 +tries=1 @$SERVICE_DNS web.default.svc.cluster.local)" "$web_ip" "the kube-dns Service IP reaches the server (proxy DNAT)"
expect_eq "$(d +short +tcp web.default.svc.cluster.local)" "$web_ip" "the same answer over TCP"
expect_contains "$(d nope.default.svc.cluster.local)" "status: NXDOMAIN" "a missing name is NXDOMAIN"
expect_contains "$(d nope.default.svc.cluster.local)" "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local." "NXDOMAIN carries the zone's SOA"
out=$(d web.default.svc.cluster.local AAAA)
expect_contains "$out" "status: NOERROR" "AAAA of an IPv4-only name is NOERROR"
expect_contains "$out" "ANSWER: 0" "... with no answer (NODATA)"
expect_contains "$(d +bufsize=1232 web.default.svc.cluster.local)" "; EDNS: version: 0" "EDNS0 is answered"
expect_eq "$(d +short ext.default.svc.cluster.local | tr '\n' ' ')" "external.test. 192.0.2.10 " "an ExternalName Service is a CNAME, its outside target resolved upstream"
expect_eq "$(d +short external.test)" "192.0.2.10" "names outside the zone are forwarded to --dns-resolv-conf's nameserver"
expect_contains "$(cat "$WORK/upstream.log")" "external.test 1" "the fake upstream saw the forwarded question"
before=$(grep -c "^external.test 1$" "$WORK/upstream.log")
d +short external.test >/dev/null
expect_eq "$(grep -c "^external.test 1$" "$WORK/upstream.log")" "$before" "a repeated forwarded question is served from the cache"
expect_contains "$(d missing.test)" "status: NXDOMAIN" "the upstream's NXDOMAIN is relayed"

metrics=$(curl -s -m 5 "http://$DNS:9153/metrics")
expect_contains "$metrics" 'coredns_dns_requests_total{server="dns://169.254.20.10:53",zone=".",proto="udp",family="1",type="A"}' "/metrics on $DNS:9153 counts requests as CoreDNS does"
expect_contains "$metrics" 'coredns_dns_responses_total{server="dns://169.254.20.10:53",zone=".",rcode="NXDOMAIN"}' "... and responses by rcode"
if command -v promtool >/dev/null; then
  echo "$metrics" | promtool check metrics >/dev/null 2>&1 || fail "promtool check metrics: $(echo "$metrics" | promtool check metrics 2>&1 | head -5)"
  pass "the DNS metrics pass promtool check metrics"
fi

# --- headless Service: one A per ready endpoint, hostname records, SRV per endpoint
wait_for "db pods Running" 60 sh -c "[ \"\$(kubectl --kubeconfig $WORK/data/kubeconfig get pod db-0 db-1 -o jsonpath='{.items[*].status.phase}')\" = 'Running Running' ]"
db0=$(k get pod db-0 -o jsonpath='{.status.podIP}')
db1=$(k get pod db-1 -o jsonpath='{.status.podIP}')
wait_for "headless answers both endpoints" 20 sh -c "[ \"\$(timeout 5 dig +short +time=2 +tries=1 @$DNS db.default.svc.cluster.local | sort | tr '\n' ' ')\" = \"\$(printf '%s\n' $db0 $db1 | sort | tr '\n' ' ')\" ]"
pass "a headless Service answers one A per ready endpoint ($db0 $db1)"
expect_eq "$(d +short db-0.db.default.svc.cluster.local)" "$db0" "hostname.subdomain record of a pod"
expect_eq "$(d +short _pg._tcp.db.default.svc.cluster.local SRV | sort | awk '{print $3, $4}' | tr '\n' ' ')" \
  "5432 db-0.db.default.svc.cluster.local. 5432 db-1.db.default.svc.cluster.local. " "SRV per endpoint of a headless Service"
expect_eq "$(d +short -x "$db0")" "db-0.db.default.svc.cluster.local." "PTR of an endpoint address"
k delete pod db-1 --wait=false >/dev/null
wait_for "db-1 leaves the headless answer" 30 sh -c "[ \"\$(timeout 5 dig +short +time=2 +tries=1 @$DNS db.default.svc.cluster.local)\" = '$db0' ]"
pass "a deleted endpoint leaves the headless Service's answer"

# --- from a pod: the kubelet's resolv.conf (search path, ndots:5) and busybox nslookup
wait_for "client Running" 60 phase_is client Running
resolv=$(k exec client -- cat /etc/resolv.conf)
expect_contains "$resolv" "nameserver $SERVICE_DNS" "the pod's resolv.conf names the kube-dns Service"
expect_contains "$resolv" "search default.svc.cluster.local svc.cluster.local cluster.local" "the pod's search path is upstream's"
expect_contains "$resolv" "options ndots:5" "the pod's resolv.conf has ndots:5"
# busybox nslookup applies the search path to names without a dot only; its libc resolver
# (ping here, to a pod address: no packet leaves the node) follows ndots:5 for `svc.ns`.
for name in web web.default.svc.cluster.local; do
  expect_contains "$(pod_lookup "$name")" "Address: $web_ip" "a pod resolves the Service as '$name'"
done
expect_contains "$(k exec client -- timeout 5 ping -c 1 -W 2 db-0.db.default 2>&1 || true)" "($db0)" "a pod's resolver finds 'db-0.db.default' through the search path"
out=$(pod_lookup db.default.svc.cluster.local)
expect_contains "$out" "Address: $db0" "a pod resolves the headless Service"
expect_contains "$(pod_lookup alias.default.svc.cluster.local)" "Address: $web_ip" "a pod resolves an in-cluster ExternalName through its CNAME"
expect_contains "$(pod_lookup ext.default.svc.cluster.local)" "Address: 192.0.2.10" "a pod resolves an ExternalName whose target is outside the cluster"
client_ip=$(k get pod client -o jsonpath='{.status.podIP}')
expect_contains "$(pod_lookup "${client_ip//./-}.default.pod.cluster.local")" "Address: $client_ip" "a pod resolves a pod A record"
expect_contains "$(pod_lookup nope.default.svc.cluster.local)" "NXDOMAIN" "a pod gets NXDOMAIN for a missing name"
expect_contains "$(pod_lookup external.test)" "Address: 192.0.2.10" "a pod resolves an outside name through the forwarder"

# --- stopping skiff up removes the address and its interface
stop_server
[ ! -e /sys/class/net/skiff-dns ] || fail "skiff-dns is left after skiff up stopped"
pass "stopping skiff up removes the skiff-dns interface"
finish
