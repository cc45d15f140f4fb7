// How the local provider puts routes into the kernel: pod-CIDR routes (route controller) and
// /32 routes steering a load-balancer address to the chosen node. A small interface so the
// provider's logic is tested against FakeRouteProgrammer; IpRouteProgrammer runs iproute2's
// `ip -n NETNS route ...` in the network namespaces it is given (cluster create's bridge side
// and each node's namespace). Every route it writes carries protocol kRouteProtocol, so
// listing returns only skiff's routes and nothing else in the namespace is ever touched.
#pragma once
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace skiff::cloud::local {

inline constexpr int kRouteProtocol = 199;  // "proto 199" in `ip route`: skiff's routes
// In --route-netns: the namespace the provider itself runs in (`ip` without `-n`). iproute2
// refuses "." as a namespace name, so it can never collide with a real one.
inline constexpr const char* kOwnNetns = ".";

struct KernelRoute {
  std::string destination;  // CIDR ("10.42.1.0/24", "10.44.255.200/32")
  std::string gateway;      // next-hop IPv4
  bool operator==(const KernelRoute&) const = default;
  auto operator<=>(const KernelRoute&) const = default;
};

class RouteProgrammer {
 public:
  virtual ~RouteProgrammer() = default;
  // skiff's routes in `netns`; throws CloudError when the namespace cannot be read.
  virtual std::vector<KernelRoute> list(const std::string& netns) = 0;
  // Adds or replaces the route to `destination`.
  virtual void replace(const std::string& netns, const KernelRoute& route) = 0;
  // No error when there is no such route.
  virtual void remove(const std::string& netns, const std::string& destination) = 0;
};

// iproute2 in named network namespaces (/run/netns/NAME).
class IpRouteProgrammer : public RouteProgrammer {
 public:
  std::vector<KernelRoute> list(const std::string& netns) override;
  void replace(const std::string& netns, const KernelRoute& route) override;
  void remove(const std::string& netns, const std::string& destination) override;
};

// In memory, for unit tests: netns -> destination -> gateway; `failNetns` makes writes fail.
class FakeRouteProgrammer : public RouteProgrammer {
 public:
  std::vector<KernelRoute> list(const std::string& netns) override;
  void replace(const std::string& netns, const KernelRoute& route) override;
  void remove(const std::string& netns, const std::string& destination) override;
  std::map<std::string, std::map<std::string, std::string>> tables;
  std::set<std::string> failNetns;
  int writes = 0;
  std::mutex mu;
};

// `ip -j route show` output -> routes (pure; unit-tested).
std::vector<KernelRoute> parseIpRouteJson(const std::string& text);

}  // namespace skiff::cloud::local
