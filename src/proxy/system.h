// The proxy's side effects on the host: nft transactions, conntrack deletions, sysctls.
// Kept apart from the rule logic so that stays pure and testable without root.
#pragma once
#include <string>
#include <vector>

#include "proxy/service_model.h"

namespace skiff::proxy {

struct CommandResult {
  int exitCode = -1;   // -1: could not run
  std::string output;  // stdout and stderr together
};

// `nft -f FILE` of `script`: one atomic transaction (all of it applies, or none).
CommandResult runNft(const std::string& script);
// `nft list table ip skiff` (empty output and a non-zero code when there is none).
CommandResult listTable();
// The kernel's table removed (no error when it does not exist).
bool deleteTable();

// UDP conntrack entries that would keep sending a flow to an endpoint that is gone (UDP
// has no connection end, so conntrack keeps the old DNAT for as long as packets flow).
struct ConntrackFlush {
  std::string origDst;  // Service address (cluster or external IP); empty with origPort
  int origPort = 0;     // NodePort flows: matched by destination port instead
  std::string dnatTo;   // the endpoint that went away; empty: every flow to origDst
  bool operator==(const ConntrackFlush&) const = default;
};
// What to flush after moving from `before` to `after` (pure; unit-tested).
std::vector<ConntrackFlush> staleUdpFlows(const std::vector<ServicePort>& before,
                                          const std::vector<ServicePort>& after);
// Runs the Debian `conntrack` tool for each; returns how many invocations failed to run.
int flushConntrack(const std::vector<ConntrackFlush>& flows);

// Writes `value` to /proc/sys/`key` (dots as slashes); returns the previous value, empty
// when the file could not be read.
std::string setSysctl(const std::string& key, const std::string& value);

}  // namespace skiff::proxy
