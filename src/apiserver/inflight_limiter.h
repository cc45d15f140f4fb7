// Upstream's max-in-flight filter (--max-requests-inflight, --max-mutating-requests-inflight):
// at most N read-only and M mutating requests are being handled at once; beyond that the
// request is answered 429 with Retry-After: 1 and upstream's text "Too many requests, please
// try again later." at once, instead of queueing behind the others.
// Not counted, as upstream: long-running requests (watches, exec/attach/port-forward, proxy,
// logs), and requests of system:masters (upstream never throttles that group: a super-admin or
// the loopback client), which includes the in-process components of `skiff server`
// (cli/local_endpoint.cpp: remote address "in-process").
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "apiserver/request_info.h"
#include "net/http_types.h"

namespace skiff::apiserver {

class InflightLimiter {
 public:
  // 0 turns a limit off.
  InflightLimiter(int maxReadOnly, int maxMutating);

  // Holds one slot while alive; empty when the request is not counted.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(std::atomic<int>* counter) : counter_(counter) {}
    Slot(Slot&& o) noexcept : counter_(o.counter_) { o.counter_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
    }

   private:
    std::atomic<int>* counter_ = nullptr;
  };

  // A slot for the request (empty when it is not counted), or nullopt when its kind's limit
  // is reached: answer tooManyRequestsResponse(). `exemptByCredentials`, asked only at the
  // limit: whether credentials the limiter cannot see (a bearer token: it runs before
  // authentication) exempt the request after all.
  std::optional<Slot> admit(const HttpRequest& req, const std::optional<RequestInfo>& resource,
                            const std::function<bool()>& exemptByCredentials = {});

  static bool isLongRunning(const HttpRequest& req, const std::optional<RequestInfo>& resource);
  static bool isMutating(const HttpRequest& req);
  static bool isExempt(const HttpRequest& req);

  int readOnlyInflight() const { return readOnly_.load(); }
  int mutatingInflight() const { return mutating_.load(); }

 private:
  int maxReadOnly_, maxMutating_;
  std::atomic<int> readOnly_{0}, mutating_{0};
};

// The 429 answer (plain text, as upstream's filter writes it with http.Error).
HttpResponse tooManyRequestsResponse();
// The same, recorded in the request's metrics.
class RequestMetrics;
HttpResponse tooManyRequestsResponse(RequestMetrics& metrics);

}  // namespace skiff::apiserver
