// Node IPAM controller (upstream's nodeipam with the RangeAllocator): every Node gets a
// /nodeCidrMaskSize slice of --cluster-cidr in spec.podCIDR and spec.podCIDRs, which its
// kubelet (or hollow agent) hands out pod IPs from.
//
// The allocator is an in-memory bitmap over the cluster range's slices. Ranges already
// written on Nodes are marked used as the informer delivers them, and the workers only start
// after the first sync, so on startup no slice is handed out twice. A slice stays bound to
// its node name until the Node is deleted, which makes sync idempotent even when the cache
// has not yet seen our own patch. IPv4 only (skiff's cluster CIDR is IPv4).
#include <arpa/inet.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

struct Ipv4Cidr {
  uint32_t base = 0;  // host byte order, masked
  int prefix = 0;
};

std::optional<Ipv4Cidr> parseCidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr addr{};
  if (inet_pton(AF_INET, text.substr(0, slash).c_str(), &addr) != 1) return std::nullopt;
  int prefix = 0;
  try {
    size_t used = 0;
    prefix = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (prefix < 0 || prefix > 32) return std::nullopt;
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return Ipv4Cidr{ntohl(addr.s_addr) & mask, prefix};
}

std::string formatCidr(uint32_t base, int prefix) {
  in_addr addr{htonl(base)};
  char buf[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

// Slices of one cluster range, each owned by at most one node name.
class CidrSet {
 public:
  CidrSet(Ipv4Cidr cluster, int maskSize) : cluster_(cluster), maskSize_(maskSize) {
    // Bounded so a silly --node-cidr-mask-size (e.g. /8 cluster, /32 nodes) cannot allocate
    // gigabytes; upstream rejects more than 16 bits of difference the same way.
    int bits = maskSize - cluster.prefix;
    count_ = bits >= 0 && bits <= 16 ? (size_t{1} << bits) : 0;
    owners_.resize(count_);
  }
  bool valid() const { return count_ > 0; }

  std::string cidrOf(size_t index) const {
    return formatCidr(cluster_.base + static_cast<uint32_t>(index << (32 - maskSize_)), maskSize_);
  }
  // The slice index of `cidr` when it is exactly one of our slices.
  std::optional<size_t> indexOf(const std::string& cidr) const {
    auto c = parseCidr(cidr);
    if (!c || c->prefix != maskSize_ || !valid()) return std::nullopt;
    uint32_t clusterMask = cluster_.prefix == 0 ? 0 : ~uint32_t{0} << (32 - cluster_.prefix);
    if ((c->base & clusterMask) != cluster_.base) return std::nullopt;
    return static_cast<size_t>((c->base - cluster_.base) >> (32 - maskSize_));
  }

  // The slice bound to `node`, a new one, or nullopt when the range is exhausted.
  std::optional<size_t> allocate(const std::string& node) {
    if (auto it = byNode_.find(node); it != byNode_.end()) return it->second;
    for (size_t n = 0; n < count_; ++n) {
      // Round-robin from the last allocation, so a just-freed slice is not reused at once
      // (a deleted node's pods may still hold its addresses for a moment).
      size_t i = (next_ + n) % count_;
      if (owners_[i].empty()) {
        bind(i, node);
        next_ = (i + 1) % count_;
        return i;
      }
    }
    return std::nullopt;
  }
  // Records that `node` holds slice `i` (from the Node itself). False when another node
  // already holds it (a conflict we leave to the operator, as upstream does).
  bool occupy(size_t i, const std::string& node) {
    if (i >= count_) return false;
    if (!owners_[i].empty() && owners_[i] != node) return false;
    if (auto it = byNode_.find(node); it != byNode_.end() && it->second != i)
      owners_[it->second].clear();
    bind(i, node);
    return true;
  }
  bool release(const std::string& node) {
    auto it = byNode_.find(node);
    if (it == byNode_.end()) return false;
    owners_[it->second].clear();
    byNode_.erase(it);
    return true;
  }

 private:
  void bind(size_t i, const std::string& node) {
    owners_[i] = node;
    byNode_[node] = i;
  }
  Ipv4Cidr cluster_;
  int maskSize_;
  size_t count_ = 0;
  size_t next_ = 0;
  std::vector<std::string> owners_;
  std::map<std::string, size_t> byNode_;
};

class NodeIpamController : public QueueController {
 public:
  explicit NodeIpamController(ControllerContext& ctx)
      : QueueController(ctx, "nodeipam", "node-controller", 1),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        cidrs_(parseCidr(ctx.options.clusterCidr).value_or(Ipv4Cidr{}),
               ctx.options.nodeCidrMaskSize) {
    if (!parseCidr(ctx.options.clusterCidr) || !cidrs_.valid()) {
      SKIFF_LOG_ERROR(
          "controller=nodeipam invalid --cluster-cidr={} / --node-cidr-mask-size={}; "
          "pod ranges will not be allocated",
          ctx.options.clusterCidr, ctx.options.nodeCidrMaskSize);
      disabled_ = true;
      return;
    }
    nodes_.addEventHandler({
        .onAdd = [this](const boost::json::object& n) { observe(n); },
        .onUpdate = [this](const boost::json::object&,
                           const boost::json::object& n) { observe(n); },
        .onDelete =
            [this](const boost::json::object& n) {
              bool freed;
              {
                std::lock_guard lock(mu_);
                freed = cidrs_.release(nameOf(n));
                waiting_.erase(nameOf(n));
              }
              // Nodes that found the range exhausted get another chance.
              if (freed) retryWaiting();
            },
    });
  }

 protected:
  void sync(const std::string& name) override {
    if (disabled_) return;
    auto node = nodes_.get(name);
    if (!node) {
      std::lock_guard lock(mu_);
      cidrs_.release(name);
      waiting_.erase(name);
      return;
    }
    if (!stringAt(*node, {"spec", "podCIDR"}).empty()) return;  // observe() recorded it
    std::optional<size_t> slice;
    {
      std::lock_guard lock(mu_);
      slice = cidrs_.allocate(name);
      if (!slice)
        waiting_.insert(name);
      else
        waiting_.erase(name);
    }
    if (!slice) {
      SKIFF_LOG_WARN("controller=nodeipam node={} no pod range left in {}", name,
                     options_.clusterCidr);
      recorder_.event(*node, client::kEventTypeNormal, "CIDRNotAvailable",
                      "Node " + name + " status is now: CIDRNotAvailable");
      return;
    }
    std::string cidr;
    {
      std::lock_guard lock(mu_);
      cidr = cidrs_.cidrOf(*slice);
    }
    boost::json::object patch{
        {"spec", boost::json::object{{"podCIDR", cidr},
                                     {"podCIDRs", boost::json::array{boost::json::value(cidr)}}}}};
    try {
      client_.patch(client::resources::nodes, "", name, client::PatchType::Merge, patch);
      SKIFF_LOG_INFO("controller=nodeipam node={} podCIDR={}", name, cidr);
    } catch (const ApiError& e) {
      if (e.code() == 404) {  // deleted meanwhile: its delete event frees the slice too
        std::lock_guard lock(mu_);
        cidrs_.release(name);
        return;
      }
      throw;  // the slice stays bound to the name, so the retry patches the same range
    }
  }

 private:
  // Marks ranges Nodes already carry and queues Nodes that still need one. Runs on the
  // informer thread, so it only touches the bitmap and the queue.
  void observe(const boost::json::object& node) {
    if (disabled_) return;
    auto name = nameOf(node);
    auto cidr = stringAt(node, {"spec", "podCIDR"});
    if (cidr.empty()) {
      enqueueKey(name);
      return;
    }
    std::lock_guard lock(mu_);
    auto index = cidrs_.indexOf(cidr);
    if (!index) return;  // outside the cluster range (set by hand): not ours to track
    if (!cidrs_.occupy(*index, name))
      SKIFF_LOG_WARN("controller=nodeipam node={} podCIDR={} is already allocated to another node",
                     name, cidr);
    waiting_.erase(name);
  }

  void retryWaiting() {
    std::set<std::string> names;
    {
      std::lock_guard lock(mu_);
      names = waiting_;
    }
    for (const auto& n : names) enqueueKey(n);
  }

  client::SharedInformer& nodes_;
  std::mutex mu_;
  CidrSet cidrs_;
  std::set<std::string> waiting_;  // nodes that found the range exhausted
  bool disabled_ = false;
};

ControllerRegistration reg("nodeipam", [](ControllerContext& ctx) {
  return std::make_unique<NodeIpamController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
