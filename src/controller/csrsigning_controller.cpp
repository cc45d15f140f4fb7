// csrsigning (upstream's csrsigning controller): issues approved CertificateSigningRequests
// of kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet and
// kubernetes.io/kubelet-serving with the cluster CA (--cluster-signing-cert-file/-key-file).
// The certificate lasts spec.expirationSeconds, capped by --cluster-signing-duration (one
// year by default) and by the CA's own end. A request that breaks its signer's constraints
// (csr_policy.h) gets a Failed condition, reason SignerValidationFailure, and no certificate.
// Without CA files the controller logs that signing is off and does nothing.
#include <boost/json.hpp>
#include <optional>

#include "api/json_access.h"
#include "api/managed_fields_text.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/csr_common.h"
#include "controller/csr_policy.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

class CsrSigningController : public QueueController {
 public:
  explicit CsrSigningController(ControllerContext& ctx)
      : QueueController(ctx, "csrsigning", "csrsigning", 1),
        csrs_(ctx.informers.informer(csr::kCsrs)) {
    const auto& o = ctx.options;
    if (o.clusterSigningCertFile.empty() || o.clusterSigningKeyFile.empty()) {
      SKIFF_LOG_WARN(
          "csrsigning: no --cluster-signing-cert-file/--cluster-signing-key-file; approved "
          "CertificateSigningRequests are not issued by this controller manager");
    } else {
      // Read once at start, as upstream's file-backed signer does (a rotated CA needs a restart).
      ca_ = CertKeyPair{readFile(o.clusterSigningCertFile), readFile(o.clusterSigningKeyFile)};
    }
    csrs_.addEventHandler(enqueueingHandlers());
  }

 protected:
  void sync(const std::string& key) override {
    if (!ca_) return;
    auto obj = csrs_.get(key);
    if (!obj) return;
    csr::Request r = csr::readRequest(*obj);
    if (!csr::isClusterSigner(r.signerName) || !r.approved || r.denied || r.failed || r.issued)
      return;
    CsrSubject subject;
    std::string why;
    try {
      subject = parseCsr(r.requestPem);
      why = csr::signerConstraintError(r.signerName, subject, r.usages);
    } catch (const std::invalid_argument& e) {
      why = e.what();
    }
    try {
      if (!why.empty()) {
        csr::writeCondition(client_, *obj, "status", "Failed", "SignerValidationFailure", why);
        SKIFF_LOG_INFO("csrsigning: {} failed: {}", r.name, why);
        return;
      }
      const int64_t seconds =
          csr::issuedDuration(r.expirationSeconds, options_.clusterSigningDuration.count());
      std::string cert = signCsr(*ca_, r.requestPem, r.usages, seconds);
      json::object updated = *obj;
      api::ensureObject(updated, {"status"})["certificate"] = base64Encode(cert);
      client_.request(
          "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + r.name + "/status",
          api::objectJson(updated));
      SKIFF_LOG_INFO("csrsigning: issued {} for {} ({}s)", r.name, subject.commonName, seconds);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;  // 409: retried with the fresh object
    }
  }

 private:
  client::SharedInformer& csrs_;
  std::optional<CertKeyPair> ca_;
};

ControllerRegistration reg("csrsigning", [](ControllerContext& ctx) {
  return std::make_unique<CsrSigningController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
