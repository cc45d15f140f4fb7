// Root CA publisher (upstream's root-ca-cert-publisher): every active namespace has a
// ConfigMap kube-root-ca.crt whose ca.crt is the cluster CA, so a pod's projected
// kube-api-access volume can verify the API server. Re-created when deleted and put back
// when its data is changed. Does nothing without ControllerOptions::rootCaPem.
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

constexpr const char* kConfigMapName = "kube-root-ca.crt";
constexpr const char* kDescription =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters.";

class RootCaPublisher : public QueueController {
 public:
  explicit RootCaPublisher(ControllerContext& ctx)
      : QueueController(ctx, "root-ca-cert-publisher", "root-ca-cert-publisher", 1),
        caPem_(ctx.options.rootCaPem),
        namespaces_(ctx.informers.informer(client::resources::namespaces)),
        configMaps_(ctx.informers.informer(client::resources::configMaps)) {
    if (caPem_.empty()) {
      SKIFF_LOG_INFO("root-ca-cert-publisher: no cluster CA given, nothing is published");
      return;
    }
    namespaces_.addEventHandler({
        .onAdd = [this](const json::object& ns) { enqueueKey(nameOf(ns)); },
        .onUpdate = [this](const json::object&, const json::object& ns) { enqueueKey(nameOf(ns)); },
    });
    auto ours = [this](const json::object& cm) {
      if (nameOf(cm) == kConfigMapName) enqueueKey(namespaceOf(cm));
    };
    configMaps_.addEventHandler({
        .onUpdate = [ours](const json::object&, const json::object& cm) { ours(cm); },
        .onDelete = ours,
    });
  }

 protected:
  void sync(const std::string& nsName) override {
    auto ns = namespaces_.get(nsName);
    if (!ns || stringAt(*ns, {"status", "phase"}) == "Terminating" || isBeingDeleted(*ns)) return;
    json::object data{{"ca.crt", caPem_}};
    auto current = configMaps_.get(makeKey(nsName, kConfigMapName));
    try {
      if (!current) {
        json::object cm{
            {"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", json::object{{"name", kConfigMapName},
                                      {"namespace", nsName},
                                      {"annotations",
                                       json::object{{"kubernetes.io/description", kDescription}}}}},
            {"data", std::move(data)}};
        client_.create(client::resources::configMaps, nsName, cm);
        return;
      }
      const json::value* have = current->if_contains("data");
      const bool described =
          !stringAt(*current, {"metadata", "annotations", "kubernetes.io/description"}).empty();
      if (have && *have == json::value(data) && described) return;
      json::object cm = *current;
      cm["data"] = std::move(data);
      json::value& annotations = cm["metadata"].as_object()["annotations"];
      if (!annotations.is_object()) annotations.emplace_object();
      annotations.as_object()["kubernetes.io/description"] = kDescription;
      client_.update(client::resources::configMaps, nsName, cm);
    } catch (const ApiError& e) {
      // 409: the cache is behind (the next event re-queues); 403/404: the namespace is going.
      if (e.code() != 409 && e.code() != 403 && e.code() != 404) throw;
    }
  }

 private:
  std::string caPem_;
  client::SharedInformer& namespaces_;
  client::SharedInformer& configMaps_;
};

ControllerRegistration reg("root-ca-cert-publisher", [](ControllerContext& ctx) {
  return std::make_unique<RootCaPublisher>(ctx);
});

}  // namespace
}  // namespace skiff::controller
