// Process plumbing shared by the subcommands: signal handling and leader election.
#pragma once
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>

#include "client/leader_election.h"
#include "client/rest_client.h"

namespace skiff::cli {

// Set by SIGINT/SIGTERM (and by a lost leader election).
extern volatile std::sig_atomic_t stopRequested;
void installSignalHandlers();
void waitForSignal();

// Runs `start` once this process holds the Lease kube-system/`leaseName` (or at once without
// --leader-elect); like upstream, losing the Lease ends the process. False when stopped
// before leading.
bool campaign(client::RestClient& client, bool leaderElect, const std::string& leaseName,
              std::unique_ptr<client::LeaderElector>& elector);

// "40s", "5m", "1h30m", "250ms" or a bare number of seconds; throws std::invalid_argument.
std::chrono::milliseconds parseDuration(const std::string& text);

}  // namespace skiff::cli
