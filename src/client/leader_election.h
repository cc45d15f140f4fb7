// LeaderElector: client-go's leader election on a coordination.k8s.io/v1 Lease.
//
// A candidate tries to acquire the Lease every retryPeriod (with 1.2 jitter) until the
// current holder's lease expires; expiry is judged by when THIS candidate last saw the
// Lease change plus its leaseDurationSeconds, never by comparing clocks with the holder.
// The leader renews every retryPeriod; if no renewal succeeds for renewDeadline it stops
// leading. Like client-go's Run(), leadership lost ends the elector: components then exit
// (their informers and caches may be stale) and a restart becomes a candidate again.
//
// Threading: one thread per elector; callbacks run on it and must return quickly
// (onStartedLeading starts the controllers' own threads, it does not run them).
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/rest_client.h"

namespace skiff::client {

struct LeaderElectionConfig {
  std::string leaseNamespace = "kube-system";
  std::string leaseName;  // e.g. "kube-scheduler", "kube-controller-manager"
  std::string identity;   // unique per candidate: upstream uses "<hostname>_<uuid>"
  // Upstream defaults (--leader-elect-lease-duration / -renew-deadline / -retry-period).
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
  // Give the Lease up on stop() so the next candidate need not wait for it to expire.
  bool releaseOnCancel = true;
  std::function<void()> onStartedLeading = {};
  std::function<void()> onStoppedLeading = {};  // also after stop() when it was leading
  std::function<void(const std::string& identity)> onNewLeader = {};
};

class LeaderElector {
 public:
  // `client` must outlive the elector. Throws std::invalid_argument on inconsistent timings
  // (client-go's rules: leaseDuration > renewDeadline > 1.2 · retryPeriod).
  LeaderElector(RestClient& client, LeaderElectionConfig config);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  // Stops campaigning/renewing; releases the Lease when leading and releaseOnCancel.
  void stop();
  bool isLeader() const;
  std::string leader() const;  // holder last observed ("" when none)

 private:
  void run();
  bool tryAcquireOrRenew();
  void release();
  bool sleepFor(std::chrono::milliseconds d);  // false when stopped

  RestClient& client_;
  const LeaderElectionConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool leading_ = false;
  std::string observedHolder_;
  std::string observedRecord_;  // serialized spec, to detect changes
  int64_t observedDurationSeconds_ = 0;
  std::chrono::steady_clock::time_point observedTime_;
  std::thread thread_;
};

}  // namespace skiff::client
