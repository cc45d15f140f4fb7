// csrapproving (upstream's csrapproving controller, sarapprove.go): approves
// kubernetes.io/kube-apiserver-client-kubelet requests that are node client certificates
// when the requester may create certificatesigningrequests/selfnodeclient (a node renewing
// its own certificate: requester == CN) or certificatesigningrequests/nodeclient (a bootstrap
// token), asked through a SubjectAccessReview as upstream does. Requests it does not
// recognise or whose requester lacks the permission stay Pending for an administrator.
//
// skiff adds a policy upstream leaves to administrators: a kubernetes.io/kubelet-serving
// request is approved when the requester is the node itself and every SAN is that node's
// name or one of its status addresses (csr_policy.h); anything else stays Pending.
#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/csr_common.h"
#include "controller/csr_policy.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

class CsrApprovingController : public QueueController {
 public:
  explicit CsrApprovingController(ControllerContext& ctx)
      : QueueController(ctx, "csrapproving", "csrapproving", 1),
        csrs_(ctx.informers.informer(csr::kCsrs)),
        nodes_(ctx.informers.informer(client::resources::nodes)) {
    csrs_.addEventHandler(enqueueingHandlers());
  }

 protected:
  void sync(const std::string& key) override {
    auto obj = csrs_.get(key);
    if (!obj) return;
    csr::Request r = csr::readRequest(*obj);
    if (r.approved || r.denied || r.issued || r.failed) return;
    CsrSubject subject;
    try {
      subject = parseCsr(r.requestPem);
    } catch (const std::invalid_argument&) {
      return;  // validation let it in only well formed; nothing to approve
    }
    if (r.signerName == csr::kKubeletClient) {
      if (!csr::kubeletClientError(subject, r.usages).empty()) return;
      // Renewal first (the node's own identity), then bootstrap, as upstream's recognizers.
      if (subject.commonName == r.username && allowed(*obj, "selfnodeclient")) {
        approve(*obj, "Auto approving self kubelet client certificate after SubjectAccessReview.");
        return;
      }
      if (allowed(*obj, "nodeclient"))
        approve(*obj, "Auto approving kubelet client certificate after SubjectAccessReview.");
      return;
    }
    if (r.signerName == csr::kKubeletServing) {
      std::vector<std::string> addresses;
      const std::string node =
          r.username.rfind("system:node:", 0) == 0 ? r.username.substr(12) : "";
      if (auto n = node.empty() ? nullptr : nodes_.get(node))
        for (const auto& a : api::arrayOrEmpty(*n, {"status", "addresses"}))
          if (a.is_object()) addresses.push_back(api::stringAt(a.as_object(), {"address"}));
      std::string why = csr::kubeletServingAutoApproveError(r, subject, addresses);
      if (why.empty())
        approve(*obj,
                "Auto approving kubelet serving certificate: requested by the node for its own "
                "names and addresses.");
      else
        SKIFF_LOG_DEBUG("csrapproving: {} left pending: {}", r.name, why);
    }
  }

 private:
  // Can the requester create certificatesigningrequests/<subresource>? (SubjectAccessReview.)
  bool allowed(const json::object& obj, const std::string& subresource) {
    const json::object& spec = api::objectOrEmpty(obj, {"spec"});
    json::object reviewSpec{
        {"user", api::stringAt(spec, {"username"})},
        {"resourceAttributes", json::object{{"group", "certificates.k8s.io"},
                                            {"resource", "certificatesigningrequests"},
                                            {"verb", "create"},
                                            {"subresource", subresource}}}};
    for (const char* f : {"groups", "extra", "uid"})
      if (const json::value* v = spec.if_contains(f)) reviewSpec[f] = *v;
    json::object review{{"apiVersion", "authorization.k8s.io/v1"},
                        {"kind", "SubjectAccessReview"},
                        {"spec", std::move(reviewSpec)}};
    json::object answer = client_.request(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", json::serialize(review));
    const json::value* allowed = api::objectOrEmpty(answer, {"status"}).if_contains("allowed");
    return allowed && allowed->is_bool() && allowed->as_bool();
  }

  void approve(const json::object& obj, const std::string& message) {
    try {
      csr::writeCondition(client_, obj, "approval", "Approved", "AutoApproved", message);
      SKIFF_LOG_INFO("csrapproving: approved {}", api::stringAt(obj, {"metadata", "name"}));
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;  // 409: requeued with the fresh object
    }
  }

  client::SharedInformer& csrs_;
  client::SharedInformer& nodes_;
};

ControllerRegistration reg("csrapproving", [](ControllerContext& ctx) {
  return std::make_unique<CsrApprovingController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
