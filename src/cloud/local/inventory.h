// The local provider's machine inventory: one small JSON record per machine in
// DATA_DIR/cloud/instances/<node>.json, written by whoever creates machines (`skiff cluster
// create`; the tests write them directly) and read fresh on every question, so a machine
// stopped or removed by its owner is seen at the next check. Format (docs/architecture.md,
// "Cloud controller manager"):
//   {"name": "n1",                              required, equals the node name
//    "addresses": [{"type": "InternalIP", "address": "10.99.0.11"}, ...],
//    "zone": "zone-a", "region": "local",       optional ("" / "local")
//    "instanceType": "skiff.local",             optional
//    "state": "running" | "stopped",            optional, default running
//    "podCIDR": "10.42.1.0/24",                 optional, informative
//    "netns": "skiff-c1-n1"}                    optional: the machine's network namespace
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cloud/cloud_provider.h"

namespace skiff::cloud::local {

struct Instance {
  std::string name;
  std::vector<NodeAddress> addresses;
  std::string zone, region = "local", instanceType = "skiff.local";
  std::string state = "running";
  std::string podCidr, netns;
  bool running() const { return state == "running"; }
  // The first address of `type`, "" when none.
  std::string address(const std::string& type) const;
};

// Parses one record; throws CloudError saying what is wrong (`source` names the file).
Instance parseInstance(const std::string& text, const std::string& source);
std::string serializeInstance(const Instance& instance);

class Inventory {
 public:
  explicit Inventory(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  // nullopt when there is no record; throws CloudError for a malformed one (the caller
  // retries; a bad record must not make a machine look deleted).
  std::optional<Instance> find(const std::string& name) const;
  // Every well-formed record (malformed ones are logged and skipped).
  std::vector<Instance> all() const;
  // Writes a record (atomically), as the machine's creator does.
  void write(const Instance& instance) const;
  void remove(const std::string& name) const;

 private:
  std::string dir_;
};

}  // namespace skiff::cloud::local
