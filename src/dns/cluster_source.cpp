#include "dns/cluster_source.h"

#include "api/json_access.h"
#include "dns/cluster_records.h"

namespace json = boost::json;

namespace skiff::dns {
namespace {
constexpr const char* kLabelServiceName = "kubernetes.io/service-name";
}

void ClusterSource::attach(client::SharedInformerFactory& informers) {
  services_ = &informers.informer(client::resources::services);
  slices_ = &informers.informer(client::resources::endpointSlices);
  // The same index the endpointslice controller uses (re-adding it only rebuilds it).
  slices_->addIndexer(client::kIndexLabel, client::indexByLabel);
  client::ResourceEventHandlers svc;
  svc.onAdd = [this](const json::object& o) { serviceChanged(o); };
  svc.onUpdate = [this](const json::object&, const json::object& o) { serviceChanged(o); };
  svc.onDelete = [this](const json::object& o) { serviceChanged(o); };
  services_->addEventHandler(std::move(svc));
  client::ResourceEventHandlers sl;
  sl.onAdd = [this](const json::object& o) { sliceChanged(o); };
  sl.onUpdate = [this](const json::object& old, const json::object& o) {
    // A slice that changed its Service (never in practice) leaves the old one too.
    if (api::stringAt(old, {"metadata", "labels", kLabelServiceName}) !=
        api::stringAt(o, {"metadata", "labels", kLabelServiceName}))
      sliceChanged(old);
    sliceChanged(o);
  };
  sl.onDelete = [this](const json::object& o) { sliceChanged(o); };
  slices_->addEventHandler(std::move(sl));
}

bool ClusterSource::waitForSync(std::chrono::milliseconds timeout) const {
  return services_ && services_->waitForSync(timeout) && slices_->waitForSync(timeout);
}

void ClusterSource::serviceChanged(const json::object& obj) {
  recompute(api::stringAt(obj, {"metadata", "namespace"}),
            api::stringAt(obj, {"metadata", "name"}));
}

void ClusterSource::sliceChanged(const json::object& obj) {
  auto svc = api::stringAt(obj, {"metadata", "labels", kLabelServiceName});
  if (!svc.empty()) recompute(api::stringAt(obj, {"metadata", "namespace"}), svc);
}

// Reads the informers' current objects rather than the event's: whichever of the two
// informer threads runs last computes from the newest state of both.
void ClusterSource::recompute(const std::string& ns, const std::string& name) {
  const std::string key = ns + "/" + name;
  std::lock_guard lock(mu_);
  auto service = services_->get(key);
  if (!service) {
    index_.removeSource(key);
    return;
  }
  std::vector<client::ObjectPtr> held;
  std::vector<const json::object*> slices;
  if (api::stringAt(*service, {"spec", "clusterIP"}) == "None") {
    held = slices_->byIndex(client::kIndexLabel, std::string(kLabelServiceName) + "=" + name);
    for (auto& s : held)
      if (api::stringAt(*s, {"metadata", "namespace"}) == ns) slices.push_back(s.get());
  }
  index_.setSource(key, serviceRecords(*service, slices, index_.zone()));
}

}  // namespace skiff::dns
