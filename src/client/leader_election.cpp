#include "client/leader_election.h"

#include <boost/json/serialize.hpp>
#include <cmath>
#include <random>
#include <stdexcept>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace json = boost::json;

namespace skiff::client {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kJitterFactor = 1.2;

std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  double f = std::uniform_real_distribution<double>(0, kJitterFactor)(rng);
  return d + std::chrono::milliseconds(static_cast<int64_t>(d.count() * f));
}

int64_t num(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace

LeaderElector::LeaderElector(RestClient& client, LeaderElectionConfig config)
    : client_(client), config_(std::move(config)) {
  if (config_.leaseName.empty() || config_.identity.empty())
    throw std::invalid_argument("leader election needs a lease name and an identity");
  if (config_.leaseDuration <= config_.renewDeadline)
    throw std::invalid_argument("leaseDuration must be greater than renewDeadline");
  if (config_.renewDeadline.count() <= kJitterFactor * config_.retryPeriod.count())
    throw std::invalid_argument("renewDeadline must be greater than retryPeriod*1.2");
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = namedThread("leader-elect", [this] { run(); });
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::isLeader() const {
  std::lock_guard lock(mu_);
  return leading_;
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return observedHolder_;
}

bool LeaderElector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_; });
}

void LeaderElector::run() {
  const std::string lease = config_.leaseNamespace + "/" + config_.leaseName;
  SKIFF_LOG_INFO("leader election: attempting to acquire lease={} identity={}", lease,
                 config_.identity);
  // Acquire: until this candidate holds the Lease.
  for (;;) {
    if (tryAcquireOrRenew()) break;
    if (!sleepFor(jittered(config_.retryPeriod))) return;
  }
  {
    std::lock_guard lock(mu_);
    leading_ = true;
  }
  SKIFF_LOG_INFO("leader election: acquired lease={} identity={}", lease, config_.identity);
  if (config_.onStartedLeading) config_.onStartedLeading();

  // Renew: each round retries every retryPeriod until renewDeadline has passed.
  auto lastRenew = Clock::now();
  bool stopped = false;
  for (;;) {
    if (!sleepFor(config_.retryPeriod)) {
      stopped = true;
      break;
    }
    if (tryAcquireOrRenew()) {
      lastRenew = Clock::now();
      continue;
    }
    if (Clock::now() - lastRenew >= config_.renewDeadline) break;
  }
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  if (stopped && config_.releaseOnCancel) release();
  if (!stopped)
    SKIFF_LOG_WARN("leader election: lost lease={} identity={}", lease, config_.identity);
  if (config_.onStoppedLeading) config_.onStoppedLeading();
}

bool LeaderElector::tryAcquireOrRenew() {
  const auto now = std::chrono::system_clock::now();
  const int64_t durationSeconds =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config_.leaseDuration.count() / 1000.0)));
  json::object spec{{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", durationSeconds},
                    {"acquireTime", formatMicroTime(now)},
                    {"renewTime", formatMicroTime(now)},
                    {"leaseTransitions", 0}};
  try {
    json::object current;
    try {
      current = client_.get(resources::leases, config_.leaseNamespace, config_.leaseName);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
      json::object lease{{"apiVersion", "coordination.k8s.io/v1"},
                         {"kind", "Lease"},
                         {"metadata", json::object{{"name", config_.leaseName},
                                                   {"namespace", config_.leaseNamespace}}},
                         {"spec", spec}};
      client_.create(resources::leases, config_.leaseNamespace, lease);
      {
        std::lock_guard lock(mu_);
        observedHolder_ = config_.identity;
        observedRecord_ = json::serialize(spec);
        observedDurationSeconds_ = durationSeconds;
        observedTime_ = Clock::now();
      }
      if (config_.onNewLeader) config_.onNewLeader(config_.identity);
      return true;
    }
    json::object old = current["spec"].is_object() ? current["spec"].as_object() : json::object{};
    std::string holder = api::stringField(old, "holderIdentity");
    std::string record = json::serialize(old);
    std::string previousHolder;
    bool heldByOther = false;
    {
      std::lock_guard lock(mu_);
      previousHolder = observedHolder_;
      if (record != observedRecord_) {
        observedRecord_ = record;
        observedHolder_ = holder;
        observedDurationSeconds_ = num(old, "leaseDurationSeconds");
        observedTime_ = Clock::now();
      }
      bool valid = observedTime_ + std::chrono::seconds(observedDurationSeconds_) > Clock::now();
      heldByOther = !holder.empty() && holder != config_.identity && valid;
    }
    if (heldByOther) {
      if (holder != previousHolder && config_.onNewLeader) config_.onNewLeader(holder);
      return false;
    }
    if (holder == config_.identity) {
      spec["acquireTime"] = old.contains("acquireTime") ? old["acquireTime"] : spec["acquireTime"];
      spec["leaseTransitions"] = num(old, "leaseTransitions");
    } else {
      spec["leaseTransitions"] = num(old, "leaseTransitions") + 1;
    }
    current["spec"] = spec;
    client_.update(resources::leases, config_.leaseNamespace, current);  // CAS on resourceVersion
    {
      std::lock_guard lock(mu_);
      observedHolder_ = config_.identity;
      observedRecord_ = json::serialize(spec);
      observedDurationSeconds_ = durationSeconds;
      observedTime_ = Clock::now();
    }
    if (previousHolder != config_.identity && config_.onNewLeader)
      config_.onNewLeader(config_.identity);
    return true;
  } catch (const ApiError& e) {
    // 409: another candidate wrote first; the next round re-reads the Lease.
    if (e.code() != 409)
      SKIFF_LOG_WARN("leader election: lease {}/{} update failed code={} err={}",
                     config_.leaseNamespace, config_.leaseName, e.code(), e.what());
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("leader election: lease {}/{} unreachable err={}", config_.leaseNamespace,
                   config_.leaseName, e.what());
  }
  return false;
}

void LeaderElector::release() {
  try {
    auto current = client_.get(resources::leases, config_.leaseNamespace, config_.leaseName);
    auto& spec = current["spec"].as_object();
    if (api::stringField(spec, "holderIdentity") != config_.identity) return;
    // As client-go: an empty holder with a 1 s lease lets the next candidate in at once.
    auto now = formatMicroTime(std::chrono::system_clock::now());
    spec["holderIdentity"] = "";
    spec["leaseDurationSeconds"] = 1;
    spec["acquireTime"] = now;
    spec["renewTime"] = now;
    client_.update(resources::leases, config_.leaseNamespace, current);
    SKIFF_LOG_INFO("leader election: released lease={}/{} identity={}", config_.leaseNamespace,
                   config_.leaseName, config_.identity);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("leader election: release of {}/{} failed err={}", config_.leaseNamespace,
                   config_.leaseName, e.what());
  }
}

}  // namespace skiff::client
