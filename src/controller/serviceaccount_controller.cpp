// ServiceAccount controller: every active namespace has a ServiceAccount named "default"
// (upstream's serviceaccount-controller). Recreated when deleted; nothing is created in a
// terminating namespace.
#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

class ServiceAccountController : public QueueController {
 public:
  explicit ServiceAccountController(ControllerContext& ctx)
      : QueueController(ctx, "serviceaccount", "service-account-controller", 1),
        namespaces_(ctx.informers.informer(client::resources::namespaces)),
        accounts_(ctx.informers.informer(client::resources::serviceAccounts)) {
    namespaces_.addEventHandler({
        .onAdd = [this](const boost::json::object& ns) { enqueueKey(nameOf(ns)); },
        .onUpdate = [this](const boost::json::object&,
                           const boost::json::object& ns) { enqueueKey(nameOf(ns)); },
    });
    accounts_.addEventHandler({
        .onDelete =
            [this](const boost::json::object& sa) {
              if (nameOf(sa) == "default") enqueueKey(namespaceOf(sa));
            },
    });
  }

 protected:
  void sync(const std::string& nsName) override {
    auto ns = namespaces_.get(nsName);
    if (!ns || stringAt(*ns, {"status", "phase"}) == "Terminating" || isBeingDeleted(*ns)) return;
    if (accounts_.get(makeKey(nsName, "default"))) return;
    boost::json::object sa{
        {"apiVersion", "v1"},
        {"kind", "ServiceAccount"},
        {"metadata", boost::json::object{{"name", "default"}, {"namespace", nsName}}}};
    try {
      client_.create(client::resources::serviceAccounts, nsName, sa);
    } catch (const ApiError& e) {
      // Already there (cache behind) or the namespace started terminating: nothing to do.
      if (e.code() != 409 && e.code() != 403 && e.code() != 404) throw;
    }
  }

 private:
  client::SharedInformer& namespaces_;
  client::SharedInformer& accounts_;
};

ControllerRegistration reg("serviceaccount", [](ControllerContext& ctx) {
  return std::make_unique<ServiceAccountController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
