// Validation: upstream v1.32 field validation (pkg/apis/*/validation and apimachinery's
// ObjectMeta / name rules) for the kinds skiff serves. Failures come back as Status causes
// carrying upstream's types, field paths and messages, so `kubectl` prints the same errors.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/api_error.h"

namespace skiff::api {

// Validates an object for create (oldObj == nullptr) or update (oldObj is the stored object;
// the server is expected to have copied uid/creationTimestamp from it first, as upstream's
// BeforeUpdate does). Returns the causes; empty means valid. `group` "" is the core group.
std::vector<StatusCause> validateObject(std::string_view group, std::string_view kind,
                                        const boost::json::object& obj,
                                        const boost::json::object* oldObj);

// Validates a status write (upstream's ValidateXStatusUpdate): the server kept the stored
// object's spec and metadata, so only the metadata update is checked (skiff has no rules for
// status fields yet); the spec was validated when it was written.
// `subresource` is "status" or a status-like subresource of the kind (kind_strategy.h).
std::vector<StatusCause> validateStatusUpdate(std::string_view group, std::string_view kind,
                                              const boost::json::object& obj,
                                              const boost::json::object& oldObj,
                                              std::string_view subresource = "status");

// Name checks, also used by the server for names taken from request paths. Each returns the
// failure messages (empty = valid), worded as upstream's apimachinery validation.
std::vector<std::string> validateDns1123Subdomain(std::string_view name);
std::vector<std::string> validateDns1123Label(std::string_view name);
std::vector<std::string> validateDns1035Label(std::string_view name);
std::vector<std::string> validatePathSegmentName(std::string_view name);
// Label keys / annotation keys ("prefix/name") and label values.
std::vector<std::string> validateQualifiedName(std::string_view name);
std::vector<std::string> validateLabelValue(std::string_view value);
// ConfigMap and Secret data keys.
std::vector<std::string> validateConfigMapKey(std::string_view key);
// An IPv4 or IPv6 address literal (Service cluster IPs, a Node's podCIDR; whether a TLS
// client names its server by address or by host name).
bool isIP(const std::string& s);

}  // namespace skiff::api
