// The HorizontalPodAutoscaler controller's access to the world, as seams: the `scale`
// subresource of the target and the resource metrics API (metrics.k8s.io/v1beta1
// PodMetrics). The controller talks to both through the API server; unit tests pass fakes
// through ControllerOptions::hpaClients.
#pragma once
#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "client/rest_client.h"

namespace skiff::controller::hpa {

class ScaleClient {
 public:
  virtual ~ScaleClient() = default;
  // The autoscaling/v1 Scale of `name`; throws ApiError (404: the target is gone).
  virtual boost::json::object get(const client::Resource& r, const std::string& ns,
                                  const std::string& name) = 0;
  // PUTs `scale` (its spec.replicas changed) back.
  virtual boost::json::object update(const client::Resource& r, const std::string& ns,
                                     const boost::json::object& scale) = 0;
};

class MetricsClient {
 public:
  virtual ~MetricsClient() = default;
  // The PodMetricsList of the pods `labelSelector` matches in `ns`; throws on failure.
  virtual boost::json::object podMetrics(const std::string& ns,
                                         const std::string& labelSelector) = 0;
};

struct Clients {
  std::shared_ptr<ScaleClient> scales;
  std::shared_ptr<MetricsClient> metrics;
};

// Both through the API server (the metrics API is served by skiff's API server itself, or
// by an aggregated metrics-server).
Clients restClients(client::RestClient& client);

}  // namespace skiff::controller::hpa
