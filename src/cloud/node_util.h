// Node helpers the cloud controllers share: taints by key, and read-modify-write of a Node
// with retry on conflict (upstream's clientretry.RetryOnConflict around Update).
#pragma once
#include <boost/json.hpp>
#include <functional>
#include <string>

#include "client/rest_client.h"

namespace skiff::cloud {

bool hasTaintKey(const boost::json::object& node, const std::string& key);
// spec.taints without `key`; true when one was removed.
bool removeTaint(boost::json::object& node, const std::string& key);
// Adds {key, effect} when no taint with that key and effect is there; true when added.
bool addTaint(boost::json::object& node, const std::string& key, const std::string& effect,
              const std::string& timeAdded);

// GETs Node `name`, lets `modify` change it (false: nothing to do) and PUTs it; a conflict
// starts over with a fresh copy, up to 5 times. False when the Node is gone or unchanged.
bool updateNode(client::RestClient& client, const std::string& name,
                const std::function<bool(boost::json::object&)>& modify);

// The status of condition `type` ("" when absent).
std::string conditionStatus(const boost::json::object& obj, const std::string& type);
std::string conditionReason(const boost::json::object& obj, const std::string& type);

}  // namespace skiff::cloud
