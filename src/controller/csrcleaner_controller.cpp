// csrcleaner (upstream's csrcleaner controller): deletes finished CertificateSigningRequests
// so they do not pile up — approved or denied ones after an hour, pending ones after a day,
// issued ones once their certificate expired (all measured from creation, as upstream).
#include <boost/json.hpp>
#include <chrono>
#include <ctime>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/csr.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/csr_common.h"
#include "controller/csr_policy.h"

namespace skiff::controller {
namespace {

int64_t parseTimestamp(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

class CsrCleanerController : public QueueController {
 public:
  explicit CsrCleanerController(ControllerContext& ctx)
      : QueueController(ctx, "csrcleaner", "csrcleaner", 1),
        csrs_(ctx.informers.informer(csr::kCsrs)) {
    every(std::chrono::hours(1), [this] {
      for (const auto& obj : csrs_.list()) enqueue(*obj);
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto obj = csrs_.get(key);
    if (!obj) return;
    csr::Request r = csr::readRequest(*obj);
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
    const int64_t created = parseTimestamp(api::stringAt(*obj, {"metadata", "creationTimestamp"}));
    const int64_t age = now - created;
    bool expired = false;
    if (r.issued) try {
        expired = certificateInfo(*base64Decode(api::stringAt(*obj, {"status", "certificate"})))
                      .notAfter < now;
      } catch (const std::exception&) {
      }
    const bool finished = r.approved || r.denied || r.failed;
    if (!(expired || (finished && age > 3600) || (!finished && age > 24 * 3600))) return;
    try {
      client_.remove(csr::kCsrs, "", r.name);
      SKIFF_LOG_INFO("csrcleaner: deleted {}", r.name);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }

 private:
  client::SharedInformer& csrs_;
};

ControllerRegistration reg("csrcleaner", [](ControllerContext& ctx) {
  return std::make_unique<CsrCleanerController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
