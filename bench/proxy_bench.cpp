// Service proxy programming cost at scale: N Services x M endpoints (hollow endpoints: pod
// addresses nothing answers on) through the proxy's own pipeline — Service and EndpointSlice
// JSON → buildServicePorts → per-Service shares in a TableModel → renderFull (the first
// sync), and for one endpoint change the proxier's incremental path (that Service's ports
// rebuilt, its share replaced, renderDiff of what it touched). With --apply (root), each script is
// also committed by `nft -f` inside a network namespace this bench creates and deletes, so the
// kernel's share is measured too without touching the host's ruleset.
//   ninja -C build proxy_bench && build/proxy_bench [--services 10000] [--endpoints 10] [--apply]
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "proxy/nft_netlink.h"
#include "proxy/nft_rules.h"
#include "proxy/service_model.h"
#include "proxy/table_model.h"

using namespace skiff::proxy;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// VmRSS of this process in MB.
double rssMb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::atol(line + 6);
  std::fclose(f);
  return kb / 1024.0;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string ipOf(int base, int i) {
  return "10." + std::to_string(base) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255);
}

ObjectList services(int n) {
  ObjectList out;
  for (int i = 0; i < n; ++i) {
    json::object svc{
        {"metadata", {{"name", "svc-" + std::to_string(i)}, {"namespace", "bench"}}},
        {"spec",
         {{"type", "ClusterIP"},
          {"clusterIP", ipOf(43, i + 16)},
          {"ports",
           json::array{
               {{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}};
    out.push_back(std::make_shared<const json::object>(std::move(svc)));
  }
  return out;
}

json::object slice(int i, int endpoints, int firstEndpoint) {
  json::array eps;
  for (int e = 0; e < endpoints; ++e)
    eps.push_back(
        json::object{{"addresses", json::array{json::string(ipOf(42, firstEndpoint + e))}},
                     {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
                     {"nodeName", "node-" + std::to_string(e % 3)}});
  return json::object{
      {"metadata",
       {{"name", "svc-" + std::to_string(i) + "-abcde"},
        {"namespace", "bench"},
        {"labels", {{"kubernetes.io/service-name", "svc-" + std::to_string(i)}}}}},
      {"addressType", "IPv4"},
      {"endpoints", std::move(eps)},
      {"ports", json::array{{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
}

// Commits a script in the bench's network namespace; milliseconds, or -1 on failure.
double applyInNetns(const std::string& ns, const std::string& script) {
  const std::string path = "/tmp/skiff-proxy-bench-" + std::to_string(getpid()) + ".nft";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return -1;
  std::fwrite(script.data(), 1, script.size(), f);
  std::fclose(f);
  const auto t0 = Clock::now();
  const int rc = std::system(("ip netns exec " + ns + " nft -f " + path).c_str());
  const double ms = msSince(t0);
  std::remove(path.c_str());
  return rc == 0 ? ms : -1;
}

// The netlink path as the proxier runs it (text before, elements over netlink, text after),
// with the socket opened inside `ns`. Milliseconds of the netlink commit alone in *netlinkMs.
double applySplitInNetns(const std::string& ns, const SplitTransaction& t, double* netlinkMs) {
  const auto t0 = Clock::now();
  if (!t.before.empty() && applyInNetns(ns, t.before) < 0) return -1;
  const int self = open("/proc/self/ns/net", O_RDONLY);
  const int target = open(("/var/run/netns/" + ns).c_str(), O_RDONLY);
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) return -1;
  std::string error;
  {
    NftNetlink netlink;  // the socket belongs to the namespace it was opened in
    setns(self, CLONE_NEWNET);
    const auto n0 = Clock::now();
    error = netlink.commit(t.flush, t.elements);
    *netlinkMs = msSince(n0);
  }
  close(self);
  close(target);
  if (!error.empty()) {
    std::fprintf(stderr, "netlink commit failed: %s\n", error.c_str());
    return -1;
  }
  if (!t.after.empty() && applyInNetns(ns, t.after) < 0) return -1;
  return msSince(t0);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 10000, m = 10;
  bool apply = false;
  std::string emit;  // --emit FILE: write the full-sync script there (bench/proxy_latency.sh)
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--services" && i + 1 < argc) n = std::atoi(argv[++i]);
    if (a == "--endpoints" && i + 1 < argc) m = std::atoi(argv[++i]);
    if (a == "--apply") apply = true;
    if (a == "--emit" && i + 1 < argc) emit = argv[++i];
  }
  ProxyConfig config;
  config.nodeName = "node-0";
  const ObjectList svcs = services(n);
  ObjectList slices;
  for (int i = 0; i < n; ++i)
    slices.push_back(std::make_shared<const json::object>(slice(i, m, i * m)));

  const double rssInputs = rssMb();
  auto t0 = Clock::now();
  const auto ports = buildServicePorts(svcs, slices, config);
  const double buildMs = msSince(t0);
  t0 = Clock::now();
  std::map<std::string, std::vector<ServicePort>> byService;
  for (const auto& sp : ports) byService[sp.ns + "/" + sp.name].push_back(sp);
  std::map<std::string, NftState> shares;
  for (const auto& [key, sps] : byService) shares[key] = desiredState(sps, config);
  TableModel model;
  model.reset(std::move(shares));
  const double rssModel = rssMb();
  const NftState state = model.state();
  const double stateMs = msSince(t0);
  t0 = Clock::now();
  const std::string full = renderBase(config) + renderFull(state, ExistingTable{}, config);
  const double fullMs = msSince(t0);
  size_t rules = 0, elements = 0;
  for (const auto& [name, chain] : state.chains) rules += chain.size();
  for (const auto& [name, container] : state.elements) elements += container.size();

  // One endpoint of one Service replaced (a pod restarted elsewhere): what the proxier does
  // for one changed EndpointSlice, from the slice to the diff script.
  const int victim = n / 2;
  const auto changedSlice = std::make_shared<const json::object>(slice(victim, m, n * m + 1));
  t0 = Clock::now();
  const auto victimPorts = buildServicePorts({svcs[victim]}, {changedSlice}, config);
  auto change =
      model.update({{"bench/svc-" + std::to_string(victim), desiredState(victimPorts, config)}});
  const SplitTransaction diffSplit = splitDiff(change.before, change.after);
  const std::string diff = joinAsText(diffSplit);
  const double diffMs = msSince(t0);
  // The periodic resync (every --sync-period): every Service recomputed, only differences
  // sent (none here).
  t0 = Clock::now();
  {
    std::map<std::string, NftState> again;
    for (const auto& [key, sps] : byService) again[key] = desiredState(sps, config);
    again["bench/svc-" + std::to_string(victim)] = desiredState(victimPorts, config);
    auto none = model.update(std::move(again));
    if (!joinAsText(splitDiff(none.before, none.after)).empty()) std::printf("resync not empty\n");
  }
  const double resyncMs = msSince(t0);
  t0 = Clock::now();
  const SplitTransaction fullSplit = splitFull(state, ExistingTable{}, config);
  const double splitMs = msSince(t0);

  std::printf(
      "services=%d endpoints/service=%d: %zu chains, %zu rules, %zu sets, %zu map/set "
      "elements\n",
      n, m, state.chains.size(), rules, state.sets.size(), elements);
  std::printf(
      "full sync (user space): build %.1f ms + shares %.1f ms + render %.1f ms; script %.1f MB\n",
      buildMs, stateMs, fullMs, full.size() / 1e6);
  std::printf(
      "RSS: %.0f MB with the Service/slice JSON, %.0f MB with the ports and the table model\n",
      rssInputs, rssModel);
  std::printf("periodic resync (user space, every Service recomputed, nothing to send): %.0f ms\n",
              resyncMs);
  std::printf("one endpoint changed (user space): %.1f ms; script %zu bytes\n", diffMs,
              diff.size());

  if (!emit.empty()) {
    FILE* f = std::fopen(emit.c_str(), "w");
    if (!f) return 1;
    std::fwrite(full.data(), 1, full.size(), f);
    std::fclose(f);
  }
  if (apply) {
    const std::string ns = "skiff-bench-" + std::to_string(getpid());
    if (std::system(("ip netns add " + ns).c_str()) != 0) {
      std::fprintf(stderr, "ip netns add failed (root needed for --apply)\n");
      return 1;
    }
    const double fullApply = applyInNetns(ns, full);
    const double diffApply = applyInNetns(ns, diff);
    const std::string textList = "/tmp/skiff-proxy-bench-text.nft",
                      netlinkList = "/tmp/skiff-proxy-bench-netlink.nft";
    std::system(("ip netns exec " + ns + " nft list table ip skiff > " + textList).c_str());
    std::system(("ip netns delete " + ns).c_str());
    std::printf("nft -f in a fresh netns: full %.0f ms, one-endpoint diff %.1f ms\n", fullApply,
                diffApply);
    // The proxier's path: elements over netlink, chains as nft text.
    const std::string ns2 = ns + "-nl";
    if (std::system(("ip netns add " + ns2).c_str()) != 0) return 1;
    double fullNetlink = 0, diffNetlink = 0;
    const double fullSplitApply = applySplitInNetns(ns2, fullSplit, &fullNetlink);
    const double diffSplitApply = applySplitInNetns(ns2, diffSplit, &diffNetlink);
    std::system(("ip netns exec " + ns2 + " nft list table ip skiff > " + netlinkList).c_str());
    // A failing batch changes nothing: an add followed by the delete of a missing element.
    SplitTransaction failing;
    failing.elements = {{"cluster-ips", "10.43.255.254", "", true},
                        {"cluster-ips", "10.43.255.253", "", false}};
    double ignored = 0;
    const bool failed = applySplitInNetns(ns2, failing, &ignored) < 0;
    const bool untouched =
        std::system(("ip netns exec " + ns2 + " nft list set ip skiff cluster-ips | grep -q " +
                     "10.43.255.254")
                        .c_str()) != 0;
    std::printf("a failing netlink batch: %s\n",
                failed && untouched ? "refused, nothing applied" : "NOT ATOMIC");
    // Both paths must leave the same table (nft lists the netlink-written elements too). A
    // balance rule added after its map existed carries a `meta l4proto` dependency nft prints
    // as "tcp dport" (same packets: the chain only sees that protocol); compared as "th".
    const std::string normalize =
        "sed -E -i 's/(tcp|udp|sctp) dport \\. numgen/th dport . numgen/' ";
    std::system((normalize + textList + " " + netlinkList).c_str());
    const bool same = std::system(("cmp -s " + textList + " " + netlinkList).c_str()) == 0;
    std::printf("nft list table ip skiff after both paths: %s (%s, %s)\n",
                same ? "identical" : "DIFFERENT", textList.c_str(), netlinkList.c_str());
    std::system(("ip netns delete " + ns2).c_str());
    std::printf(
        "netlink elements in a fresh netns: full %.0f ms (split %.1f ms, netlink commit %.0f ms "
        "of %zu elements, the rest nft text), one-endpoint diff %.1f ms (netlink %.2f ms)\n",
        fullSplitApply, splitMs, fullNetlink, fullSplit.elements.size(), diffSplitApply,
        diffNetlink);
    if (fullApply < 0 || diffApply < 0 || fullSplitApply < 0 || diffSplitApply < 0 || !same ||
        !failed || !untouched)
      return 1;
  }
  return 0;
}
