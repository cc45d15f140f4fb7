#include "controller/csr_common.h"

#include <boost/json.hpp>
#include <ctime>

#include "api/managed_fields_text.h"

namespace skiff::controller::csr {

namespace json = boost::json;

json::object writeCondition(client::RestClient& client, const json::object& csr,
                            const std::string& subresource, const std::string& type,
                            const std::string& reason, const std::string& message) {
  json::object updated = csr;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char now[32];
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json::value& status = updated["status"];
  if (!status.is_object()) status.emplace_object();
  json::value& conds = status.as_object()["conditions"];
  if (!conds.is_array()) conds.emplace_array();
  conds.as_array().push_back(json::object{{"type", type},
                                          {"status", "True"},
                                          {"reason", reason},
                                          {"message", message},
                                          {"lastUpdateTime", now},
                                          {"lastTransitionTime", now}});
  const std::string name = csr.at("metadata").as_object().at("name").as_string().c_str();
  return client.request(
      "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + name + "/" + subresource,
      api::objectJson(updated));
}

}  // namespace skiff::controller::csr
